"""The runbooks the daemon serves (`GET /runbooks`, `GET /runbooks/{alertname}`): the "Runbooks" section
of the operator's guide, one `### Runbook: <AlertName>` subsection per alert kind, rendered from the guide
itself. docs/operators-guide.md is the one source: the package links it in as `driftwarden/operators-guide.md`
(package data, so the wheel has it), and an alert's default `runbook_url` is its page here.

>>> book = parse_runbooks("# Guide\\n## Troubleshoot\\n### Runbooks\\nEvery alert.\\n### Runbook: FeatureDrift\\n"
...                       "A feature moved.\\n## Next\\nelse")
>>> book.intro, dict(book.sections)
('Every alert.\\n', {'FeatureDrift': 'A feature moved.\\n'})
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from markdown_it import MarkdownIt

from driftwarden.core.alert_names import RUNBOOKS_PATH, runbook_anchor, runbook_path
from driftwarden.rendering.svg import esc
from driftwarden.ui.layout import page

__all__ = ["Runbooks", "parse_runbooks", "runbook_page", "runbooks", "runbooks_page", "unknown_runbook_page"]

GUIDE = "operators-guide.md"  # package data of `driftwarden`: a link to docs/operators-guide.md
_SECTION = re.compile(r"^### Runbooks\n(?P<body>.*?)(?=^## |\Z)", re.M | re.S)
_RUNBOOK = re.compile(r"^### Runbook: (?P<name>\w+)\n", re.M)
_MARKDOWN = MarkdownIt("commonmark", {"html": False})  # the guide's text, never raw HTML from it


@dataclass(frozen=True)
class Runbooks:
    intro: str  # Markdown: what every runbook has in common
    sections: Mapping[str, str]  # alert name -> its runbook, Markdown, in the guide's order


def parse_runbooks(guide: str) -> Runbooks:
    """The runbooks of the operator's guide's text; ValueError when it has no "### Runbooks" section."""
    found = _SECTION.search(guide)
    if found is None:
        raise ValueError("the operator's guide has no '### Runbooks' section")
    parts = _RUNBOOK.split(found["body"])  # intro, name, text, name, text, ...
    sections = {name.strip(): text.strip("\n") + "\n" for name, text in zip(parts[1::2], parts[2::2], strict=True)}
    return Runbooks(intro=parts[0].strip("\n") + "\n", sections=sections)


@cache
def runbooks() -> Runbooks:
    """The packaged guide's runbooks, read once."""
    return parse_runbooks(files("driftwarden").joinpath(GUIDE).read_text(encoding="utf-8"))


def runbooks_page(book: Runbooks, *, now: float) -> str:
    """Every runbook on one page; each section's id is `runbook-<alertname>`, as the guide's anchors."""
    index = ", ".join(f'<a href="{esc(runbook_path(name))}">{esc(name)}</a>' for name in book.sections)
    body = (
        f'<h1>Runbooks</h1><div class="card runbook-intro">{_MARKDOWN.render(book.intro)}'
        f"<p>Alerts: {index}.</p></div>{''.join(_section(name, text) for name, text in book.sections.items())}"
    )
    return page("runbooks", body, now=now)


def runbook_page(book: Runbooks, name: str, *, now: float) -> str:
    body = (
        f"<h1>Runbook: {esc(name)}</h1>{_section(name, book.sections[name], heading=False)}"
        f'<p><a href="{RUNBOOKS_PATH}">All runbooks</a></p>'
    )
    return page(f"runbook {name}", body, now=now)


def unknown_runbook_page(book: Runbooks, name: str, *, now: float) -> str:
    known = ", ".join(f'<a href="{esc(runbook_path(n))}">{esc(n)}</a>' for n in book.sections)
    body = (
        f'<h1>No runbook for <code>{esc(name)}</code></h1><div class="card" id="not-found">'
        f"<p>Runbooks: {known}.</p></div>"
    )
    return page("runbook not found", body, now=now)


def _section(name: str, text: str, *, heading: bool = True) -> str:
    title = f'<h2><a href="{esc(runbook_path(name))}">{esc(name)}</a></h2>' if heading else ""
    return (
        f'<section class="card runbook" id="{esc(runbook_anchor(name))}" data-alert="{esc(name)}">'
        f"{title}{_MARKDOWN.render(text)}</section>"
    )
