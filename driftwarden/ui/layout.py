"""The page around every UI page: the stylesheet, the header, the Content-Security-Policy and the
model links.

Server-rendered, self-contained (inline CSS and SVG, no script, nothing fetched from
elsewhere); `page()` escapes the title, the body comes in as markup.
"""

from __future__ import annotations

import time
from urllib.parse import quote

from driftwarden import __version__
from driftwarden.rendering.svg import esc
from driftwarden.ui.format import utc

__all__ = ["CSP", "CSS", "model_url", "page"]

CSS = """
:root{--fg:#1d2430;--muted:#5f6b7a;--line:#d9dee5;--bg:#f6f7f9;--card:#fff;--ref:#7f95ad;--cur:#e07a2f;
--bad:#c8372d;--bad-bg:#fde8e6;--warn:#a86500;--warn-bg:#fff1d6;--ok:#1f7a45;--ok-bg:#e3f4ea;--link:#1a5fb4}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);
background:var(--bg)}
header{background:#1d2430;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header .brand{font-weight:700;font-size:16px;color:#fff;text-decoration:none}
header nav a{color:#c9d4e3;margin-right:14px;text-decoration:none}
header nav a:hover{color:#fff}
header .meta{margin-left:auto;color:#9aa7b8;font-size:12px}
main{max-width:1240px;margin:0 auto;padding:16px 24px 40px}
h1{font-size:22px;margin:6px 0 12px}
h2{font-size:17px;margin:22px 0 8px}
a{color:var(--link)}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:12px 14px;margin-bottom:12px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.03em}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr:last-child td{border-bottom:none}
.muted{color:var(--muted)}
.small{font-size:12px}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;font-weight:600;white-space:nowrap}
.badge.drift,.badge.page,.badge.critical,.badge.lost{background:var(--bad-bg);color:var(--bad)}
.badge.warning,.badge.ticket,.badge.pending{background:var(--warn-bg);color:var(--warn)}
.badge.ok{background:var(--ok-bg);color:var(--ok)}
.badge.none,.badge.silenced{background:#eceff3;color:var(--muted)}
.badge.stable{background:var(--bad);color:#fff}.badge.missing{background:var(--warn-bg);color:var(--warn)}
.badge.output{background:#e4edf9;color:var(--link)}
.over{color:var(--bad);font-weight:600}
.meter{display:inline-block;width:70px;height:8px;background:#e6e9ee;border-radius:4px;vertical-align:middle;
margin-right:6px;overflow:hidden}
.meter i{display:block;height:100%;background:var(--ok)}
.meter i.low{background:var(--warn)}.meter i.out{background:var(--bad)}
.features{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:12px}
section.feature{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--line);
border-radius:6px;padding:10px 14px}
section.feature.drifted,section.feature.stable{border-left-color:var(--bad)}
section.feature.output{border-top:3px solid var(--link)}
section.feature h3{margin:0 0 4px;font-size:15px;display:flex;gap:8px;align-items:center;word-break:break-all}
.legend{font-size:12px;color:var(--muted)}
.legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:-1px}
.legend i.reference{background:var(--ref)}.legend i.current{background:var(--cur)}
svg.chart{display:block;width:100%;height:auto;max-width:100%}
svg.chart .bar.reference{fill:var(--ref)}svg.chart .bar.current{fill:var(--cur)}
svg.chart .grid{stroke:#e6e9ee}svg.chart .axis-line{stroke:#9aa4b1}
svg.chart .axis,svg.chart .value{font-size:10px;fill:var(--muted)}svg.chart .empty{font-size:12px;fill:var(--muted)}
svg.chart .category{font-size:11px;fill:var(--fg)}svg.chart .category.pooled{font-style:italic;fill:var(--muted)}
svg.chart .line{fill:none;stroke:#1a5fb4;stroke-width:1.6}
svg.chart .threshold{stroke:var(--bad);stroke-dasharray:4 3;stroke-width:1}
svg.chart .point{fill:#1a5fb4}svg.chart .point.over{fill:var(--bad)}
table.stats{width:auto;margin:4px 0}table.stats td,table.stats th{padding:2px 14px 2px 0;border:none}
.kv{display:flex;gap:18px;flex-wrap:wrap;font-size:13px;margin:4px 0}
.unseen{margin:4px 0;word-break:break-all}
.reasons{margin:4px 0;color:var(--bad)}.reasons span[data-test]{white-space:nowrap}.reasons.held{color:var(--warn)}
section.feature:target{outline:2px solid var(--link);outline-offset:2px}
"""

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def page(title: str, body: str, *, now: float | None = None) -> str:
    """A whole HTML document around `body` (already markup); `title` is escaped here."""
    stamp = utc(time.time() if now is None else now)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · driftwarden</title><style>{CSS}</style></head><body>"
        '<header><a class="brand" href="/">driftwarden</a><nav><a href="/">Overview</a>'
        '<a href="/v1/models">models JSON</a><a href="/v1/slos">SLOs JSON</a><a href="/v1/alerts">alerts JSON</a>'
        f'<a href="/metrics">/metrics</a></nav><span class="meta">v{esc(__version__)} · rendered {stamp}</span>'
        f"</header><main>{body}</main></body></html>"
    )


def model_url(model: str) -> str:
    return "/ui/models/" + quote(model, safe="")
