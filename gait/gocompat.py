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
from collections.abc import Callable
from urllib.parse import urlsplit

from gait.lazyre import lazy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


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


def path_matcher(pattern: str) -> Callable[[str], bool] | None:
    """Go ``path.Match(pattern, ·)`` as a predicate; None when the pattern is malformed.

    Go matches a glob without backtracking across stars; the regex it is written as here
    would backtrack where two stars share a path segment (``*a*a*a*b`` against a long name
    takes minutes), so such a pattern runs on the linear-time matcher; the others (stars
    confined to their segments by ``/``) keep the compiled regex.
    """
    regex = path_match_regex(pattern)
    if regex is None:
        return None
    if any(segment.count("*") > 1 for segment in pattern.split("/")):
        from gait.gate.linear_regex import compile_linear

        return compile_linear("(?s)" + regex.pattern).fullmatch  # the regex's DOTALL
    match = regex.match
    return lambda value: match(value) is not None


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


_NEEDS_JSON_ESCAPE = lazy(r'["\\\x00-\x1f<>&\u2028\u2029]')


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


# Go's time.ParseDuration units, in nanoseconds ("µs" is U+00B5, "μs" U+03BC: Go takes both).
_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_INT64_MAX = (1 << 63) - 1


def parse_duration(text: str) -> int:
    """Go's ``time.ParseDuration``, in nanoseconds: ``[-+]`` then one or more decimal numbers
    with a unit each (``300ms``, ``-1.5h``, ``2h45m``); a bare ``0`` is zero. ``ValueError``
    with Go's message (invalid duration, missing unit, unknown unit) otherwise, overflow of
    int64 included. The fraction is scaled as Go scales it (through a float64)."""
    quoted = f'"{text}"'
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise ValueError(f"time: invalid duration {quoted}")
    total = 0
    while rest:
        if not (rest[0] == "." or "0" <= rest[0] <= "9"):
            raise ValueError(f"time: invalid duration {quoted}")
        i = 0
        while i < len(rest) and "0" <= rest[i] <= "9":
            i += 1
        whole_digits, rest = rest[:i], rest[i:]
        whole = int(whole_digits) if whole_digits else 0
        if whole > 1 << 63:
            raise ValueError(f"time: invalid duration {quoted}")
        fraction, scale, fraction_digits = 0, 1.0, ""
        if rest[:1] == ".":
            rest = rest[1:]
            i = 0
            while i < len(rest) and "0" <= rest[i] <= "9":
                i += 1
            fraction_digits, rest = rest[:i], rest[i:]
            for digit in fraction_digits:  # Go stops taking digits once they would overflow
                taken = fraction * 10 + int(digit)
                if fraction > _INT64_MAX // 10 or taken > _INT64_MAX:
                    break
                fraction = taken
                scale *= 10
        if not whole_digits and not fraction_digits:
            raise ValueError(f"time: invalid duration {quoted}")  # "." or ".s"
        i = 0
        while i < len(rest) and not (rest[i] == "." or "0" <= rest[i] <= "9"):
            i += 1
        if i == 0:
            raise ValueError(f"time: missing unit in duration {quoted}")
        unit_name, rest = rest[:i], rest[i:]
        unit = _DURATION_UNITS.get(unit_name)
        if unit is None:
            raise ValueError(f'time: unknown unit "{unit_name}" in duration {quoted}')
        if whole > (1 << 63) // unit:
            raise ValueError(f"time: invalid duration {quoted}")
        value = whole * unit
        if fraction:
            value += int(float(fraction) * (float(unit) / scale))
            if value > 1 << 63:
                raise ValueError(f"time: invalid duration {quoted}")
        total += value
        if total > 1 << 63:
            raise ValueError(f"time: invalid duration {quoted}")
    if negative:
        return -total
    if total > _INT64_MAX:
        raise ValueError(f"time: invalid duration {quoted}")
    return total


def format_duration(nanos: int) -> str:
    """Go's ``time.Duration.String``: ``1h2m3.5s``, ``1.5ms``, ``0s``."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("\u00b5s", 1_000), ("ns", 1)):
            if nanos >= size:
                whole, part = divmod(nanos, size)
                digits = len(str(size)) - 1
                value = (
                    f"{whole}.{part:0{digits}d}".rstrip("0").rstrip(".") if digits else f"{whole}"
                )
                return f"{sign}{value}{unit}"
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds, frac = divmod(rest, 1_000_000_000)
    sec = str(seconds)
    if frac:
        sec += "." + f"{frac:09d}".rstrip("0")
    if hours:
        return f"{sign}{hours}h{minutes}m{sec}s"
    if minutes:
        return f"{sign}{minutes}m{sec}s"
    return f"{sign}{sec}s"
