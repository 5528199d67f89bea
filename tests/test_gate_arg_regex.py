"""Argument-constraint regexes cannot hang the gate.

``match.args[].regex`` runs on every call against arguments the agent chose. Python's ``re``
backtracks: ``(a|aa)+$`` against forty ``a`` and a ``!`` takes longer than anyone waits. The
gate matches these patterns in linear time, and refuses at policy load what only a
backtracking matcher can run (as Go's RE2, the reference's regexp, does).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gait.cli.main import main

INTENT = {
    "schema_id": "gait.gate.intent_request",
    "schema_version": "1.0.0",
    "created_at": "2026-06-01T00:00:00Z",
    "producer_version": "t",
    "tool_name": "tool.query",
    "args": {"q": "a" * 5000 + "!"},
    "targets": [{"kind": "other", "value": "db", "operation": "read"}],
    "context": {"identity": "bot", "workspace": "/w", "risk_class": "high"},
}


def _policy(pattern: str) -> str:
    return (
        "default_verdict: allow\n"
        "rules:\n"
        "  - name: odd-queries\n"
        "    priority: 1\n"
        "    effect: block\n"
        "    match:\n"
        "      tool_names: [tool.query]\n"
        "      args:\n"
        "        - path: $.q\n"
        f"          regex: {json.dumps(pattern)}\n"
    )


def _decide(capsys, tmp_path: Path, pattern: str, q: str) -> tuple[int, dict]:
    (tmp_path / "policy.yaml").write_text(_policy(pattern))
    (tmp_path / "intent.json").write_text(json.dumps({**INTENT, "args": {"q": q}}))
    code = main(
        ["policy", "test", str(tmp_path / "policy.yaml"), str(tmp_path / "intent.json"), "--json"]
    )
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("pattern", [r"(a|aa)+", r"(a+)+$", r"(\w+\s?)*x", r"(.*a){20}"])
def test_catastrophic_patterns_finish_fast(capsys, tmp_path: Path, pattern: str) -> None:
    started = time.process_time()
    code, out = _decide(capsys, tmp_path, pattern, "a" * 5000 + "!")
    assert time.process_time() - started < 2.0  # Python's re: beyond any test timeout
    assert (code, out["verdict"]) == (0, "allow"), out  # no match: the block rule does not apply
    code, out = _decide(capsys, tmp_path, pattern, "a" * 30)
    assert (code, out["verdict"]) == ((3, "block") if pattern != r"(\w+\s?)*x" else (0, "allow"))


@pytest.mark.parametrize(
    ("pattern", "said"),
    [
        (r"(a)\1", "a backreference"),
        (r"(?=a)a", "a lookahead or lookbehind"),
        (r"(?<!x)a", "a negative lookahead or lookbehind"),
        (r"(?>a+)b", "an atomic group"),
        (r"a++b", "a possessive repeat"),
        (r"(a)?(?(1)b|c)", "a conditional group"),
        (r"a{1001}", "a repeat count above 1000"),
    ],
)
def test_backtracking_only_constructs_are_refused_at_load(
    capsys, tmp_path: Path, pattern: str, said: str
) -> None:
    (tmp_path / "policy.yaml").write_text(_policy(pattern))
    code = main(["policy", "validate", str(tmp_path / "policy.yaml"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert (code, out["error_code"]) == (6, "E_POLICY_PARSE")
    assert said in out["error"] and "match.args[0].regex" in out["error"]


# The matcher agrees with Python's re.fullmatch on what both can run.
_ATOMS = st.sampled_from(
    ["a", "b", ".", "[ab]", "[^a]", r"\d", r"\w", r"\s", r"\W", "[a-c]", "[A-Z]", r"\b", r"\B",
     "^", "$", r"\Z", r"\A", "(?i:A)", "(?a:\\w)", "\n", "é"]
)  # fmt: skip
_PATTERNS = st.recursive(
    _ATOMS,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map("".join),
        st.tuples(inner, inner).map(lambda p: f"({p[0]}|{p[1]})"),
        st.tuples(inner, st.sampled_from(["*", "+", "?", "*?", "{2}", "{1,3}", "{2,}"])).map(
            lambda p: f"(?:{p[0]}){p[1]}"
        ),
    ),
    max_leaves=6,
)
_FLAGS = st.sampled_from(["", "(?i)", "(?m)", "(?s)", "(?a)"])


@settings(max_examples=150, deadline=None, derandomize=True)
@given(_FLAGS, _PATTERNS, st.lists(st.text(alphabet="abAx1 _.\néÉ٣-", max_size=6), max_size=5))
def test_same_answers_as_python_re(flags: str, body: str, texts: list[str]) -> None:
    from gait.gate.linear_regex import compile_linear

    pattern = flags + body
    try:
        expected = re.compile(pattern)
    except re.error:
        return
    ours = compile_linear(pattern)
    for text in texts:
        assert ours.fullmatch(text) == (expected.fullmatch(text) is not None), (pattern, text)


# Policy globs (Go path.Match): two stars in one segment backtrack in a regex, not in Go.
GLOB_POLICY = """\
default_verdict: allow
rules:
  - name: no-odd-files
    priority: 1
    effect: allow
    match:
      tool_names: [tool.write]
    endpoint:
      enabled: true
      path_denylist: ["/data/*a*a*a*a*a*a*a*b"]
"""


def test_glob_with_stars_sharing_a_segment_finishes_fast(capsys, tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(GLOB_POLICY)
    for name, blocked in (("a" * 3000, False), ("xaaaaaaaayb", True)):
        intent = {
            **INTENT,
            "tool_name": "tool.write",
            "args": {"path": f"/data/{name}"},
            "targets": [{"kind": "path", "value": f"/data/{name}", "operation": "write"}],
        }
        (tmp_path / "intent.json").write_text(json.dumps(intent))
        started = time.process_time()
        code = main(
            ["policy", "test", str(tmp_path / "policy.yaml"), str(tmp_path / "intent.json")]
            + ["--json"]
        )
        out = json.loads(capsys.readouterr().out)
        assert time.process_time() - started < 2.0  # the regex: O(n^8), beyond any timeout
        assert (out["verdict"] == "block") is blocked, (name[:20], out)
        assert code == (3 if blocked else 0)


_GLOB_PARTS = st.sampled_from(["*", "a", "b", "?", "[ab]", "[^a]", "/", "\\*"])


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(_GLOB_PARTS, min_size=1, max_size=7).map("".join), st.lists(
    st.text(alphabet="ab/*c", max_size=7), max_size=5))  # fmt: skip
def test_glob_matcher_agrees_with_its_regex(pattern: str, names: list[str]) -> None:
    from gait.gocompat import path_match_regex, path_matcher

    regex = path_match_regex(pattern)
    matcher = path_matcher(pattern)
    assert (regex is None) == (matcher is None)
    if regex is None or matcher is None:
        return
    for name in names:
        assert matcher(name) == (regex.match(name) is not None), (pattern, name)
