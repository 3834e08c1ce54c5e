"""Who is calling: the caller an audited action records (the audit trail, `persistence.audit`)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from fastapi import Request

from driftwarden.persistence.audit import Caller

__all__ = ["ANONYMOUS", "caller_of", "is_loopback"]

ANONYMOUS = "anonymous"  # the caller's name when no token is configured
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


def caller_of(request: Request) -> Caller:
    """The name of the token the request sent (set by `bearer_auth`), its client's address, the subject
    of its verified TLS client certificate, and the trace id of its `traceparent` header."""
    return Caller(
        getattr(request.state, "token_name", None) or ANONYMOUS,
        request.client.host if request.client else None,
        tls_subject(request.scope),
        _trace_id(request.headers.get("traceparent", "")),
    )


def tls_subject(scope: Mapping[str, Any]) -> str | None:
    """The client certificate's subject from the ASGI TLS extension, where the server verified one and
    reports it; uvicorn, which `driftwarden run` serves with, asks for no client certificate."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    name = tls.get("client_cert_name")
    return name if isinstance(name, str) and name else None


def is_loopback(host: str | None) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


def _trace_id(traceparent: str) -> str | None:
    """W3C trace context: the trace id a caller's tracing gave its request; None without a valid one."""
    match = _TRACEPARENT.match(traceparent.strip())
    if match is None or match.group(1) == "0" * 32:
        return None
    return match.group(1)
