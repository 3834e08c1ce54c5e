"""`rules generate --format prometheusrule`: Prometheus Operator resources, run as the CLI, checked
against the PrometheusRule CRD's schema and, their spec.groups extracted, by `promtool check rules`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.support.processes import driftwarden
from tests.support.tools import required_tool

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "alerts" / "example.yaml"
SCHEMA = json.loads((Path(__file__).with_name("prometheusrule.schema.json")).read_text())
RULE_FILES = ("slos.yml", "driftwarden.yml", "fleet.yml", "anomalies.yml")


def generate(out: Path, *args: str) -> dict[str, Any]:
    done = driftwarden("rules", "generate", "--config", str(EXAMPLE), "--out", str(out), "--json", *args)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def resources(out: Path) -> dict[str, dict[str, Any]]:
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted(out.glob("*.prometheusrule.yaml"))}


def test_each_rule_file_becomes_a_prometheusrule_valid_under_the_crd_schema(tmp_path: Path) -> None:
    result = generate(tmp_path / "op", "--format", "prometheusrule", "--label", "release=prometheus")
    generate(tmp_path / "plain")
    found = resources(tmp_path / "op")
    assert sorted(found) == sorted(f.replace(".yml", ".prometheusrule.yaml") for f in RULE_FILES)
    assert [Path(f["path"]).name for f in result["files"]] == [
        "slos.prometheusrule.yaml",
        "driftwarden.prometheusrule.yaml",
        "fleet.prometheusrule.yaml",
        "anomalies.prometheusrule.yaml",
    ]
    validator = Draft202012Validator(SCHEMA)
    for name, resource in found.items():
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(resource)]
        assert errors == [], name
        assert resource["metadata"]["labels"]["release"] == "prometheus"
        plain = yaml.safe_load((tmp_path / "plain" / name.replace(".prometheusrule.yaml", ".yml")).read_text())
        assert resource["spec"]["groups"] == plain["groups"], "the same groups as the rule file"
    assert found["slos.prometheusrule.yaml"]["spec"]["groups"], "the example's SLOs give rule groups"


def test_the_schema_refuses_what_the_crd_refuses() -> None:
    validator = Draft202012Validator(SCHEMA)
    good = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "x"}}
    assert validator.is_valid({**good, "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up"}]}]}})
    for spec in (
        {"groups": [{"rules": []}]},  # a group without a name
        {"groups": [{"name": "g", "rules": [{"alert": "A"}]}]},  # a rule without expr
        {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up", "for": "ten minutes"}]}]},
        {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up", "labels": {"n": 1}}]}]},
    ):
        assert not validator.is_valid({**good, "spec": spec}), spec


def test_the_default_format_writes_plain_rule_files_only(tmp_path: Path) -> None:
    result = generate(tmp_path)
    assert result["format"] == "rules"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(RULE_FILES)


def test_a_label_without_a_value_is_refused(tmp_path: Path) -> None:
    done = driftwarden("rules", "generate", "--format", "prometheusrule", "--label", "release", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "KEY=VALUE" in done.stderr
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.promtool
def test_promtool_checks_the_groups_of_each_prometheusrule(tmp_path: Path) -> None:
    promtool = required_tool("promtool", package="prometheus")
    generate(tmp_path, "--format", "prometheusrule")
    for name, resource in resources(tmp_path).items():
        extracted = tmp_path / name.replace(".prometheusrule.yaml", ".rules.yml")
        extracted.write_text(yaml.safe_dump({"groups": resource["spec"]["groups"]}))
        done = subprocess.run([promtool, "check", "rules", str(extracted)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
