"""Go standard-library behaviour the reference's digests and matches depend on.

The reference is written in Go, and a few of its results are defined by Go library functions
rather than by FORMATS.md: which struct fields a document omits when empty (``omitempty``),
which paths a policy glob matches (``path.Match``), how a rule name is escaped into a reason
code (``encoding/json``), which host a URL names (``url.Hostname``), which tool a
slash-separated name ends in (``path.Base``), how a sandbox path is cleaned
(``filepath.Clean``). Each is reproduced here once, so that the policy and intent modules read
as the rules they implement rather than as ports of a runtime.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit


def omit_empty(into: dict[str, Any], *fields: tuple[str, Any]) -> dict[str, Any]:
    """Go's ``json:",omitempty"``: add each (key, value) whose value is not empty (None, false,
    0, "", an empty list or mapping), in the order given; returns ``into``.

    The order is the struct's field order, so a document built this way prints its keys as the
    reference does even where the digest (sorted keys) would not notice.
    """
    for key, value in fields:
        if value:
            into[key] = value
    return into


def path_match_regex(pattern: str) -> re.Pattern[str] | None:
    """Go ``path.Match(pattern, name)`` as a compiled regex; None when the pattern is malformed
    (Go's ``ErrBadPattern``: such a pattern matches nothing)."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            i += 1
            if i >= n:
                return None
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            i += 1
            negate = i < n and pattern[i] == "^"
            if negate:
                i += 1
            parts = []
            first = True
            while True:
                if i >= n:
                    return None
                if pattern[i] == "]" and not first:
                    break
                first = False
                lo, i = _class_char(pattern, i)
                if lo is None:
                    return None
                if i < n and pattern[i] == "-":
                    hi, i = _class_char(pattern, i + 1)
                    if hi is None or hi < lo:
                        return None
                    parts.append(f"{re.escape(lo)}-{re.escape(hi)}")
                else:
                    parts.append(re.escape(lo))
            out.append(f"[{'^' if negate else ''}{''.join(parts)}]")
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _class_char(pattern: str, i: int) -> tuple[str | None, int]:
    if i >= len(pattern):
        return None, i
    ch = pattern[i]
    if ch in "-]":
        return None, i
    if ch == "\\":
        i += 1
        if i >= len(pattern):
            return None, i
        ch = pattern[i]
    return ch, i + 1


_NEEDS_JSON_ESCAPE = re.compile(r'["\\\x00-\x1f<>&\u2028\u2029]')


def json_escape(text: str) -> str:
    """The inside of Go's ``json.Marshal`` of a string (HTML-safe escapes, no quotes)."""
    if _NEEDS_JSON_ESCAPE.search(text) is None:
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or ch in "<>&" or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def path_base(name: str) -> str:
    """Go ``path.Base``: the part after the last ``/`` (``.`` for empty, ``/`` for all slashes)."""
    if not name:
        return "."
    stripped = name.rstrip("/")
    if not stripped:
        return "/"
    return stripped.rsplit("/", 1)[-1]


def url_hostname(value: str) -> str:
    """Go ``url.Parse(v).Hostname()``; empty when the URL does not parse."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return ""
    try:
        parts = urlsplit(value)
    except ValueError:
        return ""
    if not parts.scheme and not value.startswith("//"):
        return ""
    netloc = parts.netloc
    if "@" in netloc:
        netloc = netloc.rsplit("@", 1)[1]
    if netloc.startswith("["):
        end = netloc.find("]")
        return netloc[1:end] if end > 0 else ""
    colon = netloc.rfind(":")
    if colon >= 0 and ":" not in netloc[:colon]:
        return netloc[:colon]
    return netloc


def clean_path(path: str) -> str:
    """Go ``filepath.Clean`` for slash paths."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."
