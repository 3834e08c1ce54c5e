"""HTML pages as a browser reads them: a small DOM from the standard library's parser, Debian's
headless Chromium (skipped without it, unless CI=true), and the string every page must escape."""

from __future__ import annotations

import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

from tests.support.tools import required_tool

__all__ = ["EVIL", "Dom", "Element", "browse", "chromium"]

EVIL = '<script>alert("x")</script>'


class Element:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []
        self.text = ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def find_all(self, tag: str, cls: str | None = None) -> list[Element]:
        wanted = set((cls or "").split())
        return [e for e in self.descendants() if e.tag == tag and wanted <= e.classes]

    def by_id(self, ident: str) -> Element:
        (found,) = [e for e in self.descendants() if e.attrs.get("id") == ident]
        return found

    def descendants(self) -> list[Element]:
        return [d for child in self.children for d in (child, *child.descendants())]

    def all_text(self) -> str:
        return self.text + "".join(c.all_text() for c in self.children)


class Dom(HTMLParser):
    VOID: ClassVar[set[str]] = {
        "meta",
        "br",
        "img",
        "input",
        "link",
        "hr",
        "area",
        "base",
        "col",
        "embed",
        "source",
        "wbr",
    }

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.current = self.root
        self.scripts = 0
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(element)
        self.scripts += tag == "script"
        if tag not in self.VOID:
            self.current = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Element(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.text += data


def chromium() -> str:
    return required_tool("chromium", package="chromium")


def browse(binary: str, profile: Path, *args: str) -> str:
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
