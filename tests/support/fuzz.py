"""Hypothesis settings shared by the parser fuzzers: `DRIFTWARDEN_FUZZ_EXAMPLES` (the README's long mode)
overrides each property's own number of examples."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["EXAMPLES", "examples"]

EXAMPLES = int(os.environ.get("DRIFTWARDEN_FUZZ_EXAMPLES", "0")) or None


def examples(n: int) -> settings:
    return settings(
        max_examples=EXAMPLES or n, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
    )
