"""Fuzz harness per parser (issue 11 Done-means): whatever the input, each parser returns or
raises a GaitError with an E_* code, never another exception (which the CLI would turn into
exit 1, E_INTERNAL).

Hypothesis runs with a fixed seed (``derandomize``). The default profile is short (this whole
file stays within a few seconds of CPU time, well under the 60 s fuzz budget); ``GAIT_FUZZ=long``
runs thousands of examples per parser, with the same properties.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gait.errors import GaitError

LONG = os.environ.get("GAIT_FUZZ", "") == "long"
FUZZ = settings(
    max_examples=5_000 if LONG else 60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# JSON-ish values including the awkward ones: huge ints, lone surrogates, NaN, deep nesting.
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(), max_size=20),
    st.sampled_from(["\ud800", "run_é", "", "0", "yes", "2026-01-01T00:00:00Z", "$.x"]),
)
VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _mutated(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A valid document with one field (possibly nested one level) replaced by anything."""
    keys = sorted(base)

    def replace(key: str, value: Any, sub: str | None) -> Any:
        doc = json.loads(json.dumps(base))
        if sub is not None and isinstance(doc.get(key), dict):
            doc[key][sub] = value
        else:
            doc[key] = value
        return doc

    return st.one_of(
        VALUES,
        st.builds(
            replace,
            st.sampled_from(keys),
            VALUES,
            st.one_of(st.none(), st.text(max_size=12)),
        ),
    )


def _never_crashes(fn, *args: Any) -> None:  # noqa: ANN001
    try:
        fn(*args)
    except GaitError as exc:
        assert exc.code.startswith("E_"), exc.code
    except RecursionError:  # pragma: no cover - the failure this harness exists to find
        raise


# ---------------------------------------------------------------------------------------------
# Policy YAML and gait.yaml (the bounded YAML reader under both).

_YAML_BITS = st.sampled_from(
    [
        "default_verdict: allow\n",
        "rules:\n",
        "  - name: r\n    effect: block\n",
        "    match: {tool_names: [a, &x b], risk_classes: *x}\n",
        "a: &a [1, 2]\nb: *a\n",
        "fail_closed: {enabled: true, risk_classes: [null]}\n",
        "? [a]\n: 1\n",
        "x: !!binary aGk=\n",
        "x: 1e999999\n",
        "x: " + "9" * 60 + "\n",
        "[[[[[[[[[[\n",
        "\t- bad\n",
        "x: *undefined\n",
        "%YAML 1.1\n---\n",
        "<<: {a: 1}\n",
    ]
)
YAML_TEXT = st.one_of(
    st.text(max_size=200), st.lists(_YAML_BITS, min_size=1, max_size=6).map("".join)
)


@FUZZ
@given(YAML_TEXT)
def test_policy_parser(text: str) -> None:
    from gait.gate.policy import load_policy_text

    _never_crashes(load_policy_text, text)


@FUZZ
@given(YAML_TEXT)
def test_gait_yaml_loader(text: str) -> None:
    from gait.regress.config import load_yaml_text

    _never_crashes(load_yaml_text, text, "gait.yaml")


# ---------------------------------------------------------------------------------------------
# Gate intents, and a whole decision (the fail-closed path included).

INTENT = {
    "schema_id": "gait.gate.intent_request",
    "schema_version": "1.0.0",
    "created_at": "2026-06-01T00:00:00Z",
    "producer_version": "t",
    "tool_name": "fs.write",
    "args": {"path": "/tmp/x"},
    "targets": [{"kind": "path", "value": "/tmp/x", "operation": "write"}],
    "context": {"identity": "bot", "workspace": "/w", "risk_class": "high"},
}


@FUZZ
@given(_mutated(INTENT))
def test_intent_normalizer(doc: Any) -> None:
    from gait.gate.intent import normalize_intent

    _never_crashes(normalize_intent, doc)


@settings(parent=FUZZ, max_examples=2_000 if LONG else 25)
@given(_mutated(INTENT))
def test_prod_gate_always_decides_high_risk(tmp_path_factory, doc: Any) -> None:  # noqa: ANN001
    """In production, a high-risk intent gets a verdict whatever it holds (FORMATS 5.5)."""
    from gait.gate.engine import Gate
    from gait.gate.policy import load_policy_text
    from gait.sign.keys import SigningKey

    work: Path = tmp_path_factory.mktemp("gate")
    gate = Gate(
        load_policy_text("default_verdict: allow\n"),
        signing_key=SigningKey.generate(),
        mode="prod",
        state_path=work / "state.sqlite3",
        trace_dir=work / "traces",
    )
    if isinstance(doc, dict):
        context = doc.get("context")
        if isinstance(context, dict):
            context["risk_class"] = "high"
    try:
        outcome = gate.decide(doc, validate_schema=True)
    except GaitError as exc:
        # only what is not a high-risk intent at all may raise (exit 6)
        assert exc.code.startswith("E_")
        return
    assert outcome.verdict in ("allow", "block", "require_approval", "dry_run")


# ---------------------------------------------------------------------------------------------
# Approval tokens: a malformed token is one invalid token, never an aborted evaluation.

TOKEN = {
    "schema_id": "gait.gate.approval_token",
    "schema_version": "1.0.0",
    "created_at": "2026-06-01T00:00:00Z",
    "producer_version": "t",
    "token_id": "t1",
    "approver_identity": "alice",
    "reason_code": "CHG-1",
    "intent_digest": "a" * 64,
    "policy_digest": "b" * 64,
    "scope": ["tool:fs.write"],
    "expires_at": "2026-06-01T01:00:00Z",
    "signature": {"alg": "ed25519", "key_id": "k", "sig": "AAAA", "signed_digest": "c" * 64},
}


@FUZZ
@given(_mutated(TOKEN))
def test_token_reader_and_checks(doc: Any) -> None:
    from gait.gate import approval

    expect = approval.Expectation(
        intent_digest="a" * 64,
        policy_digest="b" * 64,
        scope=["tool:fs.write"],
        target_count=1,
        op_count=1,
        now="2026-06-01T00:30:00Z",
    )
    try:
        token = approval.read_token(doc)
        approval.check_token(token, [], expect)
    except approval.TokenError as exc:
        assert exc.reason_code.startswith("approval_token_")


# ---------------------------------------------------------------------------------------------
# Record inputs, and each importer's log format.

RECORD = {
    "run": {
        "run_id": "run_fuzz",
        "created_at": "2026-03-01T12:00:00Z",
        "env": {"os": "linux", "arch": "x86_64", "runtime": "python"},
        "timeline": [{"event": "start", "ts": "2026-03-01T12:00:00Z"}],
    },
    "intents": [{"intent_id": "intent_1", "tool_name": "tool.search", "args": {"query": "q"}}],
    "results": [{"intent_id": "intent_1", "status": "ok", "result": {"hits": 1}}],
    "refs": {"receipts": []},
}


@FUZZ
@given(_mutated(RECORD))
def test_record_input(tmp_path_factory, doc: Any) -> None:  # noqa: ANN001
    from gait.runpack.writer import write_record_input

    out = tmp_path_factory.mktemp("rec") / "runpack.zip"
    _never_crashes(write_record_input, doc, out)


LOG_LINES = st.lists(
    st.one_of(
        VALUES.map(lambda v: json.dumps(v, ensure_ascii=False, allow_nan=True)),
        st.text(max_size=40),
        st.just('{"a": 1, "a": 2}'),
        st.just("[" * 3000 + "]" * 3000),
    ),
    min_size=1,
    max_size=4,
)


@settings(parent=FUZZ, max_examples=2_000 if LONG else 15)
@given(st.sampled_from(["openai", "anthropic", "mcp", "otel"]), LOG_LINES)
def test_importers(tmp_path_factory, fmt: str, lines: list[str]) -> None:  # noqa: ANN001
    from gait.runpack.importers import import_log

    work: Path = tmp_path_factory.mktemp("imp")
    log = work / "log.jsonl"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    _never_crashes(lambda: import_log(fmt, log, out_dir=work, sign=False))


# ---------------------------------------------------------------------------------------------
# Runpack zips: any bytes, and a real runpack with bytes flipped.


@settings(parent=FUZZ, max_examples=2_000 if LONG else 30)
@given(st.binary(max_size=64), st.integers(min_value=0), st.binary(min_size=1, max_size=4))
def test_runpack_reader(tmp_path_factory, junk: bytes, where: int, flip: bytes) -> None:  # noqa: ANN001
    from gait.runpack.verify import verify_runpack
    from gait.runpack.writer import write_record_input

    work: Path = tmp_path_factory.mktemp("zip")
    good = write_record_input(RECORD, work / "good.zip").path.read_bytes()
    at = where % len(good)
    for name, data in (("junk.zip", junk), ("flipped.zip", good[:at] + flip + good[at + 1 :])):
        path = work / name
        path.write_bytes(data)
        try:
            report = verify_runpack(path)
        except GaitError as exc:
            assert exc.code.startswith("E_")
            continue
        assert report.exit_code in (0, 2, 6)
