"""The demo's narrative: alerts told by their own status, each once, and a summary that counts them."""

from __future__ import annotations

import io

import orjson
from rich.console import Console

from driftwarden.demo.narrative import Narrator
from driftwarden.demo.timeline import Timeline
from driftwarden.sink import Delivery


def alert(fingerprint: str, status: str, name: str = "FeatureDrift", subject: str = "amount") -> dict[str, object]:
    return {
        "fingerprint": fingerprint,
        "status": status,
        "labels": {"alertname": name, "model": "fraud", "subject": subject},
        "annotations": {
            "summary": f"{name} on fraud: {subject} KS D 0.2 ≥ 0.1",
            "ui_url": "http://dw/ui/models/fraud#x",
        },
    }


def notification(status: str, *alerts: dict[str, object], at: float) -> Delivery:
    body = {"version": "4", "status": status, "alerts": list(alerts)}
    return Delivery("/alerts", {}, orjson.dumps(body), True, received=at)


def told(deliveries: list[Delivery]) -> tuple[str, Narrator]:
    out = io.StringIO()
    clock = [0.0]
    narrator = Narrator(
        Timeline(Console(file=out, width=300), clock=lambda: clock[0]), listen="dw", model="fraud", quality_window=10
    )
    for d in deliveries:
        narrator.delivery(d)
    clock[0] = 100.0
    narrator.timeline.flush(everything=True)
    return out.getvalue(), narrator


def test_a_notification_with_firing_and_resolved_alerts_is_told_as_both_and_repeats_are_not_retold() -> None:
    text, narrator = told(
        [
            notification("firing", alert("a", "firing"), alert("m", "firing", "ModelDrift", "__model__"), at=10),
            # the group's next notification: one more alert fires, one resolves, one is a repeat
            notification(
                "firing",
                alert("b", "firing", subject="age"),
                alert("m", "firing", "ModelDrift", "__model__"),
                alert("a", "resolved"),
                at=20,
            ),
            notification(
                "resolved", alert("b", "resolved", subject="age"), alert("m", "resolved", "ModelDrift"), at=30
            ),
        ]
    )
    blocks = [b for b in text.split("  [+") if b]
    assert [b.split("\n")[0].split("] ", 1)[1] for b in blocks] == [
        "ALERT FIRING to the local webhook (signature ok):",
        "ALERT FIRING to the local webhook (signature ok):",
        "ALERT RESOLVED to the local webhook (signature ok):",
        "ALERT RESOLVED to the local webhook (signature ok):",
    ]
    assert "age KS D" in blocks[1] and "ModelDrift" not in blocks[1]  # the repeat is not told again
    assert "fraud/amount resolved after 10s firing" in blocks[2] and "FeatureDrift" in blocks[2]
    assert "resolved" not in blocks[0] + blocks[1]
    summary = narrator.summary()
    assert "alerts: 3 fired (FeatureDrift 2, ModelDrift 1), 3 resolved, 0 still firing" in summary


def test_the_summary_counts_features_as_the_reference_line_does() -> None:
    out = io.StringIO()
    narrator = Narrator(Timeline(Console(file=out, width=300)), listen="dw", model="fraud", quality_window=10)
    features = [{"name": n, "kind": "numeric"} for n in ("a", "b", "prediction")] + [
        {"name": "c", "kind": "categorical"}
    ]
    narrator.reference_fitted("fraud", {"rows": 100, "features": features})
    narrator.timeline.flush(everything=True)
    assert "3 input features (2 numeric, 1 categorical: c) plus the model output (prediction)" in out.getvalue()
    assert "no drift detected in 3 input features" in narrator.summary()
