"""A local webhook sink: records what driftwarden delivers (the demo and the tests use it).

It answers from a script of statuses (default 200) so a test can make it fail, throttle or
refuse, and it checks the Standard Webhooks signature when given the secret (`whsec_...` text, or
the raw key bytes).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

__all__ = ["Delivery", "WebhookSink"]


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool | None  # None when no secret was given
    received: float = field(default_factory=time.monotonic)  # when it arrived (time.monotonic)

    def json(self) -> object:
        return json.loads(self.body)


class WebhookSink:
    def __init__(self, *, secret: bytes | str | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.secret = secret
        self.deliveries: list[Delivery] = []
        self.attempts: list[Delivery] = []  # every POST, refused ones included
        self.script: deque[tuple[int, dict[str, str]]] = deque()  # responses to give before 200s
        self._lock = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with sink._lock:
                    status, headers = sink.script.popleft() if sink.script else (200, {})
                    headers_ = dict(self.headers.items())
                    signed = None if sink.secret is None else _verified(body, headers_, sink.secret)
                    sink.attempts.append(Delivery(self.path, headers_, body, signed))
                    if status < 300:
                        sink.deliveries.append(sink.attempts[-1])
                        sink._lock.notify_all()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]  # AF_INET: a str host (the stubs cover bytes families too)
        return f"http://{host!s}:{port}"

    def start(self) -> WebhookSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        """Block until at least `count` deliveries arrived (or the timeout passed)."""
        with self._lock:
            self._lock.wait_for(lambda: len(self.deliveries) >= count, timeout=timeout)
            return list(self.deliveries)


def _verified(body: bytes, headers: dict[str, str], secret: bytes | str) -> bool:
    try:
        Webhook(secret).verify(body, headers, json_parse=False)
    except (WebhookVerificationError, ValueError):  # ValueError: a signature header that is not v1,<base64>
        return False
    return True
