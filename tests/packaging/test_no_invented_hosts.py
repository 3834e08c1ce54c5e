"""The package names no host the project does not have: no repository on GitHub, no project site. Every URL in
what the wheel ships (the modules, the rule files, the dashboards, the operator's guide the daemon serves
its runbooks from) points at loopback, a placeholder (reserved `.example` names, a cluster-local name such
as `grafana`), or a third party's real service; an alert's runbook is the daemon's own page."""

from __future__ import annotations

import os
import re
from pathlib import Path

import driftwarden

PACKAGE = Path(driftwarden.__file__).resolve().parent
SHIPPED = (".py", ".md", ".yml", ".yaml", ".json", ".toml", ".txt", ".html")
URL_HOST = re.compile(r"\bhttps?://(?:[^@/\s]*@)?([A-Za-z0-9.-]+)")
THIRD_PARTIES = {  # real services, standards
    "events.pagerduty.com",
    "api.opsgenie.com",
    "api.eu.opsgenie.com",
    "slack.com",
    "hooks.slack.com",
    "no-color.org",
    "www.w3.org",
}
VENDORED_NOTE = re.compile(r"vendored from", re.IGNORECASE)  # a note naming where copied source came from


def shipped_files() -> list[Path]:
    """What the wheel holds, read through the links that bring collector/, ..., the guide into the package."""
    found = []
    for folder, dirs, files in os.walk(PACKAGE, followlinks=True):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        found += [Path(folder) / name for name in files if name.endswith(SHIPPED)]
    return sorted(found)


def placeholder(host: str) -> bool:
    """Loopback, a documentation name (RFC 2606 / 6761), a cluster-local name, or a template's start."""
    labels = host.rstrip(".").split(".")
    return (
        host in {"localhost", "127.0.0.1"}
        or "example" in labels
        or labels[-1] in {"test", "invalid", "internal", "svc", "local"}
        or len(labels) == 1
        or host.endswith(".")  # `http://driftwarden.<namespace>.svc`, cut at the template
    )


def test_the_package_names_no_host_of_its_own() -> None:
    files = shipped_files()
    assert PACKAGE / "operators-guide.md" in files  # the guide the runbooks come from is checked too
    offenders = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if VENDORED_NOTE.search(line):
                continue
            for host in URL_HOST.findall(line):
                if "github.com" in host or not (placeholder(host) or host in THIRD_PARTIES):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {host}")
            if "github.com" in line and not URL_HOST.search(line):
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: github.com")
    assert offenders == []
