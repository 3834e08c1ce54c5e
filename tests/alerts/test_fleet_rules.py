"""Fleet-wide PSI in Prometheus (alerts/rules/fleet.yml), proven with `promtool test rules`.

The input series are what the daemon's own exporter writes: each replica's drift report comes from
`detectors.drift.compare()` on seeded data, goes through `exporters.prometheus.DriftCollector`, and
its `driftwarden_feature_bin_values` samples become promtool's input, one scrape a minute, with the
labels Kubernetes service discovery adds (namespace, pod, model_version).
"""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from driftwarden.alerts import fleet_rules
from driftwarden.alerts.fleet_rules import ALERT_FLEET_DRIFT, BINS, FLEET_BY, PSI, SHARE, VALUES
from driftwarden.core.metric_names import FEATURE_BIN_VALUES
from driftwarden.detectors import stats
from driftwarden.detectors.drift import DriftReport, compare
from driftwarden.detectors.reference import ReferenceProfile
from driftwarden.exporters.exposition import render
from driftwarden.exporters.prometheus import DriftCollector, ModelState
from tests.support.tools import required_tool

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "alerts" / "rules" / fleet_rules.FILE_NAME
FEATURES = ("amount", "age")
NAMESPACE, MODEL = "prod", "fraud"
MINUTES = 15  # every input series holds its value for this long
PER_POD = (*FLEET_BY, "pod")  # the same rules as one sidecar's metrics alone could give them


@dataclass(frozen=True)
class Replica:
    pod: str
    current: np.ndarray  # (rows, len(FEATURES)), NaN missing
    version: str = "v3"


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    return ReferenceProfile.fit(FEATURES, np.random.default_rng(1).normal(size=(20_000, len(FEATURES))))


@pytest.fixture(scope="module")
def promtool() -> str:
    return required_tool("promtool", package="prometheus")


def normal(seed: int, rows: int, amount_shift: float = 0.0) -> np.ndarray:
    values = np.random.default_rng(seed).normal(size=(rows, len(FEATURES)))
    values[:, 0] += amount_shift
    return values


def exported(profile: ReferenceProfile, replica: Replica) -> tuple[DriftReport, dict[str, float]]:
    """The replica's drift report and the bin-value samples its /metrics would show."""
    report = compare(MODEL, profile, FEATURES, replica.current)
    state = ModelState(MODEL, report, replica.current.shape[0], profile.rows)
    registry = CollectorRegistry()
    registry.register(DriftCollector(lambda: [state], lambda: (0, 500_000)))
    target = {"namespace": NAMESPACE, "pod": replica.pod, "model_version": replica.version, "job": "driftwarden"}
    chunks, _ = render(registry, (), "text/plain")  # as /metrics writes them
    samples = {
        series(s.name, {**target, **s.labels}): s.value
        for family in text_string_to_metric_families(b"".join(chunks).decode())
        for s in family.samples
        if s.name == FEATURE_BIN_VALUES
    }
    return report, samples


def series(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def summed_psi(reports: Sequence[DriftReport], feature: str) -> float:
    """detectors.stats.psi() on the replicas' counts added up: what the fleet PSI must equal."""
    j = FEATURES.index(feature)
    ref = sum(np.asarray(r.features[j].bins["reference"], dtype=float) for r in reports)
    cur = sum(np.asarray(r.features[j].bins["current"], dtype=float) for r in reports)
    return float(stats.psi(ref[None, :], cur[None, :])[0])


def fleet_labels(feature: str, version: str = "v3", **extra: str) -> dict[str, str]:
    return {"namespace": NAMESPACE, "model": MODEL, "model_version": version, "feature": feature, **extra}


def equals(labels: dict[str, str], value: float) -> dict[str, Any]:
    """A promql_expr_test that the recorded PSI of `labels` is `value` (to 1e-9)."""
    return {
        "expr": f"abs({series(PSI, labels)} - {value!r}) < bool 1e-9",
        "eval_time": "10m",
        "exp_samples": [{"labels": series("", labels), "value": 1}],
    }


def fires(rules: list[dict[str, Any]], labels: dict[str, str], psi: float) -> dict[str, Any]:
    """The alert promtool should report, with the annotation templates expanded as Prometheus does."""
    rule = next(r for r in rules if r.get("alert") == ALERT_FLEET_DRIFT)

    def expand(template: str) -> str:
        text = re.sub(
            r"\{\{ with \$labels\.(\w+) \}\}(.*?)\{\{ end \}\}",
            lambda m: m[2].replace("{{ . }}", labels[m[1]]) if labels.get(m[1]) else "",
            template,
        )
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m[1]], text)
        text = text.replace('{{ printf "%.3f" $value }}', f"{psi:.3f}")
        assert "{{" not in text, text
        return text

    return {
        "exp_labels": {**labels, "severity": "warning"},
        "exp_annotations": {k: expand(v) for k, v in rule["annotations"].items()},
    }


def promtool_test(
    promtool: str,
    tmp_path: Path,
    rules_text: str,
    samples: dict[str, float],
    alerts: Sequence[tuple[str, list[dict[str, Any]]]] = (),
    exprs: Sequence[dict[str, Any]] = (),
) -> None:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "rules.yml").write_text(rules_text)
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": f"{v!r}x{MINUTES}"} for s, v in samples.items()],
                "alert_rule_test": [
                    {"eval_time": t, "alertname": ALERT_FLEET_DRIFT, "exp_alerts": exp} for t, exp in alerts
                ],
                "promql_expr_test": list(exprs),
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    done = subprocess.run([promtool, "test", "rules", str(tmp_path / "test.yml")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def fleet_of(profile: ReferenceProfile, replicas: Sequence[Replica]) -> tuple[list[DriftReport], dict[str, float]]:
    reports, samples = [], {}
    for replica in replicas:
        report, exported_samples = exported(profile, replica)
        reports.append(report)
        samples |= exported_samples
    return reports, samples


# --- the rule file ------------------------------------------------------------------------------


def test_checked_in_fleet_rules_are_what_render_writes() -> None:
    assert CHECKED_IN.read_text() == fleet_rules.render(), (
        "alerts/rules/fleet.yml is stale: run driftwarden rules generate (or alerts.fleet_rules.write_rules)"
    )


def test_rules_read_the_exported_bins_with_the_daemons_epsilon_and_threshold() -> None:
    rules = fleet_rules.fleet_rules()
    assert [r.get("record", r.get("alert")) for r in rules] == [BINS, VALUES, SHARE, PSI, ALERT_FLEET_DRIFT]
    assert FEATURE_BIN_VALUES == "driftwarden_feature_bin_values"  # design.md's name, not _bin_count
    by_bin = "namespace, model, model_version, feature, bin, window"
    assert rules[0]["expr"] == f"sum by ({by_bin}) ({FEATURE_BIN_VALUES})"
    assert rules[1]["expr"] == f"sum by (namespace, model, model_version, feature, window) ({BINS})"
    assert f"  {stats.PSI_EPSILON:g}\n)" in rules[2]["expr"] and rules[2]["expr"].startswith("clamp_min(")
    assert rules[3]["expr"].startswith("sum by (namespace, model, model_version, feature) (")
    alert = rules[4]
    assert alert["expr"].startswith(f"{PSI} >= 0.2\n") and alert["expr"].endswith(f">= {fleet_rules.MIN_VALUES}")
    assert (alert["for"], alert["labels"]) == ("10m", {"severity": "warning"})
    custom = fleet_rules.fleet_rules(("cluster", "model"), psi=0.1, min_values=50, for_="5m")
    assert "sum by (cluster, model, feature, bin, window)" in custom[0]["expr"]
    assert custom[4]["expr"].startswith(f"{PSI} >= 0.1\nand on (cluster, model, feature)")


@pytest.mark.parametrize("by", [(), ("model", "feature"), ("model", "bin"), ("window",)])
def test_a_fleet_is_not_grouped_by_feature_bin_or_window(by: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="fleet"):
        fleet_rules.fleet_rules(by)


def test_write_rules_creates_the_directory(tmp_path: Path) -> None:
    path = fleet_rules.write_rules(tmp_path / "out")
    assert path == tmp_path / "out" / "fleet.yml" and path.read_text() == fleet_rules.render()


@pytest.mark.promtool
def test_promtool_checks_the_fleet_rules(promtool: str, tmp_path: Path) -> None:
    for i, by in enumerate((FLEET_BY, PER_POD, ("model",))):
        path = fleet_rules.write_rules(tmp_path / str(i), by)
        done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.promtool
def test_a_large_fleet_can_evaluate_the_group_less_often(promtool: str, tmp_path: Path) -> None:
    assert "interval" not in yaml.safe_load(fleet_rules.render())["groups"][0]  # the global evaluation_interval
    path = fleet_rules.write_rules(tmp_path, interval="2m")
    group = yaml.safe_load(path.read_text())["groups"][0]
    assert (group["name"], group["interval"], len(group["rules"])) == (fleet_rules.GROUP, "2m", 5)
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# --- promtool test rules on three replicas --------------------------------------------------------


@pytest.mark.promtool
def test_replicas_too_small_to_judge_alone_are_judged_together(
    promtool: str, tmp_path: Path, profile: ReferenceProfile
) -> None:
    # A low-traffic model on three replicas: each window holds 400 values, below the 1,000 the rule
    # asks for; together they hold 1,200. `amount` moved by 0.6 sd on every replica, `age` did not.
    replicas = [Replica(pod, normal(seed, 400, amount_shift=0.6)) for seed, pod in enumerate(("a", "b", "c"))]
    reports, samples = fleet_of(profile, replicas)
    amount, age = summed_psi(reports, "amount"), summed_psi(reports, "age")
    assert amount > 0.25 and age < 0.05
    fleet = fleet_rules.fleet_rules()
    promtool_test(
        promtool,
        tmp_path / "fleet",
        fleet_rules.render(),
        samples,
        alerts=[
            ("5m", []),  # pending: for 10m
            ("12m", [fires(fleet, fleet_labels("amount"), amount)]),
        ],
        exprs=[equals(fleet_labels("amount"), amount), equals(fleet_labels("age"), age)],
    )
    # the same rules on each replica's own series: the PSI is the daemon's own, and nothing fires
    exprs = [
        equals(fleet_labels(feature, pod=replica.pod), report.features[FEATURES.index(feature)].scores["psi"])
        for replica, report in zip(replicas, reports, strict=True)
        for feature in FEATURES
    ]
    promtool_test(promtool, tmp_path / "pods", fleet_rules.render(PER_POD), samples, [("12m", [])], exprs)


@pytest.mark.promtool
def test_replicas_drifting_apart_while_the_fleet_does_not_raise_no_fleet_alert(
    promtool: str, tmp_path: Path, profile: ReferenceProfile
) -> None:
    # Sticky routing: one sample of the reference distribution split by `amount` into its lowest,
    # middle and highest third, one third a replica. Every replica drifts; their sum does not.
    values = normal(7, 6000)
    thirds = np.array_split(values[np.argsort(values[:, 0])], 3)
    replicas = [Replica(pod, rows) for pod, rows in zip(("a", "b", "c"), thirds, strict=True)]
    reports, samples = fleet_of(profile, replicas)
    per_replica = [r.features[0].scores["psi"] for r in reports]
    assert min(per_replica) > 1 and all(r.features[0].drifted for r in reports)
    amount = summed_psi(reports, "amount")
    assert amount < 0.01
    promtool_test(
        promtool,
        tmp_path / "fleet",
        fleet_rules.render(),
        samples,
        [("12m", [])],
        [equals(fleet_labels("amount"), amount)],
    )
    per_pod = fleet_rules.fleet_rules(PER_POD)
    every_pod = [
        fires(per_pod, fleet_labels("amount", pod=r.pod), psi) for r, psi in zip(replicas, per_replica, strict=True)
    ]
    promtool_test(promtool, tmp_path / "pods", fleet_rules.render(PER_POD), samples, [("12m", every_pod)])


@pytest.mark.promtool
def test_a_canary_version_is_its_own_fleet(promtool: str, tmp_path: Path, profile: ReferenceProfile) -> None:
    # two replicas of v3 see the reference distribution, the v4 canary sees `amount` moved
    replicas = [
        Replica("a", normal(11, 2000)),
        Replica("b", normal(12, 2000)),
        Replica("canary", normal(13, 2000, amount_shift=0.6), version="v4"),
    ]
    reports, samples = fleet_of(profile, replicas)
    v3, v4 = summed_psi(reports[:2], "amount"), summed_psi(reports[2:], "amount")
    assert v3 < 0.01 < 0.2 < v4
    fleet = fleet_rules.fleet_rules()
    promtool_test(
        promtool,
        tmp_path / "versions",
        fleet_rules.render(),
        samples,
        [("12m", [fires(fleet, fleet_labels("amount", version="v4"), v4)])],
        [equals(fleet_labels("amount", version="v3"), v3), equals(fleet_labels("amount", version="v4"), v4)],
    )
    # grouped without model_version, the canary is diluted below the threshold by the others
    mixed = summed_psi(reports, "amount")
    assert mixed < 0.2
    unversioned = {"namespace": NAMESPACE, "model": MODEL, "feature": "amount"}
    promtool_test(
        promtool,
        tmp_path / "mixed",
        fleet_rules.render(("namespace", "model")),
        samples,
        [("12m", [])],
        [equals(unversioned, mixed)],
    )


@pytest.mark.promtool
def test_an_empty_current_window_gives_no_fleet_psi(promtool: str, tmp_path: Path, profile: ReferenceProfile) -> None:
    # `age` missing in every record: psi() says NaN, the rules record nothing for it
    current = normal(3, 1500)
    current[:, 1] = np.nan
    reports, samples = fleet_of(profile, [Replica("a", current)])
    assert math.isnan(summed_psi(reports, "age"))
    absent = {
        "expr": f'absent({PSI}{{feature="age"}})',
        "eval_time": "10m",
        "exp_samples": [{"labels": '{feature="age"}', "value": 1}],
    }
    promtool_test(promtool, tmp_path, fleet_rules.render(), samples, exprs=[absent])
