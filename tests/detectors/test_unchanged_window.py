"""A window with no new rows since its last evaluation is judged on its last comparison: the same
report as computing it again, and `alerting.for` still counts the evaluation."""

from __future__ import annotations

import dataclasses

import numpy as np

from driftwarden.detectors.detector import DriftDetector
from driftwarden.detectors.reference import ReferenceProfile

FEATURES = ["x", "y", "z"]


def _detector(hold: int) -> DriftDetector:
    rng = np.random.default_rng(22)
    reference = ReferenceProfile.fit(FEATURES, rng.normal(size=(2000, 3)))
    detector = DriftDetector("m", reference, window=1000, hold=hold)
    detector.update(FEATURES, rng.normal(size=(1000, 3)) + np.array([1.0, 0.0, 0.0]))
    return detector


def test_reused_comparison_equals_a_fresh_one() -> None:
    reused, fresh = _detector(hold=2), _detector(hold=2)
    for evaluation in range(3):
        reused.evaluate(now=1000.0 + evaluation)
        fresh._compared = None  # computed again every time
        fresh.evaluate(now=1000.0 + evaluation)
        a, b = reused.report, fresh.report
        assert a is not None and b is not None
        assert a.evaluated_at >= b.evaluated_at - 5  # a new evaluation's time, not the comparison's
        same = {"duration_seconds": 0.0, "evaluated_at": 0.0}
        assert dataclasses.replace(a, **same) == dataclasses.replace(b, **same)
    assert reused.report is not None and reused.report.features[0].stable  # `for` = 2: held


def test_new_rows_are_compared_again() -> None:
    detector = _detector(hold=1)
    detector.evaluate()
    assert detector.report is not None and detector.report.features[0].drifted
    detector.update(FEATURES, np.random.default_rng(1).normal(size=(1000, 3)))  # the shift slides out
    detector.evaluate()
    assert detector.report is not None and not detector.report.features[0].drifted
