"""Every route an app serves, as (method, path template, route), whatever FastAPI's router nesting."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute

__all__ = ["served_routes"]


def served_routes(app: FastAPI) -> Iterator[tuple[str, str, BaseRoute]]:
    """One row per method of every route, included routers' routes too (app.routes holds those as one
    entry per router since FastAPI 0.137)."""
    for context in iter_route_contexts(app.routes):
        for method in sorted(context.methods or ()):
            yield method, str(context.path), context.original_route
