"""Fuzzing every HTTP endpoint with schemathesis, against a real daemon over HTTP.

The document fuzzed is the daemon's own `/openapi.json`, as served: the routes declare their
request bodies, every status they answer and the schema of each answer
(`driftwarden/api/schemas.py`), so the served document is the contract of docs/design.md.
The daemon runs on a free loopback port (`tests.support.server.running`), with a model that has a
reference and current rows, so that drift reports, the UI's model page and evaluation run on
fuzzed input. Each operation gets `FUZZ_EXAMPLES` generated requests (schema-valid and, where
the operation takes a body, schema-violating ones), and every answer must pass:

- no 5xx (`not_a_server_error`),
- a documented status code, Content-Type and headers,
- a body that conforms to the response schema of that status.

Added here, and only here, because they are not API: the UI's two HTML pages, which the app
leaves out of its document on purpose (`include_in_schema=False`). Steered here, without
changing the document: half the cases name the seeded model where a path or a record names one
(random names are nearly always unknown models), and ask /metrics for OpenMetrics, the other half
with any Accept header (OpenAPI ignores a declared `Accept` parameter; it is the one input /metrics
reads). Serializers turn generated data into what schemathesis cannot encode itself (protobuf,
NDJSON, Parquet). The reads that take no input at all (/v1/models, /healthz, ...) have two distinct
cases, which Hypothesis runs once each however many examples are asked for.

The fuzzed daemon is open and roomy; the refusals it never meets (the read protection's 401, the
body deadline's 408, the memory budget's 409, the queue's 413, a 503) are met on purpose at the end
of this file, each answer checked against the document the same way.

CI runs 25 examples per operation (the whole file takes well under a minute on 2 cores). A long run
(the README's long mode runs 500; a new seed each run unless `--hypothesis-seed=N`):

    DRIFTWARDEN_FUZZ_EXAMPLES=2000 .venv/bin/pytest tests/api/test_fuzz_api.py --timeout 0 -q

A failure prints the request as a curl command (against the port of that run) and the answer.
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import requests
import schemathesis
from google.protobuf import json_format
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.persistence.faults import refuse_writes
from tests.support.processes import driftwarden_run
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

FUZZ_EXAMPLES = int(os.environ.get("DRIFTWARDEN_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Left out on purpose: `positive_data_acceptance` (a schema-valid batch is still refused when every record is
# for a 101st model, or a reference has no numeric column) and `negative_data_rejection` (bad records are
# reported one by one and the rest accepted: a batch with one schema-violating record answers 200).

MODEL = "fraud"
FEATURES = [f"x{j}" for j in range(6)]

# Every operation the app serves; `test_the_served_document_lists_every_operation` keeps it in step.
API_OPERATIONS = [
    ("POST", "/v1/predictions"),
    ("POST", "/v1/traces"),
    ("POST", "/v1/logs"),
    ("POST", "/v1/metrics"),
    ("PUT", "/v1/models/{model}/reference"),
    ("POST", "/v1/models/{model}/reference/pin"),
    ("POST", "/v1/kserve"),
    ("POST", "/v1/kserve/{model}"),
    ("POST", "/v1/labels"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/{model}/drift"),
    ("GET", "/v1/slos"),
    ("GET", "/v1/config"),
    ("GET", "/metrics"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/v1/alerts"),
    ("GET", "/v1/silences"),
    ("POST", "/v1/silences"),
    ("DELETE", "/v1/silences/{silence_id}"),
    ("GET", "/v1/audit"),
]
# design.md: pinning takes no body.
BODYLESS_WRITES = {("POST", "/v1/models/{model}/reference/pin")}
# Reads that answer 200 whatever the request, once past the read protection: no error status to declare but its
# 401 (a 5xx would be a bug the fuzz reports).
CANNOT_FAIL = {
    ("GET", "/v1/models"),
    ("GET", "/v1/slos"),
    ("GET", "/v1/config"),
    ("GET", "/metrics"),
    ("GET", "/healthz"),
    ("GET", "/v1/alerts"),
    ("GET", "/v1/silences"),
}

HTML = {"text/html": {"schema": {"type": "string"}}}
MODEL_PARAM = {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
UI = {
    "/": {"get": {"responses": {"200": {"description": "overview", "content": HTML}}}},
    "/ui/models/{model}": {
        "get": {
            "parameters": [MODEL_PARAM],
            "responses": {
                "200": {"description": "a model's page", "content": HTML},
                "404": {"description": "no such model", "content": HTML},
            },
        }
    },
}
OPERATIONS = [*API_OPERATIONS, *((m.upper(), p) for p, item in UI.items() for m in item)]
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def with_ui(served: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(served)
    assert not set(UI) & set(doc["paths"]), "the UI is in the served document now: drop UI from this test"
    doc["paths"].update(copy.deepcopy(UI))
    return doc


def _name_the_model(node: Any) -> Any:
    """Every `"model": <string>` in a generated body becomes the seeded model."""
    if isinstance(node, dict):
        return {k: MODEL if k == "model" and isinstance(v, str) else _name_the_model(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_name_the_model(v) for v in node]
    return node


def steer(case: schemathesis.Case, known: bool, accept: str | None = None) -> schemathesis.Case:
    """Where `known`: the seeded model in the path and the body, and OpenMetrics from /metrics; else any
    `accept` given (the one input /metrics reads)."""
    if known:
        if "model" in (case.path_parameters or {}):
            case.path_parameters["model"] = MODEL
        if isinstance(case.body, (dict, list)):
            case.body = _name_the_model(case.body)
        if case.path == "/metrics":
            case.headers = {**(case.headers or {}), "Accept": OPENMETRICS}
    elif accept is not None:
        case.headers = {**(case.headers or {}), "Accept": accept}
    return case


# Accept headers for /metrics: what scrapers send, their parameters mixed up, and any printable text
_MEDIA = st.sampled_from(["application/openmetrics-text", "text/plain", "*/*", "application/json", "text/*", ""])
_PARAMETER = st.sampled_from(
    [
        "version=1.0.0",
        "version=0.0.1",
        "version=2.0.0",
        "version=",
        "escaping=underscores",
        "escaping=allow-utf-8",
        "escaping=bogus",
        "charset=utf-8",
        "q=0.5",
        "q=x",
        "=",
        "",
    ]
)
ACCEPT = st.one_of(
    st.builds(lambda media, params: "; ".join([media, *params]), _MEDIA, st.lists(_PARAMETER, max_size=3)),
    st.lists(
        st.builds(lambda media, params: ";".join([media, *params]), _MEDIA, st.lists(_PARAMETER, max_size=2)),
        min_size=2,
        max_size=3,
    ).map(", ".join),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
)


# -- bodies schemathesis has no serializer for ---------------------------------------------------------------------


def _dumps(value: Any) -> bytes:
    """JSON as Python writes it: integers beyond 64 bits (orjson refuses them) are something to send."""
    return value if isinstance(value, bytes) else json.dumps(value, default=repr).encode()


def _ndjson(ctx: object, value: Any) -> bytes:
    if isinstance(value, list):
        return b"\n".join(_dumps(v) for v in value)
    return _dumps(value)


def _hex_to_base64(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode()
            if k.endswith("Id") and isinstance(v, str)
            else _hex_to_base64(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hex_to_base64(v) for v in node]
    return node


def _protobuf(ctx: object, value: Any) -> bytes:
    """OTLP JSON-shaped data → the export request it describes (logs when it has resourceLogs, metrics
    when resourceMetrics, else traces); what does not fit goes as JSON bytes."""
    if isinstance(value, bytes):
        return value
    message: Message = ExportTraceServiceRequest()
    if isinstance(value, dict) and "resourceLogs" in value:
        message = ExportLogsServiceRequest()
    elif isinstance(value, dict) and "resourceMetrics" in value:
        message = ExportMetricsServiceRequest()
    try:
        request = json_format.ParseDict(_hex_to_base64(value), message)
    except (json_format.ParseError, ValueError, TypeError, AttributeError):
        return _dumps(value)
    return request.SerializeToString()


def _binary(ctx: object, value: Any) -> bytes:
    return _dumps(value)


schemathesis.serializer("application/x-ndjson")(_ndjson)
schemathesis.serializer("application/x-protobuf")(_protobuf)
schemathesis.serializer("application/vnd.apache.parquet")(_binary)


# -- the daemon ----------------------------------------------------------------------------------------------------


def _seed(daemon: Daemon) -> None:
    """A model with a reference and current rows: drift reports and the model page have something to show."""
    import numpy as np

    rng = np.random.default_rng(8)
    ref = rng.normal(size=(500, len(FEATURES)))
    csv = ",".join(FEATURES) + "\n" + "\n".join(",".join(f"{v:.4f}" for v in row) for row in ref)
    put = daemon.client.put(f"/v1/models/{MODEL}/reference", content=csv, headers={"content-type": "text/csv"})
    assert put.status_code == 200, put.text
    records = [
        {"model": MODEL, "features": dict(zip(FEATURES, map(float, row), strict=True)), "prediction": 0.5}
        for row in rng.normal(0.3, 1.0, size=(300, len(FEATURES)))
    ]
    post = daemon.client.post(
        "/v1/predictions", content=orjson.dumps(records), headers={"content-type": "application/json"}
    )
    assert post.json()["accepted"] == 300, post.text
    daemon.evaluate()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running(tmp_path_factory.mktemp("fuzz") / "state.db", evaluate_every="2s") as d:
        _seed(d)
        yield d


@pytest.fixture(scope="module")
def served(daemon: Daemon) -> dict[str, Any]:
    answer = httpx.get(f"{daemon.url}/openapi.json")
    assert answer.status_code == 200
    return answer.json()


@pytest.fixture(scope="module")
def schema(daemon: Daemon, served: dict[str, Any]) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({"base-url": daemon.url})
    return schemathesis.openapi.from_dict(with_ui(served), config=config)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def test_the_served_document_lists_every_operation(served: dict[str, Any]) -> None:
    """A new endpoint is fuzzed once it is listed here; a removed one is a contract change."""
    served_ops = {(m.upper(), p) for p, item in served["paths"].items() for m in item}
    assert served_ops == set(API_OPERATIONS)


def test_the_served_document_is_the_contract(served: dict[str, Any]) -> None:
    """Every write declares its body, every operation that can be refused its errors, each with a schema."""
    for path, item in served["paths"].items():
        for method, operation in item.items():
            op = (method.upper(), path)
            responses = operation["responses"]
            for code, answer in responses.items():
                assert answer.get("content"), f"{op} {code}: no body declared"
                for media, content in answer["content"].items():
                    assert content.get("schema"), f"{op} {code} {media}: no schema (any JSON)"
            if op[0] in ("POST", "PUT") and op not in BODYLESS_WRITES:
                body = operation.get("requestBody")
                assert body and body.get("required") and body["content"], f"{op}: no request body declared"
                assert all(c.get("schema") for c in body["content"].values()), f"{op}: a body without a schema"
            errors = {code for code in responses if code[0] in "45" and code not in ("401", "422")}  # 422: FastAPI's
            if op in CANNOT_FAIL:
                assert not errors, f"{op} declares {errors}: take it out of CANNOT_FAIL"
            else:
                assert errors, f"{op}: no error response declared"
            if path not in ("/healthz", "/readyz"):  # writes with a token set, reads with auth.protect_reads
                assert "401" in responses, f"{op}: the bearer token may be asked for"


def test_refused_writes_answer_as_declared(tmp_path: Path) -> None:
    """With auth on, every write answers 401 with the declared body and WWW-Authenticate (the fuzz runs without)."""
    token = tmp_path / "token"
    token.write_text("s3cret")
    with running(tmp_path / "state.db", evaluate_every="1h", auth_token_file=str(token)) as d:
        served = d.client.get("/openapi.json").json()
        config = schemathesis.Config.from_dict({"base-url": d.url})
        schema = schemathesis.openapi.from_dict(served, config=config)
        writes = [(m, p) for m, p in API_OPERATIONS if m in ("POST", "PUT", "DELETE")]
        for method, path in writes:
            operation = schema[path][method]
            case = operation.Case(path_parameters={"model": MODEL, "silence_id": "x"} if "{" in path else None)
            if operation.body:
                case.media_type = operation.body[0].media_type
                case.body = [] if "json" in case.media_type else b""
            answer = case.call(base_url=d.url)
            assert answer.status_code == 401, (method, path, answer.text)
            case.validate_response(answer, checks=CHECKS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz(
    method: str, path: str, schema: schemathesis.BaseSchema, daemon: Daemon, session: requests.Session
) -> None:
    operation = schema[path][method]
    cases = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    if operation.body:  # something to violate: a body (path and header strings take any value)
        cases = st.one_of(cases, operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not os.environ.get("DRIFTWARDEN_FUZZ_EXAMPLES"),
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(case=cases, known=st.booleans(), accept=ACCEPT if path == "/metrics" else st.none())
    def fuzz(case: schemathesis.Case, known: bool, accept: str | None) -> None:
        case = steer(case, known, accept)
        case.call_and_validate(base_url=daemon.url, session=session, checks=CHECKS, timeout=30)

    fuzz()


def test_the_daemon_still_evaluates_and_answers_after_the_fuzz(daemon: Daemon) -> None:
    daemon.evaluate()  # raises if an evaluation of the fuzzed windows fails
    assert daemon.client.get("/readyz").status_code == 200
    report = daemon.client.get(f"/v1/models/{MODEL}/drift")
    assert report.status_code == 200 and report.json()["rows"]["current"] >= 300


DEEP = "[" * 1000 + "1" + "]" * 1000  # orjson reads up to 1024 levels; Python's stack holds ~1000 frames
DEEP_BODIES = [
    ("/v1/predictions", "application/json", '[{"model": "m", "features": {"a": DEEP}, "label": DEEP}]'),
    ("/v1/traces", "application/json", '{"resourceSpans": [DEEP]}'),
    ("/v1/metrics", "application/json", '{"resourceMetrics": [DEEP]}'),
    (
        "/v1/kserve/fraud",
        "application/cloudevents+json",
        '{"specversion": "1.0", "id": "d", "source": "s", "type": "org.kubeflow.serving.inference.request", '
        '"data": {"inputs": [{"name": DEEP, "shape": DEEP, "datatype": "FP32", "data": DEEP}]}}',
    ),
    # 600 levels: past the repr of polars' List(List(...)) dtype; polars reads 1000 levels in ~20 s (cubic)
    ("/v1/models/deep/reference", "application/x-ndjson", '{"a": ' + "[" * 600 + "1" + "]" * 600 + "}"),
    ("/v1/silences", "application/json", '{"matchers": DEEP}'),
]
DEEP_MODEL = pytest.param(
    "/v1/predictions",
    "application/json",
    '[{"model": DEEP, "features": {}}]',
    id="/v1/predictions-model",
)


@pytest.mark.parametrize(("path", "ctype", "template"), [*DEEP_BODIES, DEEP_MODEL])
def test_json_nested_a_thousand_levels_deep_is_not_a_server_error(
    daemon: Daemon, path: str, ctype: str, template: str
) -> None:
    method = "PUT" if path.endswith("/reference") else "POST"
    answer = daemon.client.request(
        method, path, content=template.replace("DEEP", DEEP), headers={"content-type": ctype}
    )
    assert answer.status_code < 500, answer.text


def test_the_error_list_stays_capped_when_models_are_refused(tmp_path: Path) -> None:
    """design.md: at most 100 errors are listed, the counts are always exact (found by the fuzzer)."""
    records = [{"model": f"m{i}", "features": {"a": 1.0}} for i in range(150)]
    with running(tmp_path / "state.db", evaluate_every="1h", limits={"max_models": 1}) as d:
        answer = d.client.post(
            "/v1/predictions", content=orjson.dumps(records), headers={"content-type": "application/json"}
        )
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (1, 149)
    assert body.get("errors_truncated") is True
    assert len(body["errors"]) <= 100


def test_a_reference_of_categorical_columns_only_is_fitted_and_survives_a_restart(tmp_path: Path) -> None:
    """Found writing the contract: it answered 409 too_many_models, yet was stored, and the next start failed."""
    state, rows = tmp_path / "state.db", b'{"country": "DE"}\n{"country": "FR"}'
    with running(state, evaluate_every="1h") as d:
        answer = d.client.put("/v1/models/m/reference", content=rows, headers={"content-type": "application/x-ndjson"})
    assert answer.status_code in (200, 400), answer.text
    with running(state, evaluate_every="1h") as d:
        assert d.client.get("/readyz").status_code == 200


# -- every refusal, as the document declares it -------------------------------------------------------------------
# The fuzz above runs an open daemon with roomy limits, so it never meets some refusals: the read protection's
# 401, the body deadline's 408, the memory budget's 409, the queue's 413 and a failed evaluation's 503. Here a
# guarded daemon answers each of them, and each answer must be one its operation declares (status, body, headers).

GUARD_TOKEN = "guard-token"
GUARD_AUTH = {"authorization": f"Bearer {GUARD_TOKEN}"}
GUARD_LIMITS = {
    "max_models": 3,
    "max_features": 120,
    "max_records_per_request": 3000,
    "max_queue_rows": 2000,
    "max_window_bytes_per_model": 1024 * 1024,  # 1,100 rows of 100 features (2,048 rows allocated) do not fit
    "max_window_bytes_total": 2 * 1024 * 1024,
}
BODY_ROUTES = [
    ("POST", "/v1/predictions", "/v1/predictions", "application/json"),
    ("POST", "/v1/traces", "/v1/traces", "application/json"),
    ("PUT", "/v1/models/{model}/reference", f"/v1/models/{MODEL}/reference", "text/csv"),
    ("POST", "/v1/kserve", "/v1/kserve", "application/cloudevents+json"),
    ("POST", "/v1/kserve/{model}", f"/v1/kserve/{MODEL}", "application/json"),
    ("POST", "/v1/labels", "/v1/labels", "application/json"),
    ("POST", "/v1/silences", "/v1/silences", "application/json"),
]
PROTECTED_READS = [
    ("GET", path) for method, path in API_OPERATIONS if method == "GET" and path not in ("/healthz", "/readyz")
]


def _ndjson_rows(model: str, rows: int, features: int) -> bytes:
    record = orjson.dumps({"model": model, "features": {f"f{j}": 0.5 + j for j in range(features)}})
    return b"\n".join([record] * rows)


def _otlp_spans(n: int) -> bytes:
    span = {"traceId": "1" * 32, "name": "POST /predict", "kind": 2, "startTimeUnixNano": "1", "endTimeUnixNano": "2"}
    spans = [{**span, "spanId": f"{i + 1:016x}"} for i in range(n)]
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})


def _kserve_pair(client: httpx.Client, model: str, rows: int, width: int) -> httpx.Response:
    """A V2 request half of `rows` x `width`, then its response half: the answer to the second completes them."""
    headers = {
        "ce-id": f"pair-{rows}-{width}",
        "ce-source": "tests",
        "ce-specversion": "1.0",
        "ce-inferenceservicename": model,
        "content-type": "application/json",
    }
    request = {"inputs": [{"name": "x", "shape": [rows, width], "datatype": "FP32", "data": [0.5] * (rows * width)}]}
    response = {"outputs": [{"name": "p", "shape": [rows], "datatype": "FP32", "data": [1.0] * rows}]}
    kind = "org.kubeflow.serving.inference"
    first = client.post("/v1/kserve", content=orjson.dumps(request), headers={**headers, "ce-type": f"{kind}.request"})
    assert first.status_code == 200, first.text
    return client.post("/v1/kserve", content=orjson.dumps(response), headers={**headers, "ce-type": f"{kind}.response"})


def _stalled_body(d: Daemon, method: str, path: str, content_type: str) -> httpx.Response:
    """A body that never arrives whole: 10 of 100 bytes, then nothing until the daemon answers."""
    head = (
        f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: {content_type}\r\n"
        f"content-length: 100\r\nauthorization: Bearer {GUARD_TOKEN}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"0123456789")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head_bytes, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head_bytes.decode("latin-1").split("\r\n")
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines]
    request = httpx.Request(method, f"{d.url}{path}", headers={"content-type": content_type})
    answer = httpx.Response(int(status_line.split()[1]), headers=headers, content=body, request=request)
    answer.elapsed = datetime.timedelta(0)  # read off the socket, not through a client that would time it
    return answer


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    root = tmp_path_factory.mktemp("guarded")
    (root / "token").write_text(GUARD_TOKEN)
    with running(
        root / "state.db",
        evaluate_every="1h",
        auth_token_file=str(root / "token"),
        auth={"protect_reads": True, "protect_metrics": True},
        server={"body_timeout": "300ms"},
        limits=GUARD_LIMITS,
    ) as d:
        d.client.headers.update(GUARD_AUTH)
        _seed(d)
        yield d


@pytest.fixture(scope="module")
def guarded_schema(guarded: Daemon) -> schemathesis.BaseSchema:
    served = guarded.client.get("/openapi.json")
    assert served.status_code == 200, served.text
    return schemathesis.openapi.from_dict(
        served.json(), config=schemathesis.Config.from_dict({"base-url": guarded.url})
    )


def assert_declared(schema: schemathesis.BaseSchema, method: str, path: str, answer: httpx.Response) -> None:
    """`answer` is one the operation declares: its status, Content-Type, headers and body schema."""
    operation = schema[path][method]
    case = operation.Case(path_parameters={"model": MODEL, "silence_id": "x"} if "{" in path else None)
    case.validate_response(answer, checks=CHECKS[1:])  # a declared 503 is a refusal, not a server error


@pytest.mark.parametrize(("method", "path"), PROTECTED_READS, ids=[p for _, p in PROTECTED_READS])
def test_a_read_without_the_token_is_a_declared_401(
    guarded: Daemon, guarded_schema: schemathesis.BaseSchema, method: str, path: str
) -> None:
    answer = httpx.request(method, guarded.url + path.replace("{model}", MODEL))
    assert answer.status_code == 401, answer.text
    assert_declared(guarded_schema, method, path, answer)


@pytest.mark.parametrize(
    ("method", "path", "url", "ctype"), BODY_ROUTES, ids=[f"{m} {p}" for m, p, _, _ in BODY_ROUTES]
)
def test_a_body_that_does_not_arrive_in_time_is_a_declared_408(
    guarded: Daemon, guarded_schema: schemathesis.BaseSchema, method: str, path: str, url: str, ctype: str
) -> None:
    answer = _stalled_body(guarded, method, url, ctype)
    assert answer.status_code == 408, answer.text
    assert_declared(guarded_schema, method, path, answer)


def test_the_memory_budget_and_the_queue_refuse_as_declared(
    guarded: Daemon, guarded_schema: schemathesis.BaseSchema
) -> None:
    client = guarded.client
    refusals = [
        (
            "POST",
            "/v1/predictions",
            409,
            client.post(
                "/v1/predictions",
                content=_ndjson_rows("wide", 1100, 100),
                headers={"content-type": "application/x-ndjson"},
            ),
        ),
        ("POST", "/v1/kserve", 409, _kserve_pair(client, "wide", 1100, 100)),
        (
            "POST",
            "/v1/predictions",
            413,
            client.post(
                "/v1/predictions",
                content=_ndjson_rows(MODEL, 2500, 2),
                headers={"content-type": "application/x-ndjson"},
            ),
        ),
        ("POST", "/v1/kserve", 413, _kserve_pair(client, MODEL, 2500, 2)),
        (
            "POST",
            "/v1/traces",
            413,
            client.post("/v1/traces", content=_otlp_spans(2500), headers={"content-type": "application/json"}),
        ),
    ]
    for method, path, status, answer in refusals:
        assert answer.status_code == status, (path, answer.text[:300])
        assert_declared(guarded_schema, method, path, answer)


def test_a_model_that_cannot_be_evaluated_is_a_declared_503(
    guarded: Daemon, guarded_schema: schemathesis.BaseSchema
) -> None:
    put = guarded.client.put(
        "/v1/models/broken/reference", content=b"a\n1\n2\n3\n", headers={"content-type": "text/csv"}
    )
    assert put.status_code == 200, put.text

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bins overflowed")

    guarded.daemon.models.get("broken").detector.evaluate = explode
    answer = guarded.client.get("/v1/models/broken/drift")
    assert answer.status_code == 503 and answer.json()["reason"] == "evaluation_failed", answer.text
    assert_declared(guarded_schema, "GET", "/v1/models/{model}/drift", answer)


def test_a_write_the_state_file_refuses_is_a_declared_503(tmp_path: Path) -> None:
    """A reference, a pin or a silence the state file will not take is not stored, nor in effect: 503 `storage`
    (a pin answered 409 `storage`, as if its window were the problem)."""
    config = tmp_path / "driftwarden.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\nevaluate_every: 1h\ngpu: {{enabled: false}}\n")
    with driftwarden_run(config, tmp_path / "run.log") as served, httpx.Client(base_url=served.base_url) as client:
        csv = {"content-type": "text/csv"}
        assert client.put(f"/v1/models/{MODEL}/reference", content=b"a\n1\n2\n3\n", headers=csv).status_code == 200
        rows = _ndjson_rows(MODEL, 50, 1).replace(b'"f0"', b'"a"')
        assert client.post("/v1/predictions", content=rows, headers={"content-type": "application/x-ndjson"}).is_success
        silence = client.post("/v1/silences", json={"matchers": {"model": MODEL}, "duration": "1h"}).json()["id"]
        served_doc = client.get("/openapi.json").json()
        schema = schemathesis.openapi.from_dict(
            served_doc, config=schemathesis.Config.from_dict({"base-url": served.base_url})
        )
        with refuse_writes(served.proc.pid):
            refusals = [
                (
                    "PUT",
                    "/v1/models/{model}/reference",
                    client.put("/v1/models/other/reference", content=b"a\n1\n", headers=csv),
                ),
                ("POST", "/v1/models/{model}/reference/pin", client.post(f"/v1/models/{MODEL}/reference/pin")),
                (
                    "POST",
                    "/v1/silences",
                    client.post("/v1/silences", json={"matchers": {"model": "x"}, "duration": "1h"}),
                ),
                ("DELETE", "/v1/silences/{silence_id}", client.delete(f"/v1/silences/{silence}")),
            ]
        for method, path, answer in refusals:
            assert (answer.status_code, answer.json()["reason"]) == (503, "storage"), (path, answer.text)
            assert_declared(schema, method, path, answer)
        assert client.get("/v1/models").json()["models"][0]["rows"]["reference"] == 3  # nothing changed
        assert [s["id"] for s in client.get("/v1/silences").json()["silences"]] == [silence]
