"""Log output: human-readable lines by default, one JSON object a line with `log_format: json`.

Messages carry text that clients chose (feature and model names, the errors that quote them), so
neither format lets it forge a line or drive a terminal:

- text: control characters (C0, DEL, C1, the Unicode line and paragraph separators, the bidi
  overrides) are written as escapes (`\\n`, `\\x1b`, `\\u2028`), so a record is one line; the lines
  of a traceback are indented, so only a record starts at column 0;
- json: `json.dumps` escapes them, and every non-ASCII character, within the string.

Both mask URLs as a second guard for secrets (the first: receivers never log their URLs): any
`scheme://...` keeps its scheme, host and port; credentials become `***@`, and a path, query or
fragment becomes `/***` (webhook URLs carry tokens in the path too).
"""

from __future__ import annotations

import json
import logging
import time

from driftwarden.core.urls import redact_urls

__all__ = ["JsonFormatter", "TextFormatter", "setup_logging"]

_EXTRA_KEYS = ("model", "trace_id", "receiver", "slo", "audit")  # passed with `extra=` where known

_ESCAPES = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}
_CONTROL = [*range(0x20), 0x7F, *range(0x80, 0xA0)]
_UNICODE_BREAKS = [0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]  # separators, bidi controls
_ONE_LINE = {c: f"\\x{c:02x}" for c in _CONTROL} | {c: f"\\u{c:04x}" for c in _UNICODE_BREAKS} | _ESCAPES
_KEEP_NEWLINES = {c: e for c, e in _ONE_LINE.items() if c != ord("\n")}


class TextFormatter(logging.Formatter):
    """`2026-12-02 12:00:00,000 WARNING driftwarden.ingest: message`, one line a record (plus its
    traceback, indented)."""

    def format(self, record: logging.LogRecord) -> str:
        message = redact_urls(record.getMessage()).translate(_ONE_LINE)
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {message}"
        if record.exc_info:
            line += "\n" + _indented(self.formatException(record.exc_info))
        if record.stack_info:
            line += "\n" + _indented(self.formatStack(record.stack_info))
        return line


def _indented(text: str) -> str:
    return "    " + redact_urls(text).translate(_KEEP_NEWLINES).replace("\n", "\n    ")


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...}`: what log shippers (Loki, Fluent Bit) parse as is."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact_urls(record.getMessage()),
        }
        entry |= {k: getattr(record, k) for k in _EXTRA_KEYS if hasattr(record, k)}
        if record.exc_info:
            entry["exception"] = redact_urls(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)  # ensure_ascii: control and line-breaking characters escaped


def setup_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):  # one format for everything the daemon prints
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
