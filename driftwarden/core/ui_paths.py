"""Where the built-in UI shows things: shared by the UI that serves the pages and the alerts that link
to them, so a link in a page always finds its anchor.

>>> model_page_path("fraud/v2"), feature_anchor("amount"), feature_fragment("unit price")
('/ui/models/fraud%2Fv2', 'feature-amount', 'feature-unit%20price')
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["GPUS_ANCHOR", "SLOS_ANCHOR", "feature_anchor", "feature_fragment", "model_page_path"]

SLOS_ANCHOR = "slos"  # the overview's SLO table
GPUS_ANCHOR = "gpus"  # the overview's GPU table


def model_page_path(model: str) -> str:
    return "/ui/models/" + quote(model, safe="")


def feature_anchor(feature: str) -> str:
    """The `id` of a feature's section on its model page (HTML-escape it when writing it)."""
    return "feature-" + feature


def feature_fragment(feature: str) -> str:
    """`feature_anchor` as a URL fragment: percent-encoded (browsers decode it to find the id)."""
    return quote(feature_anchor(feature), safe="-._~")
