"""The `driftwarden` command: the argparse tree of every verb, and `main`, which runs the one chosen.

Each verb group has its own module here (`run`, `demo`, `check`, `reference`, `rules`, `dashboards`,
`silence`, `validate`), named in the tree as `"module:function"` and imported only when that verb
runs: `driftwarden --help`, a verb's `--help` and a mistyped flag import argparse and nothing else,
and each verb pays only for its own imports (FastAPI for `run`, polars and scipy for `check`).

    driftwarden check --reference ref.parquet --current today.parquet   # exit 1: drifted
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Callable
from pathlib import Path

from driftwarden.cli.common import EXIT_OK, EXIT_USAGE, stderr

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    target = getattr(args, "verb", None)
    if target is None:
        parser.print_help()
        return EXIT_USAGE
    handler = _load(target)
    from driftwarden.config import ConfigError  # after parsing: pydantic and yaml are not needed for --help

    try:
        return handler(args)
    except ConfigError as exc:
        from rich.markup import escape

        for problem in exc.problems:  # printed as it is: a path such as /data/[x]/key stays whole
            stderr().print(f"[red]config error[/] {escape(problem)}", highlight=False)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK


def _load(target: str) -> Callable[[argparse.Namespace], int]:
    """`"check:check"` -> the function `check` of `driftwarden.cli.check`, imported now."""
    module, _, function = target.partition(":")
    handler: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(f"{__name__}.{module}"), function)
    return handler


def build_parser() -> argparse.ArgumentParser:
    """Every verb, flag and help text; a leaf's `verb` default names the function that runs it."""
    p = argparse.ArgumentParser(prog="driftwarden", description="Drift and SLO monitoring sidecar for model servers.")
    verbs = p.add_subparsers(metavar="VERB")

    run = verbs.add_parser("run", help="run the daemon")
    run.add_argument("--config", type=Path, help="YAML config (default: the embedded one)")
    run.add_argument("--listen", help="HOST:PORT (default 127.0.0.1:4318)")
    run.set_defaults(verb="run:run")

    demo = verbs.add_parser("demo", help="the daemon plus a synthetic load that drifts half-way")
    demo.add_argument("--duration", type=float, default=120.0, help="seconds of load (shift at half-way)")
    demo.add_argument("--listen", default="127.0.0.1:4318")
    demo.add_argument("--rate", type=float, default=1000.0, help="records per second")
    demo.add_argument("--state", type=Path, default=Path("./driftwarden-data/state.db"))
    demo.add_argument("--exit", action="store_true", help="stop when the load ends instead of serving on")
    demo.set_defaults(verb="demo:demo")

    check = verbs.add_parser(
        "check",
        help="one-shot drift report between two files",
        description="Compare the columns both files have; ID-like columns (strings or integers nearly all "
        "distinct) are skipped and columns missing from a side reported, with a warning on stderr. "
        "Exit 0: no drift, 1: drift, 2: a usage or input error (or a schema difference with --strict-schema).",
    )
    check.add_argument("--reference", type=Path, required=True, help="CSV, Parquet or NDJSON: what normal looks like")
    check.add_argument("--current", type=Path, required=True, help="CSV, Parquet or NDJSON: the data to check")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--html", type=Path, metavar="OUT", help="also write a self-contained HTML report to OUT")
    check.add_argument("--config", type=Path, help="take thresholds, feature kinds and redact from this config's model")
    check.add_argument("--model", default="check", help="model name in the report / config (default: check)")
    check.add_argument(
        "--exclude", action="append", default=[], metavar="COL", help="leave column COL out (repeatable)"
    )
    check.add_argument(
        "--id-column", action="append", default=[], metavar="COL", help="COL is an identifier: left out (repeatable)"
    )
    check.add_argument(
        "--strict-schema",
        action="store_true",
        help="exit 2 when a column is missing from either file or holds numbers in one and text in the other",
    )
    check.add_argument("--title", help="the report's title (default: 'Drift report: CURRENT vs REFERENCE')")
    check.set_defaults(verb="check:check")

    ref = verbs.add_parser("reference", help="reference profiles").add_subparsers(metavar="ACTION")
    build = ref.add_parser("build", help="fit and store a reference profile")
    build.add_argument("--model", required=True)
    build.add_argument("--input", type=Path, required=True, help="CSV, Parquet or NDJSON; scanned, not loaded")
    build.add_argument(
        "--sample", type=int, metavar="N", help="numeric values from N uniform random rows (limits.max_reference_rows)"
    )
    build.add_argument("--config", type=Path)
    build.set_defaults(verb="reference:build")

    rules = verbs.add_parser("rules", help="Prometheus rule files").add_subparsers(metavar="ACTION")
    generate = rules.add_parser(
        "generate",
        help="slos.yml: SLO recording rules and burn-rate alerts; driftwarden.yml: alerts on driftwarden's metrics",
    )
    generate.add_argument("--config", type=Path, help="YAML config whose slos to use (default: the embedded one)")
    generate.add_argument("--out", type=Path, default=Path("alerts/rules"), help="directory (default alerts/rules)")
    generate.add_argument(
        "--job", default="driftwarden", help="Prometheus job that scrapes driftwarden, for DriftwardenDown"
    )
    generate.set_defaults(verb="rules:generate")

    boards = verbs.add_parser("dashboards", help="Grafana dashboards").add_subparsers(metavar="ACTION")
    boards_generate = boards.add_parser("generate", help="Grafana dashboard JSON and provisioning files")
    boards_generate.add_argument("--out", type=Path, default=Path("dashboards"), help="directory (default dashboards)")
    boards_generate.set_defaults(verb="dashboards:generate")

    silence = verbs.add_parser("silence", help="silence alerts on a running daemon").add_subparsers(metavar="ACTION")
    add = silence.add_parser("add", help="silence alerts whose labels match, for a while")
    add.add_argument("--match", action="append", required=True, metavar="LABEL=VALUE", help="repeatable")
    add.add_argument("--for", dest="duration", required=True, help="how long, e.g. 2h")
    add.add_argument("--comment", default="")
    add.add_argument("--by", default=os.environ.get("USER", ""), help="who silenced it")
    listing = silence.add_parser("list", help="list silences")
    expire = silence.add_parser("expire", help="end a silence now")
    expire.add_argument("id")
    for sub, target in ((add, "silence:add"), (listing, "silence:list_silences"), (expire, "silence:expire")):
        sub.add_argument("--url", default="http://127.0.0.1:4318", help="the daemon")
        sub.add_argument("--token-file", type=Path, help="bearer token, when the daemon requires one")
        sub.set_defaults(verb=target)

    cfg = verbs.add_parser("config", help="configuration").add_subparsers(metavar="ACTION")
    validate = cfg.add_parser("validate", help="check a config file, naming each bad key")
    validate.add_argument("file", type=Path)
    validate.set_defaults(verb="validate:validate")
    return p
