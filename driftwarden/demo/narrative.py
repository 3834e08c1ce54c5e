"""The demo's story as an on-call engineer would want to read it.

Every event (the load's, the evaluator's, the local receiver's) goes through one `Timeline`, so the
output is in the order things happened. A verdict is told by its reasons (the tests that fired); an
alert by its own status: "ALERT FIRING" lists only alerts that start firing, "ALERT RESOLVED" those
that resolved (a notification carries both when they share a group, and repeats of alerts already told
are left out). The closing summary counts what was told, so its numbers match the lines above it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape

from driftwarden.daemon.views import DaemonViews
from driftwarden.demo.timeline import Timeline
from driftwarden.detectors.drift import PREDICTION, DriftReport, FeatureDrift
from driftwarden.detectors.findings import SLOBurnFinding
from driftwarden.detectors.reasons import headline, reasons_text
from driftwarden.sink import Delivery

__all__ = ["QUALITY_DROP", "Narrator", "Story"]

QUALITY_DROP = 0.05  # the accuracy drop the daemon judges degraded (detectors/outcomes.py quality_change)


@dataclass
class Story:
    """What happened, counted from the events as they were told (seconds since the demo started)."""

    records: int = 0
    inputs: int = 0  # input features of the reference: numeric and categorical, not the prediction
    shift_at: float | None = None
    rollback_at: float | None = None
    drift_at: float | None = None
    cleared_at: float | None = None
    drifted: set[str] = field(default_factory=set)  # input features that drifted at some point
    most_drifted: int = 0  # the most input features drifted at once
    output_drifted: bool = False
    fired: Counter[str] = field(default_factory=Counter)  # alertname -> alerts that started firing
    resolved: Counter[str] = field(default_factory=Counter)
    firing: dict[str, str] = field(default_factory=dict)  # fingerprint -> alertname, firing now
    fired_at: dict[str, float] = field(default_factory=dict)  # fingerprint -> when told firing
    retrains: int = 0
    slo_pages: dict[str, float] = field(default_factory=dict)  # SLO -> its first page
    quality_baseline: float | None = None
    quality_lowest: float | None = None
    quality_last: float | None = None


class Narrator:
    def __init__(self, timeline: Timeline, *, listen: str, model: str, quality_window: int) -> None:
        self.timeline = timeline
        self.listen = listen
        self.model = model
        self.quality_window = quality_window
        self.story = Story()
        self._degraded = False

    def _t(self) -> float:
        return self.timeline.since_start()

    # --- the load ------------------------------------------------------------------------------

    def reference_fitted(self, model: str, summary: dict[str, Any]) -> None:
        features = summary["features"]
        numeric = [f["name"] for f in features if f["kind"] == "numeric" and f["name"] != PREDICTION]
        categorical = [f["name"] for f in features if f["kind"] == "categorical"]
        output = " plus the model output (prediction)" if any(f["name"] == PREDICTION for f in features) else ""
        self.story.inputs = len(numeric) + len(categorical)
        self.timeline.note(
            f"reference fitted for model [bold]{escape(model)}[/]: {summary['rows']:,} rows, {self.story.inputs} "
            f"input features ({len(numeric)} numeric, {len(categorical)} categorical: "
            f"{escape(', '.join(categorical))}){output}"
        )

    def load_plan(self, *, rate: float, duration: float, shift_at: float, revert_at: float) -> None:
        self.timeline.note(
            f"sending ~{rate:,.0f} predictions/s for {duration:.0f}s; after {shift_at:.0f}s of it amount, age and "
            f"distance_km shift (the other features stay put), after {revert_at:.0f}s the shift is rolled back; "
            "each batch's ground truth follows 2s later (POST /v1/labels)"
        )

    def progress(self, sent: int, matched: int) -> None:
        self.story.records = sent
        self.timeline.note(f"{sent:,} records sent, {matched:,} labels matched")

    def shift_injected(self, features: tuple[str, ...]) -> None:
        self.story.shift_at = self._t()
        self.timeline.note(
            f"[bold yellow]shift injected[/]: {escape(', '.join(features))} move (amount x1.6, age +10 years, "
            "distance_km x2.2); latency regresses from 60 ms to 300 ms median"
        )

    def shift_rolled_back(self) -> None:
        self.story.rollback_at = self._t()
        self.timeline.note("[bold green]shift rolled back[/]: traffic looks like the reference again")

    def load_finished(self, sent: int) -> None:
        self.story.records = sent
        self.timeline.note(f"load finished: {sent:,} records accepted")

    # --- the daemon's verdicts -----------------------------------------------------------------

    def drift(self, report: DriftReport, previous: DriftReport | None) -> None:
        """Say what changed since the last evaluation, each drifted feature with its reasons."""
        if report.rows["current"] == 0:
            return
        drifted = {f.name for f in report.drifted_features}
        output = bool(report.prediction and report.prediction.drifted)
        if previous is not None:
            before = {f.name for f in previous.drifted_features}
            was_output = bool(previous.prediction and previous.prediction.drifted)
            if (drifted, report.drifted, output) == (before, previous.drifted, was_output):
                return
        inputs = [f for f in report.features if f.role != PREDICTION and f.scores]
        if not drifted and not output:
            if self.story.drift_at is not None and self.story.cleared_at is None:
                self.story.cleared_at = self._t()
                self.timeline.note(f"[green]drift cleared[/]: none of the {len(inputs)} input features drifts now")
            else:
                self.timeline.note(
                    f"[green]no drift[/]: {len(inputs)} input features, {report.rows['current']:,} current rows"
                )
            return
        story = self.story
        story.drift_at = story.drift_at if story.drift_at is not None else self._t()
        story.cleared_at = None
        story.drifted |= drifted
        story.most_drifted = max(story.most_drifted, len(drifted))
        story.output_drifted |= output
        title = "[bold red]DRIFT DETECTED[/]" if report.drifted else "[yellow]features drifting[/]"
        why = "; ".join(r.text() for r in report.reasons) or "below the model's threshold"
        lines = [
            f"{title} on {escape(report.model)}: {len(drifted)} of {len(inputs)} input features drifted "
            f"({escape(why)})",
        ]
        shown = [f for f in report.features if f.scores or f.drifted]
        for f in sorted(shown, key=_most_drifted_first):
            role = "  [dim](model output)[/]" if f.role == PREDICTION else ""
            if f.drifted:
                lines.append(f"{escape(f.name):<15} [red]drifted[/]  {escape(reasons_text(f.reasons))}{role}")
            else:
                lines.append(f"{escape(f.name):<15} ok       largest effect {f.effect:.0%} of its threshold{role}")
        lines.append(f"why, feature by feature: http://{self.listen}/ui/models/{escape(report.model)}")
        self.timeline.note(*lines)

    def slo(self, slo: str, findings: list[SLOBurnFinding], previous: list[SLOBurnFinding]) -> None:
        before = {f.subject for f in previous}
        for f in findings:
            if f.subject in before:
                continue
            if f.severity.value == "page":
                self.story.slo_pages.setdefault(slo, self._t())
            color = "bold red" if f.severity.value == "page" else "yellow"
            budget = (
                f"{f.budget_remaining:.0%} of the budget left" if f.budget_remaining > 0 else "the budget is exhausted"
            )
            self.timeline.note(
                f"[{color}]SLO {escape(slo)}: {f.severity.value.upper()}[/] error budget burning "
                f"{f.value:.1f}x over {f.windows} (threshold {f.threshold}x); {budget}"
            )
        if previous and not findings:
            self.timeline.note(f"[green]SLO {escape(slo)}: burn rates back under their thresholds[/]")

    def quality(self, views: DaemonViews, model: str) -> None:
        """When the labels give the model a baseline accuracy, when it falls and when it recovers."""
        state = next((s for s in views.states() if s.model == model), None)
        if state is None or "accuracy" not in state.quality_baseline or "accuracy" not in state.quality:
            return
        story = self.story
        baseline, accuracy = state.quality_baseline["accuracy"], state.quality["accuracy"]
        story.quality_last = accuracy
        story.quality_lowest = accuracy if story.quality_lowest is None else min(story.quality_lowest, accuracy)
        if story.quality_baseline is None:
            story.quality_baseline = baseline
            self.timeline.note(
                f"labels joined: realized accuracy {baseline:.1%} (F1 {state.quality_baseline['f1']:.2f}) over the "
                f"first {self.quality_window:,} labelled predictions is {escape(model)}'s quality baseline"
            )
        if not self._degraded and accuracy <= baseline - QUALITY_DROP:
            self._degraded = True
            self.timeline.note(
                f"[bold red]QUALITY DEGRADED[/]: realized accuracy {accuracy:.1%} against {baseline:.1%} at baseline, "
                "the labels say the model misjudges the shifted amounts",
                f"see it: curl -s {self.listen}/metrics | grep model_quality",
            )
        elif self._degraded and accuracy > baseline - QUALITY_DROP / 2:
            self._degraded = False
            self.timeline.note(
                f"[green]quality recovered[/]: realized accuracy {accuracy:.1%} (baseline {baseline:.1%})"
            )

    # --- what the local receiver got -----------------------------------------------------------

    def delivery(self, delivery: Delivery) -> None:
        """A notification as the on-call engineer sees it: alerts that start firing, alerts that resolved."""
        body: Any = delivery.json()  # the JSON our own receivers sent
        signed = "signature ok" if delivery.signed else "[red]BAD SIGNATURE[/]"
        story = self.story
        if delivery.path == "/retrain":
            story.retrains += 1
            features = ", ".join(body["drifted_features"]) or "drift budget burning"
            self.timeline.note(
                f"[bold magenta]retraining triggered[/] for {escape(body['model'])} ({escape(features)}; "
                f"Idempotency-Key {escape(delivery.headers.get('Idempotency-Key', ''))}; {signed})",
                at=delivery.received,
            )
            return
        at = self.timeline.since_start(delivery.received)
        firing, resolved = [], []
        for alert in body["alerts"]:
            key, name = alert["fingerprint"], alert["labels"]["alertname"]
            if alert["status"] == "firing" and key not in story.firing:
                story.firing[key], story.fired_at[key] = name, at
                story.fired[name] += 1
                firing.append(alert)
            elif alert["status"] == "resolved" and story.firing.pop(key, None) is not None:
                story.resolved[name] += 1
                resolved.append((alert, at - story.fired_at.pop(key)))
        if firing:
            lines = [f"[bold red]ALERT FIRING[/] to the local webhook ({signed}):"]
            lines += [f"{a['labels']['alertname']:<20} {escape(a['annotations']['summary'])}" for a in firing]
            links = {a["annotations"].get("ui_url", "").partition("#")[0] for a in firing} - {""}
            lines += [f"{'open':<20} {escape(link)}" for link in sorted(links)]
            self.timeline.note(*lines, at=delivery.received)
        if resolved:
            lines = [f"[bold green]ALERT RESOLVED[/] to the local webhook ({signed}):"]
            lines += [
                f"{a['labels']['alertname']:<20} {escape(_target(a['labels']))} resolved after {seconds:.0f}s firing"
                for a, seconds in resolved
            ]
            self.timeline.note(*lines, at=delivery.received)

    # --- the end -------------------------------------------------------------------------------

    def summary(self) -> list[str]:
        """The closing summary: the story's counts, which are those of the lines printed before it."""
        s = self.story
        out = [f"[bold]summary[/]: {s.records:,} records accepted"]
        if s.shift_at is not None:
            rollback = f", rolled back at +{s.rollback_at:.0f}s" if s.rollback_at is not None else ""
            out.append(f"shift injected at +{s.shift_at:.0f}s{rollback}")
        if s.drift_at is None:
            out.append(f"no drift detected in {s.inputs} input features")
        else:
            output = " and the model output" if s.output_drifted else ""
            cleared = f", cleared at +{s.cleared_at:.0f}s" if s.cleared_at is not None else ", still drifting"
            out.append(
                f"drift detected at +{s.drift_at:.0f}s: at most {s.most_drifted} of {s.inputs} input features "
                f"({escape(', '.join(sorted(s.drifted)))}){output}{cleared}"
            )
        fired, resolved = sum(s.fired.values()), sum(s.resolved.values())
        by_name = ", ".join(f"{name} {n}" for name, n in sorted(s.fired.items()))
        still = Counter(s.firing.values())
        firing = ", ".join(f"{name} {n}" for name, n in sorted(still.items()))
        out.append(
            f"alerts: {fired} fired ({by_name or 'none'}), {resolved} resolved, "
            f"{len(s.firing)} still firing{f' ({firing})' if firing else ''}"
        )
        out.append("retraining triggered " + {0: "never", 1: "once"}.get(s.retrains, f"{s.retrains} times"))
        for slo, at in sorted(s.slo_pages.items()):
            out.append(f"SLO {escape(slo)} paged at +{at:.0f}s")
        if s.quality_baseline is not None and s.quality_lowest is not None and s.quality_last is not None:
            out.append(
                f"realized accuracy: baseline {s.quality_baseline:.1%}, lowest {s.quality_lowest:.1%}, "
                f"last {s.quality_last:.1%}"
            )
        return out


def _most_drifted_first(f: FeatureDrift) -> tuple[bool, float, str]:
    top = headline(f.reasons)
    return (not f.drifted, -(top.ratio if top else f.effect if f.effect == f.effect else 0.0), f.name)


def _target(labels: dict[str, str]) -> str:
    target = labels.get("model") or labels.get("slo") or labels.get("gpu") or ""
    subject = labels.get("subject", "")
    return f"{target}/{subject}" if subject and not subject.startswith(("__", "burn_rate", "drift_budget")) else target
