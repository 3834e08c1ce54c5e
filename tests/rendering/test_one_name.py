"""One name per thing (docs/design.md): every output a user reads or a machine parses names the missing
rate and the pooled "(other)" category one way. A missing-rate drift of a feature whose reference pooled
categories beyond the cap is rendered everywhere, over real HTTP and by the real CLI, and each output is
searched for the former spellings.

Humans read "missing rate" and "(other)"; JSON and /metrics carry the test key `missing`, the field
`missing_rate`, the metric `driftwarden_feature_missing_ratio` and the stored bin key `__other__`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import pytest

from driftwarden.sink import WebhookSink
from tests.support.pages import Dom
from tests.support.processes import driftwarden
from tests.support.records import NDJSON, put_reference
from tests.support.server import running

pytestmark = pytest.mark.server

REFERENCE_ROWS, CURRENT_ROWS = 5000, 2000
CITIES = 1500  # more than a reference keeps (1000): the rest are pooled in `__other__`

# a rate named otherwise, or shown without its name; `driftwarden_feature_missing_ratio` is the metric's name
FORMER = re.compile(
    r"(?<!driftwarden_feature_)missing[_ ]ratio|missing[ _](ref|cur)\b|missing \((current|reference)\)"
    r"|missing[_ ]share|null[_ ]rate|\bmissing:? \d",
    re.IGNORECASE,
)
STORED_BINS = re.compile(r"__(other|unseen)__")  # bin keys, never shown to a person


def frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    """age: 3 % missing, then 20 %; city: 1500 categories, so the reference pools some as (other)."""
    rng = np.random.default_rng(7)

    def ages(rows: int, missing: int) -> list[float | None]:
        values: list[float | None] = rng.normal(size=rows).tolist()
        for i in rng.choice(rows, size=missing, replace=False):
            values[i] = None
        return values

    def cities(rows: int) -> list[str]:
        return [f"city{k}" for k in rng.integers(0, CITIES, rows)]

    schema = {"age": pl.Float64, "city": pl.Utf8}
    reference = pl.DataFrame({"age": ages(REFERENCE_ROWS, 150), "city": cities(REFERENCE_ROWS)}, schema=schema)
    current = pl.DataFrame({"age": ages(CURRENT_ROWS, 400), "city": cities(CURRENT_ROWS)}, schema=schema)
    return reference, current


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("one-name")
    reference, current = frames()
    paths = {"ref": folder / "ref.parquet", "cur": folder / "cur.csv", "html": folder / "report.html"}
    reference.write_parquet(paths["ref"])
    current.write_csv(paths["cur"])
    return paths


@pytest.fixture(scope="module")
def daemon_outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """What the daemon serves once age's missing rate drifted: the report, the alerts, a webhook's
    payload, the model's UI page and /metrics."""
    reference, current = frames()
    sink = WebhookSink().start()
    config = {
        "alerting": {"for": 1, "group_wait": "0s", "group_interval": "0s"},
        "receivers": [{"name": "hook", "type": "webhook", "url": sink.url + "/hook"}],
        "routes": [{"match": {"alertname": "FeatureDrift"}, "receivers": ["hook"]}],
        "models": {"churn": {"window": CURRENT_ROWS}},
    }
    try:
        with running(tmp_path_factory.mktemp("one-name-daemon") / "s.db", **config) as d:
            put_reference(d, reference, model="churn")
            body = b"\n".join(orjson.dumps({"model": "churn", "features": row}) for row in current.to_dicts())
            assert d.client.post("/v1/predictions", content=body, headers=NDJSON).status_code == 200
            d.evaluate()
            (delivery, *_) = sink.wait_for(1)
            yield {
                "drift report": d.client.get("/v1/models/churn/drift").text,
                "alerts": d.client.get("/v1/alerts").text,
                "webhook": delivery.body.decode(),
                "ui": d.client.get("/ui/models/churn").text,
                "metrics": d.client.get("/metrics").text,
            }
    finally:
        sink.stop()


def shown(html: str) -> str:
    """The text a browser shows (tooltips included), without attributes such as data-category."""
    return Dom(html).root.all_text()


def former_spellings(text: str) -> list[str]:
    return [m.group() for m in FORMER.finditer(text)]


def test_the_daemon_names_the_missing_rate_and_the_pooled_category_one_way(daemon_outputs: dict[str, str]) -> None:
    for name, text in daemon_outputs.items():
        assert former_spellings(text) == [], name
        if name != "ui":  # machines get the stored key, never the label shown to people
            assert "(other)" not in text, name

    report = orjson.loads(daemon_outputs["drift report"])
    age = next(f for f in report["features"] if f["name"] == "age")
    assert [r["test"] for r in age["reasons"]] == ["missing"] and set(age["missing_rate"]) == {"reference", "current"}

    alerts = orjson.loads(daemon_outputs["alerts"])["alerts"]
    summaries = [a["annotations"]["summary"] for a in alerts] + [
        a["annotations"]["summary"] for a in orjson.loads(daemon_outputs["webhook"])["alerts"]
    ]
    assert any("age missing rate 3.0% → 20.0%" in s for s in summaries), summaries
    assert not any(STORED_BINS.search(s) for s in summaries), summaries

    ui = shown(daemon_outputs["ui"])
    assert "missing rate" in ui and "(other)" in ui  # the pooled bin is charted, under its shown name
    assert STORED_BINS.findall(ui) == []

    help_line = re.search(r"^# HELP driftwarden_feature_missing_ratio (.*)$", daemon_outputs["metrics"], re.M)
    assert help_line is not None and "missing rate" in help_line.group(1).lower()


def test_check_names_the_missing_rate_and_the_pooled_category_one_way(files: dict[str, Path]) -> None:
    args = ("check", "--reference", str(files["ref"]), "--current", str(files["cur"]))
    as_json = driftwarden(*args, "--json")
    assert as_json.returncode == 1, as_json.stderr
    assert former_spellings(as_json.stdout) == [] and "(other)" not in as_json.stdout

    table = driftwarden(*args, "--html", str(files["html"]))
    assert table.returncode == 1, table.stderr
    assert former_spellings(table.stdout + table.stderr) == []
    assert STORED_BINS.findall(table.stdout + table.stderr) == []
    header = next(line for line in table.stdout.splitlines() if line.startswith("┃ feature "))
    age = next(line for line in table.stdout.splitlines() if line.startswith("│ age "))
    assert header.rstrip("┃ ").endswith("missing rate") and age.endswith("│ 3.0% → 20.0% │"), (header, age)

    html = shown(files["html"].read_text())
    assert former_spellings(html) == [] and STORED_BINS.findall(html) == []
    assert "missing rate" in html.lower() and "(other)" in html
