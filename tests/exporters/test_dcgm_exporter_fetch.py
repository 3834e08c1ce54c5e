"""The dcgm-exporter files the conformance tests read are not committed (tests/exporters/dcgm-exporter.md):
a run without them says, in pytest's summary as `make test` and CI run it, which file is missing and the
one command that fetches it; the README and the notice give the same commands."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support import dcgm_exporter
from tests.support.dcgm_exporter import FIXTURES, UPSTREAM, fetch_command, skip_reason, upstream

ROOT = Path(__file__).resolve().parents[2]
READS = {  # a test that reads each file
    "default-counters.csv": "tests/exporters/test_dcgm_exporter_counters.py::"
    "test_what_an_older_gpu_cannot_give_is_listed_in_the_readme_with_the_reason",
    "dcgm-exporter-dashboard.json": "tests/dashboards/test_dcgm_exporter_dashboard.py::"
    "test_every_panel_of_nvidias_dashboard_shows_series_from_driftwarden",
}


def test_the_readme_and_the_notice_give_the_commands_the_skip_reason_gives() -> None:
    readme = (ROOT / "README.md").read_text()
    notice = (FIXTURES / "dcgm-exporter.md").read_text()
    for name, (commit, path) in UPSTREAM.items():
        command = fetch_command(name)
        assert command in readme and command in notice
        assert command in skip_reason(name) and commit in notice and path in notice


def test_a_missing_file_is_skipped_with_its_fetch_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dcgm_exporter, "FIXTURES", tmp_path)
    with pytest.raises(pytest.skip.Exception) as skipped:
        upstream("default-counters.csv")
    assert str(skipped.value) == skip_reason("default-counters.csv")
    assert fetch_command("default-counters.csv") in str(skipped.value)


def test_the_summary_of_a_plain_pytest_run_prints_the_skip_reason() -> None:
    """`make test` (and CI's .ci/run, which runs it) is a plain `python -m pytest`: pyproject.toml's
    addopts must print skip reasons."""
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    assert any(opt.startswith("-r") and ("a" in opt or "s" in opt) for opt in addopts.split())
    missing = [name for name in UPSTREAM if not (FIXTURES / name).is_file()]
    if not missing:
        pytest.skip("both dcgm-exporter files are vendored: nothing is skipped")
    name = missing[0]
    test = READS[name]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", test],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.split("short test summary info")[-1]
    assert "SKIPPED" in summary and fetch_command(name) in summary
