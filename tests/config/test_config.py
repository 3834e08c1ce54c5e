"""The configuration contract: the embedded defaults, the design's keys, errors that name their key, durations."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftwarden.config import ConfigError, load_config, parse_duration


def test_embedded_default_is_loopback_and_local_sqlite() -> None:
    config = load_config(None)
    assert config.listen == "127.0.0.1:4318" and config.host == "127.0.0.1" and config.port == 4318
    assert config.state_path == Path("driftwarden-data/state.db")
    assert config.evaluate_every == 30.0 and config.auth_token_file is None
    assert config.model("anything").window.rows == 5000


def test_config_file_with_design_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "listen: 0.0.0.0:9000\nevaluate_every: 2s\nmodels:\n  fraud:\n    window: 2000\n"
        "    critical_features: [amount]\n    drift: {psi: 0.3, alpha: 0.01}\n"
    )
    config = load_config(path, listen="127.0.0.1:9001")
    assert config.listen == "127.0.0.1:9001" and config.evaluate_every == 2.0
    fraud = config.model("fraud")
    assert fraud.window.rows == 2000 and fraud.drift.psi == 0.3 and fraud.drift.ks == 0.1
    assert fraud.critical_features == ["amount"]


def test_config_errors_name_their_key_path(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("evaluate_every: 30\nmodels:\n  fraud:\n    windw: 10\n    drift: {psi: -1}\nlisten: nope\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = "\n".join(info.value.problems)
    assert "evaluate_every: expected a duration" in problems
    assert "models.fraud.windw: unknown key" in problems
    assert "models.fraud.drift.psi" in problems
    assert "listen: expected HOST:PORT" in problems


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("30s", 30), ("5m", 300), ("24h", 86400), ("30d", 2592000)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["30", 30, "5 minutes", "", None])
def test_durations_need_a_unit(bad: object) -> None:
    with pytest.raises(ValueError, match="unit"):
        parse_duration(bad)


def test_a_duration_must_be_finite() -> None:
    with pytest.raises(ValueError, match="not a finite duration"):
        parse_duration("9" * 400 + "d")


def test_a_key_given_twice_is_refused_not_silently_overridden(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("listen: 127.0.0.1:4318\nevaluate_every: 30s\nlisten: 0.0.0.0:4318\n")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert refused.value.problems == [f"{path}:3:1: listen: given twice in one mapping (first on line 1): keep one"]
    nested = tmp_path / "n.yaml"
    nested.write_text("models:\n  fraud:\n    sample_rate: 0.5\n    sample_rate: 1.0\n  other:\n    window: 5\n")
    with pytest.raises(ConfigError) as refused:
        load_config(nested)
    assert refused.value.problems == [
        f"{nested}:4:5: models.fraud.sample_rate: given twice in one mapping (first on line 3): keep one",
        f"{nested}:6:13: models.other.window.rows: Input should be greater than or equal to 10",
    ]  # in one pass with the other problems
