"""Constraints suggested from a reference (`reference build --constraints`), reviewed and loaded back:
they pass the reference and a fresh sample of its population, and flag the faults they exist for
(negative ages, cents instead of dollars, a new undeclared column, a column changing type), in
`driftwarden check --constraints` (exit 1 on a violation, 2 on a bad file) and in the daemon over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from driftwarden.cli import main
from driftwarden.config import ConfigError, load_config
from tests.support.quality import frame, ndjson
from tests.support.records import NDJSON
from tests.support.server import running

FAULTS = {  # name -> (the fault, the feature and constraint it breaks)
    "negative ages": (lambda df: df.with_columns(age=-df["age"]), ("age", "range")),
    "cents instead of dollars": (lambda df: df.with_columns(amount=df["amount"] * 100), ("amount", "range")),
    "a new undeclared column": (lambda df: df.with_columns(coupon=pl.lit("SPRING")), ("coupon", "undeclared")),
    "a column changing type": (
        lambda df: df.with_columns(age=df["age"].cast(pl.Int64).cast(pl.String)),
        ("age", "type"),
    ),
}


@pytest.fixture(scope="module")
def suggested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the reference file, the constraints `reference build --constraints` wrote from it)."""
    tmp = tmp_path_factory.mktemp("suggested")
    reference = tmp / "reference.parquet"
    frame(np.random.default_rng(10), 20_000).write_parquet(reference)
    config = tmp / "c.yaml"
    config.write_text(f"state_path: {tmp / 'state.db'}\n")
    out = tmp / "constraints.yaml"
    args = ["reference", "build", "--model", "shop", "--input", str(reference), "--config", str(config)]
    assert main([*args, "--constraints", str(out)]) == 0
    return reference, out


def check(current: Path, constraints: Path, capsys: pytest.CaptureFixture[str], *more: str) -> tuple[int, dict]:
    code = main(
        ["check", "--current", str(current), "--constraints", str(constraints), "--model", "shop", "--json", *more]
    )
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_the_suggested_constraints_describe_the_reference(suggested: tuple[Path, Path]) -> None:
    _, out = suggested
    text = out.read_text()
    assert text.startswith("# Data-quality constraints suggested by")
    rules = yaml.safe_load(text)
    assert rules["features"]["country"] == {"type": "categorical", "allowed": ["DE", "FR", "US"], "max_missing": 0.01}
    age = rules["features"]["age"]
    assert age == {"type": "numeric", "min": 0, "max": 108, "max_missing": 0.01}  # 18-90: never negative
    assert rules["schema"] == {"undeclared": True, "absent": True, "type_change": True}


def test_they_pass_the_reference_and_a_fresh_sample(
    suggested: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference, out = suggested
    code, body = check(reference, out, capsys)
    assert code == 0 and body["constraints"] == []
    fresh = tmp_path / "fresh.parquet"
    frame(np.random.default_rng(11), 20_000).write_parquet(fresh)
    code, body = check(fresh, out, capsys)
    assert code == 0, body
    assert sum(v["violations"] for v in body["constraints"]) <= 0.001 * 20_000


@pytest.mark.parametrize("fault", list(FAULTS))
def test_they_flag_each_injected_fault(
    suggested: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], fault: str
) -> None:
    _, out = suggested
    inject, (feature, constraint) = FAULTS[fault]
    current = tmp_path / "current.parquet"
    inject(frame(np.random.default_rng(12), 2_000)).write_parquet(current)
    code, body = check(current, out, capsys)
    assert code == 1
    if constraint == "undeclared":  # a column left out on purpose is not undeclared
        assert check(current, out, capsys, "--exclude", feature)[0] == 0
    violated = {(v["feature"], v["constraint"]): v for v in body["constraints"] if v["violated"]}
    # cents: the amounts under $9 times 100 are still within the range of dollars
    assert violated[feature, constraint]["violations"] >= (1_900 if feature == "amount" else 2_000)


def test_check_compares_and_checks_at_once_and_exits_2_on_a_bad_constraints_file(
    suggested: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference, out = suggested
    code, body = check(reference, out, capsys, "--reference", str(reference))
    assert code == 0 and body["constraints"] == [] and body["drifted"] is False
    bad = tmp_path / "bad.yaml"
    bad.write_text("features:\n  age:\n    min: 90\n    max: 18\n  email:\n    regex: '(unclosed'\n")
    assert main(["check", "--current", str(reference), "--constraints", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3:5: features.age: min (90) is above max (18)" in err, err
    assert f"{bad}:6:12: features.email.regex:" in err, err
    assert main(["check", "--current", str(reference)]) == 2
    assert "--reference FILE is required" in capsys.readouterr().err


def test_a_constraints_file_is_loaded_back_and_its_errors_point_into_it(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("features:\n  age: {type: numeric, min: 0}\nschema: {undeclared: false, extra: 1}\n")
    config = tmp_path / "c.yaml"
    config.write_text(f"models:\n  shop:\n    constraints_file: {rules}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert f"{rules}:3:29: models.shop.constraints_file: schema.extra: unknown key" in str(caught.value)
    rules.write_text("features:\n  age: {type: numeric, min: 0}\nschema: {undeclared: false}\n")
    loaded = load_config(config).model("shop").constraints
    assert loaded is not None and loaded.features["age"].min == 0 and not loaded.schema_.undeclared
    config.write_text(f"models:\n  shop:\n    constraints_file: {rules}\n    constraints: {{}}\n")
    with pytest.raises(ConfigError, match="give constraints or constraints_file, not both"):
        load_config(config)
    config.write_text(f"models:\n  shop:\n    constraints_file: {tmp_path / 'nope.yaml'}\n")
    with pytest.raises(ConfigError) as caught:  # a file that cannot be read: where the config names it
        load_config(config)
    assert str(caught.value).startswith(f"{config}:3:23: models.shop.constraints_file: {tmp_path / 'nope.yaml'}: ")


@pytest.mark.server
def test_the_daemon_loads_them_passes_the_population_and_flags_the_faults(
    suggested: tuple[Path, Path], tmp_path: Path
) -> None:
    _, out = suggested
    rng = np.random.default_rng(13)
    models = {"shop": {"constraints_file": str(out), "window": {"rows": 5000}}}
    with running(tmp_path / "s.db", evaluate_every="1h", models=models) as d:
        r = d.client.post("/v1/predictions", content=ndjson(frame(rng, 2000)), headers=NDJSON)
        assert r.status_code == 200, r.text
        d.evaluate()
        counted = d.daemon.models.get("shop")
        assert counted is not None and counted.constraints is not None
        flagged = sum(count for count, _ in counted.constraints.shares().values())
        assert flagged <= 2 and counted.constraints.findings() == []
        for inject, (feature, constraint) in FAULTS.values():
            body = ndjson(inject(frame(rng, 20)))
            assert d.client.post("/v1/predictions", content=body, headers=NDJSON).status_code == 200
            value = d.metric(
                "driftwarden_constraint_violations_total", model="shop", feature=feature, constraint=constraint
            )
            assert value is not None and value >= 15, (feature, constraint)  # cents: small amounts pass
        found = {(f.feature, f.constraint.value) for f in counted.constraints.findings()}
        assert {c for _, c in FAULTS.values()} <= found
