"""Benchmark: fleet-wide drift at scale. What one Prometheus pays to sum N replicas' bins, and whether
the fleet PSI it records is the exact PSI of the pooled data.

N driftwarden sidecars are simulated by one process (`fleet_replicas`: 50 features, 10 bins, both
windows, the per-feature gauges, request histograms and SLOs, each replica's body built by the daemon's
own exporters from data drawn from known distributions), served at /replicas/<i>/metrics by one
server (`fleet_prometheus.Targets`). A real Prometheus (Debian's `prometheus`) scrapes the N targets
with the labels the PodMonitor gives them and evaluates the rule files `driftwarden rules generate`
writes (fleet.yml, driftwarden.yml, slos.yml) at the scrape interval. For each N it reports:

  series        prometheus_tsdb_head_series once every target was scraped and the rules evaluated
                (the replicas' series, 5 per target that Prometheus adds, and the recorded series)
  RSS           process_resident_memory_bytes of Prometheus, the largest seen during the measurement
  fleet eval    prometheus_rule_group_last_duration_seconds of the driftwarden-fleet group: median and
                max over `--evaluations` evaluations (and the median of every group together); wall
                clock, so on a shared machine it grows with the load (the load average is recorded)
  sum CPU       the CPU time Prometheus spends on the group's first rule, the sum over every replica's
                bins (the rest reads the ~2,000 recorded series of a fleet): the rules are unloaded, the
                expression queried and Prometheus' CPU time across the query taken, less the scrapes'
  cores         Prometheus' CPU use over the timed evaluations (scrapes and every rule group)
  PSI error     max over features of |driftwarden:feature_psi:fleet - the PSI of the pooled rows|,
                where the pooled PSI is detectors.drift.compare() on every replica's rows together

then fits each figure linearly in N (least squares over the measured N) and extrapolates to 1,000 and
10,000 replicas. With `--knob-replicas K` it measures again at K replicas under each setting of the
knobs that cut series per replica (fleet.export_bins: drifted, none; fleet.bin_features: 10 of the 50
features), with the exposition's series per replica.

Exits 1 when the fleet PSI (under export_bins all, or the allow-list's features) differs from the
pooled PSI by more than `--tolerance`, or a series the fleet rules record is missing.

Run:  .venv/bin/python benchmarks/fleet.py                  # N = 50, 200, 500; 30 s scrapes (~20 min)
      .venv/bin/python benchmarks/fleet.py --quick          # N = 10, 50; 5 s scrapes (a smoke test)
      .venv/bin/python benchmarks/fleet.py --replicas 3 --interval 1 --evaluations 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml
from fleet_prometheus import JOB, Prometheus, Targets, generate_rules, metrics_path, prometheus_binary, target_groups
from fleet_replicas import CONFIG, FEATURES, MODEL, exposition, pod_name, pooled_psi, reference, replica, samples

from driftwarden.alerts.fleet_rules import GROUP, PSI, VALUES, fleet_rules
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.params import BinExportParams

KNOBS = {
    "all": BinExportParams(),
    "bin_features: 10 of 50": BinExportParams("all", {MODEL: frozenset(FEATURES[40:])}),
    "drifted": BinExportParams("drifted"),
    "none": BinExportParams("none"),
}
PER_TARGET = 5  # up, scrape_duration_seconds, scrape_samples_scraped, scrape_samples_post_metric_relabeling, ..._added
MIB = 1024 * 1024

_profile = None


def _init_worker() -> None:
    global _profile
    _profile = reference()


def _build(job: tuple[int, tuple[str, ...]]) -> tuple[int, np.ndarray, dict[str, bytes]]:
    """In a worker: replica i's rows and its /metrics body under each knob named."""
    index, knobs = job
    assert _profile is not None
    r = replica(index, _profile)
    return index, r.current, {k: exposition(r, KNOBS[k]) for k in knobs}


@dataclass
class Fleet:
    profile: ReferenceProfile
    currents: list[np.ndarray]
    bodies: list[dict[str, bytes]]


def build_fleet(replicas: int, knob_replicas: int, workers: int) -> Fleet:
    jobs = [(i, ("all", *(k for k in KNOBS if k != "all" and i < knob_replicas))) for i in range(replicas)]
    currents: list[np.ndarray] = [np.empty(0)] * replicas
    bodies: list[dict[str, bytes]] = [{}] * replicas
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as pool:
        for index, current, built in pool.map(_build, jobs, chunksize=8):
            currents[index], bodies[index] = current, built
    return Fleet(reference(), currents, bodies)


@dataclass
class Row:
    knob: str
    replicas: int
    series: int
    exposed_per_replica: float  # samples in a replica's /metrics (mean), before the 5 Prometheus adds
    bin_series_per_replica: float
    exposition_bytes: float
    rss_bytes: float
    fleet_eval_median_s: float
    fleet_eval_max_s: float
    all_rules_eval_median_s: float
    fleet_sum_cpu_s: float  # CPU time of the fleet group's first rule (the sum over every replica) alone
    prometheus_cores: float  # CPU Prometheus used (scrapes, every rule group) over the timed evaluations
    iterations_missed: float
    psi_features: int
    psi_max_error: float | None
    fleet_values_ok: bool
    seconds: float
    load_average: float  # this machine's 1-minute load average at the end: the timings are wall clock
    fleet_rules_s: dict[str, float]  # each fleet rule's evaluation time, the last evaluation


def own(metrics: dict[str, list[tuple[dict[str, str], float]]], name: str, group: str | None = None) -> list[float]:
    return [v for labels, v in metrics.get(name, []) if group is None or labels.get("rule_group", "").endswith(group)]


def measure(
    knob: str, n: int, fleet: Fleet, args: argparse.Namespace, targets: Targets, rules: list[Path], binary: str
) -> Row:
    started = time.monotonic()
    bodies = [fleet.bodies[i][knob] for i in range(n)]
    targets.bodies = {metrics_path(i): body for i, body in enumerate(bodies)}
    groups = target_groups(targets.port, n, [pod_name(i) for i in range(n)])
    workdir = Path(args.workdir) / f"{knob.split(':')[0]}-{n}"
    prom = Prometheus(binary, workdir, groups, rules, args.interval)
    try:
        deadline = time.monotonic() + 4 * args.interval + 120
        while prom.scalar(f'count(up{{job="{JOB}"}} == 1)') != n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not every target was scraped: {prom.log_tail()}")
            time.sleep(min(1.0, args.interval / 4))
        deadline = time.monotonic() + args.max_wait
        first = prom.own_metrics()
        base = max(own(first, "prometheus_rule_group_iterations_total", GROUP), default=0)
        fleet_durations: list[float] = []
        all_durations: list[float] = []
        rss: list[float] = []
        seen = base + 1  # the evaluation running as the last target came in may have missed it
        cpu = [(time.monotonic(), prom.cpu_seconds())]
        while len(fleet_durations) < args.evaluations:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the fleet rules were not evaluated {args.evaluations} times: {prom.log_tail()}")
            time.sleep(min(1.0, args.interval / 4))
            metrics = prom.own_metrics()
            rss += own(metrics, "process_resident_memory_bytes")
            iterations = max(own(metrics, "prometheus_rule_group_iterations_total", GROUP), default=0)
            if iterations > seen:
                seen = iterations
                cpu.append((time.monotonic(), prom.cpu_seconds()))
                fleet_durations += own(metrics, "prometheus_rule_group_last_duration_seconds", GROUP)
                all_durations.append(sum(own(metrics, "prometheus_rule_group_last_duration_seconds")))
        metrics = prom.own_metrics()
        series = int(own(metrics, "prometheus_tsdb_head_series")[0])
        missed = sum(own(metrics, "prometheus_rule_group_iterations_missed_total"))
        groups = prom.http.get("/api/v1/rules").json()["data"]["groups"]
        per_rule = {r["name"]: r["evaluationTime"] for g in groups if g["name"] == GROUP for r in g["rules"]}
        recorded = {r["metric"]["feature"]: float(r["value"][1]) for r in prom.query(PSI)}
        values = {r["metric"]["feature"]: float(r["value"][1]) for r in prom.query(f'{VALUES}{{window="current"}}')}
        prom.unload_rules()
        fleet_sum = fleet_rules()[0]["expr"]
        sum_cpu = statistics.median(prom.query_cpu_seconds(fleet_sum) for _ in range(args.cpu_repeats))
    finally:
        prom.close()
    pooled = np.vstack(fleet.currents[:n])
    exact = pooled_psi(fleet.profile, pooled)
    counts = dict(zip(FEATURES, (~np.isnan(pooled)).sum(axis=0).tolist(), strict=True))
    errors = [abs(value - exact[f]) for f, value in recorded.items()]
    return Row(
        knob=knob,
        replicas=n,
        series=series,
        exposed_per_replica=statistics.fmean(samples(b) for b in bodies),
        bin_series_per_replica=statistics.fmean(samples(b, "driftwarden_feature_bin_values") for b in bodies),
        exposition_bytes=statistics.fmean(len(b) for b in bodies),
        rss_bytes=max(rss),
        fleet_eval_median_s=statistics.median(fleet_durations),
        fleet_eval_max_s=max(fleet_durations),
        all_rules_eval_median_s=statistics.median(all_durations),
        fleet_sum_cpu_s=sum_cpu,
        prometheus_cores=(cpu[-1][1] - cpu[1][1]) / (cpu[-1][0] - cpu[1][0]) if len(cpu) > 2 else float("nan"),
        iterations_missed=missed,
        psi_features=len(recorded),
        psi_max_error=max(errors) if errors else None,
        fleet_values_ok=all(values.get(f) == counts[f] for f in recorded),
        seconds=time.monotonic() - started,
        load_average=os.getloadavg()[0],
        fleet_rules_s=per_rule,
    )


# -- the report ------------------------------------------------------------------------------------
def fit(rows: list[Row], field: str) -> tuple[float, float]:
    """(intercept, slope) of `field` against replicas, least squares."""
    x = np.array([r.replicas for r in rows], dtype=float)
    y = np.array([getattr(r, field) for r in rows], dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    return float(intercept), float(slope)


def extrapolate(rows: list[Row], targets: tuple[int, ...] = (1_000, 10_000)) -> list[dict[str, float]]:
    """Each figure's least-squares line in N, at `targets` (nothing from fewer than two sizes)."""
    if len({r.replicas for r in rows}) < 2:
        return []
    fields = ("series", "rss_bytes", "fleet_eval_median_s", "all_rules_eval_median_s", "fleet_sum_cpu_s")
    fits = {f: fit(rows, f) for f in fields}
    out = [{"replicas": n, **{f: a + b * n for f, (a, b) in fits.items()}} for n in targets]
    for row in out:
        row["series_per_replica"] = fits["series"][1]
    return out


def seconds(value: float) -> str:
    return f"{value * 1000:,.0f} ms" if value < 1 else f"{value:,.1f} s"


def table(rows: list[Row], projected: list[dict[str, float]]) -> str:
    head = (
        f"{'knob':<24}{'N':>7}{'series':>12}{'/replica':>9}{'bins':>6}{'Prom RSS':>12}{'fleet eval':>12}"
        f"{'sum CPU':>10}{'all rules':>11}{'cores':>7}{'PSI':>7}{'max |error|':>13}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        error = "-" if r.psi_max_error is None else f"{r.psi_max_error:.1e}"
        lines.append(
            f"{r.knob:<24}{r.replicas:>7,}{r.series:>12,}{r.exposed_per_replica + PER_TARGET:>9,.0f}"
            f"{r.bin_series_per_replica:>6,.0f}{r.rss_bytes / MIB:>8,.0f} MiB{seconds(r.fleet_eval_median_s):>12}"
            f"{seconds(r.fleet_sum_cpu_s):>10}{seconds(r.all_rules_eval_median_s):>11}{r.prometheus_cores:>7.2f}"
            f"{f'{r.psi_features}/{len(FEATURES)}':>7}{error:>13}"
        )
    for p in projected:
        lines.append(
            f"{'all, extrapolated':<24}{p['replicas']:>7,.0f}{p['series']:>12,.0f}{p['series_per_replica']:>9,.0f}"
            f"{'':>6}{p['rss_bytes'] / MIB:>8,.0f} MiB{seconds(p['fleet_eval_median_s']):>12}"
            f"{seconds(p['fleet_sum_cpu_s']):>10}{seconds(p['all_rules_eval_median_s']):>11}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", default="50,200,500", help="comma-separated fleet sizes N")
    parser.add_argument("--interval", type=float, default=30.0, help="scrape and rule evaluation interval, s")
    parser.add_argument("--evaluations", type=int, default=3, help="fleet rule evaluations timed per N")
    parser.add_argument("--cpu-repeats", type=int, default=3, help="queries of the fleet sum timed for CPU")
    parser.add_argument("--max-wait", type=float, default=1800, help="seconds to wait for the evaluations")
    parser.add_argument("--knob-replicas", type=int, default=50, help="N for the knob comparison (0: none)")
    parser.add_argument("--quick", action="store_true", help="N = 10, 50; 5 s interval; 3 evaluations; knobs at 10")
    parser.add_argument("--tolerance", type=float, default=1e-9, help="largest |fleet PSI - pooled PSI| that passes")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes building the replicas")
    parser.add_argument("--workdir", help="Prometheus' data and logs (default: a temporary directory)")
    parser.add_argument("--json", type=Path, help="also write the rows and the extrapolation here")
    args = parser.parse_args(argv)
    if args.quick:
        args.replicas, args.interval, args.evaluations, args.knob_replicas = "10,50", 5.0, 3, 10
    args.sizes = sorted({int(n) for n in args.replicas.split(",")})
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    binary = prometheus_binary()
    if binary is None:
        print("prometheus is not on PATH (apt-get install prometheus)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="driftwarden-fleet-") as tmp:
        args.workdir = args.workdir or tmp
        work = Path(args.workdir)
        work.mkdir(parents=True, exist_ok=True)
        (work / "driftwarden.yaml").write_text(yaml.safe_dump(CONFIG))
        rules = generate_rules(work / "driftwarden.yaml", work / "rules")
        started = time.monotonic()
        fleet = build_fleet(max([*args.sizes, args.knob_replicas]), args.knob_replicas, args.workers)
        print(f"built {len(fleet.bodies)} replicas' /metrics in {time.monotonic() - started:.0f} s", flush=True)
        rows: list[Row] = []
        with Targets() as targets:
            plan = [("all", n) for n in args.sizes]
            plan += [(k, args.knob_replicas) for k in KNOBS if k != "all" and args.knob_replicas]
            for knob, n in plan:
                row = measure(knob, n, fleet, args, targets, rules, binary)
                rows.append(row)
                print(
                    f"{knob} N={n}: {row.series:,} series, {row.rss_bytes / MIB:,.0f} MiB, "
                    f"fleet eval {seconds(row.fleet_eval_median_s)} ({row.seconds:.0f} s, load {row.load_average:.1f})",
                    flush=True,
                )
                print(table([row], []).splitlines()[-1], flush=True)  # the whole row now: a cut-short run keeps it
                if args.json:
                    args.json.write_text(json.dumps({"rows": [asdict(r) for r in rows], "extrapolated": []}, indent=2))
    measured = [r for r in rows if r.knob == "all"]
    projected = extrapolate(measured)
    print()
    print(table(rows, projected))
    if args.json:
        args.json.write_text(json.dumps({"rows": [asdict(r) for r in rows], "extrapolated": projected}, indent=2))
    checked = [r for r in rows if r.knob in ("all", "bin_features: 10 of 50")]
    failed = [
        r
        for r in checked
        if r.psi_max_error is None
        or r.psi_max_error > args.tolerance
        or not r.fleet_values_ok
        or r.psi_features != len(KNOBS[r.knob].features.get(MODEL, FEATURES))
    ]
    for r in failed:
        print(
            f"FAIL {r.knob} N={r.replicas}: fleet PSI of {r.psi_features} features, max error {r.psi_max_error}, "
            f"values {'ok' if r.fleet_values_ok else 'wrong'}",
            file=sys.stderr,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
