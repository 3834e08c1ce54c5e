"""What a receiver may decide at send time beyond a fixed URL and a body: the request itself (a
URL per message, credentials in headers) and what a 2xx reply means (Slack's `ok: false`, the
`ts` of a post to thread under). The outbox calls these; receivers never send."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Refused", "Reply", "Request"]


@dataclass(frozen=True)
class Request:
    """One stored message as it is sent now: where to, the body, and headers added to the stored
    ones (credentials read now among them: never stored, never logged)."""

    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Request(body={len(self.body)} bytes)"  # the URL and headers may be credentials


@dataclass(frozen=True)
class Reply:
    """A 2xx answer as the receiver reads it."""

    status: int
    body: bytes


@dataclass(frozen=True)
class Refused:
    """A 2xx reply that is a refusal after all; `retry` when another attempt may succeed."""

    reason: str
    retry: bool = False
