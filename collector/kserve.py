"""KServe and Seldon payload-logger CloudEvents → prediction records: one logger POST at a time.

`parse_events` reads the POST's events (`collector.kserve_events`), decodes each body into a
request's feature rows or a response's predictions (`collector.kserve_payloads`), pairs the
halves by id (`collector.kserve_join.EventJoiner`), and validates the records of the completed
pairs with `collector.predictions.parse_records`, like any record posted to `/v1/predictions`.

Pointing a KServe logger at a driftwarden sidecar in the predictor pod (loopback is shared; a
driftwarden elsewhere listens on 0.0.0.0 and the url names its Service):

    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata:
      name: fraud                                # becomes the model name in driftwarden
    spec:
      predictor:
        logger:
          mode: all                              # both halves: the request's features, the response's predictions
          url: http://127.0.0.1:4318/v1/kserve   # or .../v1/kserve/fraud to name the model in the path
        model:
          modelFormat:
            name: sklearn
          storageUri: gs://example-bucket/models/fraud
        containers:
          - name: driftwarden
            image: driftwarden:latest            # an image with this package installed
            args: ["driftwarden", "run", "--config", "/etc/driftwarden/config.yaml"]

KServe logs the response only when the model answered 200, and does not retry a delivery: a
request without its response expires after the joiner's TTL and is counted, not guessed at.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from driftwarden.collector.kserve_events import read_events
from driftwarden.collector.kserve_join import EventJoiner
from driftwarden.collector.kserve_payloads import decode_event, kind_of
from driftwarden.collector.predictions import parse_records
from driftwarden.core.records import ParseResult

__all__ = ["KServeResult", "parse_events"]


def _dump_records(records: list[dict[str, Any]]) -> bytes:
    try:
        return orjson.dumps(records)
    except orjson.JSONEncodeError:  # a value nested deeper than orjson writes (254 levels)
        return orjson.dumps([_flat_values(r) for r in records])


def _flat_values(record: dict[str, Any]) -> dict[str, Any]:
    """The record with nested values as `[]`: rejected for being nested all the same, with the same reason."""

    def flat(value: Any) -> Any:
        return [] if isinstance(value, (list, dict)) else value

    features = record["features"]
    if isinstance(features, dict):
        features = {name: flat(value) for name, value in features.items()}
    return {**record, "features": features, "prediction": flat(record["prediction"])}


@dataclass
class KServeResult(ParseResult):
    pending: int = 0  # halves waiting in the joiner after this event

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "pending": self.pending}


def parse_events(
    headers: Mapping[str, str],
    body: bytes,
    joiner: EventJoiner,
    *,
    model: str | None = None,
    feature_names: Mapping[str, Sequence[str]] | None = None,
    embedding_tensors: Mapping[str, Mapping[str, str]] | None = None,
    max_records: int = 100_000,
    max_features: int = 1000,
) -> KServeResult:
    """One logger POST → the records of the pairs it completed, validated as prediction records.

    Every event is read and decoded before any reaches the joiner: a request that raises InputError
    changes nothing. `max_records` bounds the request rows and the response rows of the whole POST
    (a batch of events shares it), each event checked before its rows are built. `errors[].index`
    is a record's position among those this POST completed: the row of the inference batch when it
    holds one event.
    """
    left = {"request": max_records, "response": max_records}
    halves = []
    for event in read_events(headers, body):
        kind = kind_of(event)
        half = decode_event(
            event,
            model=model,
            feature_names=feature_names,
            embedding_tensors=embedding_tensors,
            max_records=left[kind] if kind else max_records,
            max_features=max_features,
        )
        if half is not None:
            left[half.kind] -= len(half.rows)
            halves.append(half)
    records: list[dict[str, Any]] = []
    dropped: Counter[str] = Counter()
    for half in halves:
        joined = joiner.add(half)
        records.extend(joined.records)
        dropped.update(joined.dropped_rows)
    parsed = (
        parse_records(_dump_records(records), "application/json", max_records=len(records))
        if records
        else ParseResult()
    )
    return KServeResult(
        batches=parsed.batches,
        accepted=parsed.accepted,
        errors=parsed.errors,
        rejected_by_reason=parsed.rejected_by_reason,
        pending=joiner.pending,
        dropped_rows=dropped,
    )
