"""The rule generators' defaults stand for the daemon's: plain constants in alerts/ (which does not
import the config), held equal to the config's defaults here."""

from __future__ import annotations

from driftwarden.alerts import fleet_rules
from driftwarden.config import DriftSettings


def test_fleet_psi_threshold_is_the_daemons_default() -> None:
    assert DriftSettings.model_fields["psi"].default == fleet_rules.DEFAULT_PSI


def test_the_detectors_default_thresholds_are_the_configs() -> None:
    from driftwarden.params import DEFAULT_THRESHOLDS

    for name in ("psi", "ks", "wasserstein", "alpha", "share", "missing"):
        assert DriftSettings.model_fields[name].default == getattr(DEFAULT_THRESHOLDS, name), name
