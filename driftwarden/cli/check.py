"""`driftwarden check`: a one-shot drift report between two files; exit 1 when it drifted.

Printed as a table (`_table`), as JSON (`--json`, the shape of `GET /v1/models/{m}/drift`), and
optionally written as a self-contained HTML report (`--html OUT`).
"""

from __future__ import annotations

import argparse
import json
import math

from rich.console import Console
from rich.table import Table

from driftwarden.cli.common import EXIT_DRIFT, EXIT_OK, fail, percent
from driftwarden.collector.tables import TableError, read_table
from driftwarden.config import load_config
from driftwarden.detectors.drift import DriftReport, compare
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.params import drift_thresholds
from driftwarden.rendering.drift_view import feature_views

__all__ = ["check"]


def check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    model = config.model(args.model)
    settings = model.drift
    tables = {}
    kinds = dict(model.features)
    for flag, path in (("--reference", args.reference), ("--current", args.current)):
        try:
            tables[flag] = table = read_table(path, kinds=kinds)
        except TableError as exc:
            return fail(f"{flag} {path}: {exc}")
        kinds = {name: "categorical" for name in table.categories} | {name: "numeric" for name in table.numeric} | kinds
    ref, cur = tables["--reference"], tables["--current"]
    # only the columns both files have: a column absent from a file is a schema difference, not drift
    numeric = [j for j, n in enumerate(ref.numeric) if n in cur.numeric]
    categories = {n: counts for n, counts in ref.categories.items() if n in cur.categories}
    if not numeric and not categories:
        return fail(
            f"{args.current}: none of the reference's columns "
            f"({', '.join([*ref.numeric, *ref.categories]) or 'none'}) are in it with the same kind"
        )
    try:
        profile = ReferenceProfile.fit(
            [ref.numeric[j] for j in numeric], ref.values[:, numeric], categories=categories, bins=settings.bins
        )
    except ValueError as exc:
        return fail(f"--reference {args.reference}: {exc}")
    report = compare(
        args.model,
        profile,
        cur.numeric,
        cur.values,
        current_categories=cur.categories,
        thresholds=drift_thresholds(settings),
        critical_features=model.critical_features,
    )
    if args.html:
        from driftwarden.rendering.html_report import write_html  # only with --html

        try:
            write_html(report, args.html)
        except OSError as exc:
            return fail(f"--html {args.html}: {exc.strerror or exc}")
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        console = Console(highlight=False)
        console.print(_table(report))
        console.print(report.summary())
    return EXIT_DRIFT if report.drifted else EXIT_OK


def _table(report: DriftReport) -> Table:
    """One row per feature, the largest PSI first; thresholds and verdicts come from the one drift view."""
    table = Table(title=f"drift: {report.rows['current']:,} current rows vs {report.rows['reference']:,} reference")
    for col in ("feature", "kind", "drifted", "PSI", "KS D / chi2", "p (BH)", "missing ref", "missing cur"):
        table.add_column(col, justify="left" if col in ("feature", "kind") else "right")
    for v in sorted(feature_views(report), key=lambda v: -_or(v.statistic("psi").value, -1.0)):
        test = v.check(v.test)  # KS for numeric features, chi-square for categorical ones
        table.add_row(
            v.name + (" (prediction)" if v.is_output else ""),
            v.kind,
            "[red]yes[/]" if v.drifted else "no",
            _fixed(v.statistic("psi").value),
            _fixed(v.statistic(v.test).value),
            "-" if test.adjusted is None else f"{test.adjusted:.1e}",
            percent(v.feature.missing_rate["reference"]),
            percent(v.feature.missing_rate["current"]),
        )
    return table


def _or(x: float | None, default: float) -> float:
    return x if x is not None and math.isfinite(x) else default


def _fixed(x: float | None) -> str:
    return f"{x:.3f}" if x is not None and math.isfinite(x) else "-"
