"""Silences: label matchers with an expiry; a silenced alert is kept but not notified.

Silences saved by an earlier run are loaded one by one: a saved silence that no longer loads
(a missing or mistyped field) is skipped and reported, and the others are kept.

>>> skipped = []
>>> saved = [{"id": "a1", "matchers": {"model": "fraud"}, "starts_at": 0, "ends_at": 60}, {"id": "b2"}]
>>> [s.id for s in Silences(saved, on_skip=lambda *args: skipped.append(args)).all()]
['a1']
>>> skipped[0][:2]
('silence', 'b2')
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Silence", "Silences"]

log = logging.getLogger("driftwarden.alerts")
MAX_SILENCE = 366 * 86400.0  # seconds: a silence longer than a year is a disabled alert, not a silence


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> Silence:
        """A silence as `to_dict` saved it; TypeError or ValueError for anything else."""
        if not isinstance(d, dict):
            raise TypeError(f"a silence is a JSON object, not {type(d).__name__}")
        missing = {"id", "matchers", "starts_at", "ends_at"} - d.keys()
        if missing:
            raise ValueError(f"missing {', '.join(sorted(missing))}")
        silence = cls(**d)  # TypeError for an unknown field
        matchers = silence.matchers
        if not isinstance(matchers, dict) or not all(isinstance(v, str) for v in matchers.values()):
            raise TypeError("matchers must be an object of label: value strings")
        for name in ("starts_at", "ends_at"):
            if not isinstance(getattr(silence, name), int | float) or isinstance(getattr(silence, name), bool):
                raise TypeError(f"{name} must be a number (unix time)")
            if not math.isfinite(getattr(silence, name)):
                raise ValueError(f"{name} must be a finite time")
        for name in ("id", "comment", "created_by"):
            if not isinstance(getattr(silence, name), str):
                raise TypeError(f"{name} must be a string")
        return silence


class Silences:
    def __init__(self, saved: object = None, *, on_skip: Callable[[str, str, object], None] | None = None) -> None:
        """`saved`: what `to_list()` returned in an earlier run. `on_skip(kind, key, error)` hears of
        every saved silence that no longer loads (the state's `Database.skip`); without it, they are logged."""
        self._by_id: dict[str, Silence] = {}
        skip = on_skip or _log_skipped
        if saved is not None and not isinstance(saved, list):
            skip("silence", "silences", f"saved as {type(saved).__name__}, not a list")
            saved = []
        for i, d in enumerate(saved or []):
            try:
                silence = Silence.from_dict(d)
            except (TypeError, ValueError) as exc:
                saved_id = d.get("id") if isinstance(d, dict) else None
                key = saved_id if isinstance(saved_id, str) else f"silences[{i}]"
                skip("silence", key, exc)
                continue
            self._by_id[silence.id] = silence

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
        if not math.isfinite(ends_at):
            raise ValueError(f"a silence must end at a finite time, got {ends_at}")
        if ends_at <= now:
            raise ValueError("a silence must end in the future")
        if ends_at - now > MAX_SILENCE:
            raise ValueError(f"a silence lasts at most {MAX_SILENCE / 86400:.0f} days: expire and renew a longer one")
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

    def replace(self, saved: list[dict[str, Any]]) -> None:
        """Back to what `to_list()` returned earlier (a change the state file refused is undone)."""
        self._by_id = {s.id: s for s in map(Silence.from_dict, saved)}

    def to_list(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self._by_id.values()]


def _log_skipped(kind: str, key: str, error: object) -> None:
    log.error("saved %s %r skipped: it no longer loads (%s)", kind, key, error)
