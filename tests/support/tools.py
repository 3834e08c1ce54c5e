"""External tools the real-server tests need (promtool, amtool, Prometheus, Alertmanager, Chromium)."""

from __future__ import annotations

import os
import shutil

import pytest

__all__ = ["required_tool"]


def required_tool(*names: str, package: str) -> str:
    """The first of `names` on PATH. Missing: the test is skipped on a developer's machine and fails
    under CI, since `.ci/run` installs Debian's `package`."""
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"{names[0]} is not on PATH; CI must have it (.ci/run installs Debian's {package})")
    pytest.skip(f"{names[0]} is not on PATH (apt-get install {package})")
