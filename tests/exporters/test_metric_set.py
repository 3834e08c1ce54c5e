"""The per-feature metric set over real HTTP (design.md "Metric set"): 6 series for a numeric feature
that does not drift by default (the scores that can make its verdict, the two verdicts, the current missing
ratio), the optional families while a feature drifts, and `metrics:` choosing.
`amount` is shifted by one standard deviation in the current window; the other features are not."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from driftwarden.core import metric_names as m
from tests.support.records import NDJSON, put_reference, records, reference_frame
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server


def drifted_amount(daemon: Daemon) -> None:
    rng = np.random.default_rng(7)
    put_reference(daemon, reference_frame(rng, 2000))
    body = records(rng, 2000, shift=(1.0, 0, 0))
    assert daemon.client.post("/v1/predictions", content=body, headers=NDJSON).status_code == 200
    daemon.evaluate()


def series_per_feature(text: str) -> Counter[tuple[str, str]]:
    """(feature, family) -> samples, for the per-feature families of model fraud."""
    out: Counter[tuple[str, str]] = Counter()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.labels.get("model") == "fraud" and "feature" in s.labels:
                out[(s.labels["feature"], s.name)] += 1
    return out


def test_default_set_is_at_most_10_series_per_steady_feature_and_more_while_drifting(tmp_path: Path) -> None:
    with running(tmp_path / "state.db") as daemon:
        drifted_amount(daemon)
        text = daemon.client.get("/metrics").text
        counts = series_per_feature(text)
        age = {name: n for (feature, name), n in counts.items() if feature == "age"}
        assert sum(age.values()) <= 10
        assert age == {
            m.FEATURE_DRIFT_SCORE: 3,  # ks, psi, wasserstein: not jensenshannon nor missing (metrics.scores)
            m.FEATURE_DRIFTED: 1,
            m.FEATURE_DRIFTED_STABLE: 1,
            m.FEATURE_MISSING_RATIO: 1,  # the current window's (metrics.missing_ratio: both)
        }
        assert 'driftwarden_feature_drifted{feature="age",model="fraud"} 0\n' in text  # whole numbers: no ".0"
        assert counts[("amount", m.FEATURE_DRIFT_PVALUE)] == 2  # ks and missing, while it drifts
        assert counts[("amount", m.FEATURE_BIN_VALUES)] == 20
        assert counts[("amount", m.FEATURE_DRIFT_REASON)] >= 1
        if shutil.which("promtool") is not None:
            check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
            problems = [x for x in (check.stdout + check.stderr).splitlines() if "no help text" not in x]
            assert check.returncode in (0, 3) and not [x for x in problems if "error" in x.lower()], problems


def test_metrics_section_chooses_scores_pvalues_and_missing_ratio(tmp_path: Path) -> None:
    settings = {"scores": ["psi"], "pvalues": "all", "missing_ratio": "none"}
    with running(tmp_path / "state.db", metrics=settings) as daemon:
        drifted_amount(daemon)
        counts = series_per_feature(daemon.client.get("/metrics").text)
        assert counts[("age", m.FEATURE_DRIFT_SCORE)] == 1  # psi only
        assert counts[("age", m.FEATURE_DRIFT_PVALUE)] == 2  # every feature's
        assert not [key for key in counts if key[1] == m.FEATURE_MISSING_RATIO]
        assert daemon.metric(m.FEATURE_DRIFT_SCORE, model="fraud", feature="amount", method="psi") > 0.2


def test_metrics_section_can_ask_for_every_score_and_both_missing_ratios(tmp_path: Path) -> None:
    settings = {"scores": ["ks", "psi", "wasserstein", "jensenshannon", "missing"], "missing_ratio": True}
    with running(tmp_path / "state.db", metrics=settings) as daemon:
        drifted_amount(daemon)
        counts = series_per_feature(daemon.client.get("/metrics").text)
        assert counts[("age", m.FEATURE_DRIFT_SCORE)] == 5
        assert counts[("age", m.FEATURE_MISSING_RATIO)] == 2  # true: both windows


def test_scrapes_between_evaluations_reuse_the_rendered_features_and_follow_a_new_evaluation(tmp_path: Path) -> None:
    with running(tmp_path / "state.db") as daemon:
        drifted_amount(daemon)
        first, again = (daemon.client.get("/metrics").text for _ in range(2))
        drifted = 'driftwarden_feature_drifted{feature="amount",model="fraud"} 1'
        assert drifted in first and drifted in again
        body = records(np.random.default_rng(8), 5000)  # the shift slides out of the window
        assert daemon.client.post("/v1/predictions", content=body, headers=NDJSON).status_code == 200
        daemon.evaluate()
        assert 'driftwarden_feature_drifted{feature="amount",model="fraud"} 0' in daemon.client.get("/metrics").text


def test_metrics_body_is_gzipped_when_asked_and_plain_otherwise(tmp_path: Path) -> None:
    with running(tmp_path / "state.db") as daemon:
        drifted_amount(daemon)
        plain = daemon.client.get("/metrics", headers={"accept-encoding": "identity"})
        packed = daemon.client.get("/metrics", headers={"accept-encoding": "gzip"})
        assert "content-encoding" not in plain.headers and packed.headers["content-encoding"] == "gzip"
        assert packed.num_bytes_downloaded < len(plain.content) / 3
        assert packed.text.splitlines()[:3] == plain.text.splitlines()[:3]
