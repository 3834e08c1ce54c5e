"""Slack: one Block Kit message per notification of an alert group (`slack_blocks.py`), through an
incoming webhook or `chat.postMessage` with a bot token.

- Incoming webhook: its URL is the credential, read from its file at each send. Slack answers
  `ok` and no message id, so every notification, the resolution too, is a message of its own.
- `chat.postMessage`: the bot token (`Authorization: Bearer`, read at each send) posts in
  `channel`. Slack answers a refusal with 200 and `{"ok": false, "error": ...}`: `ratelimited` and
  Slack's own failures are retried, the rest (`invalid_auth`, `channel_not_found`, `not_in_channel`
  ...) failed for good. The first post of a group starts a thread: its `ts` is kept (a
  `ThreadStore`, in the state file across restarts) and every later notification of the group,
  the resolution last, replies in that thread; the resolution forgets it, so the group's next
  episode starts a thread of its own. The outbox keeps a group's notifications in order, so a
  reply is composed only once the post it replies to has been answered.

The outbox stores `{"thread", "resolved", "text", "blocks"}`: no token, URL or channel.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from driftwarden.alerts.dispatch import Notification
from driftwarden.alerts.receivers.base import Endpoint, Message, Secret, SecretUnavailable
from driftwarden.alerts.receivers.delivery import Refused, Reply, Request
from driftwarden.alerts.receivers.slack_blocks import slack_message
from driftwarden.params import AlertLinkParams

__all__ = ["POST_MESSAGE_URL", "MemoryThreads", "SlackReceiver", "ThreadStore"]

POST_MESSAGE_URL = "https://slack.com/api/chat.postMessage"
WEBHOOK_HOST = "https://hooks.slack.com"  # shown in logs for a webhook receiver; its URL is in the file
RETRIED = frozenset({"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
                     "request_timeout"})  # fmt: skip


class ThreadStore(Protocol):
    """The `ts` of the post that started each group's thread, by receiver and group key."""

    def get(self, receiver: str, key: str) -> str | None: ...
    def put(self, receiver: str, key: str, ts: str) -> None: ...
    def drop(self, receiver: str, key: str) -> None: ...


class MemoryThreads:
    """A ThreadStore that forgets at exit (tests, a receiver built by hand)."""

    def __init__(self) -> None:
        self.threads: dict[tuple[str, str], str] = {}

    def get(self, receiver: str, key: str) -> str | None:
        return self.threads.get((receiver, key))

    def put(self, receiver: str, key: str, ts: str) -> None:
        self.threads[(receiver, key)] = ts

    def drop(self, receiver: str, key: str) -> None:
        self.threads.pop((receiver, key), None)


class SlackReceiver:
    def __init__(
        self,
        name: str,
        *,
        webhook_url: Secret | None = None,
        bot_token: Secret | None = None,
        channel: str | None = None,
        url: str | None = None,
        threads: ThreadStore | None = None,
        timeout: float = 10.0,
        links: AlertLinkParams | None = None,
    ) -> None:
        secret = bot_token or webhook_url
        if secret is None or (bot_token is None) == (webhook_url is None) or (bot_token is not None and not channel):
            raise ValueError("a Slack receiver takes webhook_url, or bot_token and channel")
        self.name = name
        self._secret, self.channel = secret, channel
        self.threaded = bot_token is not None  # chat.postMessage, whose answer names the post to reply to
        self.threads: ThreadStore = MemoryThreads() if threads is None else threads
        self.links = links or AlertLinkParams()
        shown = (url or POST_MESSAGE_URL) if self.threaded else WEBHOOK_HOST
        self.endpoint = Endpoint(shown, timeout, compose=self.request, read_reply=self.read_reply)

    def __repr__(self) -> str:
        return f"SlackReceiver(name={self.name!r}, via={'chat.postMessage' if self.threaded else 'webhook'})"

    def messages(self, notification: Notification, now: float) -> list[Message]:
        message = slack_message(notification, self.links)
        stored = {
            "thread": notification.group_key,
            "resolved": notification.status == "resolved",
            "text": message.text,
            "blocks": message.blocks,
        }
        return [Message(self.name, f"{self.name}:{notification.group_key}", orjson.dumps(stored))]

    def request(self, stored: bytes) -> Request:
        """The stored message as sent now: to the webhook's URL as its file holds it, or to
        chat.postMessage with the token and, once the group has a thread, its `thread_ts`."""
        message = orjson.loads(stored)
        body: dict[str, Any] = {"text": message["text"], "blocks": message["blocks"]}
        if not self.threaded:
            url = self._secret_text("the webhook URL")
            return Request(url, orjson.dumps(body), {"Content-Type": "application/json"})
        token = self._secret_text("the bot token")
        body |= {"channel": self.channel, "unfurl_links": False, "unfurl_media": False}
        thread = self.threads.get(self.name, message["thread"])
        if thread:
            body["thread_ts"] = thread
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"}
        return Request(self.endpoint.url, orjson.dumps(body), headers)

    def read_reply(self, stored: bytes, reply: Reply) -> Refused | None:
        """chat.postMessage's answer: a refusal (`ok: false`), or the `ts` that starts the group's
        thread; the resolution's answer ends it. A webhook's `ok` says nothing more than its 2xx."""
        if not self.threaded:
            return None
        try:
            answer = orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict):
            return Refused("Slack answered without its JSON object", retry=True)
        if answer.get("ok") is not True:
            error = str(answer.get("error", "no error given"))[:100]
            return Refused(f"Slack: {error}", retry=error in RETRIED)
        message = orjson.loads(stored)
        if message["resolved"]:
            self.threads.drop(self.name, message["thread"])
        elif isinstance(answer.get("ts"), str) and self.threads.get(self.name, message["thread"]) is None:
            self.threads.put(self.name, message["thread"], answer["ts"])
        return None

    def _secret_text(self, what: str) -> str:
        try:
            return self._secret().decode().strip()
        except UnicodeDecodeError:
            raise SecretUnavailable(f"receiver {self.name!r}: {what} is not UTF-8 text") from None
