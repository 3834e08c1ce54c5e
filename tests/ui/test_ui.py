"""The built-in UI: the renderers as plain functions, then the served pages in Debian's headless Chromium.

The browser test drives `/usr/bin/chromium --headless` (`--dump-dom` for the DOM after parsing,
`--screenshot` for the README's pictures in docs/screenshots/); nothing is downloaded. It is
skipped without chromium, unless CI=true, where `.ci/run` installs it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.collector.nvml_fake import FakeNvml
from driftwarden.core.gpu import FB_TOTAL, FB_USED, GPU_TEMP, GPU_UTIL, POWER_USAGE, GpuSample
from driftwarden.detectors.drift import compare
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.exporters.prometheus import ModelState
from driftwarden.params import DriftThresholds
from driftwarden.rendering.svg import histogram, timeline
from driftwarden.ui.model import model_page
from driftwarden.ui.not_found import not_found_page
from driftwarden.ui.overview import GpuView, SloView, overview_page
from tests.support.otlp import Sender
from tests.support.pages import EVIL, Dom, Element, browse, chromium
from tests.support.records import FEATURES, NDJSON, put_reference, records, reference_frame
from tests.support.server import Daemon, running

# -- renderers -----------------------------------------------------------------------------------


def drifted_report(names: list[str], shift: list[float], rng: np.random.Generator):
    reference = ReferenceProfile.fit(
        names, rng.normal(size=(5000, len(names))), categories={"country": {"DE": 70, "FR": 30, EVIL: 1}}
    )
    current = rng.normal(size=(3000, len(names))) + np.array(shift)
    numeric_only = dataclasses.replace(reference, categories={})  # the page lists the reference's categories
    report = compare("fraud", numeric_only, names, current, thresholds=DriftThresholds())
    return reference, report


def test_model_page_escapes_a_feature_named_script_and_sorts_by_psi() -> None:
    names = ["score", EVIL, "amount"]
    reference, report = drifted_report(names, [0.0, 1.0, 0.4], np.random.default_rng(0))
    now = report.evaluated_at
    history = [
        (now - 60, 0.0, {n: 0.01 for n in names}),
        (now, report.drift_share, {f.name: f.scores["psi"] for f in report.features}),
    ]
    html = model_page("fraud", report=report, reference=reference, window_rows=3000, history=history, now=now)

    assert "<script" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    dom = Dom(html)
    assert dom.scripts == 0
    sections = dom.root.find_all("section", "feature")
    assert [s.attrs["data-feature"] for s in sections] == [EVIL, "amount", "score"]  # attribute unescaped = the name
    assert [s.attrs["data-drifted"] for s in sections] == ["true", "true", "false"]
    assert ["drifted" in s.classes for s in sections] == [True, True, False]
    for section in sections:
        (chart,) = section.find_all("svg", "chart histogram")
        assert len(chart.find_all("rect", "bar reference")) == len(chart.find_all("rect", "bar current")) == 10
        (line,) = section.find_all("svg", "chart timeline")
        assert len(line.find_all("polyline", "line")) == 1
    assert "PSI" in sections[0].all_text() and "KS D" in sections[0].all_text()
    assert EVIL in dom.root.by_id("categorical").all_text()  # category values are escaped too


def mixed_report(rng: np.random.Generator):
    """A numeric feature whose missing rate jumps, a shifted model output, a categorical feature with
    unseen categories (one named like markup) and a quiet one."""
    names = ["amount", "prediction"]
    reference = ReferenceProfile.fit(
        names,
        rng.normal(size=(5000, 2)),
        categories={"country": {"DE": 3500, "FR": 1500}, "channel": {"web": 3000, "app": 2000}},
    )
    current = rng.normal(size=(3000, 2)) + np.array([0.0, 1.0])
    current[:600, 0] = np.nan  # amount: 20% missing now
    report = compare(
        "fraud",
        reference,
        names,
        current,
        current_categories={
            "country": {"DE": 1200, "FR": 1000, EVIL: 500, "BR": 300},
            "channel": {"web": 1810, "app": 1190},
        },
    )
    return reference, report


def test_model_page_charts_categories_and_shows_the_model_output_apart() -> None:
    reference, report = mixed_report(np.random.default_rng(6))
    held = {"country", "prediction"}  # stable verdicts, as DriftDetector's hysteresis would set them
    report = dataclasses.replace(
        report,
        features=tuple(dataclasses.replace(f, stable=f.name in held) for f in report.features),
        stable=True,
    )
    html = model_page("fraud", report=report, reference=reference, window_rows=3000, history=[], now=0.0)
    assert "<script" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    dom = Dom(html)
    by_name = {s.attrs["data-feature"]: s for s in dom.root.find_all("section", "feature")}
    assert set(by_name) == {"amount", "prediction", "country", "channel"}
    assert {n: s.attrs["data-kind"] for n, s in by_name.items()} == {
        "amount": "numeric",
        "prediction": "numeric",
        "country": "categorical",
        "channel": "categorical",
    }

    # categorical: one bar pair per category, the names as labels, the unseen bin named
    for name in ("country", "channel"):
        section = by_name[name]
        assert not section.find_all("svg", "chart histogram")
        (chart,) = section.find_all("svg", "chart categories")
        pairs = chart.find_all("g", "pair")
        drift = next(f for f in report.features if f.name == name)
        assert sorted(p.attrs["data-category"] for p in pairs) == sorted(drift.bin_labels)
        for pair in pairs:
            assert len(pair.find_all("rect", "bar reference")) == len(pair.find_all("rect", "bar current")) == 1
        labels = {t.all_text() for t in chart.find_all("text", "category")}
        assert labels == {*drift.bin_labels} - {"__unseen__"} | {"(unseen)"}
    (unseen,) = by_name["country"].find_all("p", "unseen")
    assert [c.text for c in unseen.find_all("code")] == [EVIL, "BR"]  # most frequent first, escaped in the markup
    assert unseen.attrs["data-unseen-rows"] == "800" and "(500)" in unseen.all_text()
    assert not by_name["channel"].find_all("p", "unseen")

    # statistics by kind; the missing rate for every feature
    def stats(section: Element) -> dict[str, list[str]]:
        (table,) = section.find_all("table", "stats")
        return {r.attrs["data-stat"]: [td.all_text() for td in r.find_all("td")] for r in table.find_all("tr")[1:]}

    assert list(stats(by_name["country"])) == ["psi", "chi2", "chi2-p", "jensenshannon", "missing", "missing-p"]
    assert list(stats(by_name["amount"])) == [
        "psi",
        "ks",
        "ks-p",
        "wasserstein",
        "jensenshannon",
        "missing",
        "missing-p",
    ]
    assert stats(by_name["amount"])["missing"][1] == "0.0% → 20.0%"
    assert "missing rate drifted" in by_name["amount"].find_all("h3")[0].all_text()
    assert "missing rate drifted" not in by_name["country"].find_all("h3")[0].all_text()

    # verdicts: this evaluation's and the stable one, told apart
    def badges(section: Element) -> list[str]:
        return [b.attrs.get("data-verdict") for b in section.find_all("span", "badge") if "data-verdict" in b.attrs]

    assert by_name["country"].attrs["data-drifted"] == "true" and by_name["country"].attrs["data-stable"] == "true"
    assert badges(by_name["country"]) == ["now", "stable"] and badges(by_name["amount"]) == ["now"]
    assert badges(by_name["channel"]) == []
    assert {b.text for b in by_name["country"].find_all("span", "badge")} >= {"drifted", "stable drift"}

    # the model output: labelled, first, in its own section, not in the input drift share
    output = dom.root.by_id("model-output")
    assert [s.attrs["data-feature"] for s in output.find_all("section", "feature")] == ["prediction"]
    assert by_name["prediction"].attrs["data-role"] == "prediction"
    assert "model output" in by_name["prediction"].find_all("h3")[0].all_text()
    assert html.index('id="model-output"') < html.index('id="features"')
    inputs = [s.attrs["data-feature"] for s in dom.root.by_id("features").find_all("section", "feature")]
    assert sorted(inputs) == ["amount", "channel", "country"]
    assert report.drift_share == 2 / 3  # amount (missing rate) and country; the prediction is not counted
    share = dom.root.by_id("inputs")
    assert [b.text for b in share.find_all("b")] == ["2", "67%"] and " of 3 " in share.text
    assert "stable verdict" in dom.root.by_id("stable-verdict").all_text()
    assert not dom.root.find_all("table") or "categorical" not in {
        t.attrs.get("id") for t in dom.root.find_all("table")
    }


def test_overview_shows_the_stable_verdict_beside_the_current_one() -> None:
    _, report = mixed_report(np.random.default_rng(7))
    features = tuple(dataclasses.replace(f, drifted=False, stable=f.drifted) for f in report.features)
    quiet = dataclasses.replace(report, model="churn", features=features, drifted=False, stable=True)  # held
    html = overview_page(
        models=[ModelState("fraud", report, 3000, 5000), ModelState("churn", quiet, 3000, 5000)],
        slos=[],
        gpus=GpuView(False),
        alerts=[],
        now=report.evaluated_at,
    )
    dom = Dom(html)
    rows = {r.attrs["data-model"]: r for r in dom.root.by_id("models").find_all("tr") if "data-model" in r.attrs}
    assert [rows["fraud"].attrs["data-drifted"], rows["fraud"].attrs["data-stable"]] == ["true", "false"]
    assert [rows["churn"].attrs["data-drifted"], rows["churn"].attrs["data-stable"]] == ["false", "true"]
    cells = [td.all_text() for td in rows["churn"].find_all("td")]
    assert cells[1] == "no drift" and cells[2] == "DRIFT"
    assert "model output drifted" in rows["fraud"].all_text()  # named apart from the input features
    assert "prediction" not in rows["fraud"].all_text()


def test_model_page_states_without_a_report_or_reference() -> None:
    reference, _ = drifted_report(["a"], [0.0], np.random.default_rng(1))
    waiting = model_page("m", report=None, reference=reference, window_rows=7, history=[], now=time.time())
    assert "Not evaluated yet" in waiting and 'class="feature' not in waiting
    bare = model_page("m", report=None, reference=None, window_rows=7, history=[], now=time.time())
    assert "No reference yet" in bare and "/v1/models/m/reference" in bare


def test_features_beyond_the_chart_limit_are_listed() -> None:
    names = [f"f{i}" for i in range(5)]
    reference, report = drifted_report(names, [1.0, 0, 0, 0, 0], np.random.default_rng(2))
    html = model_page("m", report=report, reference=reference, window_rows=3000, history=[], now=0.0, max_charted=2)
    dom = Dom(html)
    charted = dom.root.find_all("section", "feature")
    listed = [r for r in dom.root.by_id("more-features").find_all("tr") if r.attrs]
    assert len(charted) == 2 and len(listed) == 3 and charted[0].attrs["data-feature"] == "f0"
    assert {e.attrs["data-feature"] for e in charted + listed} == set(names)
    assert min(float(s.attrs["data-psi"]) for s in charted) >= max(float(r.find_all("td")[1].text) for r in listed)


def test_histogram_labels_edges_and_handles_an_empty_window() -> None:
    svg = histogram([250, 250, 250, 250], [0, 0, 0, 0], [-1.0, 0.0, 12345.0], label="x")
    dom = Dom(svg)
    assert [t.text for t in dom.root.find_all("text", "axis")][-4:-1] == ["-1", "0", "12.3k"]
    assert "no current rows" in svg and 'height="0.0"' in svg  # current bars are flat
    assert "(≤ -1)" in svg and "(-1, 0]" in svg and "(&gt; 12.3k)" in svg


def test_timeline_marks_points_over_the_threshold() -> None:
    svg = timeline([(0.0, 0.1), (30.0, 0.5), (60.0, 0.05)], threshold=0.2, label="psi")
    dom = Dom(svg)
    (line,) = dom.root.find_all("polyline")
    assert len(line.attrs["points"].split()) == 3
    assert len(dom.root.find_all("circle", "point over")) == 1 and len(dom.root.find_all("line", "threshold")) == 1
    assert "no evaluations" in timeline([], threshold=0.2, label="psi")


def test_overview_lists_models_slos_gpus_and_firing_alerts() -> None:
    names = ["amount", "age", "score"]
    _, report = drifted_report(names, [1.0, 1.0, 0.0], np.random.default_rng(3))
    now = report.evaluated_at + 5
    alert = Alert(
        fingerprint="f",
        labels={"alertname": "FeatureDrift", "severity": "warning", "model": "fraud", "subject": EVIL},
        annotations={"summary": f"Feature drift on fraud: {EVIL} PSI 0.41 (threshold 0.2)"},
        value=0.41,
        threshold=0.2,
        evidence={},
        status=AlertStatus.FIRING,
        starts_at=now - 120,
    )
    pending = Alert("g", {"alertname": "ModelDrift", "severity": "warning"}, {}, 1, 1, {}, AlertStatus.PENDING)
    gpu = GpuSample(
        0,
        "GPU-a",
        "00000000:18:00.0",
        "NVIDIA H100 80GB HBM3",
        "nvidia0",
        now,
        {GPU_UTIL: 87.0, FB_USED: 40960.0, FB_TOTAL: 81559.0, POWER_USAGE: 250.0, GPU_TEMP: 61.0},
    )
    slo = SloView("fraud-latency", "latency", 0.99, 0.25, 0.42, {"5m": 14.0, "1h": 0.5}, ["page"], 90, 10)
    html = overview_page(
        models=[ModelState("fraud", report, 3000, 5000), ModelState("churn", None, 12, None)],
        slos=[slo],
        latency=[{"service": "svc", "model": "fraud", "operation": "/p", "count": 5, "error_rate": 0.2, "p50": 0.01}],
        gpus=GpuView(True, [gpu]),
        alerts=[alert, pending],
        now=now,
    )
    assert "<script" not in html
    dom = Dom(html)
    rows = {r.attrs["data-model"]: r for r in dom.root.by_id("models").find_all("tr") if "data-model" in r.attrs}
    assert set(rows) == {"fraud", "churn"} and rows["fraud"].attrs["data-drifted"] == "true"
    assert rows["fraud"].find_all("a")[0].attrs["href"] == "/ui/models/fraud"
    assert "DRIFT" in rows["fraud"].all_text() and "no reference" in rows["churn"].all_text()
    (slo_row,) = [r for r in dom.root.by_id("slos").find_all("tr") if "data-slo" in r.attrs]
    assert "99%" in slo_row.all_text() and "42.0%" in slo_row.all_text() and "page" in slo_row.all_text()
    assert len(slo_row.find_all("td", "num over")) == 1  # the 5m burn rate above 1
    gpus = dom.root.by_id("gpus")
    assert gpus.attrs["data-gpus"] == "1" and "87%" in gpus.all_text() and "40.0 / 79.6 GiB" in gpus.all_text()
    assert "250 W" in gpus.all_text() and "61 °C" in gpus.all_text()
    alerts = dom.root.by_id("alerts")
    assert alerts.attrs["data-alerts"] == "1" and EVIL in alerts.all_text() and "2 min ago" in alerts.all_text()
    assert "1 more pending" in html


def test_overview_when_there_is_nothing_yet() -> None:
    html = overview_page(models=[], slos=[], gpus=GpuView(False, disabled=True), alerts=[], now=0.0)
    assert "No model yet" in html and "No SLO configured" in html
    assert "No GPU (gpu.enabled: false)" in html and "No alert is firing" in html


def test_not_found_page_escapes_the_name() -> None:
    html = not_found_page(EVIL, ["fraud"], now=0.0)
    assert "<script" not in html and 'href="/ui/models/fraud"' in html


# -- served --------------------------------------------------------------------------------------


@pytest.mark.server
def test_routes_answer_html_with_a_strict_policy(daemon: Daemon) -> None:
    put_reference(daemon, reference_frame(np.random.default_rng(4), 500))
    page = daemon.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert 'href="/ui/models/fraud"' in page.text
    assert "Not evaluated yet" in daemon.client.get("/ui/models/fraud").text
    missing = daemon.client.get("/ui/models/nope")
    assert missing.status_code == 404 and "No model named" in missing.text
    assert daemon.client.get("/ui", follow_redirects=False).headers["location"] == "/"


def scored_records(
    rng: np.random.Generator, n: int, shift: tuple[float, ...] = (0, 0, 0), unseen: tuple[str, ...] = ()
) -> bytes:
    """Prediction records with the model's output (a score of `amount`) and, when `unseen` names
    categories, 15% of the rows in countries the reference lacks."""
    values = rng.normal(size=(n, 3)) + np.array(shift)
    countries = rng.choice(["DE", "FR"], n).astype(object)
    if unseen:
        countries[: int(n * 0.15)] = rng.choice(list(unseen), int(n * 0.15))
    return b"\n".join(
        orjson.dumps(
            {
                "model": "fraud",
                "features": dict(zip(FEATURES, row, strict=True)) | {"country": str(country)},
                "prediction": 1 / (1 + math.exp(-row[0])),
            }
        )
        for row, country in zip(values.tolist(), countries, strict=True)
    )


@pytest.mark.server
@pytest.mark.browser
def test_pages_in_headless_chromium(tmp_path: Path) -> None:
    binary = chromium()
    slos = [{"name": "fraud-latency", "service": "fraud-model", "objective": 0.99, "threshold": "250ms"}]
    config = {"gpu": {"enabled": True, "interval": "1h"}, "slos": slos, "evaluate_every": "1h"}
    with running(tmp_path / "s.db", FakeNvml.with_gpus(1), **config) as d:
        rng = np.random.default_rng(5)
        frame = reference_frame(rng)
        put_reference(d, frame.with_columns(prediction=1 / (1 + (-frame["amount"]).exp())))
        assert d.client.post("/v1/predictions", content=scored_records(rng, 2000), headers=NDJSON).status_code == 200
        d.client.post("/v1/predictions", content=records(rng, 50, model="churn"), headers=NDJSON)
        sender = Sender(d)
        for seconds in rng.lognormal(-3, 1.2, 60):
            sender.request(float(seconds))
        sender.close()
        d.evaluate()
        # amount and age move, so does the model output; score stays; new countries arrive
        shifted = scored_records(rng, 5000, shift=(1.0, 0.5, 0.0), unseen=("BR", "MX"))
        assert d.client.post("/v1/predictions", content=shifted, headers=NDJSON).status_code == 200
        d.evaluate()
        d.evaluate()  # alerting.for: 2 evaluations, so the drift alerts fire
        gpu = d.app.state.gpu
        asyncio.run_coroutine_threadsafe(gpu.poll_once(), d.server.servers[0].get_loop()).result(timeout=10)

        model = Dom(browse(binary, tmp_path / "p1", "--dump-dom", f"{d.url}/ui/models/fraud")).root
        sections = model.find_all("section", "feature")
        assert {s.attrs["data-feature"]: s.attrs["data-drifted"] for s in sections} == {
            "amount": "true",
            "age": "true",
            "score": "false",
            "country": "true",  # categorical: the unseen countries
            "prediction": "true",
        }
        (output,) = model.by_id("model-output").find_all("section", "feature")
        assert output.attrs["data-role"] == "prediction" and "model output" in output.all_text()
        order = [s.attrs["data-feature"] for s in model.by_id("features").find_all("section", "feature")]
        assert order[-1] == "score" and set(order) == {"amount", "age", "country", "score"}  # sorted by PSI
        for section in sections:
            chart = "chart categories" if section.attrs["data-kind"] == "categorical" else "chart histogram"
            assert len(section.find_all("svg", chart)) == 1
            assert ("drifted" in section.classes) == (section.attrs["data-drifted"] == "true")
        (country,) = [s for s in sections if s.attrs["data-feature"] == "country"]
        assert len(country.find_all("g", "pair")) == 3  # DE, FR and the unseen ones pooled
        (unseen,) = country.find_all("p", "unseen")
        assert {c.text for c in unseen.find_all("code")} == {"BR", "MX"}
        assert len(model.find_all("svg", "chart timeline share")) == 1

        overview = Dom(browse(binary, tmp_path / "p2", "--dump-dom", f"{d.url}/")).root
        rows = {r.attrs["data-model"]: r for r in overview.by_id("models").find_all("tr") if "data-model" in r.attrs}
        assert set(rows) == {"fraud", "churn"} and rows["fraud"].attrs["data-drifted"] == "true"
        assert [r.attrs["data-slo"] for r in overview.by_id("slos").find_all("tr") if "data-slo" in r.attrs] == [
            "fraud-latency"
        ]
        assert overview.by_id("gpus").attrs["data-gpus"] == "1"
        alerts = {r.attrs["data-alert"] for r in overview.by_id("alerts").find_all("tr") if "data-alert" in r.attrs}
        assert {"FeatureDrift", "ModelDrift"} <= alerts

        # the README's pictures are refreshed on request: DRIFTWARDEN_SCREENSHOTS=docs/screenshots
        shots = Path(os.environ.get("DRIFTWARDEN_SCREENSHOTS", tmp_path / "screenshots"))
        shots.mkdir(parents=True, exist_ok=True)
        for name, url, height in (("ui-overview", "/", 1150), ("ui-model", "/ui/models/fraud", 1600)):
            out = shots / f"{name}.png"
            browse(
                binary, tmp_path / f"shot-{name}", f"--screenshot={out}", f"--window-size=1280,{height}", d.url + url
            )
            assert out.stat().st_size > 10_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_feature_section_is_an_anchor_that_says_why_it_drifted_or_why_it_is_held() -> None:
    from driftwarden.core.ui_paths import feature_anchor
    from driftwarden.detectors.stability import VerdictStability

    names = ["amount", "age", "score"]
    reference, report = drifted_report(names, [1.0, 0.0, 0.0], np.random.default_rng(3))
    stability = VerdictStability(hold=1)
    stability.apply(report)  # amount drifts and turns its stable verdict on
    _, quiet = drifted_report(names, [0.0, 0.0, 0.0], np.random.default_rng(4))
    # amount's effect stays above 80% of its threshold: still held, though no test fires now
    held = stability.apply(
        dataclasses.replace(
            quiet,
            features=tuple(dataclasses.replace(f, effect=0.9) if f.name == "amount" else f for f in quiet.features),
        )
    )

    dom = Dom(model_page("m", report=report, reference=reference, window_rows=3000, history=[], now=0.0)).root
    amount = dom.by_id(feature_anchor("amount"))
    assert amount.attrs["data-feature"] == "amount" and amount.attrs["data-reasons"].split(",")[0] == "wasserstein"
    (why,) = amount.find_all("p", "reasons small")
    tests = [span.attrs["data-test"] for span in why.find_all("span")]
    assert tests[0] == "wasserstein" and set(tests) == {"wasserstein", "ks", "psi"}  # the headline first
    assert "normed Wasserstein 1.02 ≥ 0.1 (KS p(BH)" in why.all_text()
    assert dom.by_id(feature_anchor("score")).find_all("p", "reasons small") == []
    assert "why: critical" not in dom.by_id("verdict").all_text()

    dom = Dom(model_page("m", report=held, reference=reference, window_rows=3000, history=[], now=0.0)).root
    (note,) = dom.by_id(feature_anchor("amount")).find_all("p", "reasons held small")
    assert "no test fires now" in note.all_text() and "Last drifted with:" in note.all_text()
    assert note.find_all("span")[0].attrs["data-test"] == "wasserstein"
