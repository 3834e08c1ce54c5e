"""A notification as one Slack Block Kit message, within Block Kit's limits.

    header     ":rotating_light: Firing: Drift on fraud: 200 features" (severity's icon; resolved: a check)
    section    fields: severity, model (and version), alerts firing/resolved, since, where it runs
    section    the drifted features, most drifted first: name (linked to its UI section), score
               against its threshold, the tests that fired; cut with "…and 188 more drifted features"
    section    each other alert (ModelDrift, SLO, GPU ...): its summary
    actions    buttons to the UI, the Grafana dashboard and the runbook
    context    driftwarden, its pod, the group

Slack's limits, as its Block Kit reference gives them, are kept by cutting text with an ellipsis
(and saying how many features or alerts were left out), never by a refused post: header text
150 characters, section text 3,000, at most 10 fields of 2,000, button text 75 and URL 3,000 (a
longer URL is left out: cut, it would lead nowhere), at most 50 blocks. Slack also refuses a
message whose blocks hold much more than ~12,000 characters in all (`msg_blocks_too_long`), so
the sections share TEXT_BUDGET. The blocks are built with `slack_sdk.models.blocks`, whose
`to_dict()` checks the limits it knows again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from driftwarden.alerts.alert import Alert, AlertStatus
from driftwarden.alerts.dispatch import Notification
from driftwarden.alerts.links import AlertContext, alert_context
from driftwarden.alerts.receivers.clip import clip
from driftwarden.core import alert_names
from driftwarden.detectors.reasons import Reason, reasons_text
from driftwarden.params import AlertLinkParams

__all__ = ["LIMITS", "SlackMessage", "slack_message"]

HEADER_TEXT, SECTION_TEXT, FIELDS, FIELD_TEXT = 150, 3000, 10, 2000
BUTTON_TEXT, BUTTON_URL, MAX_BLOCKS, CONTEXT_TEXT = 75, 3000, 50, 2000
LIMITS = {
    "header_text": HEADER_TEXT,
    "section_text": SECTION_TEXT,
    "fields": FIELDS,
    "field_text": FIELD_TEXT,
    "button_text": BUTTON_TEXT,
    "button_url": BUTTON_URL,
    "blocks": MAX_BLOCKS,
}
TEXT_BUDGET = 9000  # characters of all sections together (Slack's msg_blocks_too_long comes near 12,000)
FEATURE_LINE = 400  # one feature's line at most
MORE_LINE = 60  # kept for "…and N more drifted features"
OTHER_ALERT = 600  # one other alert's summary at most
OTHER_ALERTS = 10  # other alerts shown at most
FALLBACK_TEXT = 3000  # the message's `text`: what notifications and screen readers show

ICONS = {"page": ":rotating_light:", "ticket": ":warning:", "warning": ":warning:", "info": ":information_source:"}
RESOLVED_ICON = ":white_check_mark:"


@dataclass(frozen=True)
class SlackMessage:
    """`text` (the notification's words) and `blocks`, as chat.postMessage and incoming webhooks take them."""

    text: str
    blocks: list[dict[str, Any]]


@dataclass(frozen=True)
class _Feature:
    line: str  # mrkdwn: name (linked), score, why
    rank: float  # most drifted first


def slack_message(notification: Notification, links: AlertLinkParams) -> SlackMessage:
    alerts = notification.alerts
    resolved = notification.status == "resolved"
    lead = _lead(alerts)
    context = alert_context(lead, links)
    header = _header(notification, lead, resolved)
    budget = [TEXT_BUDGET]
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=header, emoji=True))]
    blocks.append(SectionBlock(fields=[MarkdownTextObject(text=f) for f in _fields(alerts, lead, context)]))
    blocks += _feature_sections(alerts, links, resolved, budget)
    blocks += _other_alerts(alerts, budget)
    buttons = _buttons(context, len(alerts) > 1)
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    where = "/".join(p for p in (context.namespace, context.pod) if p)
    footer = f"driftwarden{f' · {where}' if where else ''} · group `{_escape(notification.group_key)}`"
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(footer, CONTEXT_TEXT))]))
    text = clip(_escape(f"{header} — {lead.annotations.get('summary', '')}"), FALLBACK_TEXT)
    if len(blocks) > MAX_BLOCKS:  # not reached with the budgets above; the footer stays last
        blocks = blocks[: MAX_BLOCKS - 1] + blocks[-1:]
    return SlackMessage(text, [block.to_dict() for block in blocks])


def _lead(alerts: list[Alert]) -> Alert:
    """The alert the message leads with: a firing ModelDrift (it speaks for the model), else the first."""
    firing = [a for a in alerts if a.status is AlertStatus.FIRING] or alerts
    return next((a for a in firing if a.name == alert_names.MODEL_DRIFT), firing[0])


def _header(notification: Notification, lead: Alert, resolved: bool) -> str:
    icon = RESOLVED_ICON if resolved else ICONS.get(lead.labels.get("severity", ""), ":warning:")
    alerts = notification.alerts
    if len(alerts) == 1:
        title = lead.annotations.get("summary", lead.name)
    else:
        names = ", ".join(sorted({a.name for a in alerts}))
        target = _target(lead) or ", ".join(notification.group_labels.values())
        features = sum(a.name == alert_names.FEATURE_DRIFT for a in alerts)
        title = f"{names} on {target}" + (f": {features} features" if features else "")
    return clip(f"{icon} {'Resolved' if resolved else 'Firing'}: {title}", HEADER_TEXT)


def _target(alert: Alert) -> str:
    labels = alert.labels
    return next((labels[k] for k in ("model", "slo", "gpu") if labels.get(k)), "")


def _fields(alerts: list[Alert], lead: Alert, context: AlertContext) -> list[str]:
    firing = sum(a.status is AlertStatus.FIRING for a in alerts)
    version = lead.evidence.get("model_version")
    what = next(
        (title for key, title in (("model", "Model"), ("slo", "SLO"), ("gpu", "GPU")) if key in lead.labels), ""
    )
    target = f"{_target(lead)} {version}" if version else _target(lead)
    fields = [  # mrkdwn: escaped
        ("Severity", _escape(lead.labels.get("severity", ""))),
        (what, _escape(target)),
        ("Alerts", f"{firing} firing, {len(alerts) - firing} resolved"),
        ("Since", _date(lead.starts_at) if lead.starts_at is not None else ""),
        ("Pod", _escape("/".join(p for p in (context.namespace, context.pod) if p))),
    ]
    return [clip(f"*{name}*\n{value}", FIELD_TEXT) for name, value in fields if value][:FIELDS]


def _date(ts: float) -> str:
    """Slack's date formatting: shown in each reader's time zone, the UTC time where it cannot be."""
    fallback = datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(ts)}^{{date_short_pretty}} {{time}}|{fallback}>"


def _feature_sections(alerts: list[Alert], links: AlertLinkParams, resolved: bool, budget: list[int]) -> list[Block]:
    """The drifted features, most drifted first, in sections of at most SECTION_TEXT characters and
    TEXT_BUDGET in all; the ones left out counted in a last line."""
    features = _features(alerts, links, resolved)
    if not features:
        return []
    lines = [f"*{'Features that drifted' if resolved else 'Drifted features'}* ({len(features)})"]
    budget[0] -= len(lines[0]) + MORE_LINE
    for feature in features:
        if budget[0] < len(feature.line) + 1:
            break
        lines.append(feature.line)
        budget[0] -= len(feature.line) + 1
    if len(lines) - 1 < len(features):
        lines.append(f"…and {len(features) - len(lines) + 1} more drifted features: see the UI")
    return [SectionBlock(text=MarkdownTextObject(text=text)) for text in _packed(lines, SECTION_TEXT)]


def _packed(lines: list[str], limit: int) -> list[str]:
    """Lines (each shorter than `limit`) joined into as few texts of at most `limit` characters as they fit in."""
    texts = [lines[0]]
    for line in lines[1:]:
        if len(texts[-1]) + 1 + len(line) > limit:
            texts.append(line)
        else:
            texts[-1] += "\n" + line
    return texts


def _features(alerts: list[Alert], links: AlertLinkParams, resolved: bool) -> list[_Feature]:
    """Each FeatureDrift alert's feature with its score and reasons; then the drifted features a
    ModelDrift alert names that have no alert of their own here, with the reasons it gives."""
    out: dict[str, _Feature] = {}
    for a in alerts:
        if a.name != alert_names.FEATURE_DRIFT or not a.labels.get("subject"):
            continue
        gone = " _(resolved)_" if a.status is AlertStatus.RESOLVED and not resolved else ""
        why = _reasons(a.evidence.get("reasons")) or "held as drifted"
        name = _link(a.labels["subject"], alert_context(a, links).ui_url)
        line = f"• {name} {a.value:.3g} (threshold {a.threshold:.3g}){gone} — {_escape(why)}"
        rank = a.value / a.threshold if a.threshold else a.value
        out[a.labels["subject"]] = _Feature(clip(line, FEATURE_LINE), rank - 1e6 * bool(gone))
    for a in alerts:
        if a.name != alert_names.MODEL_DRIFT:
            continue
        reasons = {t.feature: t for t in alert_context(a, links).top_features}
        for feature in a.evidence.get("drifted_features", []):
            if feature in out:
                continue
            top = reasons.get(feature)
            name = _link(str(feature), top.ui_url if top else None)
            why = f" — {_escape(reasons_text(top.reasons, limit=2))}" if top and top.reasons else ""
            out[feature] = _Feature(clip(f"• {name}{why}", FEATURE_LINE), -1e3 - len(out))
    return sorted(out.values(), key=lambda f: -f.rank)


def _other_alerts(alerts: list[Alert], budget: list[int]) -> list[Block]:
    others = [a for a in alerts if a.name != alert_names.FEATURE_DRIFT]
    blocks: list[Block] = []
    for i, a in enumerate(others):
        state = " _(resolved)_" if a.status is AlertStatus.RESOLVED else ""
        text = clip(f"*{a.name}*{state} {_escape(a.annotations.get('summary', ''))}", OTHER_ALERT)
        if i == OTHER_ALERTS or budget[0] < len(text):
            blocks.append(SectionBlock(text=MarkdownTextObject(text=f"…and {len(others) - i} more alerts")))
            break
        budget[0] -= len(text)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
    return blocks


def _buttons(context: AlertContext, group: bool) -> list[ButtonElement]:
    """The UI (the model's page for a group, the feature's section for one alert), Grafana, the runbook;
    a URL past Slack's limit is left out rather than cut into a broken link."""
    ui = context.ui_url.split("#")[0] if group and context.ui_url else context.ui_url
    links = [("Open in driftwarden", ui, "ui"), ("Grafana dashboard", context.grafana_url, "grafana")]
    links.append(("Runbook", context.runbook_url, "runbook"))
    return [
        ButtonElement(text=clip(text, BUTTON_TEXT), url=url, action_id=action)
        for text, url, action in links
        if url and len(url) <= BUTTON_URL
    ]


def _reasons(saved: object) -> str:
    if not isinstance(saved, list) or not saved:
        return ""
    return reasons_text([Reason.from_dict(r) for r in saved], limit=2)


def _link(text: str, url: str | None) -> str:
    """`<url|text>` in mrkdwn (a `|` in the text would end it early); the plain escaped text without a URL."""
    shown = _escape(text)
    return f"<{url}|{shown.replace('|', '¦')}>" if url else f"*{shown}*"


def _escape(text: str) -> str:
    """mrkdwn's three control characters, as Slack asks them escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
