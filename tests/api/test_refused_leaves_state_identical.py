"""Any refused request leaves the state file byte-identical (issue 14).

One daemon with a token, a model with a reference, current rows, a label join and a silence is
checkpointed; then hypothesis sends requests each of which must be refused (4xx): a missing or
wrong token, bodies that are not what the content type says, unsupported encodings, records
and references beyond the limits or with values the statistics cannot hold, unknown silences.
After each one the daemon checkpoints again, so that anything a refused request had slipped
into a window, a reference, the outbox or a document would be written; the database file and
its write-ahead log must still be byte for byte what they were, and what the API reports
unchanged.

`DRIFTWARDEN_FUZZ_EXAMPLES` sets the number of requests (CI: 25, the same each run; the long run in the README:
500+, new ones each run, or those of `--hypothesis-seed=N`). `--hypothesis-show-statistics` counts the refusals
by status and reason.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.support.records import ARROW, FEATURES, arrow_stream, put_reference, reference_frame
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

EXAMPLES = int(os.environ.get("DRIFTWARDEN_FUZZ_EXAMPLES", "25"))
TOKEN = "s3cret-token"
MODEL = "fraud"
MAX_FEATURES = 8
MAX_RECORDS = 1500  # per request; more than the queue holds, so that a request can be larger than the queue
MAX_QUEUE_ROWS = 1000
REFERENCE_ROWS = 2000  # the seeded reference's rows, and limits.max_reference_rows
AUTH = {"authorization": f"Bearer {TOKEN}"}
JSON = {"content-type": "application/json"}
NDJSON = {"content-type": "application/x-ndjson"}
PARQUET = {"content-type": "application/vnd.apache.parquet"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, Path]]:
    root = tmp_path_factory.mktemp("identical")
    token = root / "token"
    token.write_text(TOKEN + "\n")
    state = root / "state.db"
    limits = {
        "max_models": 1,
        "max_features": MAX_FEATURES,
        "max_records_per_request": MAX_RECORDS,
        "max_queue_rows": MAX_QUEUE_ROWS,
        "max_reference_rows": REFERENCE_ROWS,
    }
    with running(state, evaluate_every="1h", checkpoint_every="1h", auth_token_file=str(token), limits=limits) as d:
        d.client.headers.update(AUTH)
        rng = np.random.default_rng(7)
        put_reference(d, reference_frame(rng, REFERENCE_ROWS), MODEL)
        rows = [
            {"model": MODEL, "request_id": f"r{i}", "features": {"amount": float(v), "age": 1.0, "score": 0.5}}
            for i, v in enumerate(rng.normal(size=300))
        ]
        assert d.client.post("/v1/predictions", content=orjson.dumps(rows), headers=JSON).is_success
        assert d.client.post("/v1/labels", json=[{"model": MODEL, "request_id": "r1", "label": 1}]).is_success
        assert d.client.post("/v1/silences", json={"matchers": {"model": MODEL}, "duration": "2h"}).is_success
        d.evaluate()
        checkpoint(d)
        yield d, state


def checkpoint(d: Daemon) -> None:
    """Every admitted row into its window and every changed window to disk, now."""

    async def save() -> None:
        await d.daemon.checkpointer.save_windows()

    asyncio.run_coroutine_threadsafe(save(), d.server.servers[0].get_loop()).result(timeout=60)


def fingerprint(state: Path) -> dict[str, str]:
    """The database and its write-ahead log, as bytes (the -shm index is rebuilt by readers)."""
    files = [state, state.with_name(state.name + "-wal")]
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files if f.exists()}


def observable(d: Daemon) -> Any:
    models = d.client.get("/v1/models").json()
    silences = d.client.get("/v1/silences").json()
    return models, silences


def _parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


# -- requests that must be refused -------------------------------------------------------------------------------

garbage = st.binary(min_size=1, max_size=2000).map(lambda b: b"\xff" + b)  # never UTF-8, never JSON or Parquet
finite = st.floats(allow_nan=False, allow_infinity=False, width=32)
record = st.fixed_dictionaries(
    {"model": st.just(MODEL), "features": st.dictionaries(st.sampled_from(FEATURES), finite)}
)


def _too_many_features(extra: int) -> dict[str, Any]:
    return {"model": MODEL, "features": {f"f{j}": 1.0 for j in range(MAX_FEATURES + extra)}}


def _with_one_bad(records: list[dict[str, Any]], bad: dict[str, Any]) -> list[dict[str, Any]]:
    return [*records, bad]


@st.composite
def refused_requests(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str]]:
    """(method, path, body, headers) of a request the daemon must refuse with a 4xx."""
    kind = draw(
        st.sampled_from(
            [
                "no_token",
                "wrong_token",
                "garbage_predictions",
                "garbage_reference",
                "bad_encoding",
                "corrupt_gzip",
                "too_many_records",
                "too_many_features",
                "unrepresentable_reference",
                "bad_model_name",
                "garbage_traces",
                "garbage_kserve",
                "garbage_silence",
                "unknown_silence",
                "garbage_labels",
                "wrong_content_type",
                "larger_than_queue",
                "too_many_models",
                "reference_too_many_features",
                "reference_bad_feature_name",
                "reference_too_many_rows",
                "kserve_bad_shape",
                "kserve_too_many_rows",
                "arrow_unreadable",
                "arrow_refused",
            ]
        )
    )
    records = draw(st.lists(record, max_size=20))
    if kind in {"no_token", "wrong_token"}:
        method, path, body, headers = draw(
            st.sampled_from(
                [
                    ("POST", "/v1/predictions", orjson.dumps(records), JSON),
                    ("PUT", f"/v1/models/{MODEL}/reference", _parquet(pl.DataFrame({"amount": [1.0, 2.0]})), PARQUET),
                    ("POST", f"/v1/models/{MODEL}/reference/pin", b"", {}),
                    ("POST", "/v1/silences", orjson.dumps({"matchers": {"model": MODEL}, "duration": "1h"}), JSON),
                    ("POST", "/v1/labels", orjson.dumps([{"model": MODEL, "request_id": "r2", "label": 0}]), JSON),
                ]
            )
        )
        auth = {} if kind == "no_token" else {"authorization": "Bearer " + draw(st.text("abcdef0123", min_size=1))}
        return method, path, body, {**headers, **auth, "x-no-default-auth": "1"}
    if kind == "garbage_predictions":
        return "POST", "/v1/predictions", draw(garbage), draw(st.sampled_from([JSON, NDJSON]))
    if kind == "garbage_reference":
        headers = draw(st.sampled_from([PARQUET, {"content-type": "text/csv"}, NDJSON]))
        return "PUT", f"/v1/models/{MODEL}/reference", draw(garbage), headers
    if kind == "bad_encoding":
        encoding = draw(st.sampled_from(["br", "zstd", "compress", "x-unknown"]))
        return "POST", "/v1/predictions", orjson.dumps(records), {**JSON, "content-encoding": encoding}
    if kind == "corrupt_gzip":
        packed = gzip.compress(orjson.dumps(records))
        cut = draw(st.integers(1, max(1, len(packed) - 9)))
        return "POST", "/v1/predictions", packed[:cut] + b"\x00garbage", {**JSON, "content-encoding": "gzip"}
    if kind in {"too_many_records", "larger_than_queue"}:
        rows = (
            st.integers(MAX_RECORDS + 1, MAX_RECORDS + 300)
            if kind == "too_many_records"
            else st.integers(MAX_QUEUE_ROWS + 1, MAX_RECORDS)
        )
        many = [{"model": MODEL, "features": {"amount": 1.0}}] * draw(rows)
        return "POST", "/v1/predictions", orjson.dumps(many), JSON
    if kind == "too_many_models":  # limits.max_models is 1: every record of another model is rejected
        other = [{**r, "model": draw(st.sampled_from(["other", "fraud2"]))} for r in records] or [
            {"model": "other", "features": {"amount": 1.0}}
        ]
        if draw(st.booleans()):
            return "PUT", "/v1/models/other/reference", b"amount\n1\n2\n", {"content-type": "text/csv"}
        return "POST", "/v1/predictions", orjson.dumps(other), JSON
    if kind == "reference_too_many_features":
        width = MAX_FEATURES + draw(st.integers(-3, 20))  # with the model's own 4 features, past the limit
        frame = pl.DataFrame({f"new{j}": [1.0, 2.0] for j in range(max(width, 5))})
        return "PUT", f"/v1/models/{MODEL}/reference", _parquet(frame), PARQUET
    if kind == "reference_bad_feature_name":
        name = draw(st.sampled_from(["", "x" * 129]))
        return "PUT", f"/v1/models/{MODEL}/reference", f"amount,{name}\n1,2\n".encode(), {"content-type": "text/csv"}
    if kind == "reference_too_many_rows":
        rows = draw(st.integers(REFERENCE_ROWS + 1, REFERENCE_ROWS + 100))
        return "PUT", f"/v1/models/{MODEL}/reference", _parquet(pl.DataFrame({"amount": [1.0] * rows})), PARQUET
    if kind in {"kserve_bad_shape", "kserve_too_many_rows"}:
        shape = [draw(st.integers(1, 6_000_000)), 0] if kind == "kserve_bad_shape" else [MAX_RECORDS + 1, 1]
        tensor = {"name": "x", "shape": shape, "datatype": "FP32", "data": [1.0]}
        event = {
            "specversion": "1.0",
            "id": draw(st.text("abc123", min_size=1, max_size=8)),
            "source": "tests",
            "type": "org.kubeflow.serving.inference.request",
            "data": {"inputs": [tensor]},
        }
        return "POST", f"/v1/kserve/{MODEL}", orjson.dumps(event), {"content-type": "application/cloudevents+json"}
    if kind == "too_many_features":
        bad = _too_many_features(draw(st.integers(1, 50)))
        return "POST", "/v1/predictions", orjson.dumps(_with_one_bad(records, bad)), JSON
    if kind == "unrepresentable_reference":
        value = draw(st.sampled_from([float("inf"), -float("inf"), 1.7e308, -1e200]))
        frame = pl.DataFrame({"amount": [0.5, value, 1.5], "age": [1.0, 2.0, 3.0]})
        return "PUT", f"/v1/models/{MODEL}/reference", _parquet(frame), PARQUET
    if kind == "bad_model_name":
        name = draw(st.sampled_from(["a%20b", "m%0A", "x" * 64, "..%2F", "%C3%A9"]))
        return "PUT", f"/v1/models/{name}/reference", b"amount\n1\n2\n", {"content-type": "text/csv"}
    if kind == "arrow_unreadable":  # garbage, or a good stream cut short
        stream = arrow_stream({"model": [MODEL] * 3, "amount": [1.0, 2.0, 3.0]})
        body = draw(garbage | st.integers(1, len(stream) - 1).map(lambda cut: stream[:cut]))
        return "POST", "/v1/predictions", body, ARROW
    if kind == "arrow_refused":  # readable, but not records the daemon can take
        n = draw(st.sampled_from([MAX_RECORDS + 1, MAX_QUEUE_ROWS + 1]))  # beyond the request limit or the queue
        columns = {
            "too_many_rows": {"model": [MODEL] * n, "amount": [1.0] * n},
            "wrong_type": {"model": [MODEL], "amount": [[1.0]]},
            "compressed": {"model": [MODEL], "amount": [1.0], "zstd": True},
            "no_model": {"amount": [1.0]},
            "too_many_features": {"model": [MODEL], **{f"f{j}": [1.0] for j in range(MAX_FEATURES + 1)}},
        }[draw(st.sampled_from(["too_many_rows", "wrong_type", "compressed", "no_model", "too_many_features"]))]
        options = {"compression": "zstd"} if columns.pop("zstd", False) else {}
        return "POST", "/v1/predictions", arrow_stream(columns, **options), ARROW
    if kind == "garbage_traces":
        headers = draw(st.sampled_from([{"content-type": "application/x-protobuf"}, JSON]))
        return "POST", "/v1/traces", draw(garbage), headers
    if kind == "garbage_kserve":
        return "POST", f"/v1/kserve/{MODEL}", draw(garbage), JSON
    if kind == "garbage_silence":
        body = draw(
            st.sampled_from(
                [
                    b'{"matchers": {"model": "fraud"}, "ends_at": NaN}',
                    b'{"matchers": {"model": "fraud"}, "duration": "400d"}',
                    b'{"matchers": {}, "duration": "1h"}',
                    b"[]",
                ]
            )
            | garbage
        )
        return "POST", "/v1/silences", body, JSON
    if kind == "unknown_silence":
        return "DELETE", f"/v1/silences/{draw(st.text('0123456789abcdef', min_size=1, max_size=40))}", b"", {}
    if kind == "garbage_labels":
        return "POST", "/v1/labels", draw(garbage), JSON
    content_type = draw(st.sampled_from(["text/plain", "application/xml", "image/png"]))
    return "POST", "/v1/predictions", orjson.dumps(records), {"content-type": content_type}


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not os.environ.get("DRIFTWARDEN_FUZZ_EXAMPLES"),  # CI: the same cases; a long run: new ones (a seed)
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(request=refused_requests())
def test_a_refused_request_leaves_the_state_file_byte_identical(
    seeded: tuple[Daemon, Path], request: tuple[str, str, bytes, dict[str, str]]
) -> None:
    d, state = seeded
    method, path, body, headers = request
    before, seen = fingerprint(state), observable(d)
    if headers.pop("x-no-default-auth", None):
        headers.setdefault("authorization", "")
    answer = d.client.request(method, path, content=body, headers=headers)
    assert 400 <= answer.status_code < 500, (method, path, answer.status_code, answer.text[:300])
    if path != "/v1/traces":  # OTLP answers a google.rpc.Status in the request's encoding
        refusal = answer.json()  # a problem, or per-record errors when every record was refused
        assert refusal.get("error") or refusal.get("errors"), answer.text[:300]
        event(f"{answer.status_code} {refusal.get('reason') or refusal['errors'][0]['reason']}")
    checkpoint(d)
    assert fingerprint(state) == before, (method, path, answer.status_code, answer.text[:300])
    assert observable(d) == seen
