"""HMAC signatures on every webhook, so a receiver can tell driftwarden's calls from forgeries.

Headers: `X-Driftwarden-Timestamp: <unix seconds>` and
`X-Driftwarden-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. A receiver checks
the signature and refuses timestamps older than a few minutes (replays):

>>> headers = sign(b'{"status": "firing"}', b"s3cret", now=1700000000)
>>> verify(b'{"status": "firing"}', headers, b"s3cret", now=1700000030)
True
>>> verify(b'{"status": "resolved"}', headers, b"s3cret", now=1700000030)
False
>>> verify(b'{"status": "firing"}', headers, b"s3cret", now=1700001000)   # too old: a replay
False
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Driftwarden-Signature"
TIMESTAMP_HEADER = "X-Driftwarden-Timestamp"


def sign(body: bytes, secret: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: f"sha256={digest}"}


def verify(
    body: bytes, headers: Mapping[str, str], secret: bytes, *, tolerance: float = 300, now: float | None = None
) -> bool:
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not (timestamp.isascii() and timestamp.isdigit()) or not signature.startswith("sha256="):
        return False  # any malformed header is a failed check, never an exception
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    given = signature.removeprefix("sha256=").encode("utf-8", "surrogateescape")
    return hmac.compare_digest(expected.encode(), given)
