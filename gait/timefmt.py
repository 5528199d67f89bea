"""RFC 3339 times in the reference's canonical form, kept to the nanosecond.

``datetime`` keeps microseconds only, so times are carried as strings and re-printed here,
never round-tripped through ``datetime`` when their bytes are hashed.
"""

from __future__ import annotations

import re
import time

from gait.errors import InvalidInput
from gait.lazyre import lazy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import UTC as UTC  # re-exported: the C types (gait.gate.engine, trace)
    from datetime import datetime as datetime
    from datetime import timedelta
    from typing import Any
else:
    try:  # the C types themselves: ``datetime.py`` first defines its whole pure-Python version
        # (a tenth of a gate decision's imports) and then replaces it with these
        from _datetime import UTC, datetime, timedelta
    except ImportError:  # an interpreter without the C module
        from datetime import UTC, datetime, timedelta

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)
ZERO_TIME = "0001-01-01T00:00:00Z"
EPOCH_1980 = "1980-01-01T00:00:00Z"


def parse(text: str) -> tuple[datetime, int]:
    """(UTC datetime without fraction, nanoseconds) of an RFC 3339 string."""
    match = _RFC3339.match(text) if isinstance(text, str) else None
    if not match:
        raise InvalidInput(f"not an RFC 3339 time: {text!r}", code="E_INVALID_TIME")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    nanos = int((match.group(7) or "").ljust(9, "0"))
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise InvalidInput(f"not a valid time: {text!r}", code="E_INVALID_TIME") from exc
    if match.group(9):
        offset = timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
        try:
            moment = moment - offset if match.group(9) == "+" else moment + offset
        except OverflowError as exc:
            raise InvalidInput(f"time out of range: {text!r}", code="E_INVALID_TIME") from exc
    return moment, nanos


def format_utc(moment: datetime, nanos: int = 0) -> str:
    base = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if moment.year < 1000:
        base = f"{moment.year:04d}" + base[base.index("-") :]
    if nanos:
        return f"{base}.{f'{nanos:09d}'.rstrip('0')}Z"
    return base + "Z"


# A time already in UTC with ``Z`` (what this project and most SDKs print): re-printing it
# only drops the fraction's trailing zeros. Every intent's created_at goes through here.
_UTC_Z = re.compile(
    r"([1-9]\d{3})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z",
    re.ASCII,  # other scripts' digits take the full path, which re-prints them in ASCII
)


# The last "YYYY-MM-DDTHH:MM:SS" ``canonical`` found to be a real date. Intents arrive with
# times a few microseconds apart (an SDK stamps each call), so a cache of whole strings never
# hits; their second does, and checking it is most of the fast path's cost. One string,
# replaced whole: threads read a value some thread checked.
_LAST_VALID_SECOND = ""


def canonical(text: str) -> str:
    """Re-print an RFC 3339 time as UTC with ``Z`` and the shortest fraction."""
    global _LAST_VALID_SECOND
    shape = _UTC_Z.fullmatch(text) if type(text) is str else None
    if shape is not None:
        whole = text[:19]
        fraction = shape.group(7)
        if whole == _LAST_VALID_SECOND:
            valid = True
        else:
            year, month, day, hour, minute, second, _ = shape.groups()
            try:
                datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
            except ValueError:
                valid = False  # not a real date: the full path raises the usual error
            else:
                valid = True
                _LAST_VALID_SECOND = whole
        if valid:
            fraction = (fraction or "").rstrip("0")
            return f"{whole}.{fraction}Z" if fraction else whole + "Z"
    moment, nanos = parse(text)
    return format_utc(moment, nanos)


def from_datetime(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_utc(moment.replace(microsecond=0), moment.microsecond * 1000)


# (whole second, its printed "YYYY-MM-DDTHH:MM:SS") of the last ``now()``: printing the date
# costs more than the rest of a decision's bookkeeping, and it changes once a second. One tuple
# replaced whole, so any thread reads a second together with its own text, without a lock (two
# slots updated one after the other let a thread pair a new second with the old text).
_LAST_SECOND: tuple[int, str] = (-1, "")


def now() -> str:
    """The current UTC time to the microsecond, as ``from_datetime(datetime.now(UTC))``."""
    global _LAST_SECOND
    seconds, micros = divmod(time.time_ns() // 1000, 1_000_000)
    second, base = _LAST_SECOND
    if second != seconds:
        base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _LAST_SECOND = (seconds, base)
    if micros:
        return f"{base}.{f'{micros:06d}'.rstrip('0')}Z"
    return base + "Z"


def to_datetime(text: str) -> datetime:
    moment, nanos = parse(text)
    return moment + timedelta(microseconds=nanos // 1000)


_FLAG_DURATION = lazy(r"(\d+)(?:\.(\d+))?(ns|us|µs|μs|ms|s|m|h|d)")
_FLAG_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
}


def parse_flag_duration(text: str) -> int | None:
    """Nanoseconds of a duration as people type it into a flag: Go's units plus ``d`` for days
    (``15m``, ``1h30m``, ``7d``, ``1.5h``), unsigned, surrounding space ignored; None when
    ``text`` is not one. Exact integer arithmetic, so no length overflows: callers bound it."""
    value = text.strip()
    total = 0
    pos = 0
    while pos < len(value):
        match = _FLAG_DURATION.match(value, pos)
        if match is None:
            return None
        whole, fraction, unit = match.groups()
        size = _FLAG_UNIT_NS[unit]
        total += int(whole) * size
        if fraction:
            total += int(fraction) * size // 10 ** len(fraction)
        pos = match.end()
    return total if value else None


def token_times(raw: Any, fail: Callable[[str], Exception]) -> dict[str, str]:
    """A signed token's ``created_at`` and ``expires_at``, canonical, or the zero time where
    absent (as the reference reads approval and say tokens); ``fail(message)`` is raised for
    one that is not an RFC 3339 time."""
    times = {}
    for name in ("created_at", "expires_at"):
        value = raw.get(name)
        if value is None:
            times[name] = ZERO_TIME
            continue
        if not isinstance(value, str):
            raise fail(f"{name} must be an RFC 3339 time")
        try:
            times[name] = canonical(value)
        except InvalidInput:
            raise fail(f"{name} is not an RFC 3339 time") from None
    return times
