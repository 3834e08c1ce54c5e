"""Log output: human-readable lines by default, one JSON object a line with `log_format: json`."""

from __future__ import annotations

import json
import logging
import time

__all__ = ["JsonFormatter", "setup_logging"]

_EXTRA_KEYS = ("model", "trace_id", "receiver", "slo")  # passed with `extra=` where known


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...}`: what log shippers (Loki, Fluent Bit) parse as is."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {k: getattr(record, k) for k in _EXTRA_KEYS if hasattr(record, k)}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):  # one format for everything the daemon prints
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
