"""What a comparison gives back: the drift report, the columns not compared, and the ways to show it.

One object for `driftwarden check` and the notebook API (`driftwarden.compare`): `to_dict()` is
`check --json`'s output, `to_html(path)` `check --html`'s file, `_repr_html_()` the same report as a
notebook's output cell draws it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftwarden.comparison.columns import Schema
from driftwarden.detectors.reasons import reasons_text
from driftwarden.detectors.report import DriftReport, FeatureDrift

if TYPE_CHECKING:  # the estimators and the HTML renderer are imported when a result needs them
    from driftwarden.detectors.estimation import QualityEstimate

__all__ = ["Comparison"]


@dataclass(frozen=True, repr=False)
class Comparison:
    """A drift report between a reference and a current data set.

    `drifted` is the model verdict (a share of features, or a critical one, drifted); `reasons`
    says, per drifted feature, which tests fired with their values, thresholds and p-values (the
    report's own, `detectors/reasons.py`); `schema` lists the columns not compared and why.
    """

    report: DriftReport
    schema: Schema = field(default_factory=Schema)
    title: str = "Drift report"
    sources: Mapping[str, str] = field(default_factory=dict)  # {"reference": "ref.parquet", "current": ...}
    estimated_quality: QualityEstimate | None = None  # the current data's (CBPE, DLE), from its model outputs
    realized_quality: Mapping[str, float] | None = None  # what the current data's labels give, when it has them

    @property
    def drifted(self) -> bool:
        return self.report.drifted

    @property
    def drift_share(self) -> float:
        return self.report.drift_share

    @property
    def features(self) -> tuple[FeatureDrift, ...]:
        return self.report.features

    @property
    def drifted_features(self) -> list[str]:
        return [f.name for f in self.report.drifted_features]

    @property
    def reasons(self) -> dict[str, list[dict[str, Any]]]:
        """Drifted feature -> the tests that fired, headline first, each as the drift report's JSON has it
        (`Reason.to_dict()`: `{"test", "value", "threshold", "pvalue", "pvalue_bh", "pvalue_test"}`, a
        missing-rate reason also `from` and `to`)."""
        return {f.name: [r.to_dict() for r in f.reasons] for f in self.report.features if f.reasons}

    def summary(self) -> str:
        """One line: the verdict, and why for the drifted features."""
        why = [f"{f.name}: {reasons_text(f.reasons)}" for f in self.report.features if f.reasons]
        return self.report.summary() + (f"; why: {'; '.join(why)}" if why else "")

    def to_dict(self) -> dict[str, Any]:
        """`check --json`: the drift report's JSON (as `GET /v1/models/{model}/drift`, each feature's
        `reasons` included) with the `title`, the `sources` compared and the `schema` block."""
        report = self.report.to_dict()
        out = {"title": self.title, "sources": dict(self.sources), **report, "schema": self.schema.to_dict()}
        if self.estimated_quality is not None:
            out["estimated_quality"] = self.estimated_quality.to_dict()
        if self.realized_quality is not None:
            out["realized_quality"] = dict(self.realized_quality)
        return out

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the report as one self-contained HTML file (no script, nothing fetched); returns the path."""
        from driftwarden.rendering.html_report import write_html

        return write_html(self.report, path, **self._page())

    def _repr_html_(self) -> str:
        """The report as a notebook draws it: the HTML file's markup in one scoped `<div>`."""
        from driftwarden.rendering.html_report import render_fragment

        return render_fragment(self.report, **self._page())

    def _page(self) -> dict[str, Any]:
        from driftwarden.rendering.quality_section import quality_section

        quality = quality_section(self.estimated_quality, self.realized_quality)
        return {"title": self.title, "sources": self.sources, "schema": self.schema.to_dict(), "extra": quality}

    def __repr__(self) -> str:
        drifted = self.drifted_features
        verdict = "drifted" if self.drifted else "drift below the model threshold" if drifted else "no drift"
        named = f": {', '.join(drifted[:5])}{' ...' if len(drifted) > 5 else ''}" if drifted else ""
        return (
            f"<Comparison {self.title!r}: {verdict}, {len(drifted)} of "
            f"{sum(1 for f in self.report.features if f.role != 'prediction')} features drifted{named}>"
        )
