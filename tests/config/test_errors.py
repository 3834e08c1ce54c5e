"""Config errors a user can act on: every problem of a file in one pass, each with `file:line:column`,
its key path, and a "did you mean" for a misspelt key, receiver or alert label."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftwarden.config import ConfigError, load_config

THREE_MISTAKES = """\
listen: 127.0.0.1:4318
evaluate_evry: 30s
models:
  fraud:
    window: {every: 10 minutes}
receivers:
  - {name: pagerduty, type: pagerduty, routing_key_env: PD_ROUTING_KEY}
routes:
  - match: {model: fraud}
    receivers: [pagerdty]
"""


def refused(tmp_path: Path, text: str, **overrides: str) -> tuple[Path, list[str]]:
    path = tmp_path / "driftwarden.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path, **overrides)
    return path, raised.value.problems


def test_three_mistakes_are_reported_together_with_lines_and_suggestions(tmp_path: Path) -> None:
    path, problems = refused(tmp_path, THREE_MISTAKES)
    assert problems == [
        f"{path}:2:1: evaluate_evry: unknown key; did you mean 'evaluate_every'?",
        f"{path}:5:21: models.fraud.window.every: expected a duration with a unit such as 500ms, 30s, 5m, 24h or "
        "30d, got '10 minutes'",
        f"{path}:10:17: routes.0.receivers.0: unknown receiver 'pagerdty'; did you mean 'pagerduty'?",
    ]


def test_checks_across_keys_run_beside_field_errors(tmp_path: Path) -> None:
    """Before, these waited until every field was valid: a second round of errors after the first was fixed."""
    path, problems = refused(
        tmp_path,
        "evaluate_every: 10\n"
        "tls_key_file: /etc/key.pem\n"
        "auth: {protect_reads: true}\n"
        "receivers:\n"
        "  - {name: hook, type: webhook, url: 'http://127.0.0.1:9/x'}\n"
        "  - {name: hook, type: webhook, url: 'http://127.0.0.1:9/y'}\n"
        "routes:\n"
        "  - {match: {mdl: fraud}, receivers: [hook]}\n"
        "alerting: {default_receivers: [nobody]}\n",
    )
    assert problems == [
        f"{path}:1:17: evaluate_every: expected a duration with a unit such as 500ms, 30s, 5m, 24h or 30d, got 10",
        f"{path}:2:15: tls_key_file: tls_cert_file and tls_key_file go together: set both or neither "
        "(tls_cert_file is not set)",
        f"{path}:3:23: auth.protect_reads: needs auth_token_file or auth.tokens: the token it asks for (set both)",
        f"{path}:6:12: receivers.1.name: receivers.0 has this name already: names must be unique",
        f"{path}:8:14: routes.0.match.mdl: no alert carries the label 'mdl'; did you mean 'model'?",
        f"{path}:9:32: alerting.default_receivers.0: unknown receiver 'nobody' (receivers: hook)",
    ]


def test_unknown_keys_are_matched_against_the_keys_of_their_own_block(tmp_path: Path) -> None:
    path, problems = refused(
        tmp_path,
        "receivers:\n"
        "  - name: pd\n"
        "    type: pagerduty\n"
        "    rooting_key_file: /run/secrets/pd\n"
        "alerting:\n"
        "  for: 3\n"
        "  group_wiat: 10s\n"
        "models:\n"
        "  fraud:\n"
        "    drift: {per_feature: {amount: {pis: 0.3}}}\n"
        "server: {max_conections: 10}\n"
        "zzz: 1\n",
    )
    assert problems == [
        f"{path}:2:5: receivers.0: receiver 'pd': pagerduty needs routing_key_file or routing_key_env",
        f"{path}:4:5: receivers.0.rooting_key_file: unknown key; did you mean 'routing_key_file'?",
        f"{path}:7:3: alerting.group_wiat: unknown key; did you mean 'group_wait'?",
        f"{path}:10:36: models.fraud.drift.per_feature.amount.pis: unknown key; did you mean 'psi'?",
        f"{path}:11:10: server.max_conections: unknown key; did you mean 'max_connections'?",
        f"{path}:12:1: zzz: unknown key",
    ]


def test_yaml_errors_name_the_file_and_line_not_a_unicode_string(tmp_path: Path) -> None:
    path, problems = refused(tmp_path, "listen: 127.0.0.1:4318\nmodels:\n  fraud:\n    window: [1000\n")
    assert problems == [
        f"{path}:5:1: not valid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence on line 4)"
    ]
    path, problems = refused(tmp_path, "models:\n  fraud:\n\twindow: 1000\n")
    assert problems == [f"{path}:3:1: not valid YAML: found character '\\t' that cannot start any token"]
    path, problems = refused(tmp_path, "listen: \x07\n")
    assert problems == [
        f"{path}:1:9: not valid YAML: character #x0007 is not allowed (special characters are not allowed)"
    ]
    assert all("<unicode string>" not in p for p in problems)


def test_a_value_given_on_the_command_line_is_not_pinned_on_the_file(tmp_path: Path) -> None:
    _, problems = refused(tmp_path, "evaluate_every: 30s\nlisten: 127.0.0.1:4318\n", listen="nowhere")
    assert problems == [
        "listen: expected HOST:PORT such as 127.0.0.1:4318, got 'nowhere' (as given on the command line)"
    ]


def test_problems_as_data(tmp_path: Path) -> None:
    path = tmp_path / "driftwarden.yaml"
    path.write_text(THREE_MISTAKES)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    first = raised.value.details[0].to_dict()
    assert first == {
        "key": "evaluate_evry",
        "message": "unknown key",
        "file": str(path),
        "line": 2,
        "column": 1,
        "origin": None,
        "did_you_mean": ["evaluate_every"],
    }


def test_the_labels_a_route_may_match_are_the_labels_alerts_carry() -> None:
    """`ALERT_LABELS` (what routes and silences are checked against) holds every label `describe` gives."""
    from driftwarden.alerts.alert import describe
    from driftwarden.core.constraints import ConstraintKind
    from driftwarden.core.label_names import ALERT_LABELS
    from driftwarden.detectors.findings import (
        DataQualityFinding,
        DriftBudgetFinding,
        FeatureDriftFinding,
        GpuCondition,
        GpuHealthFinding,
        ModelDriftFinding,
        QualityDegradedFinding,
        Severity,
        SLOBurnFinding,
    )

    burn = {
        "long_window": "1h",
        "short_window": "5m",
        "long_burn_rate": 20.0,
        "short_burn_rate": 20.0,
        "requests_short_window": 100,
        "objective": 0.99,
        "budget_remaining": 0.5,
    }
    findings = [
        FeatureDriftFinding(severity=Severity.WARNING, value=0.3, threshold=0.2, model="m", feature="f"),
        ModelDriftFinding(severity=Severity.PAGE, value=0.6, threshold=0.5, model="m"),
        ModelDriftFinding(  # a segment's (detectors/segments.py)
            severity=Severity.WARNING, value=1.0, threshold=0.5, model="m", labels={"segment": "country=BR"}
        ),
        QualityDegradedFinding(severity=Severity.TICKET, value=0.7, threshold=0.9, model="m", metric="f1", pvalue=0.01),
        SLOBurnFinding(
            severity=Severity.PAGE, value=20, threshold=14.4, slo="s", labels={"service": "api", "model": "m"}, **burn
        ),
        DriftBudgetFinding(severity=Severity.PAGE, value=20, threshold=14.4, model="m", **burn),
        DataQualityFinding(  # detectors/constraints.py: the label `constraint`
            severity=Severity.WARNING,
            value=0.2,
            threshold=0.0,
            model="m",
            feature="age",
            constraint=ConstraintKind.RANGE,
            violations=2,
            rows=10,
            expected="within [0, 120]",
        ),
        GpuHealthFinding(  # the labels detectors/gpu.py gives a GPU's findings
            severity=Severity.PAGE,
            value=79,
            threshold=0,
            gpu="GPU-1",
            condition=GpuCondition("xid"),
            labels={"gpu": "0", "UUID": "GPU-1", "modelName": "NVIDIA H200", "xid": "79"},
        ),
    ]
    carried = {name for finding in findings for name in describe(finding)[0]}
    assert carried <= ALERT_LABELS, carried - ALERT_LABELS
    assert ALERT_LABELS - carried == set()
