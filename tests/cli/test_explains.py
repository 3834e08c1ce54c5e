"""A CLI that explains itself, run as a user runs it: `--version`, a help text and default for every
flag, exit codes in `--help` and in docs/design.md, a crash that is not "drift found", `--json` on
every verb that prints a result, output that a pipe gets whole, NO_COLOR, and config errors in one
pass with their lines and suggestions."""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import select
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import polars as pl
import pytest

from driftwarden import __version__
from driftwarden.cli import build_parser
from driftwarden.cli.common import EXIT_CODES
from tests.support.ports import free_port
from tests.support.processes import DRIFTWARDEN, driftwarden, driftwarden_run

ROOT = Path(__file__).resolve().parents[2]
NOT_RESULTS = {("run",), ("demo",)}  # serve until stopped; everything else prints a result
THREE_MISTAKES = """\
listen: 127.0.0.1:4318
evaluate_evry: 30s
models:
  fraud:
    window: {every: 10 minutes}
receivers:
  - {name: pagerduty, type: pagerduty, routing_key_env: PD_ROUTING_KEY}
routes:
  - match: {model: fraud}
    receivers: [pagerdty]
"""


def cli(*args: str, env: Mapping[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DRIFTWARDEN, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env, check=False
    )


def parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, (*path, name))


def test_version() -> None:
    done = driftwarden("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"driftwarden {__version__}"


def test_every_flag_has_a_help_text_and_shows_its_default() -> None:
    for path, parser in parsers(build_parser()):
        text = parser.format_help()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
                continue
            assert action.help and len(action.help) > 3, (path, action.dest)
            if action.option_strings and action.default not in (None, False, "", argparse.SUPPRESS):
                assert "default" in (action.help or "") or f"(default: {action.default})" in " ".join(text.split()), (
                    path,
                    action.dest,
                )


def test_exit_codes_are_in_help_and_in_the_design() -> None:
    top = driftwarden("--help").stdout
    design = (ROOT / "docs" / "design.md").read_text()
    for code, meaning in EXIT_CODES:
        assert re.search(rf"^  {code}\s+{re.escape(meaning[:30])}", top, re.MULTILINE), code
        assert re.search(rf"^\s*\| `?{code}`? \|", design, re.MULTILINE), f"docs/design.md: no exit code {code}"
    check = driftwarden("check", "--help").stdout
    assert "\n  1   check: drift found" in check and "\n  3 " not in check
    assert "\n  3   run, demo:" in driftwarden("run", "--help").stdout


def test_every_verb_that_prints_a_result_has_json() -> None:
    verbs = [(path, parser) for path, parser in parsers(build_parser()) if parser.get_default("verb")]
    assert len(verbs) == 11
    for path, parser in verbs:
        flags = {o for a in parser._actions for o in a.option_strings}
        assert ("--json" in flags) == (path not in NOT_RESULTS), path


def test_a_crash_is_one_line_and_exit_70_not_1(tmp_path: Path) -> None:
    probe = (
        "import sys\nimport driftwarden.cli.validate as verb\n"
        "def broken(args):\n    raise RuntimeError('kaput\\nsecond line')\n"
        "verb.validate = broken\nfrom driftwarden.cli import main\nsys.exit(main(sys.argv[1:]))"
    )
    env = os.environ | {"TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", probe, "config", "validate", "x.yaml"], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert done.returncode == 70, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("driftwarden: internal error (RuntimeError: kaput): a bug, please report it; traceback in ")
    [saved] = tmp_path.glob("driftwarden-crash-*.txt")
    assert str(saved) in line and "--debug" in line
    assert "Traceback (most recent call last)" in saved.read_text() and "config validate x.yaml" in saved.read_text()

    debug = subprocess.run(
        [sys.executable, "-c", probe, "config", "validate", "--debug", "x.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert debug.returncode == 70 and "Traceback (most recent call last)" in debug.stderr
    assert "RuntimeError: kaput\nsecond line" in debug.stderr


def test_three_config_mistakes_in_one_run_with_lines_and_suggestions(tmp_path: Path) -> None:
    config = tmp_path / "driftwarden.yaml"
    config.write_text(THREE_MISTAKES)
    done = driftwarden("config", "validate", str(config))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        f"config error {config}:2:1: evaluate_evry: unknown key; did you mean 'evaluate_every'?",
        f"config error {config}:5:21: models.fraud.window.every: expected a duration with a unit such as 500ms, "
        "30s, 5m, 24h or 30d, got '10 minutes'",
        f"config error {config}:10:17: routes.0.receivers.0: unknown receiver 'pagerdty'; did you mean 'pagerduty'?",
    ]
    as_json = driftwarden("config", "validate", "--json", str(config))
    assert as_json.returncode == 2
    document = json.loads(as_json.stdout)
    assert document["ok"] is False
    assert [(p["key"], p["line"], p["did_you_mean"]) for p in document["problems"]] == [
        ("evaluate_evry", 2, ["evaluate_every"]),
        ("models.fraud.window.every", 5, []),
        ("routes.0.receivers.0", 10, ["pagerduty"]),
    ]
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(
        THREE_MISTAKES.replace("evaluate_evry", "evaluate_every")
        .replace("10 minutes", "10m")
        .replace("pagerdty", "pagerduty")
    )
    # what validates also starts: the routing key's variable must be set (its value is never shown)
    ok = cli("config", "validate", "--json", str(fixed), env={**os.environ, "PD_ROUTING_KEY": "R0UTINGKEY"})
    assert ok.returncode == 0, ok.stderr
    assert "R0UTINGKEY" not in ok.stdout + ok.stderr
    assert json.loads(ok.stdout) | {"file": "-"} == {
        "ok": True,
        "file": "-",
        "listen": "127.0.0.1:4318",
        "state_path": "driftwarden-data/state.db",
        "models": ["fraud"],
        "slos": [],
        "receivers": ["pagerduty"],
        "problems": [],
    }


def test_generators_print_json(tmp_path: Path) -> None:
    rules = json.loads(driftwarden("rules", "generate", "--out", str(tmp_path / "rules"), "--json").stdout)
    assert [Path(f["path"]).name for f in rules["files"]] == [
        "slos.yml",
        "driftwarden.yml",
        "fleet.yml",
        "anomalies.yml",
    ]
    assert all(Path(f["path"]).is_file() for f in rules["files"])
    boards = json.loads(driftwarden("dashboards", "generate", "--out", str(tmp_path / "boards"), "--json").stdout)
    assert boards["dashboards"] and all(b["panels"] > 0 and Path(b["path"]).is_file() for b in boards["dashboards"])


def long_named_reference(tmp_path: Path) -> tuple[Path, Path, str]:
    """A reference whose summary table is far wider than any terminal: a long feature name and long categories."""
    name = "customer_lifetime_value_in_euros_" * 3
    values = [f"a-category-value-that-is-long-{i:03d}" for i in range(6)]
    data = tmp_path / "ref.csv"
    pl.DataFrame({name: [float(i) for i in range(600)], "segment": [values[i % 6] for i in range(600)]}).write_csv(data)
    config = tmp_path / "c.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\n")
    return data, config, name


def test_a_table_in_a_pipe_is_neither_wrapped_nor_cut(tmp_path: Path) -> None:
    data, config, name = long_named_reference(tmp_path)
    done = cli("reference", "build", "--model", "m", "--input", str(data), "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert name in done.stdout and "a-category-value-that-is-long-000 16.7%" in done.stdout
    assert "…" not in done.stdout and "\x1b" not in done.stdout
    built = json.loads(
        cli("reference", "build", "--model", "m", "--input", str(data), "--config", str(config), "--json").stdout
    )
    assert built["rows"] == 600 and {f["name"] for f in built["features"]} == {name, "segment"}


def on_a_terminal(args: list[str], env: Mapping[str, str]) -> str:
    """The command's stdout and stderr as a terminal receives them (a pseudo-terminal, 300 columns)."""
    main, child = pty.openpty()
    os.set_blocking(main, False)
    proc = subprocess.Popen([*DRIFTWARDEN, *args], stdout=child, stderr=child, env=env | {"COLUMNS": "300"}, cwd=ROOT)
    os.close(child)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        try:
            chunk = os.read(main, 65536) if ready else b""
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(main)
    return b"".join(chunks).decode(errors="replace")


def test_no_color_means_no_escape_codes_on_a_terminal(tmp_path: Path) -> None:
    data, config, _ = long_named_reference(tmp_path)
    args = ["reference", "build", "--model", "m", "--input", str(data), "--config", str(config)]
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")} | {
        "TERM": "xterm-256color"
    }
    assert "\x1b[" in on_a_terminal(args, env)  # styled when colour is welcome
    plain = on_a_terminal(args, env | {"NO_COLOR": "1"})
    assert "segment" in plain and "\x1b[" not in plain


@pytest.mark.parametrize("verb", ["run", "demo"])
def test_a_taken_port_is_one_line_suggesting_listen_and_exit_3(tmp_path: Path, verb: str) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    config = tmp_path / "c.yaml"
    config.write_text(f"state_path: {tmp_path / 'state' / 'state.db'}\ngpu: {{enabled: false}}\n")
    given = ["--config", str(config)] if verb == "run" else ["--exit", "--state", str(tmp_path / "state" / "state.db")]
    try:
        done = driftwarden(verb, *given, "--listen", f"127.0.0.1:{port}", timeout=60)
    finally:
        taken.close()
    assert done.returncode == 3, done.stderr
    assert done.stderr.splitlines() == [
        f"error cannot listen on 127.0.0.1:{port}: the address is in use by another process (another driftwarden?): "
        "give another address with --listen HOST:PORT (or `listen:` in the config)"
    ]
    assert "listening on" not in done.stdout + done.stderr
    assert not (tmp_path / "state").exists()  # nothing made before the address was had


def test_listening_is_logged_once_the_port_is_bound(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\ngpu: {{enabled: false}}\n")
    with driftwarden_run(config, tmp_path / "run.log") as served:
        log = served.log_text()
    started, listening = log.index("Application startup complete"), log.index("driftwarden listening on")
    assert started < listening
    assert f"driftwarden listening on {served.base_url} (state in {tmp_path / 'state.db'})" in log


def test_silence_verbs_find_the_daemon_through_the_environment_and_warn_about_matchers(tmp_path: Path) -> None:
    from tests.support.server import running

    with running(tmp_path / "s.db") as d:
        d.client.post("/v1/predictions", json=[{"model": "churn", "features": {"x": 1.0}}]).raise_for_status()
        env = os.environ | {"DRIFTWARDEN_URL": d.url}
        added = cli("silence", "add", "--match", "mdl=churn", "--for", "1h", "--json", env=env)
        assert added.returncode == 0, added.stderr
        assert added.stderr.splitlines() == [
            "warning --match mdl=churn: no alert carries the label 'mdl'; did you mean 'model'?"
        ]
        silence = json.loads(added.stdout)
        assert silence["matchers"] == {"mdl": "churn"}

        typo = cli("silence", "add", "--match", "model=chrun", "--for", "1h", env=env)
        assert typo.returncode == 0
        assert typo.stderr.splitlines() == [
            "warning --match model=chrun: the daemon knows no model 'chrun'; did you mean 'churn'?"
        ]
        good = cli("silence", "add", "--match", "model=churn", "--match", "kind=drift", "--for", "1h", env=env)
        assert good.returncode == 0 and good.stderr == ""

        listed = json.loads(cli("silence", "list", "--json", env=env).stdout)
        assert {s["id"] for s in listed["silences"]} >= {silence["id"]}
        expired = json.loads(cli("silence", "expire", silence["id"], "--json", env=env).stdout)
        assert expired == {"expired": silence["id"]}
        flag_wins = cli("silence", "list", "--url", f"http://127.0.0.1:{free_port()}", env=env)
        assert flag_wins.returncode == 2 and "cannot reach" in flag_wins.stderr
