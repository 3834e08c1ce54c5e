"""Values the config refuses because the daemon could not honour them: loop intervals too short to
be meant (they would burn a core), and names that end up as Prometheus or Alertmanager label names."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftwarden.config import ConfigError, load_config
from tests.support.otlp import Sender
from tests.support.server import running
from tests.support.tools import required_tool


def problems(tmp_path: Path, config: dict[str, Any]) -> list[str]:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    return [f"{p.key}: {p.message}" for p in refused.value.details]  # without the file:line:column


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"checkpoint_every": "0.001ms"}, "checkpoint_every: must be at least 1s"),
        ({"checkpoint_every": "999ms"}, "checkpoint_every: must be at least 1s"),
        ({"evaluate_every": "10ms"}, "evaluate_every: must be at least 1s"),
        ({"models": {"m": {"window": {"every": "1ms"}}}}, "models.m.window.every: must be at least 1s"),
        (
            {"sources": [{"file": "/x.ndjson", "poll_interval": "0ms"}]},
            "sources.0.poll_interval: must be at least 100ms",
        ),
        ({"gpu": {"interval": "1ms"}}, "gpu.interval: must be at least 100ms"),
        ({"outbox": {"initial_backoff": "0s"}}, "outbox.initial_backoff: must be at least 100ms"),
        ({"outbox": {"initial_backoff": "10s", "max_backoff": "1s"}}, "outbox: max_backoff (1s) is shorter than"),
    ],
)
def test_intervals_that_drive_loops_have_a_floor(tmp_path: Path, config: dict[str, Any], expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(tmp_path, config)), problems(tmp_path, config)


def test_the_floors_themselves_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "evaluate_every: 1s\ncheckpoint_every: 1s\nmodels: {m: {window: {every: 1s}}}\n"
        "sources: [{file: /x.ndjson, poll_interval: 100ms}]\ngpu: {interval: 100ms}\n"
        "outbox: {initial_backoff: 100ms, max_backoff: 100ms}\n"
    )
    config = load_config(path)
    assert config.checkpoint_every == 1.0 and config.outbox.initial_backoff == 0.1


def test_dotted_span_attributes_become_prometheus_label_names(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("traces: {label_attributes: [deployment.environment, tenant, k8s.pod-name, _private]}\n")
    traces = load_config(path).traces
    assert traces.label_attributes == ["deployment.environment", "tenant", "k8s.pod-name", "_private"]
    assert traces.label_names == ("deployment_environment", "tenant", "k8s_pod_name", "_private")


@pytest.mark.server
@pytest.mark.promtool
def test_a_dotted_attribute_is_scraped_under_its_label_name_and_promtool_accepts_it(tmp_path: Path) -> None:
    traces = {"label_attributes": ["deployment.environment"]}
    with running(tmp_path / "state.db", traces=traces, evaluate_every="1h") as d:
        sender = Sender(d)
        sender.request(0.2, attributes={"deployment.environment": "prod"})
        sender.close()
        text = d.client.get("/metrics").text
    assert 'deployment_environment="prod"' in text and "deployment.environment" not in text
    promtool = required_tool("promtool", package="prometheus")
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 3), done.stdout + done.stderr  # 3: lint findings only; 1: unparseable


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (["le"], "'le' is reserved"),
        (["quantile"], "'quantile' is reserved"),
        (["__name__"], "starts with __"),
        (["__meta.x"], "starts with __"),
        (["model"], "'model' is already a label"),
        (["status"], "'status' is already a label"),
        (["job"], "'job' is set by Prometheus"),
        (["9lives"], "starts with a digit"),
        ([""], "empty"),
        (["a.b", "a_b"], "'a.b' and 'a_b' both become the label a_b"),
        (["tenant", "tenant"], "'tenant' and 'tenant' both become the label tenant"),
    ],
)
def test_label_attributes_that_cannot_be_label_names_are_refused(
    tmp_path: Path, attributes: list[str], expected: str
) -> None:
    found = problems(tmp_path, {"traces": {"label_attributes": attributes}})
    assert any(p.startswith("traces.label_attributes") and expected in p for p in found), found


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"alerting": {"group_by": ["model", "deployment.environment"]}},
            "alerting.group_by.1: 'deployment.environment' is not a label name: a label name must match "
            "[a-zA-Z_][a-zA-Z0-9_]*",
        ),
        ({"alerting": {"group_by": ["__name__"]}}, "alerting.group_by.0: '__name__' starts with __"),
        (
            {
                "receivers": [{"name": "r", "type": "webhook", "url": "http://x"}],
                "routes": [{"match": {"team.name": "a"}, "receivers": ["r"]}],
            },
            "routes.0.match: 'team.name' is not a label name",
        ),
    ],
)
def test_alert_label_names_follow_alertmanagers_rule(tmp_path: Path, config: dict[str, Any], expected: str) -> None:
    found = problems(tmp_path, config)
    assert any(p.startswith(expected) for p in found), found


def test_a_config_that_is_not_utf8_is_one_problem_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b'listen: "\xff\xfe"\n')
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert refused.value.problems == [f"{path}: not UTF-8 text (byte 0xff on line 1)"]


def test_the_queue_must_hold_one_record_with_every_feature(tmp_path: Path) -> None:
    refused = problems(tmp_path, {"limits": {"max_features": 5000, "max_queue_values": 4000}})
    assert len(refused) == 1 and "max_queue_values (4000) must be at least max_features (5000)" in refused[0]
