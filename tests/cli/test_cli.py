"""The command line, run as a user runs it: a subprocess, exit codes, output."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest

from tests.support.ports import free_port
from tests.support.processes import driftwarden, driftwarden_run


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    ref = pl.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(size=3000), "c": rng.choice(["x", "y"], 3000)})
    same = pl.DataFrame({"a": rng.normal(size=1000), "b": rng.normal(size=1000)})
    moved = pl.DataFrame({"a": rng.normal(1.0, 1, 1000), "b": rng.normal(1.0, 1, 1000)})
    paths = {"ref": tmp_path / "ref.parquet", "same": tmp_path / "same.csv", "moved": tmp_path / "moved.ndjson"}
    ref.write_parquet(paths["ref"])
    same.write_csv(paths["same"])
    moved.write_ndjson(paths["moved"])
    return paths


def test_check_exit_codes_and_json(files: dict[str, Path]) -> None:
    quiet = driftwarden("check", "--reference", str(files["ref"]), "--current", str(files["same"]))
    assert quiet.returncode == 0, quiet.stderr
    assert "no drift" in quiet.stdout and "feature" in quiet.stdout

    drift = driftwarden("check", "--reference", str(files["ref"]), "--current", str(files["moved"]), "--json")
    assert drift.returncode == 1, drift.stderr
    report = json.loads(drift.stdout)
    assert report["drifted"] is True and report["drift_share"] == 1.0
    assert {f["name"] for f in report["features"]} == {"a", "b"}
    assert all(f["scores"]["psi"] > 0.2 for f in report["features"])


def test_check_bad_input_exits_2_naming_the_file(files: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text("a,b\n1,inf\n")
    r = driftwarden("check", "--reference", str(files["ref"]), "--current", str(broken))
    assert r.returncode == 2 and "broken.csv" in r.stderr and "infinite" in r.stderr
    r = driftwarden("check", "--reference", str(tmp_path / "nope.parquet"), "--current", str(files["same"]))
    assert r.returncode == 2 and "nope.parquet" in r.stderr
    other = tmp_path / "other.csv"
    other.write_text("z\n1\n")
    r = driftwarden("check", "--reference", str(files["ref"]), "--current", str(other))
    assert r.returncode == 2 and "none of the reference" in r.stderr


def test_config_validate(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("evaluate_every: 10s\nmodels: {fraud: {window: 1000}}\n")
    r = driftwarden("config", "validate", str(good))
    assert r.returncode == 0 and "ok" in r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("evaluate_every: 10\nmodels: {fraud: {windoww: 1000}}\n")
    r = driftwarden("config", "validate", str(bad))
    assert r.returncode == 2
    assert "evaluate_every" in r.stderr and "models.fraud.windoww: unknown key" in r.stderr


def test_reference_build_then_run_and_kill_9_keeps_references(files: dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\nevaluate_every: 1s\n")
    built = driftwarden("reference", "build", "--model", "fraud", "--input", str(files["ref"]), "--config", str(config))
    assert built.returncode == 0, built.stderr
    assert "3,000 rows" in built.stdout

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with driftwarden_run(config, tmp_path / "first.log", port=port) as served:
        # a second reference over HTTP, then kill -9 right after the 200
        csv = files["same"].read_bytes()
        put = httpx.put(f"{url}/v1/models/churn/reference", content=csv, headers={"content-type": "text/csv"})
        assert put.status_code == 200
        os.kill(served.proc.pid, signal.SIGKILL)
        served.proc.wait(timeout=10)
    with driftwarden_run(config, tmp_path / "second.log", port=port):
        models = {m["model"]: m for m in httpx.get(f"{url}/v1/models").json()["models"]}
        assert models["fraud"]["rows"]["reference"] == 3000
        assert models["churn"]["rows"]["reference"] == 1000


def test_run_refuses_a_bad_config_with_its_key(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"models: {{fraud: {{reference: /nonexistent/ref.parquet}}}}\nstate_path: {tmp_path / 'state.db'}\n"
    )
    r = driftwarden("run", "--config", str(config), "--listen", f"127.0.0.1:{free_port()}")
    assert r.returncode == 2
    assert "models.fraud.reference: /nonexistent/ref.parquet: No such file" in r.stderr


def test_silence_verbs_against_a_running_daemon(tmp_path: Path) -> None:
    from tests.support.server import running

    with running(tmp_path / "s.db") as d:
        added = driftwarden(
            "silence",
            "add",
            "--url",
            d.url,
            "--match",
            "kind=drift",
            "--match",
            "model=fraud",
            "--for",
            "2h",
            "--comment",
            "deploy",
        )
        assert added.returncode == 0, added.stderr
        silence_id = added.stdout.split()[1]
        listed = driftwarden("silence", "list", "--url", d.url)
        assert silence_id in listed.stdout and "active" in listed.stdout and "kind=drift,model=fraud" in listed.stdout
        assert driftwarden("silence", "expire", "--url", d.url, silence_id).returncode == 0
        assert "expired" in driftwarden("silence", "list", "--url", d.url).stdout
        bad = driftwarden("silence", "add", "--url", d.url, "--match", "nolabel", "--for", "2h")
        assert bad.returncode == 2 and "LABEL=VALUE" in bad.stderr
        gone = driftwarden("silence", "expire", "--url", d.url, "nope")
        assert gone.returncode == 2 and "404" in gone.stderr


def test_tls_and_json_logs(tmp_path: Path) -> None:
    import json as jsonlib

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
    )
    if made.returncode != 0:
        pytest.skip("openssl could not make a test certificate")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"state_path: {tmp_path / 'state.db'}\ntls_cert_file: {cert}\ntls_key_file: {key}\n"
        "log_format: json\ngpu: {enabled: false}\n"
    )
    port = free_port()
    trust = ssl.create_default_context(cafile=str(cert))
    log = tmp_path / "daemon.log"
    with driftwarden_run(config, log, port=port, scheme="https", verify=trust, ready="/healthz"):
        r = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=trust, timeout=1)
        assert r.status_code == 200
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).raise_for_status()  # plain HTTP refused
    entries = [jsonlib.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert entries and all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert any("listening" in e["message"] for e in entries)


def test_tls_needs_both_files(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("tls_cert_file: /x/cert.pem\n")
    r = driftwarden("config", "validate", str(config))
    assert r.returncode == 2 and "tls_cert_file and tls_key_file go together" in r.stderr


def test_windows_resume_after_kill_9(files: dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"state_path: {tmp_path / 'state.db'}\nevaluate_every: 1s\ncheckpoint_every: 1s\ngpu: {{enabled: false}}\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    rows = b"\n".join(b'{"model": "fraud", "features": {"a": %d, "b": 1}}' % i for i in range(700))
    with driftwarden_run(config, tmp_path / "first.log", port=port) as served:
        httpx.put(
            f"{url}/v1/models/fraud/reference",
            content=files["ref"].read_bytes(),
            headers={"content-type": "application/vnd.apache.parquet"},
        ).raise_for_status()
        httpx.post(f"{url}/v1/predictions", content=rows, headers={"content-type": "application/x-ndjson"})
        time.sleep(2.5)  # at least one evaluation, hence one checkpoint
        os.kill(served.proc.pid, signal.SIGKILL)
        served.proc.wait(timeout=10)
    with driftwarden_run(config, tmp_path / "second.log", port=port):
        (model,) = httpx.get(f"{url}/v1/models").json()["models"]
        assert model["rows"] == {"reference": 3000, "current": 700}


def test_sigterm_flushes_windows_within_the_grace_period(files: dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\nevaluate_every: 1h\ngpu: {{enabled: false}}\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    rows = b"\n".join(b'{"model": "fraud", "features": {"a": %d}}' % i for i in range(300))
    with driftwarden_run(config, tmp_path / "first.log", port=port) as served:
        httpx.post(f"{url}/v1/predictions", content=rows, headers={"content-type": "application/x-ndjson"})
        started = time.monotonic()
        served.proc.terminate()  # SIGTERM long before any evaluation: only the shutdown checkpoint can save the window
        served.proc.wait(timeout=10)
        assert time.monotonic() - started < 5  # Kubernetes' default grace period is 30 s; we need far less
    with driftwarden_run(config, tmp_path / "second.log", port=port):
        (model,) = httpx.get(f"{url}/v1/models").json()["models"]
        assert model["rows"]["current"] == 300
