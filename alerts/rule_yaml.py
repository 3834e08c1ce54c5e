r"""How driftwarden writes Prometheus rule files: YAML with the expressions as literal blocks (as
people write rule files), PromQL string literals, numbers without floating-point noise, and the
file written only once its text is complete.

>>> print(dump({"record": "r", "expr": "sum(a)\n/\nsum(b)"}), end="")
record: r
expr: |-
  sum(a)
  /
  sum(b)
>>> num(1 - 0.99), pct(0.05), quote('a"b')
('0.01', '5%', '"a\\"b"')
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

__all__ = ["dump", "num", "pct", "quote", "write"]


def dump(document: dict[str, Any]) -> str:
    """`document` as YAML: keys in their order, Unicode as it is, no line folding."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100_000)


def write(out_dir: Path, file_name: str, text: str) -> Path:
    """`text` into `out_dir/file_name`, creating the directory; the path written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / file_name
    path.write_text(text)
    return path


def quote(value: str) -> str:
    """A PromQL string literal (label values in selectors)."""
    return json.dumps(value, ensure_ascii=False)


def num(x: float) -> str:
    """0.010000000000000009 -> '0.01', 6.0 -> '6' (1 - 0.99 is not 0.01 in floating point)."""
    return format(round(x, 10), ".10g")


def pct(x: float) -> str:
    return f"{num(x * 100)}%"


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the expressions) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str)
