"""Canonical JSON: the reference's vectors, RFC 8785's own examples, and the fast path's
byte-equality with rfc8785 for every input it accepts."""

from __future__ import annotations

import collections
import enum
import json
import math

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from gait import canon
from gait.canon import (
    canonical_bytes,
    canonical_bytes_floatless,
    digest,
    dumps_pretty,
    id24,
    loads_strict,
)
from gait.errors import InvalidInput


def test_reference_jcs_vectors(conformance_dir):
    inputs = sorted((conformance_dir / "jcs" / "input").glob("*.json"))
    assert len(inputs) >= 10
    for path in inputs:
        expected = (conformance_dir / "jcs" / "output" / path.name).read_bytes()
        value = json.loads(path.read_bytes())
        assert canonical_bytes(value) == expected, path.name


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # RFC 8785 section 3.2.2/3.2.3 examples and appendix B number serializations.
        (
            {"numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001]},
            '{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}',
        ),
        (
            {"string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/"},
            '{"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
        ),
        ({"literals": [None, True, False]}, '{"literals":[null,true,false]}'),
        (-0.0, "0"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (123.0, "123"),
        (9007199254740992, "9007199254740992"),
        (295147905179352830000.0, "295147905179352830000"),
        (12345678901234567890, "12345678901234567000"),
        (
            {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7},
            '{"\\r":2,"1":4,"\u0080":6,"\u00f6":7,"\u20ac":1,"\U0001f600":5,"\ufb33":3}',
        ),
    ],
)
def test_rfc8785_examples(value, expected):
    assert canonical_bytes(value) == expected.encode()


def test_formats_intent_example_digest_is_stable():
    intent = {
        "args": {"path": "/tmp/demo/delete-me.txt"},
        "context": {
            "identity": "demo.user",
            "phase": "apply",
            "risk_class": "high",
            "workspace": "/tmp/demo",
        },
        "targets": [
            {
                "destructive": True,
                "discovery_method": "unknown",
                "endpoint_class": "fs.delete",
                "kind": "path",
                "operation": "delete",
                "value": "/tmp/demo/delete-me.txt",
            }
        ],
        "tool_name": "tool.delete",
    }
    text = canonical_bytes(intent)
    assert text.startswith(b'{"args":{"path":"/tmp/demo/delete-me.txt"},"context":')
    assert digest(intent) == digest(json.loads(text))


@pytest.mark.parametrize("bad", [math.nan, math.inf, {"a": -math.inf}, b"bytes", {1: "x"}])
def test_unrepresentable_values_are_invalid_input(bad):
    with pytest.raises(InvalidInput) as info:
        canonical_bytes(bad)
    assert info.value.code == "E_CANONICAL_JSON"


def test_id24_is_first_twelve_bytes_hex():
    assert len(id24("a:b:c")) == 24
    assert id24("x") == "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"[:24]


@pytest.mark.parametrize(
    "text",
    [b'{"a":1,"a":2}', b"\xff\xfe{}", b"NaN", b'{"a":Infinity}', b"{", b""],
)
def test_loads_strict_refuses(text):
    with pytest.raises(InvalidInput):
        loads_strict(text)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


def _as_doubles(value):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else float(value)
    if isinstance(value, dict):
        return {k: _as_doubles(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_doubles(v) for v in value]
    return value


def _rfc8785_or_none(value):
    try:
        return rfc8785.dumps(_as_doubles(value))
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, ValueError):
        return None


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_equal_to_rfc8785_for_every_value(value):
    expected = _rfc8785_or_none(value)
    if expected is None:
        with pytest.raises(InvalidInput):
            canonical_bytes(value)
    else:
        assert canonical_bytes(value) == expected


# Every character class where orjson's bytes could differ from JCS: controls (escapes), DEL and
# the separators JCS leaves alone, the surrogate range (unencodable alone) and the characters
# at and above U+E000, whose UTF-16 order is not their code-point order.
wide_text = st.text(
    st.one_of(
        st.characters(max_codepoint=0x7F),
        st.characters(min_codepoint=0x2027, max_codepoint=0x2029),
        st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010, exclude_categories=()),
        st.characters(min_codepoint=0xFFF0, max_codepoint=0x1F610),
        st.characters(exclude_categories=()),
    ),
    max_size=8,
)
# Keys whose UTF-16 order differs from their code-point order (U+E000.. against U+10000..).
_ORDER_KEYS = ["\ue000", "\U0001f600", "\ufb33", "a", "\x7f", "\u20ac"]
floatless_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([2**53, -(2**53), 2**53 - 1, -(2**53 - 1)])
    | wide_text,
    lambda children: (
        st.lists(children, max_size=5)
        | st.tuples(children, children)
        | st.dictionaries(wide_text | st.sampled_from(_ORDER_KEYS), children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None)
@given(floatless_values)
def test_floatless_path_equals_rfc8785(value):
    """The orjson path (gait.canon.canonical_bytes_floatless, the intent digests' path) gives
    JCS bytes or the same refusal for every float-free value, odd characters included."""
    expected = _rfc8785_or_none(_tuples_as_lists(value))
    if expected is None:
        with pytest.raises(InvalidInput):
            canonical_bytes_floatless(value)
        with pytest.raises(InvalidInput):
            canonical_bytes(value)
    else:
        assert canonical_bytes_floatless(value) == expected
        assert canonical_bytes(value) == expected


@settings(max_examples=300, deadline=None)
@given(floatless_values, json_values)
def test_without_orjson_the_same_bytes(floatless, value):
    """A one-shot CLI process never imports orjson (gait.canon.stdlib_only): the C JSON
    encoder's path gives the bytes the orjson path gives, and the same refusals."""

    def both(encode, item):
        out = []
        for dumps in (canon._dumps, canon._without_orjson):
            saved, canon._dumps = canon._dumps, dumps
            try:
                out.append(encode(item))
            except InvalidInput:
                out.append(InvalidInput)
            finally:
                canon._dumps = saved
        return out

    canonical_bytes(0)  # orjson loaded: the first entry is its path
    for encode, item in (
        (canonical_bytes_floatless, floatless),
        (canonical_bytes, floatless),
        (canonical_bytes, value),
        (digest, value),
    ):
        with_orjson, without = both(encode, item)
        assert with_orjson == without


def _tuples_as_lists(value):
    if isinstance(value, (list, tuple)):
        return [_tuples_as_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _tuples_as_lists(v) for k, v in value.items()}
    return value


class _Text(str):
    pass


class _Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize(
    "value",
    [
        {"k": _Text("v")},
        {_Text("k"): 1},
        {"k": _Level.HIGH},
        collections.OrderedDict([("b", 1), ("a", 2)]),
        {"k": collections.OrderedDict([("b", [1]), ("a", None)])},
        {"\ue000": 1, "\U0001f600": 2, "a": "\ufb33"},
        [2**53, -(2**53), 2**64],
        {"deep": [[[[[["x"]]]]]] * 2},
    ],
)
def test_floatless_path_takes_what_orjson_would_encode_differently_elsewhere(value):
    assert canonical_bytes_floatless(value) == canonical_bytes(value)
    assert canonical_bytes(value) == rfc8785.dumps(_as_doubles(_tuples_as_lists(value)))


def test_floatless_path_refuses_unrepresentable_values():
    deep: list = []
    for _ in range(300):  # beyond orjson's nesting limit: the general path takes it
        deep = [deep]
    assert canonical_bytes_floatless(deep) == canonical_bytes(deep)
    for bad in ({"k": b"bytes"}, {1: "x"}, {"k": "\ud800"}, {"k": {1, 2}}):
        with pytest.raises(InvalidInput):
            canonical_bytes_floatless(bad)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_round_trip_is_a_fixed_point(value):
    try:
        once = canonical_bytes(value)
    except InvalidInput:
        return
    assert canonical_bytes(json.loads(once)) == once


@settings(max_examples=3000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_ecmascript_number_equals_rfc8785(number):
    from gait.canon import ecmascript_number

    assert ecmascript_number(number).encode() == rfc8785.dumps(number)


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1.5, "b": "\x00"},
        {"\x00": 0.25},
        ["\x000\x00", 2.5],
        {"k": "\x000\x00"},
        {"x": [0.1, "\u0000gaitf"], "\ue000": 1.0},
    ],
)
def test_strings_that_look_like_number_markers_are_not_confused(value):
    assert canonical_bytes(value) == rfc8785.dumps(value)


pretty_values = st.recursive(
    json_scalars | st.floats() | st.tuples(st.integers()),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=8), children, max_size=5)
        | st.dictionaries(st.integers(), children, max_size=3)  # json's non-string keys
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(pretty_values)
def test_dumps_pretty_is_byte_equal_to_json_indent_two(value):
    """FORMATS fixes trace/token bytes as json's 2-space form; the fast printer must match it."""
    expected = (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    assert dumps_pretty(value) == expected


def test_dumps_pretty_refuses_what_json_refuses():
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(ValueError):
        dumps_pretty(cycle)
    with pytest.raises(TypeError):
        dumps_pretty({"a": b"bytes"})


def test_canonical_bytes_kept_by_a_caller_take_their_own_size():
    """orjson's bytes object keeps its whole output buffer (4 KiB at least): what
    canonical_bytes hands out is an exact-size copy, so callers may keep thousands."""
    import tracemalloc

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [canonical_bytes({"n": n, "s": "x"}) for n in range(2000)]
        kept += [canonical_bytes_floatless({"n": n}) for n in range(2000)]
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept[0] == b'{"n":0,"s":"x"}'
    assert grown < 1_000_000, grown  # 4,000 objects of ~60 bytes, not 4,000 x 4 KiB


compact_values = st.recursive(
    json_scalars | st.floats() | st.tuples(st.integers()),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=8), children, max_size=5)
        | st.dictionaries(st.integers(), children, max_size=3)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(compact_values)
def test_dumps_compact_and_loads_are_json_itself(value):
    """--json output, the policy cache and schema files go through ``_json``'s encoder and
    scanner without the ``json`` package (issue 16 item 6): json's own bytes and values."""
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canon.dumps_compact(value) == expected
    if not any(word in expected for word in ("NaN", "Infinity")):
        assert loads_strict(f" \n{expected}\t\r") == json.loads(expected)


@pytest.mark.parametrize(
    "value",
    [{"a": b"x"}, [object()], {"a": 1, 2: "b"}, {(1,): 2}],
    ids=["bytes", "obj", "mixed", "tuple"],
)
def test_dumps_compact_refuses_as_json_does(value):
    with pytest.raises(TypeError) as ours:
        canon.dumps_compact(value)
    with pytest.raises(TypeError) as theirs:
        json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert str(ours.value) == str(theirs.value)
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference detected"):
        canon.dumps_compact([cycle])
    assert canon.dumps_compact([cycle[:0], cycle[:0]]) == "[[],[]]"  # fresh markers per call


BAD_DOCUMENTS = [
    "", " ", "[1,", '{"a":1,"a":2}', "NaN", "[Infinity]", "-Infinity", "1 2", '{"a" 1}',
    '"a\x01"', '"abc', "[1]x", "\ufeff[1]", "{1:2}", '["\\ud800", "\\x"]', "[" * 10_000,
    "  [1]  \n", ' {"b":[1.5e3,-0,true,null,"\\u00e9"]}\t',
]  # fmt: skip
PROBE = """
from gait.errors import InvalidInput
out = []
for text in DOCUMENTS:
    try:
        out.append(repr(loads_strict(text)))
    except InvalidInput as exc:
        out.append(f"{exc.code}: {exc.message}")
"""


def _json_says(text):
    """What json's own decoder makes of ``text``, as loads_strict reports it."""
    decoder = json.JSONDecoder(object_pairs_hook=canon._no_duplicates, parse_constant=_no_nan)
    try:
        value = decoder.decode(text)
    except canon._DuplicateKey as exc:
        return f"E_INVALID_JSON: JSON has a {exc}"
    except (ValueError, RecursionError) as exc:
        return f"E_INVALID_JSON: JSON is not valid JSON: {exc}"
    return repr(value)


def _no_nan(name):
    raise ValueError(f"{name} is not valid JSON")


def test_parse_errors_read_as_json_reports_them_without_json_imported():
    """``_json``'s scanner takes ``JSONDecodeError`` from an imported ``json.decoder`` and
    without it fails unexplained: a process that never imported ``json`` (a gate decision)
    still gets json's own message for each bad document, and the same values for good ones."""
    import subprocess
    import sys

    expected = [_json_says(text) for text in BAD_DOCUMENTS]
    scope = {"DOCUMENTS": BAD_DOCUMENTS, "loads_strict": loads_strict}
    exec(PROBE, scope)  # here json is imported: the scanner raises its errors itself
    assert scope["out"] == expected
    script = (
        "import sys\n"
        "from gait.canon import loads_strict\n"
        "imported = sorted({'json', 'json.decoder'} & set(sys.modules))\n"
        f"DOCUMENTS = {BAD_DOCUMENTS!r}\n{PROBE}\n"
        "print(imported, *out, sep='\\n')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["[]", *expected]
