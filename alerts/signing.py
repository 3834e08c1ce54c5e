"""Signed webhooks, so a receiver can tell driftwarden's calls from forgeries: the Standard Webhooks
specification (standardwebhooks.com), which has verifiers in every language.

Headers: `webhook-id` (the message's idempotency key, the same through its retries),
`webhook-timestamp` (unix seconds of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"<id>.<timestamp>.<body>">`, one space-separated signature per active secret so that a secret can be
rotated without a moment where receivers refuse. A secret is `whsec_<base64 key>` (as Standard
Webhooks libraries generate them) or, carried over from the old scheme, any other text, whose bytes
are the key. A receiver checks with any Standard Webhooks library, which refuses timestamps more
than 5 minutes off (replays):

>>> from standardwebhooks import Webhook
>>> sign = Signer(lambda: b"whsec_c2VjcmV0LWtleS1vZi1hdC1sZWFzdC0yNC1ieXRlcw==")
>>> headers = sign("msg_1", b'{"status": "firing"}', now=time.time())
>>> Webhook("whsec_c2VjcmV0LWtleS1vZi1hdC1sZWFzdC0yNC1ieXRlcw==").verify(b'{"status": "firing"}', headers)
{'status': 'firing'}

The old `X-Driftwarden-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` with
`X-Driftwarden-Timestamp` is added only when `legacy` is set (`legacy_signature: true`, deprecated:
it goes in the next release); `verify_legacy` checks it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from standardwebhooks import Webhook

from driftwarden.alerts.receivers.base import SecretUnavailable

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Signer",
    "legacy_sign",
    "signing_keys",
    "standard_webhook_headers",
    "verify_legacy",
]

SIGNATURE_HEADER = "X-Driftwarden-Signature"  # deprecated
TIMESTAMP_HEADER = "X-Driftwarden-Timestamp"  # deprecated
SECRET_PREFIX = "whsec_"


def signing_keys(secrets: bytes) -> list[bytes]:
    """The HMAC keys of secrets written one a line; ValueError names a line that is not usable."""
    keys = []
    for number, line in enumerate(secrets.splitlines(), 1):
        secret = line.strip()
        if not secret:
            continue
        if secret.startswith(SECRET_PREFIX.encode()):
            encoded = secret[len(SECRET_PREFIX) :]
            try:
                key = base64.b64decode(encoded + b"=" * (-len(encoded) % 4), validate=True)
            except binascii.Error:
                raise ValueError(f"secret on line {number} starts with whsec_ but is not base64 after it") from None
            if not key:
                raise ValueError(f"secret on line {number} is an empty whsec_ key")
            keys.append(key)
        else:
            keys.append(secret)
    if not keys:
        raise ValueError("no secret in it")
    return keys


def standard_webhook_headers(message_id: str, body: bytes, keys: list[bytes], now: float) -> dict[str, str]:
    """The Standard Webhooks headers of one delivery attempt, signed with every key."""
    at = datetime.fromtimestamp(int(now), tz=UTC)
    text = body.decode()  # our bodies are JSON: UTF-8
    signatures = " ".join(Webhook(key).sign(message_id, at, text) for key in keys)
    return {"webhook-id": message_id, "webhook-timestamp": str(int(now)), "webhook-signature": signatures}


class Signer:
    """Signs each delivery with the secrets as read at send time (a rotated secret is used at once)."""

    def __init__(self, read_secrets: Callable[[], bytes], *, legacy: bool = False, where: str = "the secret") -> None:
        self._read = read_secrets
        self._legacy = legacy
        self._where = where

    def __call__(self, message_id: str, body: bytes, now: float) -> dict[str, str]:
        secrets = self._read()
        try:
            keys = signing_keys(secrets)
        except ValueError as exc:
            raise SecretUnavailable(f"{self._where}: {exc}") from None
        headers = standard_webhook_headers(message_id, body, keys, now)
        if self._legacy:
            lines = secrets.strip().splitlines()
            headers |= legacy_sign(body, secrets.strip() if len(lines) == 1 else lines[0].strip(), now)
        return headers


def legacy_sign(body: bytes, secret: bytes, now: float | None = None) -> dict[str, str]:
    """Deprecated X-Driftwarden-Signature headers."""
    timestamp = str(int(time.time() if now is None else now))
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: f"sha256={digest}"}


def verify_legacy(
    body: bytes, headers: Mapping[str, str], secret: bytes, *, tolerance: float = 300, now: float | None = None
) -> bool:
    """Checks the deprecated X-Driftwarden-Signature (and refuses timestamps older than `tolerance`)."""
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
