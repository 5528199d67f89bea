"""Runpack fast paths equal the slow paths they replace (property tests).

- ``lines.canonical_records`` (one parse that also proves canonical form) against the strict
  line-by-line parse and diff's per-line canonical check;
- the loader's canonical proof against ``check_canonical`` re-serializing everything.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gait.canon import canonical_bytes, loads_strict
from gait.errors import InvalidInput
from gait.runpack import lines, model
from gait.runpack.archive import write_zip
from gait.runpack.diff import check_canonical
from gait.runpack.lines import canonical_records, is_canonical
from gait.runpack.reader import load_runpack

KEYS = st.sampled_from(["a", "b", "args", "é", "\U0001f600", "\ue000", "A", "aa", ""])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1.0, -0.0, 1e21, 1e-7, 0.1, 2**53 + 1]),
    st.text(alphabet=st.sampled_from('ab"\\/\n\r\t\x00\x1fé\u2028\U0001f600'), max_size=6),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=8,
)
RECORDS = st.lists(st.dictionaries(KEYS, VALUES, max_size=4), max_size=6)
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _strict(a: Any, b: Any) -> bool:
    """Equal with types (so True is not 1 and 1 is not 1.0); iterative, for deep values."""
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, dict):
            if list(x) != list(y):
                return False
            pending.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y, strict=True))
        elif not (x == y or (x != x and y != y)):
            return False
    return True


def _canonical(raw: bytes) -> list[Any] | None:
    """``canonical_records(raw)``, held to the general proof's answer: the same lines repeated
    past the small-member size, which only the general proof takes (``_canonical_small``
    answers small members)."""
    fast = canonical_records(raw)
    if raw:
        times = lines._SMALL_MEMBER // len(raw) + 1
        general = canonical_records(raw * times)
        assert (general is None) == (fast is None)
        if fast is not None:
            assert general is not None and _strict(general, fast * times)
    return fast


def _slow(raw: bytes) -> list[Any] | None:
    """The strict parse plus diff's old per-line check; None where either refuses."""
    if raw and not raw.endswith(b"\n"):
        return None
    try:
        records = [loads_strict(line) for line in raw.split(b"\n")[:-1]]
    except InvalidInput:
        return None
    for line, record in zip(raw.split(b"\n")[:-1], records, strict=True):
        try:
            if canonical_bytes(record) != line:
                return None
        except InvalidInput:
            return None
    return records


def _writers(draw: Any, value: Any) -> bytes:
    style = draw(st.integers(0, 4))
    if style == 0:
        try:
            return canonical_bytes(value)
        except InvalidInput:
            return b"null"
    return json.dumps(
        value,
        sort_keys=draw(st.booleans()),
        ensure_ascii=draw(st.booleans()),
        separators=draw(st.sampled_from([(",", ":"), (", ", ": "), (",", ": ")])),
    ).encode("utf-8", "surrogatepass")


@st.composite
def members(draw: Any) -> bytes:
    """JSON Lines bytes: mostly canonical, with the ways a member can fail to be."""
    records = draw(RECORDS)
    raw = b"".join(_writers(draw, r) + b"\n" for r in records)
    for _ in range(draw(st.integers(0, 2))):
        edit = draw(st.sampled_from(["insert", "delete", "join", "tail"]))
        at = draw(st.integers(0, len(raw)))
        if edit == "insert":
            piece = draw(st.sampled_from([b" ", b"\n", b"\r", b",", b"{}", b'"a":1,', b"\xff"]))
            raw = raw[:at] + piece + raw[at:]
        elif edit == "delete" and raw:
            raw = raw[:at] + raw[at + 1 :]
        elif edit == "join":
            raw = raw.replace(b"}\n{", b"},{", 1)
        elif raw:
            raw = raw[:-1]
    return raw


@SETTINGS
@given(RECORDS)
@example([{"a": 18446744073709552000}])  # past 64 bits: orjson reads a float, JCS prints alike
def test_canonical_members_parse_like_the_strict_path(records: list[dict[str, Any]]) -> None:
    try:
        raw = b"".join(canonical_bytes(r) + b"\n" for r in records)
    except InvalidInput:
        return
    fast = _canonical(raw)
    slow = _slow(raw)
    assert fast is not None and slow is not None
    assert _strict(fast, slow)


@SETTINGS
@given(members())
def test_fast_parse_never_accepts_what_the_slow_path_refuses(raw: bytes) -> None:
    fast = _canonical(raw)
    slow = _slow(raw)
    assert (fast is None) == (slow is None)
    if fast is not None:
        assert _strict(fast, slow)


@pytest.mark.parametrize(
    "raw",
    [
        b"[1\n2],3\n",  # each line alone is not JSON, the lines joined are
        b'{"a":[{}\n{}]},{"b":1}\n',
        b'{"a":1,"a":1}\n',
        b'{"a":NaN}\n',
        b'{"a":1.0}\n',
        b'{"a":1}\r\n',
        b'{"a":1}\n\n',
        b' {"a":1}\n',
        b'{"a":1}',
        b'{"b":1,"a":2}\n',
        b'{"a":"\\/"}\n',
        b'{"a":9007199254740993}\n',
    ],
)
def test_known_non_canonical_members(raw: bytes) -> None:
    assert _canonical(raw) is None
    assert _slow(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1e21}\n',  # orjson's spelling of 1e21; RFC 8785 writes 1e+21
        b"1.0\n",  # a whole line: RFC 8785 writes 1
        b'{"a":1}\n1e16\n',
        b'{"a":1e16}\n',
        b'{"a":[0.5,1.0]}\n',
        b'{"\xee\x80\x80":1,"\xf0\x9f\x98\x80":1}\n',  # code-point order, not UTF-16
        b'{"a":"\\u007f"}\n',
        b'{"a":"\\u00e9"}\n',
        b'{"a":1}\n{"b":[1,{"d":1,"c":2}]}\n',
    ],
)
def test_orjson_forms_that_are_not_canonical(raw: bytes) -> None:
    assert _canonical(raw) is None
    assert _slow(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1e+21}\n',
        b'{"a":10000000000000000}\n',
        b'{"a":[0.5,1,-1e-7]}\n1.5\n[2.5]\n',
        b'{"\xf0\x9f\x98\x80":1,"\xee\x80\x80":1}\n',  # UTF-16 order
        b'{"a":"\\u001f\\n\\"\\\\","b":"\x7f\xe2\x80\xa8"}\n',
        b'{"t":"2026-01-01T00:00:00.5Z","v":"1.5,2e5:[3.5"}\n',
        b'{"a":9007199254740992}\n',
    ],
)
def test_canonical_lines_orjson_prints_otherwise(raw: bytes) -> None:
    """RFC 8785 lines whose orjson spelling differs (or might): checked one by one, kept."""
    slow = _slow(raw)
    assert slow is not None
    fast = _canonical(raw)
    assert fast is not None and _strict(fast, slow)


@SETTINGS
@given(st.dictionaries(KEYS, VALUES, max_size=4), st.data())
def test_document_proof_is_canonical_bytes(doc: dict[str, Any], data: Any) -> None:
    """``is_canonical`` of a small document (``canonical_bytes`` at once) and of a large one
    (orjson's sorted form and the suspect searches) is whether the bytes are canonical."""
    for padded in (doc, {**doc, "pad": "x" * lines._SMALL_DOCUMENT}):
        raw = _writers(data.draw, padded)
        try:
            value = loads_strict(raw)
        except InvalidInput:
            continue
        try:
            expected = canonical_bytes(value) == raw
        except InvalidInput:
            expected = False
        assert is_canonical(value, raw) is expected


def _runpack(tmp_path: Any, intents: bytes, refs: bytes) -> Any:
    data = {
        model.INTENTS: intents,
        model.MANIFEST: b'{"run_id":"run_x","schema_id":"gait.runpack.manifest"}',
        model.REFS: refs,
        model.RESULTS: b"",
        model.RUN: b'{"run_id":"run_x"}',
    }
    path = tmp_path / "p.zip"
    write_zip(path, [(name, data[name]) for name in model.MEMBER_ORDER])
    return load_runpack(path, verify=False)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(members(), st.sampled_from([b'{"a":1}', b'{ "a":1}', b'{"b":1,"a":2}']))
def test_loader_proof_agrees_with_check_canonical(
    tmp_path: Any, intents: bytes, refs: bytes
) -> None:
    try:
        pack = _runpack(tmp_path, intents, refs)
    except InvalidInput:
        return  # not parseable at all: the loader refuses it as before

    def outcome(p: Any) -> str:
        try:
            check_canonical(p, "left")
        except InvalidInput as exc:
            return exc.message
        return "ok"

    assert outcome(pack) == outcome(dataclasses.replace(pack, canonical_members={}))


@SETTINGS
@given(st.dictionaries(KEYS, VALUES, max_size=4), st.dictionaries(KEYS, VALUES, max_size=4))
def test_record_comparison_equals_comparing_encodings(a: dict, b: dict) -> None:
    from gait.runpack.diff import _COMPARE, _same

    for left, right in (
        (a, b),
        (a, a),
        (a, json.loads(json.dumps(a))),
        (a, dict(reversed(a.items()))),
    ):
        assert _same(left, right) == (_COMPARE.encode(left) == _COMPARE.encode(right))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"x": 1}, {"x": True}),
        ({"x": 1}, {"x": 1.0}),
        ({"x": [0]}, {"x": [-0.0]}),
        ({"x": {}}, {"x": []}),
    ],
)
def test_record_comparison_sees_types(a: dict, b: dict) -> None:
    from gait.runpack.diff import _same

    assert not _same(a, b)


NAMES = st.text(alphabet=st.sampled_from('ab._"\\\n\x01é\u2028\U0001f600'), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.tuples(NAMES, NAMES, VALUES, VALUES, st.sampled_from(["ok", "error"])),
        max_size=4,
        unique_by=lambda t: t[1],
    ),
    st.sampled_from(["raw", "reference"]),
)
def test_recorder_lines_are_the_canonical_records(
    tmp_path: Any, calls: list[tuple], mode: str
) -> None:
    """The recorder splices lines from pre-serialized parts: each equals canonical_bytes of
    the record it stands for."""
    import warnings

    from gait.canon import digest
    from gait.runpack.recorder import Recorder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = Recorder(
            "run_prop",
            out=tmp_path / "r.zip",
            env={},
            sign=False,
            capture_mode=mode,
            created_at="2026-03-01T12:00:00.5Z",
            clock=lambda: "2026-03-01T12:00:01Z",
        )
    head = {
        "created_at": "2026-03-01T12:00:00.5Z",
        "producer_version": rec._head["producer_version"],
        "run_id": "run_prop",
        "schema_version": "1.0.0",
    }
    expected_intents, expected_results = [], []
    for tool, intent_id, args, result, status in calls:
        try:
            rec.intent(tool, args, intent_id=intent_id)
            rec.result(intent_id, result, status=status)
        except InvalidInput:
            return  # a value JSON cannot hold: refused as before
        args = {} if args is None else args if isinstance(args, dict) else {"value": args}
        if result is not None and not isinstance(result, dict):
            result = {"value": result}
        intent = {
            **head,
            "schema_id": "gait.runpack.intent",
            "intent_id": intent_id,
            "tool_name": tool,
            "args_digest": digest(args),
        }
        res = {
            **head,
            "schema_id": "gait.runpack.result",
            "intent_id": intent_id,
            "status": status,
            "result_digest": digest(result),
        }
        if mode == "raw":
            intent["args"] = args
            if result is not None:
                res["result"] = result
        expected_intents.append(canonical_bytes(intent) + b"\n")
        expected_results.append(canonical_bytes(res) + b"\n")
    assert b"".join(rec._intent_member.chunks) == b"".join(expected_intents)
    assert b"".join(rec._result_member.chunks) == b"".join(expected_results)


_line_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=3), kids, max_size=3)
    ),
    max_leaves=8,
)
# Lines the strict parse and orjson read differently, or that orjson prints back otherwise.
_odd_lines = st.sampled_from(
    [
        b'{"a":1,"a":2}',
        b'{"a":{"b":1,"b":1}}',
        b" {}",
        b"{} ",
        b"NaN",
        b'{"x":Infinity}',
        b"\xff",
        b"",
        b"{}{}",
        b"[1]\r",
        b"1e400",
        b"-0",
        b"1E2",
        b"1.0",
        b"1e21",
        b"123456789012345678901234567890",
        b"-9223372036854775809",
        b'"\\ud800"',
        b'"\\u00e9"',
        b'"\\/"',
        b'{"a" : 1}',
        b"[" * 1010 + b"]" * 1010,  # orjson nests to 1024, the stdlib's recursion stops first
        b'{"a":' * 120 + b"1" + b"}" * 120,
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            _line_values.map(lambda v: json.dumps(v).encode()),
            _line_values.map(lambda v: json.dumps(v, separators=(",", ":")).encode()),
            _line_values.map(
                lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode(
                    "utf-8", "surrogatepass"
                )
            ),
            _odd_lines,
        ),
        max_size=6,
    )
)
def test_strict_records_equal_the_strict_parse_or_defer(lines):
    from gait.canon import loads_strict
    from gait.errors import InvalidInput
    from gait.runpack.lines import strict_records

    raw = b"".join(line + b"\n" for line in lines)
    fast = strict_records(raw)
    try:
        slow = [loads_strict(line) for line in raw.split(b"\n")[:-1]]
    except InvalidInput:
        slow = None
    if fast is not None:
        assert slow is not None and _strict(fast, slow)
    if slow is None:
        assert fast is None


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        _line_values.map(lambda v: json.dumps(v, separators=(",", ":")).encode()),
        _line_values.map(
            lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode(
                "utf-8", "surrogatepass"
            )
        ),
        _line_values.map(lambda v: json.dumps(v, indent=1).encode()),
        _odd_lines,
        _odd_lines.map(lambda line: b'{"a":' + line + b"}"),
    )
)
def test_strict_document_is_the_strict_parse(raw: bytes) -> None:
    """A ``.json`` member read through orjson's proof gives loads_strict's value, or its very
    error (message and code)."""
    from gait.runpack.lines import strict_document

    try:
        slow: Any = loads_strict(raw, what="doc.json", code="E_X")
    except InvalidInput as exc:
        with pytest.raises(InvalidInput) as fast_error:
            strict_document(raw, what="doc.json", code="E_X")
        assert (fast_error.value.code, fast_error.value.message) == (exc.code, exc.message)
        return
    assert _strict(strict_document(raw, what="doc.json", code="E_X"), slow)


def test_strict_records_defer_what_only_orjson_reads() -> None:
    """orjson reads these (nesting to 1024, last duplicate key wins on the C path), the strict
    parse does not: the member must come back None, never orjson's records."""
    from gait.runpack.lines import strict_records

    deep = b"[" * 1010 + b"]" * 1010
    assert strict_records(b"{}\n" + deep + b"\n") is None
    assert strict_records(b'{"a":1}\n{"a":1,"a":2}\n') is None
    assert strict_records(b'{"a":1}\n{"a":NaN}\n') is None
    # orjson refuses, the strict parse reads: the strict records come back
    assert strict_records(b'"\\ud800"\n1e400\n') == ["\ud800", float("inf")]
    # not in orjson's compact form: that line is parsed strictly, the rest kept
    assert _strict(strict_records(b'{"a":1}\n{"b" : 1E2}\n[-0]\n'), [{"a": 1}, {"b": 100.0}, [0]])


class _Name(str):
    """The same JSON string, of a type the reduced diff does not take: the record-by-record
    path compares the run that holds it."""


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["t.a", "t.b", "t.c"]), st.dictionaries(KEYS, VALUES, max_size=3)
        ),
        max_size=6,
    ),
    st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(["drop", "args", "tool", "status", "swap"]))
    ),
    st.sampled_from(["full", "metadata"]),
)
def test_reduced_diff_equals_the_record_path(
    tmp_path_factory: Any, calls: list[tuple], edits: list[tuple], privacy: str
) -> None:
    """diff_runpacks reduces verified runs to names, digests and payload tokens; a run with
    one odd record is compared record by record. Both give the same report."""
    from gait.runpack.diff import diff_runpacks
    from gait.runpack.writer import write_record_input

    def doc(run_id: str, items: list[tuple]) -> dict[str, Any]:
        return {
            "run": {"run_id": run_id, "created_at": "2026-01-01T00:00:00Z"},
            "capture_mode": "raw",
            "intents": [
                {"intent_id": i, "tool_name": tool, "args": args} for i, tool, args, _ in items
            ],
            "results": [
                {"intent_id": i, "status": status, "result": {"n": len(i)}}
                for i, _, _, status in items
            ],
        }

    left = [(f"intent_{n}", tool, args, "ok") for n, (tool, args) in enumerate(calls)]
    right = list(left)
    for at, edit in edits:
        if at >= len(right):
            continue
        i, tool, args, status = right[at]
        if edit == "drop":
            del right[at]
        elif edit == "args":
            right[at] = (i, tool, {**args, "x": at}, status)
        elif edit == "tool":
            right[at] = (i, tool + "x", args, status)
        elif edit == "status":
            right[at] = (i, tool, args, "error")
        elif at + 1 < len(right):
            right[at], right[at + 1] = right[at + 1], right[at]
    folder = tmp_path_factory.mktemp("views")
    try:
        packs = [
            load_runpack(write_record_input(doc(name, items), folder / f"{name}.zip").path)
            for name, items in (("run_l", left), ("run_r", right))
        ]
    except InvalidInput:
        return  # a value the record input refuses
    reduced = diff_runpacks(*packs, privacy=privacy)
    for pack in packs:
        if pack.intents:
            odd = dataclasses.replace(pack, intents=[dict(r) for r in pack.intents])
            odd.intents[0]["tool_name"] = _Name(odd.intents[0]["tool_name"])
            exact = diff_runpacks(
                *((odd, packs[1]) if pack is packs[0] else (packs[0], odd)), privacy=privacy
            )
            assert canonical_bytes(exact.to_diff_json()) == canonical_bytes(reduced.to_diff_json())
            assert exact.summary_lines() == reduced.summary_lines()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.tuples(NAMES, NAMES, st.dictionaries(KEYS, VALUES, max_size=3), VALUES),
        max_size=4,
        unique_by=lambda t: t[1],
    ),
    st.sampled_from(["raw", "reference"]),
    st.booleans(),
)
def test_written_lines_are_the_canonical_records(
    tmp_path_factory: Any, calls: list[tuple], mode: str, own_time: bool
) -> None:
    """write_record_input splices each line from its payload's canonical bytes (made for the
    digest); write_runpack without them serializes each record: the same zip bytes."""
    from gait.runpack.build import normalize_input
    from gait.runpack.writer import write_record_input, write_runpack

    doc = {
        "run": {"run_id": "run_prop", "created_at": "2026-03-01T12:00:00.5Z"},
        "capture_mode": mode,
        "intents": [
            {"intent_id": i, "tool_name": tool, "args": args}
            | ({"created_at": "2026-03-01T13:00:00+01:00"} if own_time else {})
            for tool, i, args, _ in calls
        ],
        "results": [
            {"intent_id": i, "status": "ok", "result": {"v": value}} for _, i, _, value in calls
        ],
    }
    folder = tmp_path_factory.mktemp("w")
    try:
        spliced = write_record_input(doc, folder / "spliced.zip")
    except InvalidInput:
        return  # a value canonical JSON cannot hold
    mode, run, intents, results, refs = normalize_input(doc)
    plain = write_runpack(
        folder / "plain.zip",
        capture_mode=mode,
        run=run,
        intents=intents,
        results=results,
        refs=refs,
    )
    assert spliced.path.read_bytes() == plain.path.read_bytes()
