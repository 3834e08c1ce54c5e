"""NVIDIA dcgm-exporter's own artifacts (vendored in tests/exporters/, source and licence in
tests/exporters/dcgm-exporter.md), and what the README says driftwarden cannot read through NVML.

`upstream(name)` is the path of a vendored file; a test that needs one is skipped while it is not
vendored, the skip reason giving the command that fetches it (`fetch_command`, the same in the
README and tests/exporters/dcgm-exporter.md; `pytest -ra`, the default, prints the reason). `counters()` parses
`default-counters.csv` as dcgm-exporter does: `field, type, help` lines, `#` comments.
`unavailable_through_nvml()` reads the README's table of that name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "FIXTURES",
    "UPSTREAM",
    "Counter",
    "counters",
    "fetch_command",
    "grafana_substitute",
    "skip_reason",
    "unavailable_through_nvml",
    "upstream",
]

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "exporters"
NOTICE = FIXTURES / "dcgm-exporter.md"
TABLE_HEADING = re.compile(r"^#+ .*unavailable through NVML", re.IGNORECASE)


RAW = "https://raw.githubusercontent.com/NVIDIA/dcgm-exporter"
# file in tests/exporters/ -> (dcgm-exporter commit, path in that repository)
UPSTREAM = {
    "dcgm-exporter-dashboard.json": (
        "068798b0a1cb23d7764fa30f6f305d322ede87e2",
        "grafana/dcgm-exporter-dashboard.json",
    ),
    "default-counters.csv": ("7ad58324b4447b64dc3dedf946b889b648b7f476", "etc/default-counters.csv"),
}


def fetch_command(name: str) -> str:
    """The command, run from the repository root, that fetches upstream file `name` unmodified."""
    commit, path = UPSTREAM[name]
    return f"curl -fsSLo tests/exporters/{name} {RAW}/{commit}/{path}"


def skip_reason(name: str) -> str:
    commit, path = UPSTREAM[name]
    return (
        f"tests/exporters/{name} (NVIDIA dcgm-exporter's {path} at {commit[:12]}, Apache-2.0) is not committed; "
        f"fetch it unmodified, from the repository root: {fetch_command(name)} "
        f"(source and licence: {NOTICE.relative_to(ROOT)})"
    )


def upstream(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(skip_reason(name))
    return path


@dataclass(frozen=True)
class Counter:
    field: str
    type: str  # gauge, counter or label
    help: str


def counters() -> list[Counter]:
    """The fields `default-counters.csv` enables, in its order."""
    found = []
    for line in upstream("default-counters.csv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        field, kind, help_text = (part.strip() for part in line.split(",", 2))
        found.append(Counter(field, kind, help_text))
    return found


def unavailable_through_nvml() -> dict[str, str]:
    """field -> reason, from the README's "... unavailable through NVML" table (first column: one or
    more fields in backticks, last column: the reason)."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if TABLE_HEADING.match(line)), None)
    assert start is not None, "README.md has no section on the fields unavailable through NVML"
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not re.fullmatch(r"[|\s:-]+", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    table: dict[str, str] = {}
    for cells in rows[1:]:  # the first row is the header
        for field in re.findall(r"`(DCGM_\w+)`", cells[0]):
            table[field] = cells[-1]
    return table


def grafana_substitute(expr: str, value: str = ".*") -> str:
    """An expression with every template variable replaced as Grafana does for "All" with a regex
    matcher (`$gpu`, `${gpu}`, `[[gpu]]`)."""
    return re.sub(r"\$\{?(\w+)\}?|\[\[(\w+)\]\]", value, expr)
