"""Errors every receiver raises for a body it cannot use at all."""

from __future__ import annotations

__all__ = ["BodyError"]


class BodyError(Exception):
    """The body as a whole is unusable: answer `status` with `reason`."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
