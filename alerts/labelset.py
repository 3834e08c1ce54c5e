"""Alertmanager's identities of a label set, computed as Alertmanager computes them.

- `fingerprint`: prometheus/common `model.LabelSet.Fingerprint()` (model/signature.go): FNV-1a 64 over
  each label name and value in name order, each followed by the separator byte 0xff, printed `%016x`.
  It is the `fingerprint` of every alert in Alertmanager's webhook payload and /api/v2/alerts.
- `group_key`: `dispatch.aggrGroup.GroupKey()`: the route's key (its matchers and its parents',
  `{}` for the root, joined by `/`), a colon, and the group labels as `model.LabelSet.String()`
  prints them: `{}/{kind="drift"}:{kind="drift", model="fraud"}`.

>>> fingerprint({})
'cbf29ce484222325'
>>> fingerprint({"alertname": "FeatureDrift", "model": "fraud"})
'30aaaed27dfa8f32'
>>> group_key(route_key({"severity": "page", "kind": "drift"}), {"model": "fraud", "kind": "drift"})
'{}/{kind="drift",severity="page"}:{kind="drift", model="fraud"}'
>>> print(go_quote('say "hi"\\n\\u00a0é'))
"say \\"hi\\"\\n\\u00a0é"
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ROOT_ROUTE_KEY", "fingerprint", "go_quote", "group_key", "labelset_string", "route_key"]

_FNV64_OFFSET = 0xCBF29CE484222325
_FNV64_PRIME = 0x100000001B3
_MASK64 = 0xFFFFFFFFFFFFFFFF
_SEPARATOR = 0xFF  # prometheus/common model.SeparatorByte: never part of valid UTF-8

ROOT_ROUTE_KEY = "{}"  # the root route has no matchers


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of an alert with these labels (16 lowercase hex digits)."""
    h = _FNV64_OFFSET
    for name in sorted(labels):  # Go sorts strings bytewise; code points sort UTF-8 the same way
        for byte in (*name.encode(), _SEPARATOR, *labels[name].encode(), _SEPARATOR):
            h = ((h ^ byte) * _FNV64_PRIME) & _MASK64
    return f"{h:016x}"


def route_key(match: Mapping[str, str]) -> str:
    """The key of a route directly under the root with these equality matchers (dispatch/route.go
    `Route.Key()`); `{}` for the root itself (no matchers)."""
    if not match:
        return ROOT_ROUTE_KEY
    return f"{ROOT_ROUTE_KEY}/{_matchers_string(match)}"


def group_key(route: str, group_labels: Mapping[str, str]) -> str:
    """Alertmanager's groupKey: `<route key>:<group labels>`."""
    return f"{route}:{labelset_string(group_labels)}"


def labelset_string(labels: Mapping[str, str]) -> str:
    """prometheus/common `LabelSet.String()` (labelset_string.go): names sorted, values Go-quoted,
    `, ` between pairs. Alertmanager 0.25 and older sorted the `name="value"` strings instead, which
    differs only when one label name is another followed by a digit (`gpu` and `gpu0`)."""
    return "{" + ", ".join(f"{name}={go_quote(labels[name])}" for name in sorted(labels)) + "}"


def _matchers_string(match: Mapping[str, str]) -> str:
    """pkg/labels `Matchers.String()` of equality matchers: sorted by name then value, `,` between."""
    return "{" + ",".join(_matcher_string(name, match[name]) for name in sorted(match)) + "}"


def _matcher_string(name: str, value: str) -> str:
    if any(c.isspace() or c in "{}!=~,\\\"'`" for c in name):  # a name only the UTF-8 matcher parser reads
        return f"{go_quote(name)}={go_quote(value)}"
    escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')  # OpenMetrics escaping
    return f'{name}="{escaped}"'


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(s: str) -> str:
    """Go's `strconv.Quote`: printable characters as they are (Go's IsPrint and Python's isprintable
    both mean letters, marks, numbers, punctuation, symbols and the ASCII space), the rest escaped."""
    out = ['"']
    for c in s:
        if c in ('"', "\\"):
            out.append("\\" + c)
        elif c.isprintable():
            out.append(c)
        elif c in _GO_ESCAPES:
            out.append(_GO_ESCAPES[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    out.append('"')
    return "".join(out)
