"""The model page's multivariate drift card (drift.multivariate).

`<div class="card" id="multivariate" data-drifted="true|false">`: one `<tr data-method="pca"
data-drifted="true|false">` per method with its score, its threshold for the window's size, its p-value,
the features that moved the most, and why a skipped method has no verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

from driftwarden.detectors.multivariate import MultivariateResult
from driftwarden.rendering.svg import esc
from driftwarden.ui.format import flag, integer, maybe

__all__ = ["multivariate_card"]

_MEASURE = {"pca": "mean PCA reconstruction error", "classifier": "domain classifier AUROC (held out)"}


def multivariate_card(results: Sequence[MultivariateResult]) -> str:
    if not results:
        return ""
    rows = "".join(
        f'<tr data-method="{esc(r.method)}" data-drifted="{flag(r.drifted)}">'
        f'<td><code>{esc(r.method)}</code> <span class="muted small">{esc(_MEASURE.get(r.method, ""))}</span></td>'
        f'<td class="num">{maybe(r.score, "{:.4g}")}</td><td class="num">{maybe(r.threshold, "{:.4g}")}</td>'
        f'<td class="num">{maybe(r.pvalue, "{:.2g}")}</td>'
        f"<td>{_verdict(r)}</td><td>{esc(', '.join(r.top_features)) or '—'}</td>"
        f'<td class="num">{integer(r.rows)}</td></tr>'
        for r in results
    )
    drifted = any(r.drifted for r in results)
    return (
        f'<div class="card" id="multivariate" data-drifted="{flag(drifted)}"><h2>Multivariate drift '
        '<span class="muted small">the input features taken whole: what no one-feature test sees (a relation '
        "between features that changed); thresholds calibrated on the reference for this window's size</span></h2>"
        "<table><thead><tr><th>Method</th><th>Score</th><th>Threshold</th><th>p-value</th><th>Verdict</th>"
        f"<th>Moved the most</th><th>Rows</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _verdict(r: MultivariateResult) -> str:
    if r.skipped:
        return esc(f"skipped: {r.skipped}")
    return '<span class="badge drift">drifted</span>' if r.drifted else "no drift"
