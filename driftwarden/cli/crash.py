"""An exception no verb expected: a bug. One line on stderr says what it was and where its traceback
was written (a file in the temporary directory, to attach to a report); with `--debug` (or
DRIFTWARDEN_DEBUG=1) the traceback is printed instead. Plain writes, no rich: whatever broke may
be what a console would need."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import traceback

from driftwarden import __version__

__all__ = ["report_crash"]


def report_crash(exc: BaseException, *, argv: list[str], debug: bool) -> None:
    trace = "".join(traceback.format_exception(exc))
    what = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else '(no message)'}"
    if debug:
        sys.stderr.write(trace)
        sys.stderr.write(f"driftwarden: internal error ({what}): a bug, please report it with the traceback above\n")
        return
    header = (
        f"driftwarden {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
        f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')}: {' '.join(argv)}\n\n"
    )
    try:
        fd, path = tempfile.mkstemp(prefix="driftwarden-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(header + trace)
    except OSError:  # nowhere to write it: print it rather than lose it
        sys.stderr.write(trace)
        path = "printed above"
    sys.stderr.write(
        f"driftwarden: internal error ({what}): a bug, please report it; traceback in {path} (--debug prints it)\n"
    )
