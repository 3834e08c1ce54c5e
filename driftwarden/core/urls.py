"""URLs as driftwarden shows them: in logs, error messages, /v1/config and alert payloads.

Webhook URLs often carry their credentials: `user:password@`, `?token=`, or a path that is itself
the secret (Slack's /services/T000/B000/XXXX). Wherever a URL is shown it is `redacted_url`:
scheme, host and port, everything else masked. A link put into an alert payload is `public_url`:
the path is kept, credentials, query and fragment are not. Neither ever raises.

>>> redacted_url("https://user:pw@hooks.slack.com/services/T000/B000/XXXX?token=abc")
'https://***@hooks.slack.com/***'
>>> public_url("https://user:pw@dw.example:8443/drift/?token=abc")
'https://dw.example:8443/drift'
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["MASK", "public_url", "redact_urls", "redacted_url"]

MASK = "***"

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_HOST = re.compile(r"[\w.-]+|\[[0-9A-Fa-f:.]+(?:%[\w.~-]+)?\]")  # a name, IPv4, or a bracketed IPv6
# scheme://authority (up to / ? #), then the rest up to a space or a quote, less punctuation that ends a sentence
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#\"'<>]*(?:[^\s\"'<>]*[^\s\"'<>.,:;!?)\]}])?")


def redacted_url(url: str) -> str:
    """`scheme://host:port`, with `***@` where credentials were and `/***` where a path, query or
    fragment was; `***` for what is not a URL. Never raises."""
    try:
        return _redacted(url)
    except Exception:  # a URL that breaks the parser is shown as masked, never as an error
        return MASK


def public_url(url: str, *, keep_query: bool = False) -> str:
    """The URL without credentials, fragment, a trailing slash, and (unless `keep_query`) query;
    "" when it cannot be parsed. For links that go into alert payloads."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), parts.query if keep_query else "", ""))


def redact_urls(text: str) -> str:
    """Every URL inside a text (an exception's message, say) replaced by its `redacted_url`."""
    return _URL_IN_TEXT.sub(lambda match: redacted_url(match.group()), text)


def _redacted(url: str) -> str:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    _, at, hostport = parts.netloc.rpartition("@")
    if not _SCHEME.fullmatch(scheme) or not hostport:
        return MASK
    if "@" in parts.path + parts.query + parts.fragment:  # a password with an unescaped / ? or #: no host to trust
        return f"{scheme}://{MASK}/{MASK}"
    if hostport.startswith("["):
        host, _, rest = hostport.partition("]")
        host, port = host + "]", rest.removeprefix(":")
    else:
        host, _, port = hostport.partition(":")
    shown = f"{scheme}://" + (f"{MASK}@" if at else "") + (host if _HOST.fullmatch(host) else MASK)
    if port:
        shown += ":" + (port if port.isascii() and port.isdigit() and len(port) <= 5 else MASK)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        shown += "/" + MASK
    return shown
