"""The compiled schema checks must give jsonschema's verdict on every input, or verify changes.

``gait.schema`` answers "valid?" with closures compiled from each schema and asks jsonschema only
for failures, so any disagreement would silently accept a document jsonschema refuses (or the
reverse). These tests hold the closures to jsonschema's ``is_valid`` on the reference's own
artifacts, on mutations of them aimed at each keyword's edge, on arbitrary JSON, and on small
schemas that exercise the keyword rules our schemas use only lightly.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
import time
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from gait import schema

RUNPACK_LINE_SCHEMAS = (
    "gait.runpack.intent",
    "gait.runpack.result",
    "gait.runpack.run",
    "gait.runpack.refs",
    "gait.runpack.manifest",
    "gait.gate.trace",
    "gait.gate.intent_request",
    "gait.gate.approval_token",
)


def _settings(examples: int) -> settings:
    """Example counts scale with GAIT_PROPERTY_SCALE (default 0.25 keeps the default run short;
    set 1 or more for a thorough run)."""
    scale = float(os.environ.get("GAIT_PROPERTY_SCALE", "0.25"))
    return settings(
        max_examples=max(20, int(examples * scale)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- corpus -----------------------------------------------------------------------------------


def _docs(text: str, name: str) -> list[Any]:
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if name.endswith((".yaml", ".yml")):
        return [yaml.safe_load(text)]
    return [json.loads(text)]


@cache
def _corpus(conformance: Path) -> tuple[tuple[str, Any], ...]:
    """(label, document) for every JSON/YAML document in the conformance data (a sample of the
    1,800 policy-test outputs, which all share one shape)."""
    found: list[tuple[str, Any]] = []
    for archive in sorted(conformance.rglob("*.zip")):
        with zipfile.ZipFile(archive) as zf:
            for member in sorted(zf.namelist()):
                text = zf.read(member).decode("utf-8")
                for index, doc in enumerate(_docs(text, member)):
                    found.append((f"{archive.name}:{member}#{index}", doc))
    patterns = ("*.json", "*.jsonl", "*.yaml")
    for path in sorted(p for pattern in patterns for p in conformance.rglob(pattern)):
        if "jcs" in path.parts:
            continue
        for index, doc in enumerate(_docs(path.read_text(encoding="utf-8"), path.name)):
            if path.name.startswith("expected.") and path.suffix == ".jsonl":
                if index % 25 == 0 and isinstance(doc, dict):
                    found.append((f"{path.name}#{index}.output", doc.get("output")))
                continue
            found.append((f"{path.relative_to(conformance)}#{index}", doc))
    return tuple(found)


def _own_schema(doc: Any) -> str | None:
    if isinstance(doc, dict) and doc.get("schema_id") in schema.schema_ids():
        return str(doc["schema_id"])
    return None


@cache
def _valid_docs(conformance: Path) -> tuple[tuple[str, Any], ...]:
    """(schema id, document) for every corpus document valid under its own schema."""
    found = []
    for _, doc in _corpus(conformance):
        schema_id = _own_schema(doc)
        if schema_id and _reference_verdict(schema_id, doc) is True:
            found.append((schema_id, doc))
    return tuple(found)


# --- verdicts ---------------------------------------------------------------------------------


def _outcome(check: Callable[[Any], bool], doc: Any) -> bool | type[BaseException]:
    try:
        return bool(check(doc))
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome to compare
        return type(exc)


def _result(call: Callable[[Any], Any], doc: Any) -> Any:
    try:
        return call(doc)
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome to compare
        return type(exc)


def _reference_verdict(schema_id: str, doc: Any) -> bool | type[BaseException]:
    """jsonschema alone, with the module's own format checker."""
    validator = schema._validator(schema.schema_path(schema_id))
    return _outcome(validator.is_valid, doc)


def _assert_agrees(schema_id: str, doc: Any) -> None:
    expected = _reference_verdict(schema_id, doc)
    compiled = schema._compiled(schema.schema_path(schema_id)).check
    assert compiled is not None, schema_id
    fast = _outcome(compiled, doc)
    if isinstance(fast, bool):
        assert fast == expected, (schema_id, doc)
    else:
        # The closure hit something odd (a non-string key under patternProperties, a time that
        # overflows): the public functions must then behave exactly as jsonschema does.
        assert _outcome(lambda d: schema.is_valid(schema_id, d), doc) == expected, (schema_id, doc)
    # errors() answers (or raises) exactly as the jsonschema-only path always did.
    old = _result(lambda d: schema._slow_errors(schema.schema_path(schema_id), d), doc)
    assert _result(lambda d: schema.errors(schema_id, d), doc) == old, (schema_id, doc)
    assert (old == []) is (expected is True)


# --- the registry -------------------------------------------------------------------------------


def test_every_schema_compiles() -> None:
    report = schema._fast_report()
    assert set(report) == set(schema.schema_ids())
    assert {sid: why for sid, why in report.items() if why} == {}
    for schema_id in RUNPACK_LINE_SCHEMAS:
        assert schema._compiled(schema.schema_path(schema_id)).check is not None, schema_id


def test_valid_documents_never_reach_jsonschema(
    conformance_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    valid = [(sid, doc) for sid, doc in _valid_docs(conformance_dir) if sid in RUNPACK_LINE_SCHEMAS]
    assert {sid for sid, _ in valid} >= {"gait.runpack.intent", "gait.runpack.result"}

    def refuse(*_: Any) -> Any:
        raise AssertionError("jsonschema used for a valid document")

    monkeypatch.setattr(schema, "_slow_errors", refuse)
    monkeypatch.setattr(schema, "_validator", refuse)
    for schema_id, doc in valid:
        assert schema.errors(schema_id, doc) == []
        assert schema.is_valid(schema_id, doc) is True
        schema.validate(schema_id, doc)


def test_messages_unchanged_for_invalid(conformance_dir: Path) -> None:
    checked = 0
    for _, doc in _corpus(conformance_dir):
        schema_id = _own_schema(doc)
        if schema_id and _reference_verdict(schema_id, doc) is False:
            path = schema.schema_path(schema_id)
            assert schema.errors(schema_id, doc) == schema._slow_errors(path, doc)
            assert schema.is_valid(schema_id, doc) is False
            checked += 1
    assert checked >= 15


def test_unsupported_keywords_leave_schema_to_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    for document, needle in (
        ({"type": "object", "minProperties": 1}, "minProperties"),
        ({"properties": {"a": {"multipleOf": 2}}}, "multipleOf"),
        ({"unevaluatedProperties": False}, "unevaluatedProperties"),
        ({"$ref": "other.schema.json"}, "$ref"),
        ({"$defs": {"a": {"$id": "x"}}, "$ref": "#/$defs/a"}, "$id"),
        ({"type": "string", "format": "email"}, "format"),
        ({"type": "strng"}, "type"),
    ):
        compiled = schema._compile(document)
        assert compiled.check is None and needle in compiled.reason, (document, compiled)
    # A pattern is compiled when first used: one that does not compile raises there, and the
    # callers leave that value to jsonschema (which raises as it always did).
    lazy = schema._compile({"pattern": "("}).check
    assert lazy is not None and lazy(1) is True
    with pytest.raises(re.error):
        lazy("x")
    assert Draft202012Validator({"pattern": "("}).is_valid(1) is True
    with pytest.raises(re.error):
        Draft202012Validator({"pattern": "("}).is_valid("x")
    # An uncompiled schema still answers, through jsonschema alone.
    path = schema.schema_path("gait.runpack.intent")
    monkeypatch.setitem(schema._FAST, path, schema._Compiled(None, "test"))
    assert schema.is_valid("gait.runpack.intent", {}) is False
    assert schema.errors("gait.runpack.intent", {"schema_id": 1})


def test_compiles_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    path = schema.schema_path("gait.runpack.result")
    monkeypatch.delitem(schema._FAST, path, raising=False)
    seen: list[Any] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        seen.append(schema._compiled(path))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and all(each is seen[0] for each in seen)


# --- (a) the conformance data -----------------------------------------------------------------


def test_conformance_documents_agree_under_every_schema(conformance_dir: Path) -> None:
    corpus = _corpus(conformance_dir)
    assert len(corpus) > 300
    owned = {_own_schema(doc) for _, doc in corpus}
    assert set(RUNPACK_LINE_SCHEMAS) <= owned
    for schema_id in schema.schema_ids():
        for _, doc in corpus:
            _assert_agrees(schema_id, doc)


# --- (b) mutations of valid documents -----------------------------------------------------------

BAD_TIMES = [
    "2026-02-30T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-01-01T00:00:60Z",
    "2026-01-01T00:00:00.1234567890Z",
    "2026-01-01T00:00:00.Z",
    "2026-01-01 00:00:00Z",
    "2026-01-01T00:00:00",
    "2026-01-01T00:00:00z",
    "2026-01-01t00:00:00+01:00",
    "2026-01-01T00:00:00-23:59",
    "2026-01-01T00:00:00+24:00",
    "2026-01-01T00:00:00Z\n",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "\u0662\u0660\u0662\u0666-01-01T00:00:00Z",
    "2026-01-01T00:00:00.000000001Z",
    "",
]
INTS = [0, -1, 1, 1.0, -0.0, 1.5, True, False, 2**64, -(2**63), 1e300, float("inf"), None, "1"]


def _text() -> st.SearchStrategy[str]:
    return st.text(max_size=70) | st.sampled_from(
        ["", " ", "\n", "😀" * 64, "😀" * 65, "é" * 65, "1.0.0", "1.0.1", "ok", "OK", "error"]
    )


def _string_variants(value: str) -> st.SearchStrategy[Any]:
    options: list[Any] = [value + "\n", value.upper(), value[:-1], value + value[-1:], value * 2]
    if len(value) == 64:
        options += [value[:63], value + "0", value.upper(), "g" * 64, "😀" * 64, value[:63] + "\n"]
    if value[:4].isdigit() and "T" in value:
        options += BAD_TIMES
    return st.sampled_from(options) | _text() | st.sampled_from(INTS)


@cache
def _property_names() -> tuple[str, ...]:
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("properties", "patternProperties") and isinstance(value, dict):
                    names.update(value)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for schema_id in schema.schema_ids():
        walk(schema.load_schema(schema_id))
    return tuple(sorted(names | {"credential_x", "broker_y", "delegation_z", "x-extra"}))


@cache
def _string_values() -> tuple[str, ...]:
    """Every const and enum string, so arbitrary values often hit the interesting branches."""
    values: set[str] = {"2026-02-05T00:00:00Z", "0" * 64, "A" * 64}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "const" and isinstance(value, str):
                    values.add(value)
                elif key == "enum" and isinstance(value, list):
                    values.update(v for v in value if isinstance(v, str))
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for schema_id in schema.schema_ids():
        walk(schema.load_schema(schema_id))
    return tuple(sorted(values))


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.sampled_from([1.0, 0.0, -0.0, 2.0, 1e21, 1e-7])
    | st.text(max_size=10)
    | st.sampled_from(_string_values())
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(_property_names()) | st.text(max_size=6), inner, max_size=6
        )
    ),
    max_leaves=25,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _mutate(data: st.DataObject, doc: Any) -> Any:
    path = data.draw(st.sampled_from(_paths(doc)))
    target = _get(doc, path)
    kind = data.draw(st.sampled_from(["drop", "add", "replace", "replace", "replace"]))
    if kind == "drop" and isinstance(target, dict) and target:
        del target[data.draw(st.sampled_from(sorted(target)))]
        return doc
    if kind == "drop" and isinstance(target, list) and target:
        del target[data.draw(st.integers(0, len(target) - 1))]
        return doc
    if kind == "add" and isinstance(target, dict):
        key = data.draw(st.sampled_from(_property_names()) | st.text(max_size=8))
        target[key] = data.draw(JSON)
        return doc
    if kind == "add" and isinstance(target, list):
        target.append(copy.deepcopy(target[0]) if target and data.draw(st.booleans()) else None)
        return doc
    if isinstance(target, str):
        new = data.draw(_string_variants(target))
    elif isinstance(target, bool) or target is None:
        new = data.draw(st.sampled_from([not target, 0, 1, "true", None, [], {}]))
    elif isinstance(target, int | float):
        new = data.draw(st.sampled_from(INTS) | st.integers() | st.floats(allow_nan=False))
    else:
        new = data.draw(JSON | st.sampled_from([[], {}, None, "", 0]))
    if not path:
        return new
    _get(doc, path[:-1])[path[-1]] = new
    return doc


@_settings(1500)
@given(data=st.data())
def test_mutations_agree(conformance_dir: Path, data: st.DataObject) -> None:
    schema_id, original = data.draw(st.sampled_from(_valid_docs(conformance_dir)))
    doc = copy.deepcopy(original)
    for _ in range(data.draw(st.integers(1, 3))):
        doc = _mutate(data, doc)
    _assert_agrees(schema_id, doc)
    _assert_agrees(data.draw(st.sampled_from(RUNPACK_LINE_SCHEMAS)), doc)


# --- (c) arbitrary JSON -------------------------------------------------------------------------


@_settings(600)
@given(st.sampled_from(sorted(schema.schema_ids())), JSON)
def test_arbitrary_json_agrees(schema_id: str, value: Any) -> None:
    _assert_agrees(schema_id, value)


@_settings(200)
@given(data=st.data())
def test_envelopes_with_arbitrary_members_agree(data: st.DataObject) -> None:
    """Arbitrary JSON rarely gets past the schema_id const; start from the right envelope."""
    schema_id = data.draw(st.sampled_from(sorted(schema.schema_ids())))
    doc = data.draw(st.dictionaries(st.sampled_from(_property_names()), JSON, max_size=12))
    doc.update(schema_id=schema_id, schema_version="1.0.0")
    _assert_agrees(schema_id, doc)


# --- keyword rules on small schemas ---------------------------------------------------------------

SMALL_SCHEMAS: list[dict[str, Any]] = [
    {"type": "integer", "minimum": 0, "maximum": 10},
    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1.5},
    {"type": ["string", "integer"], "minimum": 2, "minLength": 2},
    {"minimum": 0, "maxLength": 3},
    {"type": "array", "uniqueItems": True},
    {"uniqueItems": True, "maxItems": 3},
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}], "items": False},
    {"prefixItems": [{"const": 1}], "items": {"type": "null"}, "minItems": 1},
    {"const": 1},
    {"const": [1, {"a": False}]},
    {"const": {"a": [True]}},
    {"enum": [1, "1", True, None, [0], {"a": 1.0}]},
    {"enum": ["a", "b"]},
    {"type": "string", "enum": ["a", "b"], "const": "a"},
    {"type": "string", "pattern": "^a$", "maxLength": 1},
    {"type": "string", "minLength": 2, "maxLength": 2},
    {"format": "date-time"},
    {"allOf": [{"type": "object"}, {"required": ["a"]}]},
    {"anyOf": [{"type": "string"}, {"required": ["a"]}]},
    {"oneOf": [{"type": "integer"}, {"type": "number"}]},
    {"oneOf": [{"required": ["a"]}, {"required": ["b"]}, {"required": ["c"]}]},
    {"not": {"type": "array"}},
    {"if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {"maxProperties": 9}},
    {"if": {"type": "string"}, "then": {"minLength": 1}},
    {"then": {"required": ["zzz"]}},
    {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": True, "c": False},
        "patternProperties": {"^b": {"type": "string"}, "(x)": {"type": "integer"}},
        "additionalProperties": False,
    },
    {"patternProperties": {"^a": {"minimum": 1}}, "additionalProperties": {"type": "null"}},
    {"properties": {"a": {"type": "object"}}, "additionalProperties": {"type": "integer"}},
    {"propertyNames": {"pattern": "^[a-z]+$"}, "required": ["a"]},
    {"type": "object", "propertyNames": {"maxLength": 1}},
    {"$defs": {"n": {"type": ["array", "integer"], "items": {"$ref": "#/$defs/n"}}}, "$ref": "#"},
    {"$defs": {"tree": {"properties": {"k": {"$ref": "#/$defs/tree"}}, "required": ["v"]}},
     "$ref": "#/$defs/tree"},
    True,
    False,
]  # fmt: skip


@pytest.mark.parametrize("index", range(len(SMALL_SCHEMAS)))
def test_small_schema_compiles_or_refuses(index: int) -> None:
    document = SMALL_SCHEMAS[index]
    compiled = schema._compile(document)
    if "maxProperties" in json.dumps(document):
        assert compiled.check is None  # maxProperties is not mirrored: refused, not guessed
    else:
        assert compiled.check is not None, compiled.reason


@cache
def _small_validator(index: int) -> Any:
    return Draft202012Validator(SMALL_SCHEMAS[index], format_checker=schema._format_checker())


@_settings(1500)
@given(
    st.sampled_from(range(len(SMALL_SCHEMAS))),
    JSON
    | st.sampled_from(
        [
            [1, True],
            [0, False],
            [[1], [True], [1]],
            [{"a": 1}, {"a": 1.0}],
            [1, 1.0],
            [[1, True], [1, True]],
            ["a", True],
            [1.0],
            {"a": 1.0},
            {"a": True},
            {"bx": "s"},
            {"bx": 1},
            {"x": 1, "bx": "1"},
            "😀😀",
            "a\n",
        ]
    ),
)
def test_small_schemas_agree(index: int, value: Any) -> None:
    document = SMALL_SCHEMAS[index]
    compiled = schema._compile(document).check
    if compiled is None:
        return
    expected = _outcome(_small_validator(index).is_valid, value)
    assert _outcome(compiled, value) == expected, (document, value)


def test_type_rules() -> None:
    integer = schema._compile({"type": "integer"}).check
    number = schema._compile({"type": "number"}).check
    assert integer is not None and number is not None
    assert integer(1) and integer(1.0) and integer(-0.0) and not integer(1.5)
    assert not integer(True) and not number(False) and number(1.5) and not number("1")
    short = schema._compile({"type": "string", "maxLength": 2}).check
    assert short is not None and short("😀😀") and not short("😀😀😀")


# --- whole members in one pass -----------------------------------------------------------------


@_settings(300)
@given(data=st.data())
def test_member_lists_agree(conformance_dir: Path, data: st.DataObject) -> None:
    """``all_valid`` over many copies of a valid record, some mutated: true exactly when
    jsonschema finds every one valid (verify then skips the record-by-record messages)."""
    schema_id, original = data.draw(st.sampled_from(_valid_docs(conformance_dir)))
    count = data.draw(st.integers(0, 20))
    docs = [copy.deepcopy(original) for _ in range(count)]
    for index in data.draw(st.lists(st.integers(0, max(count - 1, 0)), max_size=2)):
        if docs:
            docs[index] = _mutate(data, docs[index])
    verdicts = [_reference_verdict(schema_id, doc) for doc in docs]
    if all(isinstance(each, bool) for each in verdicts):
        assert schema.all_valid(schema_id, docs) == all(verdicts)
    else:  # jsonschema raised on one: not answered by the one pass either
        assert schema.all_valid(schema_id, docs) is False


def _distinct_copies(original: Any, count: int) -> list[Any]:
    """``count`` copies of a record whose digests and ids differ from copy to copy, as a real
    member's do (so the column check reads many distinct values, not one)."""
    import hashlib

    docs = []
    for index in range(count):
        doc = copy.deepcopy(original)
        if isinstance(doc, dict):
            for key, value in doc.items():
                if isinstance(value, str) and len(value) == 64:
                    doc[key] = hashlib.sha256(f"{key}{index}".encode()).hexdigest()
                elif key.endswith("_id") and isinstance(value, str) and "schema" not in key:
                    doc[key] = f"{value}_{index}"
        docs.append(doc)
    return docs


@_settings(400)
@given(data=st.data())
def test_member_columns_agree(conformance_dir: Path, data: st.DataObject) -> None:
    """``all_valid`` over a member long enough for the column check (key sets counted, string
    columns checked by their distinct values, digest patterns spelled in bulk), with some
    records mutated: true exactly when jsonschema finds every record valid."""
    pool = [(sid, doc) for sid, doc in _valid_docs(conformance_dir) if sid in RUNPACK_LINE_SCHEMAS]
    schema_id, original = data.draw(st.sampled_from(pool))
    count = data.draw(st.integers(schema._COLUMNS_FROM, schema._COLUMNS_FROM + 24))
    docs = _distinct_copies(original, count)
    for index in data.draw(st.lists(st.integers(0, count - 1), max_size=3)):
        top = data.draw(st.booleans())
        docs[index] = _mutate_top(data, docs[index]) if top else _mutate(data, docs[index])
    verdicts = [_reference_verdict(schema_id, doc) for doc in docs]
    parsed = json.loads(json.dumps(docs))  # as verify has them: straight from a JSON parser
    if all(isinstance(each, bool) for each in verdicts):
        assert schema.all_valid(schema_id, docs) == all(verdicts)
        if parsed == docs:  # (JSON has no tuple or non-string key to come back unchanged)
            assert schema.all_valid(schema_id, parsed, parsed=True) == all(verdicts)
    else:  # jsonschema raised on one: not answered by the one pass either
        assert schema.all_valid(schema_id, docs) is False


def _mutate_top(data: st.DataObject, doc: Any) -> Any:
    """A change to a record's own keys (where the column check reads): one dropped, one added,
    or one value changed to a near miss."""
    if not isinstance(doc, dict) or not doc:
        return doc
    key = data.draw(st.sampled_from(sorted(doc)))
    kind = data.draw(st.sampled_from(["drop", "add", "replace", "replace"]))
    if kind == "drop":
        del doc[key]
    elif kind == "add":
        doc[data.draw(st.sampled_from(_property_names()) | st.text(max_size=8))] = data.draw(JSON)
    elif isinstance(doc[key], str):
        doc[key] = data.draw(_string_variants(doc[key]) | st.sampled_from(["", "\n"]))
    else:
        doc[key] = data.draw(JSON)
    return doc


NEAR_MISSES = ["", "\n", "ok\n", "OK", "error", "g" * 64, "0" * 63, "0" * 64 + "\n", "é" * 64,
               1, None, True, [], {}]  # fmt: skip


def test_member_columns_near_misses(conformance_dir: Path) -> None:
    """Every top-level key of each runpack record, dropped, doubled by an unknown key or set to
    each near miss in one record of a member long enough for the column check: ``all_valid``
    is jsonschema's verdict over the member each time."""
    pool = [(sid, doc) for sid, doc in _valid_docs(conformance_dir) if sid in RUNPACK_LINE_SCHEMAS]
    seen = set()
    for schema_id, original in pool:
        if schema_id not in ("gait.runpack.intent", "gait.runpack.result") or schema_id in seen:
            continue
        seen.add(schema_id)
        docs = _distinct_copies(original, schema._COLUMNS_FROM + 8)
        assert schema.all_valid(schema_id, docs) is True
        for key in sorted(original):
            changed: list[Any] = [{k: v for k, v in docs[17].items() if k != key}]
            changed.append({**docs[17], "x-extra": 1})
            changed += [{**docs[17], key: value} for value in NEAR_MISSES]
            if isinstance(original[key], str):
                changed += [{**docs[17], key: original[key] + "\n"}]
            for doc in changed:
                member = [*docs[:17], doc, *docs[18:]]
                verdict = _reference_verdict(schema_id, doc)
                assert isinstance(verdict, bool)
                assert schema.all_valid(schema_id, member) is verdict, (key, doc)
                assert schema.all_valid(schema_id, member, parsed=True) is verdict, (key, doc)
    assert seen == {"gait.runpack.intent", "gait.runpack.result"}


def test_direct_lookup_names_the_indexed_file() -> None:
    """The by-convention lookup (one file read, not all) finds the runpack schemas, and any
    file it finds is the one the full index names."""
    for schema_id in schema.schema_ids():
        assert schema._direct(schema_id) in (None, schema._index()[schema_id]), schema_id
    for schema_id in RUNPACK_LINE_SCHEMAS[:5]:
        assert schema._direct(schema_id) == schema._index()[schema_id], schema_id


SPELLED = ["^[A-Fa-f0-9]{64}$", "^[a-f0-9]{2,4}$", "^[a-z0-9_.-]+$", "^[A-Z]*$", "^[0-9a-z]{3}$"]


@_settings(600)
@given(
    st.sampled_from(SPELLED),
    st.lists(
        st.text(st.sampled_from("aAfFgG09_.-z\n\u00e9\U0001f600 "), max_size=66)
        | st.sampled_from(["0" * 64, "a" * 64, "A" * 64, "0" * 64 + "\n", "abc", "ab\n"]),
        min_size=1,
        max_size=12,
    ),
)
def test_spelled_patterns_agree(pattern: str, values: list[str]) -> None:
    """The bulk check of a character-class pattern is never more lenient than ``re.search``,
    and accepts every set of strings the search accepts that has no newline."""
    spelled = schema._spelled(pattern)
    assert spelled is not None
    distinct = set(values)
    lengths = set(map(len, distinct))
    searched = all(re.search(pattern, each) for each in distinct)
    verdict = spelled(distinct, min(lengths), max(lengths))
    assert verdict == (searched and not any("\n" in each for each in distinct)), distinct


def test_spelled_reads_only_plain_classes() -> None:
    """Anything but a run of one plain class is left to ``re`` (escapes, negation, groups,
    an alternation, a reversed range, a pattern not anchored at both ends)."""
    for pattern in [
        "^[\\w]{3}$", "^[^a]+$", "^([a-f]{2})$", "^[a-f]+$|^x$", "^[z-a]+$", "[a-f]{64}",
        "^[a-f]{64}", "^[a-f]{2}[0-9]$", "^[a-f]{64}$\\Z",
    ]:  # fmt: skip
        assert schema._spelled(pattern) is None, pattern


# --- micro-benchmark ----------------------------------------------------------------------------


def _per_call(call: Callable[[], Any], seconds: float = 0.3) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            call()
        count += 50
    return (time.perf_counter() - start) / count * 1e6


def test_benchmark_intent_record(conformance_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = conformance_dir / "reference" / "runpacks" / "runpack_run_ref.zip"
    with zipfile.ZipFile(archive) as zf:
        intent = json.loads(zf.read("intents.jsonl").decode().splitlines()[0])
    path = schema.schema_path("gait.runpack.intent")
    assert schema.errors("gait.runpack.intent", intent) == schema._slow_errors(path, intent) == []
    before = _per_call(lambda: schema._slow_errors(path, intent))
    after = _per_call(lambda: schema.errors("gait.runpack.intent", intent))
    with capsys.disabled():
        print(f"\nintent record: jsonschema {before:.1f} µs, compiled {after:.1f} µs "
              f"({before / after:.0f}x)")  # fmt: skip
    assert after * 5 < before
