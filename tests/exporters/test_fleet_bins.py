"""`fleet.export_bins` and `fleet.bin_features` over real HTTP: which features' bin values /metrics shows.

The bin values are most of a replica's series (features x bins x 2); the knobs cut them. `amount` is
shifted by one standard deviation in the current window, so it drifts and the other features do not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from driftwarden.config import ConfigError, load_config
from driftwarden.core.metric_names import FEATURE_BIN_VALUES, FEATURE_DRIFT_SCORE, FEATURE_DRIFTED
from tests.support.records import NDJSON, put_reference, records, reference_frame
from tests.support.server import Daemon, running

pytestmark = pytest.mark.server

EVERY_FEATURE = {"amount", "age", "score", "country"}


def drifted_fraud_and_steady_churn(daemon: Daemon) -> None:
    rng = np.random.default_rng(7)
    for model in ("fraud", "churn"):
        put_reference(daemon, reference_frame(rng, 2000), model)
    shifted = records(rng, 2000, shift=(1.0, 0, 0), model="fraud")
    for body in (shifted, records(rng, 2000, model="churn")):
        assert daemon.client.post("/v1/predictions", content=body, headers=NDJSON).status_code == 200
    daemon.evaluate()


def features_with(daemon: Daemon, metric: str) -> dict[str, set[str]]:
    """model -> the features that have a `metric` sample on /metrics."""
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(daemon.client.get("/metrics").text):
        for s in family.samples:
            if s.name == metric:
                found.setdefault(s.labels["model"], set()).add(s.labels["feature"])
    return found


def test_by_default_only_drifting_features_export_their_bins(tmp_path: Path) -> None:
    with running(tmp_path / "state.db") as daemon:  # the default series set (design.md "Metric set")
        drifted_fraud_and_steady_churn(daemon)
        assert features_with(daemon, FEATURE_BIN_VALUES) == {"fraud": {"amount"}}


def test_export_bins_all_exports_every_features_bins_in_both_windows(tmp_path: Path) -> None:
    with running(tmp_path / "state.db", fleet={"export_bins": "all"}) as daemon:
        drifted_fraud_and_steady_churn(daemon)
        assert features_with(daemon, FEATURE_BIN_VALUES) == {"fraud": EVERY_FEATURE, "churn": EVERY_FEATURE}
        assert daemon.metric(FEATURE_BIN_VALUES, model="fraud", feature="age", bin="0", window="reference") == 200
        assert daemon.metric(FEATURE_BIN_VALUES, model="fraud", feature="age", bin="9", window="current") is not None


def test_export_bins_none_leaves_out_every_bin_series_and_nothing_else(tmp_path: Path) -> None:
    with running(tmp_path / "state.db", fleet={"export_bins": "none"}) as daemon:
        drifted_fraud_and_steady_churn(daemon)
        assert features_with(daemon, FEATURE_BIN_VALUES) == {}
        assert features_with(daemon, FEATURE_DRIFTED) == {"fraud": EVERY_FEATURE, "churn": EVERY_FEATURE}
        assert daemon.metric(FEATURE_DRIFT_SCORE, model="fraud", feature="amount", method="psi") > 0.2


def test_export_bins_drifted_exports_only_the_features_that_drift(tmp_path: Path) -> None:
    with running(tmp_path / "state.db", fleet={"export_bins": "drifted"}) as daemon:
        drifted_fraud_and_steady_churn(daemon)
        assert daemon.metric(FEATURE_DRIFTED, model="fraud", feature="amount") == 1
        assert features_with(daemon, FEATURE_BIN_VALUES) == {"fraud": {"amount"}}
        for window in ("reference", "current"):
            assert daemon.metric(FEATURE_BIN_VALUES, model="fraud", feature="amount", bin="5", window=window)


def test_bin_features_allow_a_model_only_its_listed_features_and_leave_other_models_alone(tmp_path: Path) -> None:
    fleet = {"export_bins": "all", "bin_features": {"fraud": ["age", "country", "not-a-feature"]}}
    with running(tmp_path / "state.db", fleet=fleet) as daemon:
        drifted_fraud_and_steady_churn(daemon)
        assert features_with(daemon, FEATURE_BIN_VALUES) == {"fraud": {"age", "country"}, "churn": EVERY_FEATURE}


def test_bin_features_narrow_export_bins_drifted(tmp_path: Path) -> None:
    fleet = {"export_bins": "drifted", "bin_features": {"fraud": ["age"]}}
    with running(tmp_path / "state.db", fleet=fleet) as daemon:
        drifted_fraud_and_steady_churn(daemon)
        assert features_with(daemon, FEATURE_BIN_VALUES) == {}  # amount drifts but is not listed; age is, and holds


def test_fleet_settings_refuse_an_unknown_mode_and_a_bad_model_name(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("fleet:\n  export_bins: some\n  bin_features: {'no such/model': [amount]}\n")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    problems = "\n".join(refused.value.problems)
    assert "fleet.export_bins: Input should be 'all', 'drifted' or 'none'" in problems
    assert "fleet.bin_features: not model names: 'no such/model'" in problems
