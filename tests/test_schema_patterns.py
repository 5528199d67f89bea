"""The schema check answers a few shapes of ``pattern`` with string methods rather than ``re``
(gait.schema ``_plain_search``), and a trace's canonical times likewise (gait.gate.trace
``_canonical_fields_plain``), where ``re`` is not loaded, so that a ``gait gate eval`` decision
needs no ``re`` for them (issue 16 item 6). Each must answer exactly as the regular expression
does."""

from __future__ import annotations

import json
import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from gait import schema
from gait.gate import trace

WHITESPACE = " \t\n\r\x0b\x0c\x1c\x85\xa0\u2003\u3000"


def test_str_isspace_is_the_patterns_whitespace() -> None:
    # \s in a text pattern and str.isspace/str.strip must be one set of characters
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    assert set(re.findall(r"\s", every)) == {c for c in every if c.isspace()}
    assert set(re.findall(r"\S", every)) == {c for c in every if not c.isspace()}


def _shipped_patterns() -> set[str]:
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.add(node["pattern"])
            props = node.get("patternProperties")
            if isinstance(props, dict):
                found.update(props)
                found.add("|".join(props))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for schema_id in schema.schema_ids():
        walk(schema.load_schema(schema_id))
    return found


SHIPPED = sorted(_shipped_patterns())
READ_PLAINLY = [p for p in SHIPPED if schema._plain_search(p) is not None]


def test_the_intent_schemas_patterns_are_read_plainly() -> None:
    intent = json.dumps(schema.load_schema("gait.gate.intent_request"))
    for pattern in SHIPPED:
        if json.dumps(pattern) in intent and "{64}" not in pattern:
            assert pattern in READ_PLAINLY, pattern
    assert len(READ_PLAINLY) >= 8


def _texts_for(pattern: str) -> st.SearchStrategy[str]:
    letters = sorted({c for c in pattern if c.isalnum() or c in "_-. "})
    alphabet = st.sampled_from(
        [*letters, *(c.upper() for c in letters), *WHITESPACE, "x", "0", "\u0130", "$", "\n"]
    )
    words = st.text(alphabet, max_size=24)
    # pieces of the pattern's own words, so that near and exact matches are common
    parts = [p for p in re.split(r"[^A-Za-z0-9_.]+", pattern.replace("\\", "")) if p]
    cased = st.sampled_from(parts or ["x"]).flatmap(
        lambda part: st.sampled_from([part, part.upper(), part.lower(), part.title()])
    )
    pieces = st.lists(st.one_of(cased, st.sampled_from(list(WHITESPACE)), words), max_size=4)
    return st.one_of(words, pieces.map("".join))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_plain_reading_answers_as_re(data: st.DataObject) -> None:
    pattern = data.draw(st.sampled_from(READ_PLAINLY))
    plain = schema._plain_search(pattern)
    assert plain is not None
    for _ in range(20):
        text = data.draw(_texts_for(pattern))
        assert plain(text) == bool(re.search(pattern, text)), (pattern, text)


def _crafted(pattern: str) -> list[str]:
    """Texts built from the pattern's own words: each, each pair, with a final newline, padded
    with whitespace, in other cases."""
    parts = [p for p in re.split(r"[^A-Za-z0-9_.]+", pattern.replace("\\", "")) if p]
    texts = ["", " ", "\n", *parts]
    texts += [a + b for a in parts for b in parts]
    texts += [f"{t}\n" for t in list(texts)] + [f" {t}\t" for t in parts]
    texts += [t.upper() for t in texts] + [t.title() for t in texts]
    texts += [t.replace("_", " ") for t in parts] + [t.replace("_", "-") for t in parts]
    return texts


def test_plain_reading_answers_as_re_on_the_patterns_own_words() -> None:
    for pattern in READ_PLAINLY:
        plain = schema._plain_search(pattern)
        assert plain is not None
        for text in _crafted(pattern):
            assert plain(text) == bool(re.search(pattern, text)), (pattern, text)


ATOM = st.sampled_from(["[pP]", "[aA]", "[-_ ]", "[ _]", "\\.", "a", "B", "7", "_", "[a-z]", "\\s"])
WORD = st.lists(ATOM, min_size=1, max_size=4).map("".join)


@st.composite
def _patterns(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORD, min_size=1, max_size=3))
    kind = draw(st.sampled_from(["words", "optional", "prefix", "lookahead", "other"]))
    if kind == "words":
        return "^\\s*(?:" + "|".join(words) + ")\\s*$"
    if kind == "optional":
        return "^\\s*(?:" + "|".join(words) + ")?\\s*$"
    literal = draw(st.sampled_from(["credential_", "a", "Ab_", "a.b", "x$"]))
    if kind == "prefix":
        return "^" + literal
    if kind == "lookahead":
        tails = draw(st.lists(st.sampled_from(["b$", "ttl$", "_c$", "d", "$"]), min_size=1))
        return "^" + literal + "(?!" + "|".join(tails) + ")"
    return draw(st.sampled_from(["\\S", "\\s", "^\\S", "\\S+", "^\\s*(?:a)\\s*", "^(?:a)$"]))


@settings(max_examples=150, deadline=None)
@given(pattern=_patterns(), data=st.data())
def test_patterns_read_plainly_or_left_to_re(pattern: str, data: st.DataObject) -> None:
    plain = schema._plain_search(pattern)
    if plain is None:
        return  # re decides, as before
    for _ in range(15):
        text = data.draw(_texts_for(pattern))
        assert plain(text) == bool(re.search(pattern, text)), (pattern, text)


SHAPE = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{0,8}[1-9])?Z", re.ASCII
)  # gait.gate.trace._CANONICAL_TIME_SHAPE


@st.composite
def _times(draw: st.DrawFn) -> str:
    digits = st.sampled_from("0123456789")
    body = "".join(draw(st.lists(digits, min_size=14, max_size=14)))
    text = f"{body[:4]}-{body[4:6]}-{body[6:8]}T{body[8:10]}:{body[10:12]}:{body[12:14]}"
    fraction = "".join(draw(st.lists(digits, max_size=11)))
    text += draw(st.sampled_from(["", ".", f".{fraction}"])) + draw(st.sampled_from(["Z", "z", ""]))
    if draw(st.booleans()):  # one character changed, dropped or added
        at = draw(st.integers(0, len(text)))
        swap = draw(st.sampled_from(["-", ":", "T", "Z", ".", "\n", "\u0661", "5", "²", ""]))
        text = text[:at] + swap + text[at + draw(st.integers(0, 1)) :]
    return text


@settings(max_examples=400, deadline=None)
@given(text=_times())
def test_canonical_time_fields_as_the_pattern_reads_them(text: str) -> None:
    shape = SHAPE.fullmatch(text)
    expected = tuple(map(int, shape.groups())) if shape else None
    assert trace._canonical_fields_plain(text) == expected, text


def test_canonical_time_fields_at_every_fraction_length() -> None:
    for size in range(12):
        for last in "05":
            fraction = "." + "1" * (size - 1) + last if size else "."
            for text in (f"2026-02-18T00:00:00{fraction}Z", "2026-02-18T00:00:00Z"):
                shape = SHAPE.fullmatch(text)
                expected = tuple(map(int, shape.groups())) if shape else None
                assert trace._canonical_fields_plain(text) == expected, text
