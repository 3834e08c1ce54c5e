"""What the verbs share: exit codes, the console for errors, and how a share is printed.

Light on purpose: `driftwarden.cli` imports it to build the tree, so rich is imported on first use.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["EXIT_DRIFT", "EXIT_OK", "EXIT_USAGE", "fail", "percent", "stderr"]

EXIT_OK, EXIT_DRIFT, EXIT_USAGE = 0, 1, 2


@functools.cache
def stderr() -> Console:
    """The console on stderr (errors, notes, progress); an error line stays whole, however long its path."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def fail(message: str) -> int:
    """Print `error <message>` on stderr and give the exit code for it: `return fail(f"--out {out}: {exc}")`.
    The message is printed as it is, never read as markup: a path such as `/data/[x]/key` stays whole."""
    from rich.markup import escape

    stderr().print(f"[red]error[/] {escape(message)}", highlight=False)
    return EXIT_USAGE


def percent(x: float | None) -> str:
    """`0.125` -> `"12.5%"`; None -> `"-"`."""
    return "-" if x is None else f"{100 * x:.1f}%"
