"""The UI's page for a model it does not track (`GET /ui/models/{model}` answers it with 404)."""

from __future__ import annotations

from collections.abc import Sequence

from driftwarden.rendering.svg import esc
from driftwarden.ui.layout import model_url, page

__all__ = ["not_found_page"]


def not_found_page(model: str, known: Sequence[str], *, now: float) -> str:
    links = ", ".join(f'<a href="{esc(model_url(m))}">{esc(m)}</a>' for m in known) or "none yet"
    body = (
        f'<h1>No model named <code>{esc(model)}</code></h1><div class="card" id="not-found">'
        f'<p>Models tracked: {links}.</p><p><a href="/">Back to the overview</a></p></div>'
    )
    return page("not found", body, now=now)
