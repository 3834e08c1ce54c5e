"""What the verbs share: exit codes, the consoles, and how errors, JSON and a share are printed.

Light on purpose: `driftwarden.cli` imports it to build the tree, so rich is imported on first use.

The consoles: on a terminal, output fits its width and may be coloured; written to a file or a pipe,
nothing is wrapped or cut (a table is as wide as its widest row) and nothing is coloured. `NO_COLOR`
(any value but empty, https://no-color.org) turns colour and every other escape code off on a terminal too
(styles, and the live redrawing of a progress bar: it is printed once, when done).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "DAEMON_URL",
    "EXIT_CODES",
    "EXIT_CRASH",
    "EXIT_DRIFT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PIPE",
    "EXIT_START",
    "EXIT_USAGE",
    "fail",
    "percent",
    "print_json",
    "stderr",
    "stdout",
    "warn",
]

EXIT_OK, EXIT_DRIFT, EXIT_USAGE, EXIT_START = 0, 1, 2, 3
EXIT_CRASH = 70  # EX_SOFTWARE (sysexits.h): a bug, never to be mistaken for "drift found"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C
EXIT_PIPE = 141  # 128 + SIGPIPE, as shells report a command whose reader went away

EXIT_CODES = (
    (EXIT_OK, "success; for check: no drift"),
    (EXIT_DRIFT, "check: drift found"),
    (EXIT_USAGE, "usage or config error, unreadable input, or a daemon that refused the request or cannot be reached"),
    (EXIT_START, "run, demo: the daemon could not start (its address is in use or not available, or startup failed)"),
    (EXIT_CRASH, "internal error: a bug (one line on stderr says where its traceback was written; --debug prints it)"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C) before it finished"),
    (EXIT_PIPE, "stdout was closed before everything was written (a pipe into head)"),
)

DAEMON_URL = "DRIFTWARDEN_URL"  # the environment variable naming the daemon the client verbs talk to
UNBOUNDED = 100_000  # the width of a console that is not a terminal: nothing is wrapped or cut


def no_color() -> bool:
    return os.environ.get("NO_COLOR", "") != ""


def _console(*, stderr: bool) -> Console:
    from rich.console import Console

    console = Console(stderr=stderr, soft_wrap=stderr)
    if not console.is_terminal:
        return Console(stderr=stderr, soft_wrap=stderr, width=UNBOUNDED, color_system=None)
    if no_color():  # the terminal's width, and none of its escape codes: no colour, style or live display
        return Console(stderr=stderr, soft_wrap=stderr, width=console.width, color_system=None, force_terminal=False)
    return console


@functools.cache
def stdout() -> Console:
    """The console for results: tables, summaries."""
    return _console(stderr=False)


@functools.cache
def stderr() -> Console:
    """The console on stderr (errors, notes, progress); an error line stays whole, however long its path."""
    return _console(stderr=True)


def fail(message: str) -> int:
    """Print `error <message>` on stderr and give the exit code for it: `return fail(f"--out {out}: {exc}")`.
    The message is printed as it is, never read as markup: a path such as `/data/[x]/key` stays whole."""
    from rich.markup import escape

    stderr().print(f"[red]error[/] {escape(message)}", highlight=False)
    return EXIT_USAGE


def warn(message: str) -> None:
    """`warning <message>` on stderr, printed as it is."""
    from rich.markup import escape

    stderr().print(f"[yellow]warning[/] {escape(message)}", highlight=False)


def print_json(document: Any) -> None:
    """One JSON document on stdout, for `--json`: indented, non-ASCII kept, the same on a terminal or a pipe."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")


def percent(x: float | None) -> str:
    """`0.125` -> `"12.5%"`; None -> `"-"`."""
    return "-" if x is None else f"{100 * x:.1f}%"
