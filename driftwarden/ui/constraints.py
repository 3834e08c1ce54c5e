"""The model page's data-quality card (models.<m>.constraints).

`<div class="card" id="data-quality">`: one `<tr data-feature="age" data-constraint="range"
data-violated="true|false">` per feature and constraint with violations in the current window,
violated first, with the expected value and a few examples (`[redacted]` for a feature in `redact`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from driftwarden.rendering.svg import esc
from driftwarden.ui.format import flag, integer

__all__ = ["constraints_card"]

_VIOLATED = '<span class="badge drift">violated</span>'


def constraints_card(rows: Sequence[Mapping[str, Any]]) -> str:
    ordered = sorted(rows, key=lambda r: (not r["violated"], -r["share"], r["feature"]))
    body = "".join(
        f'<tr data-feature="{esc(r["feature"])}" data-constraint="{esc(r["constraint"])}" '
        f'data-violated="{flag(r["violated"])}"><td><code>{esc(r["feature"])}</code></td>'
        f"<td>{esc(r['constraint'])}</td>"
        f"<td>{_VIOLATED if r['violated'] else 'within its share'}</td>"
        f'<td class="num">{integer(r["violations"])} / {integer(r["rows"])}</td>'
        f'<td class="num">{r["share"]:.2%}</td><td class="num">{r["threshold"]:.2%}</td>'
        f"<td class='small'>{esc(r['expected'])}</td>"
        f"<td class='small'><code>{esc(', '.join(r['examples']))}</code></td></tr>"
        for r in ordered
    )
    if not body:
        body = '<tr><td colspan="8" class="muted">no violations in the current window</td></tr>'
    return (
        '<h2>Data quality <span class="muted small">constraints checked on every batch at ingest; shares of '
        "the current window's rows</span></h2>"
        '<div class="card" id="data-quality"><table><thead><tr><th>feature</th><th>constraint</th>'
        '<th>verdict</th><th class="num">violations / rows</th><th class="num">share</th>'
        f'<th class="num">allowed</th><th>expected</th><th>examples</th></tr></thead><tbody>{body}</tbody>'
        "</table></div>"
    )
