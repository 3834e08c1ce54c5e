"""Running the CLI's start-up checks on a written config: `config validate` and `driftwarden run`, and
what a refusal must look like (exit 2, one located line per problem, no traceback)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support.ports import free_port
from tests.support.processes import driftwarden

__all__ = ["LOCATED", "assert_refused", "run", "unlocated", "validate", "write_config"]


def validate(config: Path) -> subprocess.CompletedProcess[str]:
    return driftwarden("config", "validate", str(config), timeout=60)


def run(config: Path) -> subprocess.CompletedProcess[str]:
    """`driftwarden run`, which must exit by itself: a daemon that starts is killed after 30 s (the test fails)."""
    return driftwarden("run", "--config", str(config), "--listen", f"127.0.0.1:{free_port()}", timeout=30)


def write_config(tmp_path: Path, body: str) -> Path:
    config = tmp_path / "driftwarden.yaml"
    config.write_text(f"state_path: {tmp_path / 'state' / 'state.db'}\ngpu: {{enabled: false}}\n{body}")
    return config


LOCATED = re.compile(r"^config error (?P<file>\S+?):(?P<line>\d+):(?P<column>\d+): ")


def assert_refused(result: subprocess.CompletedProcess[str], *lines: str) -> None:
    """Refused with these problems (each one's `file:line:column:` left out of `lines`)."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert unlocated(result.stderr) == [f"config error {line}" for line in lines]


def unlocated(stderr: str) -> list[str]:
    """The lines printed, less the `file:line:column: ` of each config problem."""
    return [LOCATED.sub("config error ", line) for line in stderr.strip().splitlines()]
