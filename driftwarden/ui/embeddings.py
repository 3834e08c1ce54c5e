"""The model page's embedding card: each embedding's verdict by each method (`models.<m>.embeddings`) and
a scatter of reference and current vectors on the reference's first two principal components.

Markup to assert on: `<section class="embedding" data-embedding="NAME" data-drifted="true|false">` with
a `<tr data-method="mmd|pcs|classifier">` per method and one `<svg class="chart scatter">` holding a
`<g class="reference">` and a `<g class="current">` of `<circle>`s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from driftwarden.detectors.embedding import EmbeddingDrift
from driftwarden.rendering.svg import esc
from driftwarden.ui.format import maybe

__all__ = ["embeddings_card"]

WIDTH, HEIGHT, PAD = 320, 240, 12


def embeddings_card(
    results: Sequence[EmbeddingDrift], projections: Mapping[str, Mapping[str, list[list[float]]] | None]
) -> str:
    """ "" when the model has no embedding verdicts yet."""
    names = list(dict.fromkeys(r.embedding for r in results))
    if not names:
        return ""
    sections = []
    for name in names:
        methods = [r for r in results if r.embedding == name]
        drifted = any(r.drifted for r in methods)
        rows = "".join(
            f'<tr data-method="{esc(r.method)}"><td>{esc(r.method)}</td>'
            f'<td class="num{" over" if r.drifted else ""}">{r.score:.4g}</td><td class="num">{r.threshold:.4g}</td>'
            f'<td class="num">{maybe(r.pvalue, "{:.2g}")}</td><td>{"drifted" if r.drifted else "—"}</td></tr>'
            for r in methods
        )
        sections.append(
            f'<section class="embedding" data-embedding="{esc(name)}" data-drifted="{str(drifted).lower()}">'
            f"<h3><code>{esc(name)}</code> · {methods[0].rows.get('current', 0):,} current vs "
            f"{methods[0].rows.get('reference', 0):,} reference vectors</h3>"
            f"{_scatter(projections.get(name))}"
            '<table class="stats"><tr><th>method</th><th>score</th><th>threshold</th><th>p-value</th><th></th></tr>'
            f"{rows}</table></section>"
        )
    return (
        '<div class="card" id="embeddings"><h2>Embeddings <span class="muted small">mmd: squared MMD (Gaussian '
        "kernel, random features, permutation p-value) · pcs: share of the reference's principal components "
        "drifted · classifier: AUROC · the scatter: reference (grey) and current (orange) on the reference's "
        f"first two principal components</span></h2>{''.join(sections)}</div>"
    )


def _scatter(points: Mapping[str, list[list[float]]] | None) -> str:
    if not points or not points.get("reference"):
        return ""
    every = [p for side in ("reference", "current") for p in points.get(side, [])]
    xs, ys = [p[0] for p in every], [p[1] for p in every]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = (WIDTH - 2 * PAD) / ((x1 - x0) or 1.0)
    sy = (HEIGHT - 2 * PAD) / ((y1 - y0) or 1.0)

    def dots(side: str, colour: str) -> str:
        circles = "".join(
            f'<circle cx="{PAD + (x - x0) * sx:.1f}" cy="{HEIGHT - PAD - (y - y0) * sy:.1f}" r="1.6"/>'
            for x, y in points.get(side, [])
        )
        return f'<g class="{side}" fill="{colour}" fill-opacity="0.55">{circles}</g>'

    return (
        f'<svg class="chart scatter" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        'aria-label="reference and current vectors on the first two principal components">'
        f"{dots('reference', '#9aa0a6')}{dots('current', '#e8710a')}</svg>"
    )
