"""Silences: label matchers with an expiry; a silenced alert is kept but not notified."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass

__all__ = ["Silence", "Silences"]


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: dict[str, str]  # label: value, all must equal
    starts_at: float
    ends_at: float
    comment: str = ""
    created_by: str = ""

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.matchers.items())

    def to_dict(self) -> dict:
        return asdict(self)


class Silences:
    def __init__(self, saved: list[dict] | None = None) -> None:
        self._by_id = {d["id"]: Silence(**d) for d in (saved or [])}

    def add(
        self,
        matchers: dict[str, str],
        ends_at: float,
        *,
        comment: str = "",
        created_by: str = "",
        now: float | None = None,
    ) -> Silence:
        if not matchers:
            raise ValueError("a silence needs at least one matcher (label: value)")
        now = time.time() if now is None else now
        if ends_at <= now:
            raise ValueError("a silence must end in the future")
        silence = Silence(uuid.uuid4().hex[:12], dict(matchers), now, ends_at, comment, created_by)
        self._by_id[silence.id] = silence
        return silence

    def expire(self, silence_id: str, now: float | None = None) -> bool:
        silence = self._by_id.get(silence_id)
        if silence is None:
            return False
        now = time.time() if now is None else now
        self._by_id[silence_id] = Silence(
            silence.id,
            silence.matchers,
            silence.starts_at,
            min(now, silence.ends_at),
            silence.comment,
            silence.created_by,
        )
        return True

    def matching(self, labels: dict[str, str], now: float) -> list[str]:
        return [s.id for s in self._by_id.values() if s.active(now) and s.matches(labels)]

    def all(self) -> list[Silence]:
        return sorted(self._by_id.values(), key=lambda s: s.starts_at)

    def to_list(self) -> list[dict]:
        return [s.to_dict() for s in self._by_id.values()]
