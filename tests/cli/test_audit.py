"""`driftwarden audit` against a running daemon: found through $DRIFTWARDEN_URL (or --url), a table or
`--json`, filters and --limit across the daemon's pages; a wrong token or no daemon exits 2 with the reason.
`driftwarden reference build`, which writes the state file itself, is audited as the user who ran it."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.support.ports import free_port
from tests.support.processes import DRIFTWARDEN, ROOT, driftwarden
from tests.support.server import running

pytestmark = pytest.mark.server


def cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DRIFTWARDEN_URL": url, "COLUMNS": "200"}
    return subprocess.run([*DRIFTWARDEN, *args], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


def test_the_audit_verb_lists_filters_and_pages(tmp_path: Path) -> None:
    token = tmp_path / "ops.token"
    token.write_text("tok-ops\n")
    with running(tmp_path / "state.db", evaluate_every="1h", auth={"tokens": {"ops": str(token)}}) as d:
        ids = []
        for model in ("a", "b", "c"):
            body = {"matchers": {"model": model}, "duration": "2h"}
            answer = d.client.post("/v1/silences", json=body, headers={"authorization": "Bearer tok-ops"})
            ids.append(answer.json()["id"])
        listed = cli("audit", "--token-file", str(token), "--json", url=d.url)
        assert listed.returncode == 0, listed.stderr
        entries = json.loads(listed.stdout)["entries"]
        assert [e["action"] for e in entries] == ["silence.add"] * 3 + ["config.load"]
        assert [e["subject"] for e in entries[:3]] == ids[::-1] and entries[0]["caller"]["name"] == "ops"

        table = cli("audit", "--token-file", str(token), "--action", "silence.*", url=d.url)
        assert table.returncode == 0, table.stderr
        rows = [line for line in table.stdout.splitlines() if "silence.add" in line]
        assert len(rows) == 3 and all("ops" in row and "127.0.0.1" in row for row in rows)
        assert ids[0] in table.stdout and "config.load" not in table.stdout

        # --limit across pages: the newest two, and where to go on
        two = json.loads(cli("audit", "--token-file", str(token), "--limit", "2", "--json", url=d.url).stdout)
        assert two["entries"] == entries[:2] and two["next_cursor"] == str(entries[1]["id"])
        since = json.loads(cli("audit", "--token-file", str(token), "--since", "1h", "--json", url=d.url).stdout)
        assert since["entries"] == entries
        assert "no audit entries match" in cli("audit", "--token-file", str(token), "--caller", "x", url=d.url).stdout

        flag_wins = cli("audit", "--token-file", str(token), "--url", d.url, url=f"http://127.0.0.1:{free_port()}")
        assert flag_wins.returncode == 0
        refused = cli("audit", url=d.url)
        assert refused.returncode == 2 and "401: missing or wrong bearer token" in refused.stderr
        bad = cli("audit", "--token-file", str(token), "--since", "yesterday", url=d.url)
        assert bad.returncode == 2 and "RFC 3339" in bad.stderr
    gone = cli("audit", url=d.url)
    assert gone.returncode == 2 and "cannot reach" in gone.stderr


def test_reference_build_is_audited_as_the_user_who_ran_it(tmp_path: Path) -> None:
    data = tmp_path / "ref.parquet"
    pl.DataFrame({"x": np.random.default_rng(0).normal(size=500)}).write_parquet(data)
    config = tmp_path / "driftwarden.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\n")
    built = driftwarden("reference", "build", "--model", "fraud", "--input", str(data), "--config", str(config))
    assert built.returncode == 0, built.stderr
    with running(tmp_path / "state.db", evaluate_every="1h") as d:
        entry = d.client.get("/v1/audit", params={"action": "reference.build"}).json()["entries"][0]
    assert entry["subject"] == "fraud" and entry["caller"]["name"] == f"cli:{getpass.getuser()}"
    assert entry["before"] is None and entry["detail"] == {"source": f"file:{data}", "rows": 500, "features": 1}


def test_token_names_are_checked_with_the_config(tmp_path: Path) -> None:
    default, ci, twin = (tmp_path / name for name in ("default.token", "ci.token", "twin.token"))
    default.write_text("one\n")
    ci.write_text("two\n")
    twin.write_text("two\n")
    config = tmp_path / "driftwarden.yaml"
    config.write_text(
        f"auth_token_file: {default}\nauth:\n  tokens:\n    ci: {ci}\n    twin: {twin}\n"
        f"    default: {ci}\n    'bad name': {ci}\n    gone: {tmp_path / 'gone'}\n"
    )
    checked = driftwarden("config", "validate", str(config))
    assert checked.returncode == 2
    assert "auth.tokens.default: 'default' is the name of auth_token_file's token" in checked.stderr
    assert "token name 'bad name' must be 1-63 letters" in checked.stderr
    config.write_text(f"auth:\n  tokens:\n    ci: {ci}\n    twin: {twin}\n    gone: {tmp_path / 'gone'}\n")
    checked = driftwarden("config", "validate", str(config))
    assert checked.returncode == 2 and "auth.tokens.gone: " in checked.stderr and "No such file" in checked.stderr
    config.write_text(f"auth:\n  tokens:\n    ci: {ci}\n    twin: {twin}\n  protect_reads: true\n")
    checked = driftwarden("config", "validate", str(config))
    assert checked.returncode == 2
    assert f"auth.tokens.twin: {twin} holds the token of 'ci': give each caller a token of its own" in checked.stderr
    config.write_text(f"auth:\n  tokens:\n    ci: {ci}\n  protect_reads: true\n")  # a named token is enough
    assert driftwarden("config", "validate", str(config)).returncode == 0
