"""Numeric features carry their bin edges as numbers, and the charts draw the axis from them (no
renderer reads numbers back out of the bins' labels)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from driftwarden.detectors.drift import compare
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.rendering.html_report import render_html
from driftwarden.rendering.svg import edge_labels
from driftwarden.ui.model import model_page


def report_and_reference():
    rng = np.random.default_rng(11)
    reference = ReferenceProfile.fit(
        ["amount", "age"], rng.normal(size=(3000, 2)) * [1000.0, 1.0], categories={"country": {"DE": 60, "FR": 40}}
    )
    current = rng.normal(size=(2000, 2)) * [1000.0, 1.0] + [400.0, 0.0]
    report = compare("fraud", reference, ["amount", "age"], current, current_categories={"country": {"DE": 9}})
    return report, reference


def axis(html: str, feature: str) -> list[str]:
    """The axis texts of `feature`'s histogram: three share ticks, the bin edges drawn, the caption."""
    (section,) = re.findall(rf'<section [^>]*data-feature="{feature}".*?</section>', html)
    (chart,) = re.findall(r'<svg class="chart histogram".*?</svg>', section)
    return re.findall(r'<text class="axis"[^>]*>([^<]*)</text>', chart)


def test_compare_reports_the_reference_edges_exactly() -> None:
    report, reference = report_and_reference()
    amount, age, country = report.features
    assert amount.bin_edges == tuple(reference.edges[0].tolist()) and len(amount.bin_edges) == 9
    assert age.bin_edges == tuple(reference.edges[1].tolist())
    assert all(isinstance(e, float) for e in amount.bin_edges)
    assert country.bin_edges == () and country.bin_labels[:2] == ("DE", "FR")  # categories keep their names
    assert len(amount.bin_labels) == len(amount.bin_edges) + 1  # the labels stay, for the bin tables


def test_the_html_report_draws_the_axis_from_the_edges_not_the_labels() -> None:
    report, _ = report_and_reference()
    unlabelled = tuple(
        dataclasses.replace(f, bin_labels=tuple(f"bin {k}" for k in range(len(f.bin_labels))))
        if f.kind == "numeric"
        else f
        for f in report.features
    )
    drawn = [
        axis(render_html(dataclasses.replace(report, features=f)), "amount") for f in (report.features, unlabelled)
    ]
    assert drawn[0] == drawn[1] and len(drawn[0]) > 3 + 5  # edges drawn, whatever the labels say
    assert set(drawn[0][3:-1]) <= set(edge_labels(report.features[0].bin_edges))
    no_edges = dataclasses.replace(report.features[0], bin_edges=())
    ticks = axis(render_html(dataclasses.replace(report, features=(no_edges,))), "amount")
    assert len(ticks) == 3 + 1 and ticks[-1] == "reference-quantile bin edges"  # no edges: no edge ticks


def test_the_model_page_draws_the_report_edges_even_after_a_new_reference() -> None:
    report, reference = report_and_reference()
    newer = ReferenceProfile.fit(["amount", "age"], np.random.default_rng(5).normal(size=(3000, 2)) * 1e6)
    pages = [
        model_page("fraud", report=report, reference=r, window_rows=2000, history=[], now=report.evaluated_at)
        for r in (reference, newer)
    ]
    ticks = [axis(page, "amount") for page in pages]
    assert ticks[0] == ticks[1] and len(ticks[0]) > 3 + 5  # the bins of this report, whatever reference came since
