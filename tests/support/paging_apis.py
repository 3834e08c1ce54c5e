"""Local stand-ins for OpsGenie's Alert API v2 and Slack's Web API and incoming webhooks, over real
HTTP on a free loopback port: they answer as the services document (OpsGenie 202 with a
requestId; Slack 200 `{"ok": ..., "ts": ...}`, or plain `ok` from a webhook), refuse a wrong
key or token as they do, and record every request. A `script` of (status, headers, body) answers
is served first, so a test can make them fail, throttle or refuse.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.block_kit import block_kit_problems

__all__ = ["ApiRequest", "FakeOpsGenie", "FakeSlack"]

Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class ApiRequest:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0  # what the stand-in answered, and its body
    answer: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Server:
    """A ThreadingHTTPServer whose POSTs go to `answer(request) -> (status, headers, body)`."""

    requests: list[ApiRequest] = field(default_factory=list)
    script: deque[Answer] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with server._lock:
                    request = ApiRequest(parts.path, parse_qs(parts.query), headers, body)
                    status, answer_headers, answer = (
                        server.script.popleft() if server.script else server.answer(request)
                    )
                    server.requests.append(replace(request, status=status, answer=answer))
                    server._lock.notify_all()
                self.send_response(status)
                for k, v in answer_headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def answer(self, request: ApiRequest) -> Answer:
        raise NotImplementedError

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def took(self, request: ApiRequest) -> bool:
        """Whether the answer accepted the request."""
        return request.status < 300

    def accepted(self) -> list[ApiRequest]:
        with self._lock:
            return [r for r in self.requests if self.took(r)]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[ApiRequest]:
        """The accepted requests, once at least `count` arrived (or the timeout passed)."""
        with self._lock:
            self._lock.wait_for(lambda: sum(self.took(r) for r in self.requests) >= count, timeout=timeout)
        return self.accepted()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def _json(status: int, value: object) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(value).encode()


class FakeOpsGenie(_Server):
    """`POST /v2/alerts` and `POST /v2/alerts/{alias}/close?identifierType=alias` with
    `Authorization: GenieKey <one of keys>`; the alerts it holds by alias: open or closed, and
    how many creates each open one counted."""

    def __init__(self, *keys: str) -> None:
        self.keys = set(keys)
        self.alerts: dict[str, dict[str, Any]] = {}
        super().__init__()

    def answer(self, request: ApiRequest) -> Answer:
        if request.headers.get("authorization", "").removeprefix("GenieKey ") not in self.keys:
            return _json(401, {"message": "Could not authenticate", "took": 0.0, "requestId": str(uuid.uuid4())})
        parts = request.path.strip("/").split("/")
        body = request.json()
        if parts == ["v2", "alerts"]:
            problem = _create_problem(body)
            if problem:
                return _json(422, {"message": problem, "took": 0.0, "requestId": str(uuid.uuid4())})
            open_alert = self.alerts.get(body.get("alias", ""))
            if open_alert and open_alert["status"] == "open":
                open_alert["count"] += 1
            else:
                self.alerts[body.get("alias", str(uuid.uuid4()))] = {"status": "open", "count": 1, "body": body}
        elif len(parts) == 4 and parts[:2] == ["v2", "alerts"] and parts[3] == "close":
            if request.query.get("identifierType") != ["alias"]:
                return _json(404, {"message": "Alert does not exist"})
            if parts[2] in self.alerts:  # OpsGenie answers 202 either way; the request status says more
                self.alerts[parts[2]]["status"] = "closed"
        else:
            return _json(404, {"message": "no such endpoint"})
        return _json(202, {"result": "Request will be processed", "took": 0.01, "requestId": str(uuid.uuid4())})


def _create_problem(body: dict[str, Any]) -> str | None:
    """What OpsGenie's create refuses (422), as its Alert API documents the fields' limits."""
    limits = {"message": 130, "alias": 512, "description": 15000, "entity": 512, "source": 100, "user": 100}
    if not body.get("message"):
        return "Message can not be empty."
    for key, limit in limits.items():
        if len(body.get(key, "")) > limit:
            return f"{key} is longer than {limit} characters"
    tags = body.get("tags", [])
    if len(tags) > 20 or any(len(t) > 50 for t in tags):
        return "at most 20 tags of at most 50 characters"
    details = body.get("details", {})
    if not all(isinstance(v, str) for v in details.values()):
        return "details must be a map of strings"
    if sum(len(k) + len(v) for k, v in details.items()) > 8000:
        return "details are longer than 8000 characters"
    if body.get("priority", "P3") not in {"P1", "P2", "P3", "P4", "P5"}:
        return "priority must be one of P1..P5"
    return None


class FakeSlack(_Server):
    """Slack's `POST /api/chat.postMessage` (a bot `token`, Bearer) and incoming webhooks at
    `/services/T000/B000/<secret>`. Block Kit messages over its limits are refused as Slack does
    (`invalid_blocks`); each post gets its own `ts`."""

    webhook_path = "/services/T000/B000/XXXXXXXXXXXX"

    def __init__(self, token: str = "xoxb-test-token", channel: str = "C0DRIFT") -> None:
        self.token, self.channel = token, channel
        self._ts = (f"1700000000.{n:06d}" for n in itertools.count(100))
        super().__init__()

    @property
    def webhook_url(self) -> str:
        return self.url + self.webhook_path

    def took(self, request: ApiRequest) -> bool:
        """A 2xx, and from chat.postMessage `ok: true` (Slack refuses in a 200 too)."""
        return request.status < 300 and (request.answer == b"ok" or json.loads(request.answer).get("ok") is True)

    def posts(self) -> list[dict[str, Any]]:
        """The accepted posts' bodies, each with the `ts` it got as `_ts` (None from a webhook)."""
        return [
            r.json() | {"_ts": json.loads(r.answer).get("ts") if r.answer != b"ok" else None} for r in self.accepted()
        ]

    def answer(self, request: ApiRequest) -> Answer:
        body = request.json()
        problems = block_kit_problems(body)
        if request.path == self.webhook_path:
            if problems:
                return 400, {"Content-Type": "text/plain"}, b"invalid_blocks"
            return 200, {"Content-Type": "text/plain"}, b"ok"
        if request.path != "/api/chat.postMessage":
            return 404, {}, b""
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _json(200, {"ok": False, "error": "invalid_auth"})
        if body.get("channel") != self.channel:
            return _json(200, {"ok": False, "error": "channel_not_found"})
        if problems:
            return _json(200, {"ok": False, "error": "invalid_blocks", "errors": problems})
        ts = next(self._ts)
        return _json(200, {"ok": True, "channel": self.channel, "ts": ts, "message": {"text": body.get("text")}})
