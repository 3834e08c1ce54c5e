"""Fixtures for every test folder: a daemon served in-process on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import Daemon, running


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    with running(tmp_path / "state.db", evaluate_every="1h") as d:
        yield d
