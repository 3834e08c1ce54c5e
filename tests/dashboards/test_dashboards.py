"""Grafana dashboards: the checked-in files are what the builder writes, their JSON is well formed,
and every panel query returns series on a real Prometheus scraping the demo.

The last test starts Debian's `prometheus` (.ci/run installs the package) on a free loopback port,
scraping every second `driftwarden demo` in a subprocess (drift, a latency regression, SLO burns,
delayed labels and realized quality, alerts and their deliveries) and an in-process daemon with a
fake NVML of two GPUs (the demo has no GPU) that samples its records (the demo keeps them all).
Without the binary it is skipped, unless CI=true.
"""

from __future__ import annotations

import bisect
import io
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import orjson
import polars as pl
import pytest
import yaml

from driftwarden.cli import main
from driftwarden.collector.nvml_fake import FakeNvml
from driftwarden.config import load_config
from driftwarden.core import metric_names as metrics
from driftwarden.dashboards import build
from driftwarden.dashboards.panels import DATASOURCE, SCHEMA_VERSION, SCOPE, Json
from driftwarden.demo import DEMO_MODEL, DEMO_SERVICE, SHIFTED_FEATURES
from driftwarden.demo.load import ndjson_records, reference_parquet
from driftwarden.detectors.seasonal import SeasonalDetector, series_key
from driftwarden.exporters import gpu
from driftwarden.params import anomaly_params
from driftwarden.persistence.anomaly_history import AnomalyHistory
from driftwarden.persistence.database import Database
from tests.support.processes import driftwarden_demo
from tests.support.prometheus import prometheus
from tests.support.server import Daemon, running
from tests.support.tools import required_tool

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = build.build()
JOB, GPU_JOB = "driftwarden", "driftwarden-gpu"
# The labels Kubernetes service discovery would put on each target (deploy/kubernetes/podmonitor.yaml).
TARGET_LABELS = {
    JOB: {"namespace": "ml", "model_version": "v3", "pod": "fraud-7d9f-x2kq"},
    GPU_JOB: {"namespace": "ml", "model_version": "v3", "pod": "fraud-gpu-0"},
}
# What Grafana would put in place of each variable when the dashboards look at the demo; namespace,
# model_version and pod set to All (their allValue).
VALUES = {
    **dict.fromkeys(SCOPE, ".*"),
    "model": DEMO_MODEL,
    "service": DEMO_SERVICE,
    "slo": "fraud-latency",
    "feature": SHIFTED_FEATURES[0],
    "gpu": "0",
    "job": JOB,
    "__rate_interval": "1m",
    "__interval": "15s",
}
VARIABLE = re.compile(r"\$(\w+)")


def panels(board: dict) -> list[dict]:
    return board["panels"]  # no rows: the builder lays every panel out flat


def targets() -> Iterator[tuple[str, str, str]]:
    """(dashboard, panel title, expr) of every query."""
    for board in DASHBOARDS.values():
        for p in panels(board):
            for t in p.get("targets", []):
                yield board["title"], p["title"], t["expr"]


def substitute(expr: str, **values: str) -> str:
    return VARIABLE.sub(lambda v: {**VALUES, **values}[v[1]], expr)


# --- generated files ----------------------------------------------------------------------------


def test_checked_in_files_are_what_the_builder_writes() -> None:
    rendered = build.render()
    for name, content in rendered.items():
        assert (ROOT / "dashboards" / name).read_text(encoding="utf-8") == content, (
            f"dashboards/{name} is stale: run `driftwarden dashboards generate`"
        )
    on_disk = {p.name for p in (ROOT / "dashboards").glob("*.json")}
    assert on_disk == {name for name in rendered if name.endswith(".json")}
    assert build.render() == rendered  # deterministic


def test_cli_writes_the_dashboards_and_provisioning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboards", "generate", "--out", str(tmp_path / "out")]) == 0
    for name, content in build.render().items():
        assert (tmp_path / "out" / name).read_text(encoding="utf-8") == content
    out = capsys.readouterr().out
    assert all(name in out for name in DASHBOARDS) and "7 files written" in out
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert main(["dashboards", "generate", "--out", str(blocked)]) == 2


def test_provisioning_files_are_grafana_provisioning_yaml() -> None:
    files = build.provisioning()
    provider = yaml.safe_load(files["provisioning/dashboards.yaml"])
    assert provider["apiVersion"] == 1
    (entry,) = provider["providers"]
    assert entry["type"] == "file" and entry["options"]["path"]
    source = yaml.safe_load(files["provisioning/datasource.yaml"])
    (ds,) = source["datasources"]
    assert source["apiVersion"] == 1 and ds["type"] == "prometheus"
    assert ds["jsonData"]["exemplarTraceIdDestinations"][0]["name"] == "trace_id"


# --- structure ----------------------------------------------------------------------------------


def test_dashboards_are_current_grafana_json() -> None:
    assert len(DASHBOARDS) == 5
    assert len({b["uid"] for b in DASHBOARDS.values()}) == 5
    for board in DASHBOARDS.values():
        assert board["schemaVersion"] == SCHEMA_VERSION >= 39
        assert board["id"] is None and board["title"].startswith("driftwarden / ")
        variables = board["templating"]["list"]
        assert variables[0] == {**variables[0], "name": "datasource", "type": "datasource", "query": "prometheus"}
        for v in variables[1:]:
            assert v["type"] == "query" and v["datasource"] == DATASOURCE
            assert re.fullmatch(rf"label_values\(\w+(\{{.*\}})?, {v['name']}\)", v["query"]), v["query"]
        ids = [p["id"] for p in panels(board)]
        assert ids == sorted(set(ids)) and all(isinstance(i, int) for i in ids), board["title"]


METRIC_SELECTOR = re.compile(r"\b((?:driftwarden|DCGM|scrape)_\w+|up)\b(\{[^}]*\})?")


def test_every_series_is_filtered_by_namespace_model_version_and_pod() -> None:
    scope = 'namespace=~"$namespace",model_version=~"$model_version",pod=~"$pod"'
    for board in DASHBOARDS.values():
        variables = board["templating"]["list"]
        assert [v["name"] for v in variables[1:4]] == list(SCOPE), board["title"]
        for v in variables[1:4]:
            assert v["includeAll"] and v["multi"] and v["allValue"] == ".*", (board["title"], v["name"])
        for v in variables[4:]:
            assert scope in v["query"], (board["title"], v["query"])  # narrowed by the scope chosen
        for _, title, expr in targets():
            selectors = list(METRIC_SELECTOR.finditer(expr))
            assert selectors, (title, expr)
            for found in selectors:
                assert found[2] and scope in found[2], (title, found[0])


def test_every_query_panel_uses_the_datasource_variable() -> None:
    for board in DASHBOARDS.values():
        for p in panels(board):
            if p["type"] == "text":
                assert "targets" not in p
                continue
            assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
            assert p["targets"], p["title"]
            assert all(t["datasource"] == p["datasource"] for t in p["targets"]), p["title"]
            refs = [t["refId"] for t in p["targets"]]
            assert len(refs) == len(set(refs)), p["title"]


def test_panels_tile_the_grid_without_overlapping() -> None:
    for board in DASHBOARDS.values():
        cells: dict[tuple[int, int], str] = {}
        for p in panels(board):
            pos = p["gridPos"]
            assert set(pos) == {"x", "y", "w", "h"} and pos["w"] > 0 and pos["h"] > 0
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, p["title"]
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                    cells[(x, y)] = p["title"]


def test_queries_use_only_defined_variables_and_exported_metrics() -> None:
    exported = {v for v in vars(metrics).values() if isinstance(v, str) and v.startswith("driftwarden_")}
    exported |= {metrics.GPU_AVAILABLE, metrics.GPU_LOST, metrics.INFERENCE_COST, metrics.INFERENCE_ENERGY}
    exported |= {name for name, _, _ in gpu.DCGM_METRICS}
    exported |= {"scrape_duration_seconds", "scrape_samples_scraped"}
    suffixes = ("", "_total", "_bucket", "_count", "_sum")
    for board in DASHBOARDS.values():
        defined = {v["name"] for v in board["templating"]["list"]}
        for p in panels(board):
            for t in p.get("targets", []):
                used = set(VARIABLE.findall(t["expr"]))
                assert used <= defined | {"__rate_interval", "__interval"}, (p["title"], used - defined)
                for name in re.findall(r"\b(?:driftwarden|DCGM|scrape)_\w+", t["expr"]):
                    assert any(name.removesuffix(s) in exported for s in suffixes if name.endswith(s)), name
    used = str(list(targets()))
    for name in (
        metrics.PREDICTION_DRIFT_SCORE,
        metrics.FEATURE_DRIFTED_STABLE,
        metrics.MODEL_DRIFTED_STABLE,
        metrics.MODEL_QUALITY,
        metrics.MODEL_QUALITY_BASELINE,
        metrics.LABELS + "_total",
        metrics.LABELS_PENDING,
        metrics.RECORDS_SAMPLED_OUT + "_total",
        metrics.LLM_INPUT_TOKENS + "_total",
        metrics.LLM_OUTPUT_TOKENS + "_total",
        metrics.LLM_TIME_TO_FIRST_TOKEN + "_bucket",
        metrics.LLM_TIME_PER_OUTPUT_TOKEN + "_bucket",
        metrics.OTLP_POINTS + "_total",
        metrics.OTLP_POINTS_IGNORED + "_total",
        metrics.OTLP_LOGS_IGNORED + "_total",
        metrics.CONSTRAINT_VIOLATIONS + "_total",
        metrics.CONSTRAINT_VIOLATING_SHARE,
        metrics.ANOMALY_SCORE,
        metrics.ANOMALY_OBSERVED,
        metrics.ANOMALY_BASELINE,
    ):
        assert name in used, name


def test_output_drift_sits_next_to_input_drift_and_the_quality_baseline_is_dashed() -> None:
    overview = DASHBOARDS["drift-overview.json"]["panels"]
    by_title = {p["title"]: p for p in overview}
    inputs = by_title["Input drift: share and verdict"]["gridPos"]
    outputs = by_title["Output drift: the prediction's PSI and KS D"]["gridPos"]
    assert outputs["y"] == inputs["y"] and outputs["x"] == inputs["x"] + inputs["w"]  # side by side
    quality = by_title["Realized quality vs baseline"]
    assert [metrics.MODEL_QUALITY_BASELINE in t["expr"] for t in quality["targets"]] == [False, True]
    dashed = [o for o in quality["fieldConfig"]["overrides"] if o["matcher"]["options"] == ".* baseline"]
    assert dashed[0]["properties"] == [{"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}}]


def test_latency_panel_asks_for_exemplars() -> None:
    latency = next(p for p in DASHBOARDS["latency-slos.json"]["panels"] if p["title"].startswith("Latency p50"))
    assert [t["exemplar"] for t in latency["targets"]] == [True, True, True]
    assert all("histogram_quantile" in t["expr"] for t in latency["targets"])


# --- on a real Prometheus -----------------------------------------------------------------------


def binary(name: str) -> str:
    return required_tool(name, package="prometheus")


@contextmanager
def demo(tmp_path: Path, duration: int) -> Iterator[str]:
    """`driftwarden demo --exit` in a subprocess; yields its base URL once it answers."""
    state = tmp_path / "demo" / "state.db"
    with driftwarden_demo(tmp_path / "demo.log", "--duration", str(duration), "--state", str(state), "--exit") as d:
        yield d.base_url


def label_values(query: str) -> tuple[str, str]:
    """`label_values(selector, label)` -> (selector with variables substituted, label)."""
    found = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
    assert found, query
    return substitute(found[1]), found[2]


def histogram(name: str, unit: str, value: float, bounds: list[float], start: int, attributes: dict[str, str]) -> Json:
    """One delta explicit-bucket histogram of one observation, as OTLP JSON."""
    counts = [0] * (len(bounds) + 1)
    counts[bisect.bisect_left(bounds, value)] = 1
    point = {
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()],
        "startTimeUnixNano": str(start),
        "timeUnixNano": str(start + 1_000_000_000),
        "count": "1",
        "sum": value,
        "bucketCounts": [str(c) for c in counts],
        "explicitBounds": bounds,
    }
    return {"name": name, "unit": unit, "histogram": {"aggregationTemporality": 1, "dataPoints": [point]}}


def export_genai_metrics_and_otlp_refusals(base_url: str) -> None:
    """What the demo does not send, for the LLM and OTLP panels: a GenAI server's metrics for the demo's
    service (twice: under traces.latency_source auto the first export of each kind switches the service
    to metrics and is ignored), a metric driftwarden does not read, a point that contradicts itself, a log
    record that is no prediction and a prediction record that is rejected."""
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": DEMO_SERVICE}}]}
    genai = {"gen_ai.operation.name": "chat", "gen_ai.request.model": DEMO_MODEL}
    tokens = "gen_ai.client.token.usage"
    with httpx.Client(base_url=base_url, timeout=10, headers={"content-type": "application/json"}) as client:
        for start in (time.time_ns() - 10_000_000_000, time.time_ns() - 5_000_000_000):
            exported = [
                histogram("gen_ai.server.time_to_first_token", "s", 0.2, [0.1, 0.25, 0.5], start, genai),
                histogram("gen_ai.server.time_per_output_token", "s", 0.03, [0.025, 0.05], start, genai),
                histogram(tokens, "{token}", 120, [64, 256], start, {**genai, "gen_ai.token.type": "input"}),
                histogram(tokens, "{token}", 40, [64, 256], start, {**genai, "gen_ai.token.type": "output"}),
                histogram("app.payload.size", "By", 512, [1024], start, {}),  # ignored: other_metric
            ]
            contradicting = histogram("gen_ai.server.time_to_first_token", "s", 0.2, [0.1], start, genai)
            contradicting["histogram"]["dataPoints"][0]["count"] = "5"  # rejected: not the buckets' sum
            scope = {"metrics": [*exported, contradicting]}
            body = {"resourceMetrics": [{"resource": resource, "scopeMetrics": [scope]}]}
            answer = client.post("/v1/metrics", content=orjson.dumps(body))
            assert answer.status_code == 200, answer.text
            assert answer.json()["partialSuccess"]["rejectedDataPoints"] == "1", answer.text
        model = {"key": "driftwarden.model", "value": {"stringValue": "no such model!"}}
        feature = {"key": "driftwarden.features.amount", "value": {"doubleValue": 1.0}}
        records = [
            {"body": {"stringValue": "GET /healthz 200"}},  # ignored: no_features
            {"attributes": [model, feature]},  # rejected: the model's name is none
        ]
        body = {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": records}]}]}
        answer = client.post("/v1/logs", content=orjson.dumps(body))
        assert answer.status_code == 200, answer.text
        assert answer.json()["partialSuccess"]["rejectedLogRecords"] == "1", answer.text


# The data-quality and anomaly panels: the GPU daemon's model has constraints its records break (amounts
# above 10), and a day's season of prediction volume seeded into its state file a day before now, so its
# evaluations score the volume against it (the demo's daemon has neither).
CONSTRAINTS = {"features": {"amount": {"type": "numeric", "min": 0, "max": 10}}, "schema": {"undeclared": False}}
ANOMALY = {"signals": ["prediction_volume"], "season": "day", "seasons": 1, "min_seasons": 1, "resolution": "1h"}


def seed_anomaly_history(state: Path) -> None:
    """Yesterday's prediction volume, this hour and the next (an evaluation may fall in either)."""
    params = anomaly_params(load_config(None, anomaly=ANOMALY).anomaly)
    database = Database(state)
    detector = SeasonalDetector(params, AnomalyHistory(database))
    key = series_key("prediction_volume", {"model": DEMO_MODEL})
    yesterday = time.time() - 86400
    for at in (yesterday, yesterday + 3600):
        detector.observe({key: 5.0}, at)
    detector.flush()
    database.close()


def judge_segments(daemon: Daemon) -> None:
    """The segment panels' series: the demo's model has no segments; here it has, per country, each judged on
    its window of 100 rows with its quality estimated."""
    rng = np.random.default_rng(8)
    parquet = {"content-type": "application/vnd.apache.parquet"}
    # the embedding panel: the reference carries the vectors of models.<m>.embeddings.e (a list column)
    frame = pl.read_parquet(io.BytesIO(reference_parquet(rng)))
    frame = frame.with_columns(pl.Series("e", [[float(i % 50), 1.0] for i in range(frame.height)]))
    buf = io.BytesIO()
    frame.write_parquet(buf)
    answer = daemon.client.put(f"/v1/models/{DEMO_MODEL}/reference", content=buf.getvalue(), headers=parquet)
    assert answer.status_code == 200 and answer.json()["segments"] == 8, answer.text
    body, _ = ndjson_records(rng, [f"s{i}" for i in range(3000)], shifted=False)
    answer = daemon.client.post("/v1/predictions", content=body, headers={"content-type": "application/x-ndjson"})
    assert answer.status_code == 200, answer.text
    daemon.evaluate()


# Series that exist only once the demo's second half has happened: drift, the SLO page, an alert
# firing and delivered; the rejects the test sends; the GPU daemon's cost per inference. Counters
# wait for a few scrapes, so that rate() over them has two samples.
PHASES = [
    f'max_over_time({metrics.MODEL_DRIFTED}{{job="{JOB}"}}[5m]) == 1',
    f'max_over_time({metrics.SLO_BURN_RATE}{{slo="fraud-latency",window="5m"}}[5m]) > 14.4',
    f'{metrics.ALERTS_FIRING}{{job="{JOB}"}}',
    f'count_over_time({metrics.WEBHOOK_DELIVERIES}_total{{job="{JOB}",outcome="ok"}}[1m]) >= 3',
    f"count_over_time({metrics.RECORDS_REJECTED}_total[1m]) >= 3",
    f"count_over_time({metrics.REQUESTS_REJECTED}_total[1m]) >= 3",
    f"{metrics.INFERENCE_COST}",
    f'{metrics.MODEL_QUALITY_BASELINE}{{job="{JOB}",metric="accuracy"}}',  # a full window of labels joined
    f'count_over_time({metrics.LABELS}_total{{job="{JOB}",outcome="matched"}}[1m]) >= 3',
    f"count_over_time({metrics.RECORDS_SAMPLED_OUT}_total[1m]) >= 3",
    f'count_over_time({metrics.LLM_OUTPUT_TOKENS}_total{{job="{JOB}"}}[1m]) >= 3',  # the GenAI metrics sent
    f'count_over_time({metrics.OTLP_POINTS}_total{{job="{JOB}",outcome="rejected"}}[1m]) >= 3',
    f'count_over_time({metrics.RECORDS_REJECTED}_total{{job="{JOB}",source="otlp_logs"}}[1m]) >= 3',
    f'count_over_time({metrics.CONSTRAINT_VIOLATIONS}_total{{job="{GPU_JOB}",constraint="range"}}[1m]) >= 3',
    f'{metrics.ANOMALY_SCORE}{{job="{GPU_JOB}",signal="prediction_volume"}}',
]
KNOWN_LINT: set[str] = set()  # promtool check metrics has nothing to say about driftwarden's own names


@pytest.mark.prometheus
@pytest.mark.server
@pytest.mark.slow
def test_every_panel_query_returns_series_on_a_real_prometheus(tmp_path: Path) -> None:
    promtool = binary("promtool")
    gpu_settings = {"enabled": True, "interval": "1s", "cost_per_hour": 2.5}
    # the sampled-out panel: the demo keeps every record; the embedding panel: the demo sends no vectors
    sampling = {DEMO_MODEL: {"sample_rate": 0.5, "embeddings": {"e": {"dim": 2}}}}
    # the segment panels: the demo judges no segments; the GPU daemon's model does, per country
    sampling[DEMO_MODEL] |= {"segments": ["country"], "segmenting": {"min_rows": 100}, "estimate": {"kind": "binary"}}
    sampling[DEMO_MODEL] |= {"constraints": CONSTRAINTS}  # the data-quality panels
    seed_anomaly_history(tmp_path / "gpu.db")  # the anomaly panels
    with running(
        tmp_path / "gpu.db", FakeNvml.with_gpus(2), models=sampling, gpu=gpu_settings, anomaly=ANOMALY
    ) as gpus:
        judge_segments(gpus)  # before the demo starts: its timeline is not held up
        started = time.monotonic()
        with (
            demo(tmp_path, duration=60) as demo_url,
            prometheus(
                tmp_path, {JOB: (demo_url[7:], TARGET_LABELS[JOB]), GPU_JOB: (gpus.url[7:], TARGET_LABELS[GPU_JOB])}
            ) as prom,
        ):
            # the GPU daemon prices inferences from prediction records (the demo has no GPU), half of them sampled out
            records = b"\n".join(
                orjson.dumps(
                    {
                        "model": DEMO_MODEL,
                        "request_id": f"r{i}",
                        "features": {"amount": float(i)},
                        "embeddings": {"e": [i, 1]},
                    }
                )
                for i in range(50)
            )
            ndjson = {"content-type": "application/x-ndjson"}
            assert gpus.client.post("/v1/predictions", content=records, headers=ndjson).status_code == 200
            gpus.evaluate()
            # one bad record and one unreadable request, so the reject panels have a reason to show
            bad = httpx.post(f"{demo_url}/v1/predictions", json=[{"features": {"amount": 1.0}}], timeout=10)
            assert bad.status_code == 400, bad.text
            refused = httpx.post(f"{demo_url}/v1/predictions", content=b"x", headers={"content-type": "text/plain"})
            assert refused.status_code == 415, refused.text
            export_genai_metrics_and_otlp_refusals(demo_url)

            up = prom.wait_for([f'up{{job="{job}"}} == 1' for job in (JOB, GPU_JOB)], time.monotonic() + 20)
            assert not up, f"not scraped: {up}" + prom.logs()
            late = prom.wait_for(PHASES, started + 110)
            assert not late, f"the demo did not get there: {late}" + prom.logs() + (tmp_path / "demo.log").read_text()

            empty = [
                f"{board} / {title}: {substitute(expr)}"
                for board, title, expr in targets()
                if not prom.query(substitute(expr))
            ]
            assert not empty, f"{len(empty)} panel queries returned no series:\n" + "\n".join(empty)

            for board in DASHBOARDS.values():
                for v in board["templating"]["list"][1:]:
                    selector, label = label_values(v["query"])
                    got = prom.http.get(f"/api/v1/label/{label}/values", params={"match[]": selector}).json()["data"]
                    assert {**VALUES, **TARGET_LABELS[JOB]}[v["name"]] in got, (board["title"], v["query"], got)

            # one pod chosen: each drift panel shows the demo pod's or the GPU daemon's; a pod no target has: nothing
            overview = [t["expr"] for p in panels(DASHBOARDS["drift-overview.json"]) for t in p["targets"]]
            unseen = [
                e for e in overview if not any(prom.query(substitute(e, **labels)) for labels in TARGET_LABELS.values())
            ]
            assert not unseen, unseen
            other = {**TARGET_LABELS[JOB], "pod": "fraud-7d9f-other"}
            theirs = [e for e in overview if prom.query(substitute(e, **other))]
            assert not theirs, theirs

            latency = next(p for p in DASHBOARDS["latency-slos.json"]["panels"] if p["title"].startswith("Latency p50"))
            now = time.time()
            exemplars = prom.http.get(
                "/api/v1/query_exemplars",
                params={"query": substitute(latency["targets"][0]["expr"]), "start": now - 300, "end": now},
            ).json()["data"]
            assert any("trace_id" in e["labels"] for series in exemplars for e in series["exemplars"]), exemplars

            exposition = httpx.get(f"{demo_url}/metrics", timeout=10).text
            check = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, text=True)
            problems = {line.strip() for line in (check.stdout + check.stderr).splitlines() if line.strip()}
            assert check.returncode in (0, 3) and problems <= KNOWN_LINT, problems  # 3: lint findings only
    assert time.monotonic() - started < 150
