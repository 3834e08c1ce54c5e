"""`driftwarden reference build`: scan a file (counts over every row, numeric values from a uniform
sample), fit a reference profile, store it in the state file, and summarise it as a table (`--json`:
as one JSON document)."""

from __future__ import annotations

import argparse
import getpass
import os

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from driftwarden.cli.common import EXIT_OK, fail, percent, print_json, stderr, stdout
from driftwarden.cli.constraints import write_suggested
from driftwarden.collector.tables import TableError
from driftwarden.config import ConfigError, load_config
from driftwarden.core.errors import StorageError
from driftwarden.daemon.estimation import fit_extras
from driftwarden.daemon.references import build_reference, build_steps
from driftwarden.persistence.audit import Audited, Caller
from driftwarden.persistence.database import Database, check_state_file
from driftwarden.persistence.store import Store

__all__ = ["build"]


def build(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    try:  # before the scan, which may take minutes: as `driftwarden run` checks it
        check_state_file(config.state_path)
    except StorageError as exc:
        raise ConfigError([f"state_path: {exc.reason}"]) from exc
    limit = config.limits.max_reference_rows
    if args.sample is not None and args.sample < 1:
        return fail(f"--sample {args.sample}: give a number of rows, at least 1")
    if args.sample is not None and args.sample > limit:
        stderr().print(f"[yellow]note[/] --sample {args.sample:,} is above limits.max_reference_rows: {limit:,} rows")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr(), transient=False) as progress:
        settings = config.model(args.model)
        extras = settings.estimate is not None or bool(settings.segments)
        total = build_steps(settings) + extras + 1  # the last one: storing
        task = progress.add_task(f"opening {args.input}", total=total)
        started: list[str] = []

        def step(description: str) -> None:  # a step begins: the one before it is done
            if started:
                progress.advance(task)
            started.append(description)
            progress.update(task, description=description)

        try:
            built = build_reference(args.input, config, args.model, sample=args.sample, on_step=step)
            if extras:  # what the daemon will fit, checked now
                step("fitting the estimate and segments")
                fit_extras(args.model, built.profile, config)
        except (TableError, ValueError) as exc:
            return fail(f"--input {args.input}: {exc}")
        step(f"storing in {config.state_path}")
        try:  # the file changed since the check, or takes no writes
            store = Store(Database(config.state_path))
        except StorageError as exc:
            raise ConfigError([f"state_path: {exc.reason}"]) from exc
        try:
            audited = Audited("reference.build", Caller(f"cli:{_user()}"))
            store.save_reference(args.model, built.profile, source=f"file:{args.input}", audited=audited)
        except StorageError as exc:
            return fail(exc.reason)
        finally:
            store.close()
        progress.advance(task)
        progress.update(task, description="stored")

    profile, sampled = built.profile, built.profile.rows < built.rows
    if args.constraints is not None:
        try:
            write_suggested(
                args.constraints,
                profile,
                model=args.model,
                source=str(args.input),
                rows=built.rows,
                missing={name: nulls / max(built.rows, 1) for name, nulls in built.nulls.items()},
                kinds=config.model(args.model).features,
            )
        except OSError as exc:
            return fail(f"--constraints {args.constraints}: {exc.strerror or exc}")
        stderr().print(f"constraints suggested from the reference written to {args.constraints}: review them")
    features = profile.summary()["features"]
    missing = {f["name"]: built.nulls[f["name"]] / built.rows for f in features}  # every row, not only the sample
    if args.json:
        print_json(
            {
                "model": args.model,
                "rows": built.rows,
                "sampled_rows": profile.rows,
                "source": str(args.input),
                "state_path": str(config.state_path),
                "features": [{**f, "missing_rate": missing[f["name"]]} for f in features],
            }
        )
        return EXIT_OK

    def num(x: float | None) -> str:
        return "-" if x is None else f"{x:.4g}"

    print(
        f"reference for {args.model}: {built.rows:,} rows"
        + (f" (numeric values from a uniform sample of {profile.rows:,})" if sampled else "")
        + f", {len(profile.features)} numeric and {len(profile.categories)} categorical features, "
        f"stored in {config.state_path}"
    )
    out = Table(caption="missing: over all rows; quantiles: over the sampled rows" if sampled else None)
    out.add_column("feature", no_wrap=True)
    out.add_column("kind")
    for header in ("missing", "p1", "p25", "p50", "p75", "p99"):
        out.add_column(header, justify="right")
    out.add_column("top categories (share of non-missing)")
    for feature in features:
        rate = percent(missing[feature["name"]])
        if feature["kind"] == "numeric":
            out.add_row(feature["name"], "numeric", rate, *(num(v) for v in feature["quantiles"].values()))
        else:
            top = ", ".join(f"{t['value']} {percent(t['share'])}" for t in feature["top"])
            more = f" (+{feature['categories'] - len(feature['top'])} more)" if feature["categories"] > 5 else ""
            out.add_row(feature["name"], "categorical", rate, "", "", "", "", "", top + more)
    stdout().print(out)
    return EXIT_OK


def _user() -> str:
    """Who ran the verb, for the audit trail (the login name; the uid where there is none)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER, LOGNAME or passwd entry (a container's arbitrary uid)
        return str(os.getuid())
