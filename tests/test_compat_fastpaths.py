"""The in-process SDK's shortcuts equal what they shortcut."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from gait.compat.environ import getenv


@pytest.mark.parametrize("value", ["sync", "", " Sync ", "caf\u00e9", "\udcff-not-utf8"])
def test_getenv_reads_what_os_environ_reads(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    name = "GAIT_TEST_FASTPATH_ENV"
    monkeypatch.delenv(name, raising=False)
    assert getenv(name) is None and os.environ.get(name) is None
    monkeypatch.setenv(name, value)
    assert getenv(name) == os.environ.get(name) == value
    monkeypatch.setenv(name, value + "2")  # changed while cached names are reused
    assert getenv(name) == value + "2"
    monkeypatch.delenv(name)
    assert getenv(name) is None


def test_getenv_follows_a_replaced_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "environ", {"GAIT_TEST_FASTPATH_ENV": "x"})
    assert getenv("GAIT_TEST_FASTPATH_ENV") == "x"


def test_results_built_slot_by_slot_are_the_constructors() -> None:
    import dataclasses

    from gait.compat.client import _SWAP_WORKS, _new_result
    from gait.compat.models import GateEvalResult

    assert _SWAP_WORKS  # CPython allows the class swap: the fast path is the one taken
    values = (True, 3, "block", ["r"], ["v"], None, "t" * 24, None, "p", "i")
    values += (True, 2, None, None, False, None, None, [{"index": 0}], ["w"], None)
    built = _new_result(values)
    made = GateEvalResult(*values)
    assert type(built) is GateEvalResult and built == made and repr(built) == repr(made)
    assert dataclasses.astuple(built) == dataclasses.astuple(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.verdict = "allow"  # type: ignore[misc]
    assert dataclasses.replace(built, verdict="allow").verdict == "allow"


_FASTPATH_POLICY = """\
default_verdict: block
rules:
  - name: allow-writes
    effect: allow
    match:
      tool_names: [tool.write]
      target_kinds: [path]
      provenance_sources: [user]
"""


def _intents() -> list[Any]:
    from datetime import UTC, datetime, timedelta, timezone

    from gait import IntentArgProvenance, IntentContext, IntentRequest, IntentTarget

    ctx = IntentContext(
        identity=" agent ", workspace="C:\\work\\x", risk_class="HIGH", session_id=" s "
    )
    user = IntentArgProvenance(arg_path="$.path", source=" User ")
    return [
        IntentRequest(
            tool_name=" Tool.Write",
            args={" path ": " /tmp/a ", "n": 1.5, "p": Path("/x"), "l": [1, {"k": " v "}]},
            context=ctx,
            targets=[
                IntentTarget(kind="PATH", value=" /tmp/a ", operation="Write"),
                IntentTarget(kind="url", value="HTTPS://Example.com/x", sensitivity="High"),
                IntentTarget(kind="PATH", value=" /tmp/a ", operation="Write"),
                IntentTarget(kind="path", value="/tmp/b", operation="delete"),
            ],
            arg_provenance=[user, IntentArgProvenance("$.n", "tool_output", "ref:1", "A" * 64)],
            created_at=datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=timezone(timedelta(hours=2))),
        ),
        IntentRequest(
            tool_name="tool.write",
            args={"path": "/tmp/a", "flag": True, "none": None},
            context=ctx,
            targets=[IntentTarget(kind="path", value="/tmp/a", operation="write")],
            arg_provenance=[user],
            created_at=datetime(2026, 1, 2, 3, 4, 5),  # naive: local time, as to_dict reads it
        ),
        IntentRequest(
            tool_name="shell_exec", args={}, context=ctx, created_at=datetime(1, 1, 1, tzinfo=UTC)
        ),
        IntentRequest(
            tool_name="tool.read",
            args={"k": 1},
            context=ctx,
            created_at=datetime(999, 1, 1, 0, 0, 0, 10, tzinfo=UTC),
        ),
        # refused: the same error either way
        IntentRequest(tool_name=" ", args={}, context=ctx),
        IntentRequest(
            tool_name="t", args={}, context=ctx, targets=[IntentTarget(kind="bogus", value="x")]
        ),
        IntentRequest(
            tool_name="t", args={}, context=ctx, arg_provenance=[IntentArgProvenance("$", "?")]
        ),
        IntentRequest(tool_name="t", args={}, context=IntentContext("", "w", "low")),
        IntentRequest(tool_name="t", args={"s": {1}}, context=ctx),
        IntentRequest(tool_name="t", args={"api_key": "sk-live-0123456789abcdef"}, context=ctx),
    ]


def test_gated_models_decide_as_their_dicts(tmp_path: Path) -> None:
    """An ``IntentRequest`` of plain models is normalised from its fields, with the tool's
    fixed context and provenance kept: the same verdict, digests and errors as the general
    path (which a subclass takes), call after call."""
    import dataclasses

    from gait import GaitCommandError, IntentRequest, evaluate_gate, flush_traces

    class General(IntentRequest):
        __slots__ = ()

    policy = tmp_path / "policy.yaml"
    policy.write_text(_FASTPATH_POLICY, encoding="utf-8")

    def decide(intent: Any) -> Any:
        try:
            result = evaluate_gate(policy_path=policy, intent=intent, cwd=tmp_path)
        except GaitCommandError as exc:
            return ("error", exc.code, str(exc), exc.exit_code)
        except TypeError as exc:  # a set in args: raised before any decision, either way
            return ("error", str(exc))
        return dataclasses.replace(result, trace_path=None)

    for intent in _intents() * 2:  # the second round reads the kept context and provenance
        general = General(**{f.name: getattr(intent, f.name) for f in dataclasses.fields(intent)})
        fast, slow = decide(intent), decide(general)
        assert fast == slow
    flush_traces()


def test_normalised_models_equal_their_normalised_dicts() -> None:
    """What the gate reads beyond the result (created_at, for the trace) is the same too."""
    from gait.compat.client import _json_ready, _normalized
    from gait.gate.intent import normalize_intent

    for intent in _intents()[:4]:
        doc = intent.to_dict()
        doc["args"] = _json_ready(doc["args"])
        fast, general = _normalized(intent), normalize_intent(doc)
        assert fast is not None
        for name in ("doc", "created_at", "floatless", "digest", "args_digest", "destructive"):
            assert getattr(fast, name) == getattr(general, name), name


def test_kept_context_is_copied_per_decision() -> None:
    from gait.compat.client import _normalized

    intent = _intents()[1]
    first = _normalized(intent)
    first.doc["context"]["identity"] = "changed"
    first.doc["arg_provenance"][0]["source"] = "changed"
    first.doc["targets"][0]["value"] = "changed"  # a kept target too
    again = _normalized(intent)
    assert again.doc["context"]["identity"] == "agent"
    assert again.doc["arg_provenance"][0]["source"] == "user"
    assert again.doc["targets"][0]["value"] == "/tmp/a"


def test_gate_tool_builds_intents_in_field_order() -> None:
    """gate_tool builds each IntentRequest positionally: the fields it passes keep their order."""
    import dataclasses

    from gait import IntentRequest

    names = [f.name for f in dataclasses.fields(IntentRequest)][:8]
    assert names == [
        "tool_name",
        "args",
        "context",
        "targets",
        "arg_provenance",
        "delegation",
        "script",
        "created_at",
    ]
