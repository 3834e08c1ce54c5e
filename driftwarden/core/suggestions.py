""" "Did you mean": the known names closest to a mistyped one, for error messages and warnings.

>>> did_you_mean("windoww", ["window", "features", "drift"])
['window']
>>> did_you_mean("group_wiat", ["group_wait", "group_interval", "group_by"]), did_you_mean("cat", ["bat", "hat"])
(['group_wait'], ['bat', 'hat'])
>>> did_you_mean("mdl", ["model", "kind", "severity"]), did_you_mean("zzz", ["model"])
(['model'], [])
>>> hint(["model"]), hint(["a", "b"]), hint([])
("; did you mean 'model'?", "; did you mean 'a' or 'b'?", '')
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = ["did_you_mean", "hint"]


CUTOFF = 0.6  # difflib's similarity ratio below which a name is not suggested
MARGIN = 0.1  # a name is suggested beside the closest one only when it is about as close


def did_you_mean(word: str, known: Iterable[str], *, most: int = 3) -> list[str]:
    """Up to `most` of `known` that look like `word`, closest first: the closest, and any others
    (in sorted order) that are about as close."""
    scored = []
    for name in sorted(set(known)):
        matcher = difflib.SequenceMatcher(None, word, name)
        if matcher.real_quick_ratio() >= CUTOFF and matcher.quick_ratio() >= CUTOFF:
            ratio = matcher.ratio()
            if ratio >= CUTOFF:
                scored.append((ratio, name))
    if not scored:
        return []
    best = max(ratio for ratio, _ in scored)
    close = sorted((-ratio, name) for ratio, name in scored if ratio >= best - MARGIN)
    return [name for _, name in close[:most]]


def hint(suggestions: Sequence[str]) -> str:
    """`; did you mean 'a' or 'b'?` to end a message with, or "" when there is nothing to suggest."""
    if not suggestions:
        return ""
    return f"; did you mean {' or '.join(repr(s) for s in suggestions)}?"
