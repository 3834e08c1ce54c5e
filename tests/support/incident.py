"""A PagerDuty Events v2 trigger as an incident page shows it: summary, severity, source and time, the
custom details and the links. For the README's picture of an alert and the test that renders it in
headless Chromium; every value is escaped."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["incident_page"]

_STYLE = """
body{font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;background:#f4f5f7;margin:0;padding:24px;
color:#1d2433}
.incident{background:#fff;border:1px solid #dfe3e8;border-radius:8px;max-width:940px;padding:18px 22px}
.sev{display:inline-block;background:#c9372c;color:#fff;border-radius:4px;padding:1px 8px;font-weight:600;
font-size:12px}
h1{font-size:18px;margin:10px 0 6px}.meta{color:#5e6c84;font-size:13px}
h2{font-size:12px;text-transform:uppercase;color:#5e6c84;letter-spacing:.04em;margin:16px 0 6px}
ol.reasons{margin:0;padding-left:20px}ol.reasons li{margin:2px 0}
table{border-collapse:collapse;width:100%;font-size:13px}
td{padding:4px 8px;border-top:1px solid #eef0f3;vertical-align:top}
td.key{color:#5e6c84;width:130px;white-space:nowrap}td{word-break:break-all}
.links a{display:inline-block;margin:0 8px 6px 0;padding:5px 11px;border:1px solid #0b5cad;border-radius:4px;
color:#0b5cad;text-decoration:none;font-weight:600;font-size:13px}
"""


def incident_page(event: dict[str, Any]) -> str:
    payload = event["payload"]
    details = payload["custom_details"]
    reasons = "".join(f"<li><code>{escape(_reason(r))}</code></li>" for r in details.get("reasons", []))
    shown = ("pod", "namespace", "started_at", "ui_url", "grafana_url", "runbook_url")
    rows = "".join(
        f'<tr><td class="key">{escape(k)}</td><td>{escape(str(details[k]))}</td></tr>' for k in shown if details.get(k)
    )
    links = "".join(f'<a href="{escape(link["href"])}">{escape(link["text"])}</a>' for link in event["links"])
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><style>{_STYLE}</style></head><body>"
        f'<div class="incident"><span class="sev">{escape(payload["severity"].upper())}</span>'
        f"<h1>{escape(payload['summary'])}</h1>"
        f'<div class="meta">{escape(payload["class"])} · {escape(payload["component"])} · {escape(payload["source"])}'
        f" · triggered {escape(payload.get('timestamp', ''))}</div>"
        f"<h2>Why (custom_details.reasons)</h2><ol class='reasons'>{reasons}</ol>"
        f"<h2>Where</h2><table>{rows}</table><h2>Links</h2><div class='links'>{links}</div></div></body></html>"
    )


def _reason(r: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}" for k, v in r.items())
