"""`driftwarden check`: a one-shot drift report between two files; exit 1 when it drifted.

The files are read whole and compared by `driftwarden.comparison` (the notebook API's code): columns
both files have, less those excluded (`--exclude`, `--id-column`, the config's `redact` and features
of kind `ignore`) and the ID-like ones; every column left out for a reason the user did not give is
a warning on stderr, and all of them are in the JSON's `schema` block. `--strict-schema` turns
columns missing from a side (or of another kind) into exit 2.

Printed as a table (`_table`: one row per feature, why it drifted first), as JSON (`--json`: the
shape of `GET /v1/models/{m}/drift`, per-feature `reasons` included, plus `title`, `sources` and `schema`), and
optionally written as a self-contained HTML report (`--html OUT`). Written to a file or a pipe, the
table is neither cut nor wrapped; with NO_COLOR set it carries no escape codes at all.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from driftwarden.cli.common import EXIT_DRIFT, EXIT_OK, fail, percent, stderr
from driftwarden.collector.tables import TableError, read_frame
from driftwarden.comparison import Comparison, ComparisonError, compare_frames
from driftwarden.detectors.reasons import reasons_text
from driftwarden.detectors.reference import DEFAULT_BINS
from driftwarden.params import DEFAULT_THRESHOLDS, DriftThresholds, EstimateParams
from driftwarden.rendering.drift_view import FeatureView, feature_views

if TYPE_CHECKING:
    from pathlib import Path

    from driftwarden.config import Config, ConstraintSettings

__all__ = ["CheckSettings", "check"]

UNBOUNDED_WIDTH = 1 << 16  # the console's width when stdout is not a terminal: lines are as long as they need


@dataclass(frozen=True)
class CheckSettings:
    """What `check` takes from a config's model: without `--config`, the embedded config's values,
    written here so that `check` imports no pydantic (tests check that both agree)."""

    exclude: tuple[str, ...] = ()  # the config's redact
    kinds: Mapping[str, str] = field(default_factory=dict)
    thresholds: DriftThresholds = DEFAULT_THRESHOLDS
    critical_features: Sequence[str] = ()
    bins: int = DEFAULT_BINS
    estimate: EstimateParams | None = None
    constraints: ConstraintSettings | None = None  # the model's (inline or its constraints_file)
    ignored: frozenset[str] = frozenset()  # features of kind `ignore`: never checked against constraints

    @classmethod
    def of(cls, config: Config, model: str) -> CheckSettings:
        from driftwarden.params import drift_thresholds, estimate_params

        settings = config.model(model)
        return cls(
            exclude=tuple(config.redact),
            kinds=settings.features,
            thresholds=drift_thresholds(settings.drift),
            critical_features=tuple(settings.critical_features),
            bins=settings.drift.bins,
            estimate=estimate_params(settings.estimate) if settings.estimate is not None else None,
            constraints=settings.constraints,
            ignored=settings.ignored_features,
        )

    @classmethod
    def read(cls, path: Path | None, model: str) -> CheckSettings:
        """The settings of `model` in the config at `path`; the embedded config's without one."""
        if path is None:
            return cls()
        from driftwarden.config import load_config  # pydantic: only when there is a config to read

        return cls.of(load_config(path), model)


def check(args: argparse.Namespace) -> int:
    settings = CheckSettings.read(args.config, args.model)
    rules = _constraints(args, settings)
    if args.reference is None and rules is None:
        return fail("--reference FILE is required, unless the current file is only checked with --constraints FILE")
    paths = {"reference": args.reference, "current": args.current}
    frames = {}
    for side, path in paths.items():
        if path is None:
            continue
        try:
            frames[side] = read_frame(path)
        except TableError as exc:
            return fail(f"--{side} {path}: {exc}")
    violations = None
    if rules is not None:
        from driftwarden.cli.constraints import check_frame  # yaml, the checker: only with constraints
        from driftwarden.detectors.constraints import ConstraintMonitor
        from driftwarden.params import constraint_set

        monitor = ConstraintMonitor(args.model, constraint_set(rules), window=max(len(frames["current"]), 1))
        redact = set(settings.exclude)
        known = redact | settings.ignored | set(args.exclude) | set(args.id_column)  # never undeclared
        violations = check_frame(monitor, frames["current"], redact, known)
    violated = bool(violations) and any(v["violated"] for v in violations or ())
    if args.reference is None:
        return _constraints_only(args, violations or [], violated)
    title = args.title or f"Drift report: {args.current.name} vs {args.reference.name}"
    try:
        result = compare_frames(
            frames["reference"],
            frames["current"],
            exclude=[*args.exclude, *settings.exclude],
            id_columns=args.id_column,
            kinds=settings.kinds,
            thresholds=settings.thresholds,
            critical_features=settings.critical_features,
            bins=settings.bins,
            model=args.model,
            title=title,
            sources={side: str(path) for side, path in paths.items()},
            estimate=settings.estimate,
        )
    except ComparisonError as exc:
        return fail(f"--{exc.side} {paths[exc.side]}: {exc}" if exc.side else str(exc))
    strict = args.strict_schema and bool(result.schema.differences)
    for note in result.schema.notes():
        level = "[red]error[/]" if strict and note.difference else "[yellow]warning[/]"
        stderr().print(f"{level} {escape(str(note))}", highlight=False)
    if args.html:
        try:
            result.to_html(args.html)
        except OSError as exc:
            return fail(f"--html {args.html}: {exc.strerror or exc}")
    if args.json:
        body = result.to_dict()
        if violations is not None:
            body["constraints"] = violations
        print(json.dumps(body, indent=2))
    else:
        _print(result)
        if violations is not None:
            from driftwarden.cli.constraints import print_violations

            print_violations(stdout_console(), violations)
    if strict:
        return fail(
            f"--strict-schema: {len(result.schema.differences)} column(s) differ between the files: "
            + ", ".join(result.schema.differences)
        )
    return EXIT_DRIFT if result.drifted or violated else EXIT_OK


def _constraints(args: argparse.Namespace, settings: CheckSettings) -> ConstraintSettings | None:
    """--constraints FILE, else the config model's constraints (inline or its constraints_file); None: none."""
    if args.constraints is not None:
        from driftwarden.config import load_constraints  # pydantic: only when there are constraints to read

        return load_constraints(args.constraints)
    return settings.constraints


def _constraints_only(args: argparse.Namespace, violations: list[dict[str, object]], violated: bool) -> int:
    if args.json:
        print(json.dumps({"model": args.model, "sources": {"current": str(args.current)}, "constraints": violations}))
    else:
        from driftwarden.cli.constraints import print_violations

        print_violations(stdout_console(), violations)
    return EXIT_DRIFT if violated else EXIT_OK


def _print(result: Comparison) -> None:
    console = stdout_console()
    rows = result.report.rows
    console.print(result.title, style="bold", markup=False)
    console.print(
        f"reference {result.sources['reference']} ({rows['reference']:,} rows) · "
        f"current {result.sources['current']} ({rows['current']:,} rows)",
        markup=False,
    )
    console.print(_table(result))
    console.print(result.report.summary(), markup=False)
    estimate = result.estimated_quality
    if estimate is not None and estimate.alert_metric in estimate.metrics:
        m = estimate.metrics[estimate.alert_metric]
        verdict = "DEGRADED" if estimate.degraded else "within the margin"
        labels = "realized from its labels beside it" if result.realized_quality is not None else "no labels"
        console.print(_quality_table(result))
        console.print(
            f"estimated {estimate.alert_metric} ({estimate.method.upper()}, current file: {labels}): "
            f"{m.value:.4g}, band {m.lower:.4g} to {m.upper:.4g}; reference {m.reference:.4g}: {verdict}",
            markup=False,
        )


def _quality_table(result: Comparison) -> Table:
    """Estimated quality per metric (the alert's first), with its band and the reference's; the realized
    quality when the current file has labels."""
    estimate, realized = result.estimated_quality, result.realized_quality
    assert estimate is not None
    table = Table(title=f"estimated quality ({estimate.method.upper()}, {estimate.rows:,} rows)")
    columns = ["metric", "estimated", "band", "reference", *(["realized", "|est - real|"] if realized else [])]
    for col in columns:
        table.add_column(col, justify="left" if col == "metric" else "right")
    for name in sorted(estimate.metrics, key=lambda n: (n != estimate.alert_metric, n)):
        m = estimate.metrics[name]
        row = [name, f"{m.value:.4g}", f"{m.lower:.4g} - {m.upper:.4g}", f"{m.reference:.4g}"]
        if realized:
            r = realized.get(name, float("nan"))
            row += [f"{r:.4g}", f"{abs(m.value - r):.4g}"]
        table.add_row(*row)
    return table


def stdout_console() -> Console:
    """The console for the report: a terminal's width in a terminal, unbounded in a file or a pipe
    (nothing cut, nothing wrapped); no escape codes at all with NO_COLOR set (https://no-color.org)."""
    plain = bool(os.environ.get("NO_COLOR"))
    return Console(
        highlight=False,
        no_color=plain,
        color_system=None if plain else "auto",
        soft_wrap=True,
        width=None if sys.stdout.isatty() else UNBOUNDED_WIDTH,
    )


def _table(result: Comparison) -> Table:
    """One row per feature, the largest PSI first; verdicts, thresholds and reasons from the one drift view."""
    table = Table()
    for col in ("feature", "kind", "drifted", "why", "PSI", "KS D / chi2", "p (BH)", "missing rate"):
        left = col in ("feature", "kind", "why")
        table.add_column(col, justify="left" if left else "right", overflow="fold")
    for v in sorted(feature_views(result.report), key=lambda v: -_or(v.statistic("psi").value, -1.0)):
        table.add_row(
            escape(v.name) + (" (prediction)" if v.is_output else ""),
            v.kind,
            "[red]yes[/]" if v.drifted else "no",
            escape(reasons_text(v.feature.reasons)),
            _fixed(v.statistic("psi").value),
            _fixed(v.statistic(v.test).value),
            _p(v),
            f"{percent(v.feature.missing_rate['reference'])} → {percent(v.feature.missing_rate['current'])}",
        )
    return table


def _p(view: FeatureView) -> str:
    test = view.check(view.test)  # KS for numeric features, chi-square for categorical ones
    return "-" if test.adjusted is None else f"{test.adjusted:.1e}"


def _or(x: float | None, default: float) -> float:
    return x if x is not None and math.isfinite(x) else default


def _fixed(x: float | None) -> str:
    return f"{x:.3f}" if x is not None and math.isfinite(x) else "-"
