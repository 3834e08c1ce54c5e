"""Text cut to a receiver's field limit, visibly: the last character kept is an ellipsis.

>>> clip("Feature drift on fraud", 10), clip("short", 10)
('Feature d…', 'short')
"""

from __future__ import annotations

__all__ = ["ELLIPSIS", "clip"]

ELLIPSIS = "…"


def clip(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its first `limit - 1` and an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS
