"""The `driftwarden` command: the argparse tree of every verb, and `main`, which runs the one chosen.

Each verb group has its own module here (`run`, `demo`, `check`, `reference`, `rules`, `dashboards`,
`silence`, `audit`, `validate`), named in the tree as `"module:function"` and imported only when that verb
runs: `driftwarden --help`, a verb's `--help` and a mistyped flag import argparse and nothing else,
and each verb pays only for its own imports (FastAPI for `run`, polars and scipy for `check`).

Every flag has a help text and shows its default; the exit codes (`common.EXIT_CODES`) and the
environment variables are listed in `--help`. An exception no verb expected is a bug: `main` prints
one line saying where its traceback was written (`--debug` prints it instead) and exits 70, never 1,
which means "drift found".

    driftwarden check --reference ref.parquet --current today.parquet   # exit 1: drifted
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftwarden import __version__
from driftwarden.cli.common import (
    DAEMON_URL,
    EXIT_CODES,
    EXIT_CRASH,
    EXIT_INTERRUPTED,
    EXIT_PIPE,
    EXIT_USAGE,
    stderr,
)

if TYPE_CHECKING:
    from driftwarden.config import ConfigError

__all__ = ["build_parser", "main"]

DEFAULT_URL = "http://127.0.0.1:4318"
DEBUG_ENV = "DRIFTWARDEN_DEBUG"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    target = getattr(args, "verb", None)
    if target is None:
        parser.print_help()
        return EXIT_USAGE
    debug = getattr(args, "debug", False) or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        return _run(target, args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `driftwarden silence list | head -1`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that flushing at exit cannot fail again
        return EXIT_PIPE
    except Exception as exc:
        from driftwarden.cli.crash import report_crash

        report_crash(exc, argv=sys.argv if argv is None else ["driftwarden", *argv], debug=debug)
        return EXIT_CRASH


def _run(target: str, args: argparse.Namespace) -> int:
    """The verb's exit code; a config error printed, exit 2.

    Only a verb that reads a config imports `driftwarden.config` (pydantic, yaml); a ConfigError can come
    from no other, so it is looked for only when that module was imported."""
    try:
        return _load(target)(args)
    except Exception as exc:
        config = sys.modules.get("driftwarden.config")
        if config is None or not isinstance(exc, config.ConfigError):
            raise
        _print_config_error(exc, as_json=getattr(args, "json", False))
        return EXIT_USAGE


def _print_config_error(exc: ConfigError, *, as_json: bool) -> None:
    """Each problem on its own line on stderr (`config error file:line:column: key: message`); with
    `--json`, as one JSON document on stdout as well, for tools."""
    from rich.markup import escape

    from driftwarden.cli.common import print_json

    for problem in exc.problems:  # printed as it is: a path such as /data/[x]/key stays whole
        stderr().print(f"[red]config error[/] {escape(problem)}", highlight=False)
    if as_json:
        print_json({"ok": False, "problems": [p.to_dict() for p in exc.details]})


def _load(target: str) -> Callable[[argparse.Namespace], int]:
    """`"check:check"` -> the function `check` of `driftwarden.cli.check`, imported now."""
    module, _, function = target.partition(":")
    handler: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(f"{__name__}.{module}"), function)
    return handler


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written (the exit code table stays a table); each option's
    help ends with its default, unless it has none worth showing or the help says it already."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        shown = default not in (None, False, "", argparse.SUPPRESS) and not isinstance(action, argparse._VersionAction)
        if shown and action.option_strings and "default" not in text:
            text += " (default: %(default)s)"
        return text


def _epilog(codes: Sequence[int], *, environment: bool = False) -> str:
    lines = ["exit codes:", *(f"  {code:<4}{meaning}" for code, meaning in EXIT_CODES if code in codes)]
    if environment:
        lines += [
            "",
            "environment:",
            f"  {DAEMON_URL:<19}the daemon the silence and audit verbs talk to (default {DEFAULT_URL}); --url wins",
            f"  {DEBUG_ENV:<19}1: as --debug",
            "  NO_COLOR           any value: no colour or other escape codes, even on a terminal",
        ]
    return "\n".join(lines)


EVERY_VERB = (0, 2, 70, 130, 141)


def _leaf(parent: Any, name: str, help: str, *, codes: Sequence[int] = EVERY_VERB) -> argparse.ArgumentParser:
    """A verb that runs something: its help, the exit codes it can end with, and `--debug`."""
    parser: argparse.ArgumentParser = parent.add_parser(
        name, help=help, description=help, epilog=_epilog(codes), formatter_class=_HelpFormatter
    )
    parser.add_argument(  # SUPPRESS: a verb that was not given --debug leaves the top level's value alone
        "--debug", action="store_true", default=argparse.SUPPRESS, help="on an internal error, print the traceback"
    )
    return parser


def _group(parent: Any, name: str, help: str) -> Any:
    """A verb with actions (`rules generate`): the sub-parsers of its actions."""
    parser = parent.add_parser(name, help=help, description=help, formatter_class=_HelpFormatter)
    return parser.add_subparsers(metavar="ACTION")


def _json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what} as one JSON document on stdout")


def build_parser() -> argparse.ArgumentParser:
    """Every verb, flag and help text; a leaf's `verb` default names the function that runs it."""
    p = argparse.ArgumentParser(
        prog="driftwarden",
        description="Drift and SLO monitoring sidecar for model servers.",
        epilog=_epilog([code for code, _ in EXIT_CODES], environment=True),
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"driftwarden {__version__}")
    p.add_argument("--debug", action="store_true", help="on an internal error, print the traceback")
    verbs = p.add_subparsers(metavar="VERB")

    run = _leaf(verbs, "run", "run the daemon", codes=(0, 2, 3, 70, 130))
    run.add_argument("--config", type=Path, metavar="FILE", help="YAML config (default: the embedded one)")
    run.add_argument(
        "--listen", metavar="HOST:PORT", help="address to serve on (default: the config's listen, 127.0.0.1:4318)"
    )
    run.set_defaults(verb="run:run")

    demo = _leaf(verbs, "demo", "the daemon plus a synthetic load that drifts half-way", codes=(0, 2, 3, 70, 130))
    demo.add_argument(
        "--duration", type=float, default=120.0, metavar="SECONDS", help="seconds of load (shift at half-way)"
    )
    demo.add_argument("--listen", default="127.0.0.1:4318", metavar="HOST:PORT", help="address to serve on")
    demo.add_argument("--rate", type=float, default=1000.0, metavar="N", help="records per second")
    demo.add_argument(
        "--state", type=Path, default=Path("./driftwarden-data/state.db"), metavar="FILE", help="state file"
    )
    demo.add_argument("--exit", action="store_true", help="stop when the load ends instead of serving on")
    demo.set_defaults(verb="demo:demo")

    check = _leaf(verbs, "check", "one-shot drift report between two files", codes=(0, 1, 2, 70, 130, 141))
    check.description = (
        "Compare the columns both files have; ID-like columns (strings or integers nearly all distinct) are skipped "
        "and columns missing from a side reported, with a warning on stderr."
    )
    check.add_argument(
        "--reference",
        type=Path,
        metavar="FILE",
        help="reference data: CSV, Parquet or NDJSON (optional with --constraints: then no drift report)",
    )
    check.add_argument("--current", type=Path, required=True, metavar="FILE", help="current data, compared with it")
    _json_flag(check, "the report")
    check.add_argument("--html", type=Path, metavar="OUT", help="also write a self-contained HTML report to OUT")
    check.add_argument(
        "--config", type=Path, metavar="FILE", help="take thresholds, feature kinds and redact from this config's model"
    )
    check.add_argument("--model", default="check", help="model name in the report / config")
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
    check.add_argument(
        "--constraints",
        type=Path,
        metavar="FILE",
        help="also check the current file against these data-quality constraints (a constraints_file): "
        "exit 1 on a violation; default: the config model's constraints",
    )
    check.set_defaults(verb="check:check")

    ref = _group(verbs, "reference", "reference profiles")
    build = _leaf(ref, "build", "fit and store a reference profile")
    build.add_argument("--model", required=True, help="the model the reference is for")
    build.add_argument(
        "--input", type=Path, required=True, metavar="FILE", help="CSV, Parquet or NDJSON; scanned, not loaded"
    )
    build.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="numeric values from N uniform random rows (default: limits.max_reference_rows)",
    )
    build.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="config whose state_path and limits to use (default: the embedded one)",
    )
    build.add_argument(
        "--constraints",
        type=Path,
        metavar="OUT",
        help="also write the data-quality constraints the reference passes to OUT (YAML), to review and load "
        "back as models.<m>.constraints_file",
    )
    _json_flag(build, "the summary")
    build.set_defaults(verb="reference:build")

    rules = _group(verbs, "rules", "Prometheus rule files")
    generate = _leaf(
        rules,
        "generate",
        "slos.yml: SLO recording rules and burn-rate alerts; driftwarden.yml: alerts on driftwarden's metrics",
    )
    generate.add_argument(
        "--config", type=Path, metavar="FILE", help="YAML config whose slos to use (default: the embedded one)"
    )
    generate.add_argument("--out", type=Path, default=Path("alerts/rules"), metavar="DIR", help="directory to write to")
    generate.add_argument(
        "--job", default="driftwarden", help="Prometheus job that scrapes driftwarden, for DriftwardenDown"
    )
    generate.add_argument(
        "--format",
        choices=("rules", "prometheusrule"),
        default="rules",
        help="rules: Prometheus rule files; prometheusrule: a Prometheus Operator PrometheusRule per rule file"
        " (slos.prometheusrule.yaml, ...)",
    )
    generate.add_argument(
        "--label",
        action="append",
        metavar="KEY=VALUE",
        help="with --format prometheusrule: a metadata label the Prometheus' ruleSelector matches (repeatable)",
    )
    generate.add_argument(
        "--runbook-base",
        metavar="URL",
        help="the daemon's URL as people open it: each alert gets the annotation runbook_url URL/runbooks/<alert>, "
        "the runbook the daemon serves (default: the config's alerting.external_url; neither: no runbook_url)",
    )
    _json_flag(generate, "the files written and their alerts")
    generate.set_defaults(verb="rules:generate")

    boards = _group(verbs, "dashboards", "Grafana dashboards")
    boards_generate = _leaf(boards, "generate", "Grafana dashboard JSON and provisioning files")
    boards_generate.add_argument(
        "--out", type=Path, default=Path("dashboards"), metavar="DIR", help="directory to write to"
    )
    _json_flag(boards_generate, "the files written")
    boards_generate.set_defaults(verb="dashboards:generate")

    silence = _group(verbs, "silence", "silence alerts on a running daemon")
    add = _leaf(silence, "add", "silence alerts whose labels match, for a while")
    add.add_argument(
        "--match",
        action="append",
        required=True,
        metavar="LABEL=VALUE",
        help="an alert label and its value, such as model=fraud; repeat for several (all must match)",
    )
    add.add_argument("--for", dest="duration", required=True, metavar="DURATION", help="how long, e.g. 30m or 2h")
    add.add_argument("--comment", default="", help="why, for whoever finds the silence")
    add.add_argument("--by", default=os.environ.get("USER", ""), help="who silenced it (default: $USER)")
    listing = _leaf(silence, "list", "list silences")
    expire = _leaf(silence, "expire", "end a silence now")
    expire.add_argument("id", help="the silence's id, as add and list print it")
    trail = _leaf(verbs, "audit", "the audit trail of a running daemon: who changed what, newest first")
    trail.add_argument("--action", help="this action only, such as silence.add; a trailing * matches a prefix")
    trail.add_argument("--subject", help="this subject only: a model, a silence id")
    trail.add_argument("--caller", help="this caller only: a token's name (auth.tokens), or driftwarden")
    trail.add_argument("--since", metavar="WHEN", help="from then on: a duration ago (24h), unix seconds or RFC 3339")
    trail.add_argument("--until", metavar="WHEN", help="before then: a duration ago, unix seconds or RFC 3339")
    trail.add_argument("--limit", type=int, default=50, metavar="N", help="entries at most")
    url = os.environ.get(DAEMON_URL) or DEFAULT_URL
    for sub, target, what in (
        (add, "silence:add", "the silence"),
        (listing, "silence:list_silences", "the silences"),
        (expire, "silence:expire", "the expired silence"),
        (trail, "audit:audit", "the entries"),
    ):
        sub.add_argument("--url", default=url, help=f"the daemon (default: ${DAEMON_URL}, else {DEFAULT_URL})")
        sub.add_argument("--token-file", type=Path, metavar="FILE", help="bearer token, when the daemon requires one")
        _json_flag(sub, what)
        sub.set_defaults(verb=target)

    cfg = _group(verbs, "config", "configuration")
    validate = _leaf(cfg, "validate", "check a config file and the files it names, reporting every problem at once")
    validate.add_argument("file", type=Path, help="the YAML config")
    _json_flag(validate, "the result (and each problem with its file, line and suggestions)")
    validate.set_defaults(verb="validate:validate")
    return p
