"""The `driftwarden` command: parses arguments, then calls into the packages."""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table as RichTable

from driftwarden.config import Config, ConfigError, load_config
from driftwarden.logs import setup_logging

if TYPE_CHECKING:
    from fastapi import FastAPI

    from driftwarden.detectors.drift import DriftReport

EXIT_OK, EXIT_DRIFT, EXIT_USAGE = 0, 1, 2
err = Console(stderr=True, soft_wrap=True)  # an error line stays whole, however long its path


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args)
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(f"[red]config error[/] {problem}", highlight=False)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="driftwarden", description="Drift and SLO monitoring sidecar for model servers.")
    verbs = p.add_subparsers(metavar="VERB")

    run = verbs.add_parser("run", help="run the daemon")
    run.add_argument("--config", type=Path, help="YAML config (default: the embedded one)")
    run.add_argument("--listen", help="HOST:PORT (default 127.0.0.1:4318)")
    run.set_defaults(handler=_run)

    demo = verbs.add_parser("demo", help="the daemon plus a synthetic load that drifts half-way")
    demo.add_argument("--duration", type=float, default=120.0, help="seconds of load (shift at half-way)")
    demo.add_argument("--listen", default="127.0.0.1:4318")
    demo.add_argument("--rate", type=float, default=1000.0, help="records per second")
    demo.add_argument("--state", type=Path, default=Path("./driftwarden-data/state.db"))
    demo.add_argument("--exit", action="store_true", help="stop when the load ends instead of serving on")
    demo.set_defaults(handler=_demo)

    check = verbs.add_parser("check", help="one-shot drift report between two files")
    check.add_argument("--reference", type=Path, required=True)
    check.add_argument("--current", type=Path, required=True)
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--html", type=Path, metavar="OUT", help="also write a self-contained HTML report to OUT")
    check.add_argument("--config", type=Path, help="take thresholds from this config's model")
    check.add_argument("--model", default="check", help="model name in the report / config")
    check.set_defaults(handler=_check)

    ref = verbs.add_parser("reference", help="reference profiles").add_subparsers(metavar="ACTION")
    build = ref.add_parser("build", help="fit and store a reference profile")
    build.add_argument("--model", required=True)
    build.add_argument("--input", type=Path, required=True, help="CSV, Parquet or NDJSON; scanned, not loaded")
    build.add_argument(
        "--sample", type=int, metavar="N", help="numeric values from N uniform random rows (limits.max_reference_rows)"
    )
    build.add_argument("--config", type=Path)
    build.set_defaults(handler=_reference_build)

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
    generate.set_defaults(handler=_rules_generate)

    boards = verbs.add_parser("dashboards", help="Grafana dashboards").add_subparsers(metavar="ACTION")
    boards_generate = boards.add_parser("generate", help="Grafana dashboard JSON and provisioning files")
    boards_generate.add_argument("--out", type=Path, default=Path("dashboards"), help="directory (default dashboards)")
    boards_generate.set_defaults(handler=_dashboards_generate)

    silence = verbs.add_parser("silence", help="silence alerts on a running daemon").add_subparsers(metavar="ACTION")
    add = silence.add_parser("add", help="silence alerts whose labels match, for a while")
    add.add_argument("--match", action="append", required=True, metavar="LABEL=VALUE", help="repeatable")
    add.add_argument("--for", dest="duration", required=True, help="how long, e.g. 2h")
    add.add_argument("--comment", default="")
    add.add_argument("--by", default=os.environ.get("USER", ""), help="who silenced it")
    listing = silence.add_parser("list", help="list silences")
    expire = silence.add_parser("expire", help="end a silence now")
    expire.add_argument("id")
    for sub, handler in ((add, _silence_add), (listing, _silence_list), (expire, _silence_expire)):
        sub.add_argument("--url", default="http://127.0.0.1:4318", help="the daemon")
        sub.add_argument("--token-file", type=Path, help="bearer token, when the daemon requires one")
        sub.set_defaults(handler=handler)

    cfg = verbs.add_parser("config", help="configuration").add_subparsers(metavar="ACTION")
    validate = cfg.add_parser("validate", help="check a config file, naming each bad key")
    validate.add_argument("file", type=Path)
    validate.set_defaults(handler=_config_validate)
    return p


def _serve(config: Config, app: FastAPI) -> None:
    import uvicorn

    tls = {}
    if config.tls_cert_file is not None:
        tls = {"ssl_certfile": str(config.tls_cert_file), "ssl_keyfile": str(config.tls_key_file)}
    uvicorn.run(app, host=config.host, port=config.port, log_level="info", access_log=False, log_config=None, **tls)


def _run(args: argparse.Namespace) -> int:
    from driftwarden.app import create_app

    config = load_config(args.config, listen=args.listen)
    setup_logging(config.log_format)
    _check_reference_files(config)
    _tune_gc()
    _serve(config, create_app(config))
    return EXIT_OK


def _tune_gc() -> None:
    """Ingest allocates a dict per record, all freed by reference counting: with the default
    threshold (700) the cyclic collector runs several times per request and a full pass over
    the heap shows up in p99 latency. Collect far less often, and leave startup objects out."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def _check_reference_files(config: Config) -> None:
    """Fail before binding the port when a configured reference file cannot be read: its schema only,
    since the app then fits it with a bounded-memory scan (reading it whole here would undo that)."""
    from driftwarden.collector.tables import TableError, check_readable

    problems = []
    for model, settings in config.models.items():
        if settings.reference is not None and not settings.previous_as_reference:
            try:
                check_readable(Path(settings.reference))
            except TableError as exc:
                problems.append(f"models.{model}.reference: {settings.reference}: {exc}")
    if problems:
        raise ConfigError(problems)


def _demo(args: argparse.Namespace) -> int:
    from driftwarden import demo

    _tune_gc()
    demo.run_demo(listen=args.listen, state=args.state, duration=args.duration, rate=args.rate, stay=not args.exit)
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from driftwarden.collector.tables import TableError, read_table
    from driftwarden.detectors.drift import compare
    from driftwarden.detectors.reference import ReferenceProfile
    from driftwarden.pipeline import thresholds

    config = load_config(args.config)
    model = config.model(args.model)
    settings = model.drift
    tables = {}
    kinds = dict(model.features)
    for flag, path in (("--reference", args.reference), ("--current", args.current)):
        try:
            tables[flag] = table = read_table(path, kinds=kinds)
        except TableError as exc:
            err.print(f"[red]error[/] {flag} {path}: {exc}", highlight=False)
            return EXIT_USAGE
        kinds = {name: "categorical" for name in table.categories} | {name: "numeric" for name in table.numeric} | kinds
    ref, cur = tables["--reference"], tables["--current"]
    # only the columns both files have: a column absent from a file is a schema difference, not drift
    numeric = [j for j, n in enumerate(ref.numeric) if n in cur.numeric]
    categories = {n: counts for n, counts in ref.categories.items() if n in cur.categories}
    if not numeric and not categories:
        err.print(
            f"[red]error[/] {args.current}: none of the reference's columns "
            f"({', '.join([*ref.numeric, *ref.categories]) or 'none'}) are in it with the same kind",
            highlight=False,
        )
        return EXIT_USAGE
    try:
        profile = ReferenceProfile.fit(
            [ref.numeric[j] for j in numeric], ref.values[:, numeric], categories=categories, bins=settings.bins
        )
    except ValueError as exc:
        err.print(f"[red]error[/] --reference {args.reference}: {exc}", highlight=False)
        return EXIT_USAGE
    report = compare(
        args.model,
        profile,
        cur.numeric,
        cur.values,
        current_categories=cur.categories,
        thresholds=thresholds(settings),
        critical_features=model.critical_features,
    )
    if args.html:
        from driftwarden.exporters.html_report import write_html

        try:
            write_html(report, args.html)
        except OSError as exc:
            err.print(f"[red]error[/] --html {args.html}: {exc.strerror or exc}", highlight=False)
            return EXIT_USAGE
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(report)
    return EXIT_DRIFT if report.drifted else EXIT_OK


def _print_report(report: DriftReport) -> None:
    console = Console(highlight=False)
    table = RichTable(title=f"drift: {report.rows['current']:,} current rows vs {report.rows['reference']:,} reference")
    for col in ("feature", "kind", "drifted", "PSI", "KS D / chi2", "p (BH)", "missing ref", "missing cur"):
        table.add_column(col, justify="left" if col in ("feature", "kind") else "right")
    for f in sorted(report.features, key=lambda f: -_or(f.scores.get("psi"), -1.0)):
        s, p = f.scores, f.pvalues_adjusted
        test = "ks" if f.kind == "numeric" else "chi2"
        table.add_row(
            f.name + (" (prediction)" if f.role == "prediction" else ""),
            f.kind,
            "[red]yes[/]" if f.drifted else "no",
            _fixed(s.get("psi")),
            _fixed(s.get(test)),
            f"{p[test]:.1e}" if test in p else "-",
            _pct(f.missing_rate["reference"]),
            _pct(f.missing_rate["current"]),
        )
    console.print(table)
    console.print(report.summary())


def _or(x: float | None, default: float) -> float:
    return x if x is not None and math.isfinite(x) else default


def _fixed(x: float | None) -> str:
    return f"{x:.3f}" if x is not None and math.isfinite(x) else "-"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _reference_build(args: argparse.Namespace) -> int:
    """Scan the file (counts over every row, numeric values from a uniform sample), fit, store, summarise."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from driftwarden.collector.tables import TableError
    from driftwarden.persistence.database import Database
    from driftwarden.persistence.store import Store
    from driftwarden.references import build_reference

    config = load_config(args.config)
    limit = config.limits.max_reference_rows
    if args.sample is not None and args.sample < 1:
        err.print(f"[red]error[/] --sample {args.sample}: give a number of rows, at least 1", highlight=False)
        return EXIT_USAGE
    if args.sample is not None and args.sample > limit:
        err.print(f"[yellow]note[/] --sample {args.sample:,} is above limits.max_reference_rows: {limit:,} rows")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task(f"opening {args.input}", total=5)  # schema, counts, sample, fit, store
        started = []

        def step(description: str) -> None:  # a step begins: the one before it is done
            if started:
                progress.advance(task)
            started.append(description)
            progress.update(task, description=description)

        try:
            built = build_reference(args.input, config, args.model, sample=args.sample, on_step=step)
        except (TableError, ValueError) as exc:
            err.print(f"[red]error[/] --input {args.input}: {exc}", highlight=False)
            return EXIT_USAGE
        step(f"storing in {config.state_path}")
        store = Store(Database(config.state_path))
        store.save_reference(args.model, built.profile, source=f"file:{args.input}")
        store.close()
        progress.advance(task)
        progress.update(task, description="stored")

    def num(x: float | None) -> str:
        return "-" if x is None else f"{x:.4g}"

    profile, sampled = built.profile, built.profile.rows < built.rows
    print(
        f"reference for {args.model}: {built.rows:,} rows"
        + (f" (numeric values from a uniform sample of {profile.rows:,})" if sampled else "")
        + f", {len(profile.features)} numeric and {len(profile.categories)} categorical features, "
        f"stored in {config.state_path}"
    )
    out = RichTable(caption="missing: over all rows; quantiles: over the sampled rows" if sampled else None)
    out.add_column("feature", no_wrap=True)
    out.add_column("kind")
    for header in ("missing", "p1", "p25", "p50", "p75", "p99"):
        out.add_column(header, justify="right")
    out.add_column("top categories (share of non-missing)")
    for feature in profile.summary()["features"]:
        missing = _pct(built.nulls[feature["name"]] / built.rows)  # every row, not only the sampled ones
        if feature["kind"] == "numeric":
            out.add_row(feature["name"], "numeric", missing, *(num(v) for v in feature["quantiles"].values()))
        else:
            top = ", ".join(f"{t['value']} {_pct(t['share'])}" for t in feature["top"])
            more = f" (+{feature['categories'] - len(feature['top'])} more)" if feature["categories"] > 5 else ""
            out.add_row(feature["name"], "categorical", missing, "", "", "", "", "", top + more)
    console = Console()
    (console if console.is_terminal else Console(width=200)).print(out)
    return EXIT_OK


def _rules_generate(args: argparse.Namespace) -> int:
    from driftwarden.alerts import fleet_rules
    from driftwarden.alerts.rules import daemon_rules, write_daemon_rules, write_rules

    config = load_config(args.config)
    try:
        names = sorted({rule["alert"] for rule in daemon_rules(args.job)})
    except ValueError as exc:
        err.print(f"[red]error[/] --job: {exc}", highlight=False)
        return EXIT_USAGE
    try:
        path = write_rules(config.slos, args.out)
        daemon = write_daemon_rules(args.out, args.job)
        fleet = fleet_rules.write_rules(args.out)
    except OSError as exc:
        err.print(f"[red]error[/] --out {args.out}: {exc.strerror or exc}", highlight=False)
        return EXIT_USAGE
    if config.slos:
        print(f"{path}: rules for {len(config.slos)} SLOs ({', '.join(slo.name for slo in config.slos)})")
    else:
        print(f"{path}: no SLOs configured (the config has no slos), so the file has no rule groups")
    print(f"{daemon}: {len(names)} alerts on driftwarden's own metrics, job {args.job!r} ({', '.join(names)})")
    print(f"{fleet}: fleet-wide PSI per feature (driftwarden:feature_psi:fleet) and FleetFeatureDrift")
    return EXIT_OK


def _dashboards_generate(args: argparse.Namespace) -> int:
    from driftwarden.dashboards.build import build, write

    try:
        written = write(args.out)
    except OSError as exc:
        err.print(f"[red]error[/] --out {args.out}: {exc.strerror or exc}", highlight=False)
        return EXIT_USAGE
    for name, board in build().items():
        print(f"{args.out / name}: {board['title']}, {len(board['panels'])} panels")
    print(f"{len(written)} files written to {args.out}")
    return EXIT_OK


def _daemon_call(args: argparse.Namespace, method: str, path: str, **kwargs: object) -> dict | None:
    import httpx

    headers = {}
    if args.token_file:
        headers["Authorization"] = f"Bearer {args.token_file.read_text().strip()}"
    try:
        r = httpx.request(method, args.url.rstrip("/") + path, headers=headers, timeout=10, **kwargs)
    except httpx.HTTPError as exc:
        err.print(f"[red]error[/] cannot reach {args.url}: {exc}", highlight=False)
        return None
    if r.is_error:
        reason = (
            r.json().get("error", r.text)
            if r.headers.get("content-type", "").startswith("application/json")
            else r.text
        )
        err.print(f"[red]error[/] {r.status_code}: {reason}", highlight=False)
        return None
    return r.json()


def _silence_add(args: argparse.Namespace) -> int:
    matchers = {}
    for item in args.match:
        label, sep, value = item.partition("=")
        if not sep or not label:
            err.print(f"[red]error[/] --match {item!r}: expected LABEL=VALUE", highlight=False)
            return EXIT_USAGE
        matchers[label] = value
    body = {"matchers": matchers, "duration": args.duration, "comment": args.comment, "created_by": args.by}
    silence = _daemon_call(args, "POST", "/v1/silences", json=body)
    if silence is None:
        return EXIT_USAGE
    print(f"silence {silence['id']} until {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(silence['ends_at']))}")
    return EXIT_OK


def _silence_list(args: argparse.Namespace) -> int:
    listing = _daemon_call(args, "GET", "/v1/silences")
    if listing is None:
        return EXIT_USAGE
    now = time.time()
    for s in listing["silences"]:
        state = "active" if s["starts_at"] <= now < s["ends_at"] else "expired"
        matchers = ",".join(f"{k}={v}" for k, v in s["matchers"].items())
        print(
            f"{s['id']}  {state:<8} {matchers}  until {time.strftime('%Y-%m-%d %H:%M', time.localtime(s['ends_at']))}"
            f"  {s['comment']}"
        )
    return EXIT_OK


def _silence_expire(args: argparse.Namespace) -> int:
    return EXIT_OK if _daemon_call(args, "DELETE", f"/v1/silences/{args.id}") is not None else EXIT_USAGE


def _config_validate(args: argparse.Namespace) -> int:
    config = load_config(args.file)
    print(f"{args.file}: ok ({len(config.models)} models, listening on {config.listen})")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
