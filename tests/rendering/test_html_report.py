"""`check --html`: the self-contained report, as markup and as Debian's headless Chromium renders it.

Reports come from `detectors.drift.compare` on seeded data (numeric features) plus hand-built
categorical `FeatureDrift`s. The browser test parses the file as Chromium does (`--dump-dom`) and
screenshots it; DRIFTWARDEN_SCREENSHOTS=docs/screenshots refreshes docs/screenshots/check-report.png.
"""

from __future__ import annotations

import dataclasses
import doctest
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from driftwarden.detectors.drift import DriftReport, FeatureDrift, compare
from driftwarden.detectors.reasons import Reason, reasons_text
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.params import DriftThresholds
from driftwarden.rendering import html_report
from driftwarden.rendering.drift_view import STATISTIC_NAMES, TEST_NAMES
from driftwarden.rendering.html_report import render_html, write_html
from driftwarden.rendering.svg import category_bars
from tests.support.pages import EVIL, Dom, Element, browse, chromium

NUMERIC = ["amount", "age", "tenure_days", "score", "n_transactions", "hour_of_day", "balance", "credit_limit"]
SHIFT = [1.2, 0.35, 0.15, 0.0, 0.0, 0.05, 0.0, 0.02]  # in standard deviations
SCALE = [120.0, 12.0, 400.0, 1.0, 6.0, 5.0, 2500.0, 4000.0]
CENTRE = [480.0, 41.0, 900.0, 0.0, 20.0, 13.0, 8000.0, 15000.0]


def numeric_report(names: list[str], shift: list[float], *, seed: int = 0, current_rows: int = 3000) -> DriftReport:
    rng = np.random.default_rng(seed)
    k = len(names)
    scale, centre = np.array((SCALE * 2)[:k]), np.array((CENTRE * 2)[:k])
    reference = ReferenceProfile.fit(names, rng.normal(size=(5000, k)) * scale + centre)
    current = (rng.normal(size=(current_rows, k)) + np.array(shift)) * scale + centre
    return compare("fraud", reference, names, current, thresholds=DriftThresholds(), critical_features=["amount"])


def categorical(
    name: str, reference: dict[str, int], current: dict[str, int], *, psi: float, p: float = 3e-90, **extra
) -> FeatureDrift:
    labels = tuple(reference)
    return FeatureDrift(
        name=name,
        drifted=psi >= 0.2 and p < 0.05,
        missing_rate={"reference": 0.0, "current": 0.01},
        scores={"chi2": 480.5 if p < 0.05 else 2.3, "psi": psi, "jensenshannon": 0.21 if p < 0.05 else 0.02},
        pvalues={"chi2": p},
        pvalues_adjusted={"chi2": min(1.0, p * 4)},
        rows={"reference": sum(reference.values()), "current": sum(current.values())},
        bins={"reference": list(reference.values()), "current": [current.get(c, 0) for c in labels]},
        kind="categorical",
        bin_labels=labels,
        **extra,
    )


COUNTRY = categorical(
    "country",
    {"DE": 2400, "FR": 1300, "IT": 700, "ES": 400, "NL": 200, "__unseen__": 0},
    {"DE": 900, "FR": 1100, "IT": 500, "ES": 300, "NL": 80, "__unseen__": 120},
    psi=0.52,
    unseen=(("BR", 90), ("MX", 30)),
)
CHANNEL = categorical(
    "channel", {"web": 3000, "app": 1800, "pos": 200}, {"web": 1750, "app": 1100, "pos": 150}, psi=0.004, p=0.31
)


def with_features(report: DriftReport, *extra: FeatureDrift) -> DriftReport:
    return dataclasses.replace(report, features=(*report.features, *extra))


def sections(root: Element) -> list[Element]:
    return root.find_all("section", "feature")


def charts(section: Element) -> list[Element]:
    return section.find_all("svg", "chart")


def cells(table: Element) -> dict[str, list[str]]:
    """A table's body and footer rows: first cell's text -> the other cells' texts."""
    rows = [[td.all_text().strip() for td in tr.find_all("td")] for tr in table.find_all("tr")]
    return {row[0]: row[1:] for row in rows if row}


# -- markup --------------------------------------------------------------------------------------


def test_module_examples() -> None:
    """exporters/ is not in pytest's doctest paths: run the module's examples here."""
    assert doctest.testmod(html_report).failed == 0


def test_user_strings_are_escaped_everywhere() -> None:
    evil_category = categorical(
        "plan", {EVIL: 10, "basic": 20}, {EVIL: 25, "basic": 5}, psi=0.9, unseen=((EVIL, 3), ('x" onclick="y', 1))
    )
    report = with_features(numeric_report([EVIL, "amount"], [1.0, 0.0]), evil_category)
    html = render_html(report, title=f"weekly {EVIL}")

    assert "<script" not in html and 'onclick="' not in html
    dom = Dom(html)
    assert dom.scripts == 0
    names = [s.attrs["data-feature"] for s in sections(dom.root)]
    assert sorted(names) == sorted([EVIL, "amount", "plan"])  # the parser unescapes: the names come back whole
    assert dom.root.find_all("title")[0].text == f"weekly {EVIL}"
    (plan,) = [s for s in sections(dom.root) if s.attrs["data-feature"] == "plan"]
    (chart,) = charts(plan)
    assert any(EVIL[:19] in t.all_text() for t in chart.find_all("text", "category"))  # cut to the margin
    assert any(EVIL in t.all_text() for t in chart.find_all("title"))  # whole in the tooltip
    assert EVIL in plan.find_all("p", "unseen")[0].all_text()


def test_features_are_sorted_by_psi_and_each_has_one_chart() -> None:
    report = with_features(numeric_report(NUMERIC, SHIFT), COUNTRY, CHANNEL)
    dom = Dom(render_html(report))
    found = sections(dom.root)
    assert len(found) == len(NUMERIC) + 2
    psi = [float(s.attrs["data-psi"]) for s in found]
    assert psi == sorted(psi, reverse=True)
    expected = sorted(report.features, key=lambda f: -f.scores["psi"])
    assert [s.attrs["data-feature"] for s in found] == [f.name for f in expected]
    assert found[0].attrs["data-feature"] == "amount" and found[1].attrs["data-feature"] == "country"
    for section in found:
        (chart,) = charts(section)
        if section.attrs["data-kind"] == "numeric":
            assert "histogram" in chart.classes
            assert len(chart.find_all("rect", "bar reference")) == len(chart.find_all("rect", "bar current")) == 10
            assert len(chart.find_all("text", "axis")) > 5  # the report's bin edges under the bins
        else:
            assert "categories" in chart.classes
    # the overview table lists the same order and links to each section
    rows = [r for r in dom.root.by_id("features").find_all("tr") if "data-feature" in r.attrs]
    assert [r.attrs["data-feature"] for r in rows] == [s.attrs["data-feature"] for s in found]
    assert [r.find_all("a")[0].attrs["href"] for r in rows] == [f"#{s.attrs['id']}" for s in found]


def test_category_bars_show_every_category_and_the_unseen_ones() -> None:
    dom = Dom(render_html(with_features(numeric_report(["amount"], [0.0]), COUNTRY)))
    (country,) = [s for s in sections(dom.root) if s.attrs["data-feature"] == "country"]
    assert country.attrs["data-kind"] == "categorical" and country.attrs["data-drifted"] == "true"
    (chart,) = charts(country)
    labels = [t.all_text() for t in chart.find_all("text", "category")]
    assert labels == ["DE", "FR", "IT", "ES", "NL", "(unseen)"]  # largest share first, the pooled bin named
    assert len(chart.find_all("rect", "bar reference")) == len(chart.find_all("rect", "bar current")) == 6
    (unseen,) = country.find_all("p", "unseen")
    assert "not in the reference" in unseen.text and unseen.find_all("b")[0].text == "2"
    assert [c.text for c in unseen.find_all("code")] == ["BR", "MX"] and "(90)" in unseen.all_text()
    text = country.all_text()
    assert cells(country.find_all("table", "tests")[0])["χ²"] == ["1.2e-89", "3e-90"]  # BH-adjusted, raw
    assert cells(country.find_all("table", "effects")[0])["PSI"] == ["0.520", "≥ 0.2"]
    assert "verdict now" not in text  # a one-shot check has no hysteresis verdicts


def test_stable_verdicts_and_the_prediction_are_shown_apart() -> None:
    held = dataclasses.replace(COUNTRY, drifted=False, stable=True)  # quiet now, still held by hysteresis
    output = dataclasses.replace(CHANNEL, name="prediction", role="prediction", drifted=True)
    report = with_features(numeric_report(["amount", "age"], [0.0, 0.0]), held, output)
    dom = Dom(render_html(report))
    header = dom.root.by_id("summary").all_text()
    assert "0 of 3 features drifted" in header  # the model output is not an input feature
    assert "prediction" in header and "not in the drift share" in header and "stable verdict" in header
    by_name = {s.attrs["data-feature"]: s for s in sections(dom.root)}
    assert (
        by_name["prediction"].attrs["data-role"] == "prediction" and "model output" in by_name["prediction"].all_text()
    )
    verdicts = {name: [b.text for b in s.find_all("span", "verdicts")[0].find_all("b")] for name, s in by_name.items()}
    assert verdicts["country"] == ["no drift", "drifted"]  # this evaluation's verdict, then the held one
    assert verdicts["amount"] == ["no drift", "no drift"] and verdicts["prediction"] == ["drifted", "no drift"]


def test_category_bars_pool_the_smallest_categories_beyond_the_limit() -> None:
    counts = [100 - k for k in range(40)]
    svg = category_bars(counts, counts[::-1], [f"c{k}" for k in range(40)], label="many", limit=10)
    dom = Dom(svg)
    labels = [t.all_text() for t in dom.root.find_all("text", "category")]
    assert len(labels) == 10 and labels[-1] == "31 more categories"
    assert len(dom.root.find_all("rect", "bar current")) == 10


def test_statistics_header_and_verdicts() -> None:
    report = with_features(numeric_report(NUMERIC, SHIFT), COUNTRY)
    html = render_html(report)
    dom = Dom(html)
    header = dom.root.by_id("summary")
    assert header.attrs["data-drifted"] == ("true" if report.drifted else "false") == "true"
    text = header.all_text()
    for fact in (
        "Drift report: fraud",
        "DRIFT",
        f"{report.drift_share:.0%}",
        "model drifts at ≥ 50%",
        "PSI ≥ 0.2 or KS D ≥ 0.1 or Wasserstein ≥ 0.1, and BH-adjusted p < 0.05",
        "reference 5,000 · current 3,000",
        "critical feature drifted: amount",
        html_report._utc(report.evaluated_at),
    ):
        assert fact in text, fact

    (amount,) = [s for s in sections(dom.root) if s.attrs["data-feature"] == "amount"]
    f = next(f for f in report.features if f.name == "amount")
    effects = cells(amount.find_all("table", "effects")[0])
    assert {"PSI", "KS D", "Wasserstein (normed)", "Jensen–Shannon"} <= set(effects)
    for method, value in f.scores.items():  # every score, each next to its gate
        shown = html_report._rate(value) if method == "missing" else html_report._fmt(value)
        assert effects[STATISTIC_NAMES.get(method, method)][0] == shown, method
    assert effects["PSI"][1] == "≥ 0.2" and effects["KS D"][1] == "≥ 0.1" and effects["Jensen–Shannon"][1] == ""
    tests = cells(amount.find_all("table", "tests")[0])
    assert tests["KS"] == [f"{f.pvalues_adjusted['ks']:.2g}", f"{f.pvalues['ks']:.2g}"]
    assert set(tests) == {TEST_NAMES.get(m, m) for m in f.pvalues} | {"drifts at p (BH) < 0.05, with an effect"}
    (facts,) = amount.find_all("div", "kv")
    assert [b.text for b in facts.find_all("b")] == ["0.0%", "0.0%"] and "values 5,000 → 3,000" in facts.all_text()
    assert amount.attrs["data-drifted"] == "true" and "drifted" in amount.classes
    assert len(amount.find_all("td", "num over")) >= 3  # PSI, KS D, adjusted p past their gates
    (score,) = [s for s in sections(dom.root) if s.attrs["data-feature"] == "score"]
    assert score.attrs["data-drifted"] == "false" and not score.find_all("td", "num over")
    assert not score.find_all("span", "verdicts")  # compare() alone makes no hysteresis verdicts


def test_a_report_without_current_rows() -> None:
    html = render_html(numeric_report(["a", "b"], [0.0, 0.0], current_rows=0))
    dom = Dom(html)
    assert "no current rows" in dom.root.by_id("summary").all_text()
    assert dom.root.by_id("summary").attrs["data-drifted"] == "false"
    for section in sections(dom.root):
        assert len(charts(section)) == 1 and section.attrs["data-psi"] == ""


def test_self_contained_nothing_fetched_and_no_script() -> None:
    html = render_html(with_features(numeric_report(NUMERIC, SHIFT), COUNTRY, CHANNEL))
    dom = Dom(html)
    assert dom.scripts == 0 and "<script" not in html.lower() and "javascript:" not in html.lower()
    elements = dom.root.descendants()
    for element in elements:
        assert not any(k.startswith("on") for k in element.attrs), element.attrs  # no event handlers
        for attribute in ("src", "href", "srcset", "action", "poster", "data"):
            value = element.attrs.get(attribute)
            if value is not None:
                assert not re.match(r"\s*(https?:)?//", value, re.I), (element.tag, value)
    assert not [e for e in elements if e.tag in {"link", "img", "iframe", "object", "embed", "image", "use"}]
    assert "@import" not in html and "url(" not in html
    ids = {e.attrs["id"] for e in elements if "id" in e.attrs}
    assert {a.attrs["href"][1:] for a in dom.root.find_all("a")} <= ids  # every link is to a section here
    (csp,) = [m for m in dom.root.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in csp.attrs["content"]


def test_write_html_replaces_the_file(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    out.write_text("old")
    report = numeric_report(["amount"], [1.0])
    assert write_html(report, out, title="nightly") == out
    assert out.read_text(encoding="utf-8") == render_html(report, title="nightly")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left behind


def test_write_html_gives_the_file_the_umask_s_permissions(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        out = write_html(numeric_report(["amount"], [1.0]), tmp_path / "report.html")
    finally:
        os.umask(previous)
    assert out.stat().st_mode & 0o777 == 0o640  # as open(path, "w") would, not a temporary file's 0600


def test_each_drifted_feature_says_why() -> None:
    missing = categorical("plan", {"a": 50, "b": 50}, {"a": 50, "b": 50}, psi=0.0, p=0.9)
    missing = dataclasses.replace(
        missing,
        drifted=True,
        missing_rate={"reference": 0.03, "current": 0.093},
        scores={**missing.scores, "missing": 0.063},
        pvalues={**missing.pvalues, "missing": 1e-9},
        pvalues_adjusted={**missing.pvalues_adjusted, "missing": 2e-9},
        reasons=(Reason("missing", 0.063, 0.05, 1e-9, 2e-9, pvalue_test="missing", from_=0.03, to=0.093),),
    )
    report = with_features(numeric_report(["amount", "age"], [1.2, 0.0]), missing)
    dom = Dom(render_html(report, sources={"reference": "ref.parquet", "current": "today.csv"}))
    reasons = {li.find_all("b")[0].text: li.all_text() for li in dom.root.find_all("ul", "reasons")[0].find_all("li")}
    assert set(reasons) == {"amount", "plan"}  # the drifted ones, and only them
    amount = next(f for f in report.features if f.name == "amount")
    assert reasons_text(amount.reasons, limit=4) in reasons["amount"]  # the report's own, all of them
    assert "PSI" in reasons["amount"] and "(KS p(BH) " in reasons["amount"]
    assert "missing rate 3.0% → 9.3% (change 6.3 pts ≥ 5 pts; p(BH) 2e-09)" in reasons["plan"]
    (plan,) = [s for s in sections(dom.root) if s.attrs["data-feature"] == "plan"]
    assert "missing rate 3.0% → 9.3%" in plan.find_all("p", "reasons")[0].all_text()
    rows = {r.attrs["data-feature"]: r for r in dom.root.by_id("features").find_all("tr") if "data-feature" in r.attrs}
    assert rows["age"].find_all("td", "why")[0].all_text() == ""
    header = dom.root.by_id("summary").all_text()
    assert "ref.parquet" in header and "today.csv" in header


def test_a_fragment_has_ids_of_its_own_and_a_scoped_stylesheet() -> None:
    report = with_features(numeric_report(NUMERIC, SHIFT), COUNTRY)
    fragments = [html_report.render_fragment(report, title=t) for t in ("monday", "tuesday")]
    ids = [{e.attrs["id"] for e in Dom(f).root.descendants() if "id" in e.attrs} for f in fragments]
    assert len(ids[0]) == len(report.features) + 2 and not ids[0] & ids[1]  # two reports in one page
    dom = Dom(fragments[0])
    hrefs = {a.attrs["href"][1:] for a in dom.root.find_all("a") if a.attrs.get("href", "").startswith("#")}
    assert hrefs <= ids[0]  # every anchor lands in its own report
    (style,) = dom.root.find_all("style")
    rules = re.findall(r"(?:^|})([^{}@]+)\{", style.text)
    assert rules and all(s.strip().startswith(".driftwarden-report") for r in rules for s in r.split(","))


# -- in a browser --------------------------------------------------------------------------------


def png_pixels(data: bytes) -> np.ndarray:
    """RGB pixels (height, width, 3) of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, [], None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(b"".join(idat))
    out = np.empty((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], np.frombuffer(raw, np.uint8, stride, start + 1)
        if kind == 0:
            row = line.copy()
        elif kind == 1:  # Sub: a running sum per channel, mod 256
            row = line.reshape(width, bpp).cumsum(axis=0, dtype=np.uint8).reshape(stride)
        elif kind == 2:  # Up
            row = line + prev
        else:  # Average, Paeth: left to right
            cur, up, res = line.tolist(), prev.tolist(), [0] * stride
            for i in range(stride):
                a = res[i - bpp] if i >= bpp else 0
                b = up[i]
                if kind == 3:
                    res[i] = (cur[i] + ((a + b) >> 1)) & 255
                    continue
                c = up[i - bpp] if i >= bpp else 0
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                res[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            row = np.array(res, dtype=np.uint8)
        out[y] = prev = row
    return out.reshape(height, width, bpp)[:, :, :3]


def css_colour(name: str) -> tuple[int, int, int]:
    (value,) = re.findall(rf"--{name}:#([0-9a-f]{{6}})", html_report.CSS)
    return tuple(int(value[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def test_png_reader_undoes_every_filter() -> None:
    """Encode known pixels with each of the five PNG row filters; the reader must give them back."""
    pixels = np.random.default_rng(9).integers(0, 256, size=(10, 4 * 3))
    body, prev = b"", [0] * 12
    for y, row in enumerate(pixels.tolist()):
        kind = y % 5
        line = []
        for i, x in enumerate(row):
            a, b, c = (row[i - 3] if i >= 3 else 0), prev[i], (prev[i - 3] if i >= 3 else 0)
            line.append((x - (0, a, b, (a + b) // 2, paeth(a, b, c))[kind]) % 256)
        body, prev = body + bytes([kind, *line]), row
    png = b"\x89PNG\r\n\x1a\n"
    for kind, chunk in ((b"IHDR", struct.pack(">IIBBBBB", 4, 10, 8, 2, 0, 0, 0)), (b"IDAT", zlib.compress(body))):
        png += struct.pack(">I", len(chunk)) + kind + chunk + struct.pack(">I", zlib.crc32(kind + chunk))
    assert (png_pixels(png).reshape(10, 12) == pixels).all()


@pytest.mark.browser
def test_report_in_headless_chromium(tmp_path: Path) -> None:
    binary = chromium()
    report = with_features(numeric_report(NUMERIC, SHIFT), COUNTRY, CHANNEL)
    page = write_html(report, tmp_path / "report.html")

    dom = Dom(browse(binary, tmp_path / "p1", "--dump-dom", page.as_uri())).root
    found = sections(dom)
    assert len(found) == len(report.features) == 10
    assert [s.attrs["data-feature"] for s in found][:2] == ["amount", "country"]
    for section in found:  # one chart per feature, drawn as SVG in the parsed page
        (chart,) = charts(section)
        kind = "histogram" if section.attrs["data-kind"] == "numeric" else "categories"
        assert kind in chart.classes and chart.find_all("rect", "bar current")
    assert dom.find_all("script") == []

    evil_report = with_features(numeric_report([EVIL], [1.0]), categorical(EVIL, {EVIL: 5}, {EVIL: 9}, psi=0))
    evil = write_html(evil_report, tmp_path / "evil.html")
    parsed = Dom(browse(binary, tmp_path / "p2", "--dump-dom", evil.as_uri())).root
    assert parsed.find_all("script") == [] and [s.attrs["data-feature"] for s in sections(parsed)] == [EVIL, EVIL]

    shots = Path(os.environ.get("DRIFTWARDEN_SCREENSHOTS", tmp_path / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    out = shots / "check-report.png"
    browse(binary, tmp_path / "p3", f"--screenshot={out}", "--window-size=1200,3000", page.as_uri())
    data = out.read_bytes()
    assert len(data) > 50_000
    pixels = png_pixels(data)
    assert pixels.shape == (3000, 1200, 3)
    flat = pixels.reshape(-1, 3)
    colours = len(np.unique(flat[:, 0].astype(np.int32) << 16 | flat[:, 1].astype(np.int32) << 8 | flat[:, 2]))
    assert colours > 50  # text, badges, bars: not one colour
    for name in ("ref", "cur"):  # both series drawn with some area, in the stylesheet's colours
        assert (flat == css_colour(name)).all(axis=1).sum() > 20_000, name
