"""RFC 3339 times in the reference's canonical form, exact to the nanosecond."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gait import timefmt
from gait.errors import InvalidInput


@pytest.mark.parametrize(
    ("given_text", "expected"),
    [
        ("2026-02-05T00:00:00Z", "2026-02-05T00:00:00Z"),
        ("2026-03-01T12:00:01.250Z", "2026-03-01T12:00:01.25Z"),
        ("2026-03-01T12:00:04.000100Z", "2026-03-01T12:00:04.0001Z"),
        ("2026-03-01T13:00:00+01:00", "2026-03-01T12:00:00Z"),
        ("2026-01-01T00:00:00.123456789Z", "2026-01-01T00:00:00.123456789Z"),
        ("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
        ("2025-12-31T23:30:00-01:00", "2026-01-01T00:30:00Z"),
    ],
)
def test_canonical(given_text, expected):
    assert timefmt.canonical(given_text) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "2026-02-30T00:00:00Z",
        "yesterday",
        "2026-02-05 00:00:00",
        "2026-02-05T00:00:00",
        "2026-02-05T00:00:00.1234567890Z",
    ],
)
def test_invalid_times(bad):
    with pytest.raises(InvalidInput):
        timefmt.canonical(bad)


@given(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(min_value=0, max_value=999_999_999),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_canonical_is_idempotent_and_exact(moment, nanos, offset_minutes):
    moment = moment.replace(microsecond=0)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}{sign}{hours:02d}:{minutes:02d}"
    once = timefmt.canonical(text)
    assert timefmt.canonical(once) == once
    utc, got_nanos = timefmt.parse(once)
    assert got_nanos == nanos
    expected = moment.replace(tzinfo=UTC) - timedelta(minutes=offset_minutes)
    assert utc == expected


def test_now_is_current_and_canonical():
    """``now`` prints the date once a second from a cache: it must still be this instant."""
    from datetime import UTC, datetime, timedelta

    from gait import timefmt

    for _ in range(3):
        before = datetime.now(UTC)
        text = timefmt.now()
        after = datetime.now(UTC)
        assert timefmt.canonical(text) == text
        assert before - timedelta(microseconds=1) <= timefmt.to_datetime(text) <= after


@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.text(alphabet="0123456789", max_size=9),
    st.sampled_from(["Z", "z", "+00:00", "-05:30"]),
    st.sampled_from(["T", "t"]),
)
def test_canonical_fast_path_equals_the_full_parse(moment, fraction, zone, sep):
    """``canonical`` skips parsing a time already in UTC ``Z`` form; same text either way."""
    text = moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S").rjust(19, "0")
    if moment.year < 1000:
        text = f"{moment.year:04d}" + text[text.index("-") :]
    text += (f".{fraction}" if fraction else "") + zone
    full = timefmt.format_utc(*timefmt.parse(text))
    assert timefmt.canonical(text) == full


@pytest.mark.parametrize(
    "bad", ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z"]
)
def test_canonical_refuses_impossible_dates(bad):
    with pytest.raises(InvalidInput):
        timefmt.canonical(bad)


def test_now_from_many_threads_crossing_second_boundaries(monkeypatch):
    """Issue 14: a cached date part must never be paired with another second's time.

    The clock is driven per thread (each call reads the instant its thread asked for) and every
    thread keeps crossing second boundaries the others cross too, with the interpreter switching
    threads as often as it can; each result must be exactly its own instant."""
    import sys
    import threading
    import time

    base = 1_790_000_000 * 10**9  # 2026-09-21
    wanted = threading.local()
    monkeypatch.setattr(time, "time_ns", lambda: wanted.ns)
    errors: list[str] = []

    def run(offset: int) -> None:
        for step in range(20_000):  # the old two-slot cache failed ~7 times in 80,000
            wanted.ns = base + ((step + offset) % 4) * 10**9 + 123_000
            got = timefmt.now()
            expected = timefmt.format_utc(datetime.fromtimestamp(wanted.ns // 10**9, UTC), 123_000)
            if got != expected:
                errors.append(f"{got} != {expected}")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[:3]


_UNITS = ["ns", "us", "µs", "ms", "s", "m", "h"]


@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(_UNITS)), min_size=1, max_size=5))
@example([(562048, "h"), (1000000, "h"), (1000000, "h")])  # just past int64: Go refuses it
def test_flag_duration_agrees_with_go_on_go_durations(parts: list[tuple[int, str]]) -> None:
    from gait.gocompat import parse_duration

    text = "".join(f"{number}{unit}" for number, unit in parts)
    value = timefmt.parse_flag_duration(text)
    assert value is not None
    if value < 1 << 63:
        assert value == parse_duration(text)
    else:  # past int64, Go refuses it; flag callers bound their own range
        with pytest.raises(ValueError, match="invalid duration"):
            parse_duration(text)


@given(st.integers(0, 10**5), st.integers(0, 999))
def test_flag_duration_days_and_fractions_are_exact(days: int, millis: int) -> None:
    assert timefmt.parse_flag_duration(f" {days}d{millis}ms ") == (
        days * 86_400 * 10**9 + millis * 10**6
    )
    assert timefmt.parse_flag_duration(f"{days}.5d") == days * 86_400 * 10**9 + 43_200 * 10**9


@pytest.mark.parametrize("bad", ["", " ", "7", "d", "1x", "-1h", "1h 2m", "1e3h", ".5h", "1.h"])
def test_flag_duration_refuses_what_is_not_one(bad: str) -> None:
    assert timefmt.parse_flag_duration(bad) is None


def test_canonical_checks_each_new_second_after_a_valid_one():
    """``canonical`` remembers the last valid second; another second is checked afresh."""
    assert timefmt.canonical("2026-02-28T23:59:59.500Z") == "2026-02-28T23:59:59.5Z"
    assert timefmt.canonical("2026-02-28T23:59:59.25000Z") == "2026-02-28T23:59:59.25Z"
    with pytest.raises(InvalidInput):
        timefmt.canonical("2026-02-29T23:59:59.500Z")
    assert timefmt.canonical("2028-02-29T23:59:59Z") == "2028-02-29T23:59:59Z"
