"""One gated, recorded tool call, shared by the framework integrations.

The gate decides through a ``ToolAdapter`` (in-process unless it names a binary); the call is
recorded into whatever is recording: the reference SDK's active ``run_session`` (as
``ToolAdapter.execute`` records) and this project's current ``gait.record`` run. While
``GAIT_REPLAY_FROM`` names a runpack, an allowed call is answered from it and the tool does not
run, exactly as for ``@gait.record.tool`` functions (``gait regress`` re-runs agents this way).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from gait.compat.adapter import ToolAdapter
from gait.compat.client import capture_intent
from gait.compat.models import GateEvalResult, IntentContext, IntentRequest
from gait.compat.session import get_active_run_session

ContextSource = IntentContext | Callable[[Any], IntentContext] | None


def default_context(identity: str) -> IntentContext:
    import os

    return IntentContext(identity=identity, workspace=os.getcwd(), risk_class="high")


def build_intent(
    name: str, args: Mapping[str, Any], context: ContextSource, source: Any, identity: str
) -> IntentRequest:
    if callable(context):
        resolved = context(source)
    else:
        resolved = context or default_context(identity)
    return capture_intent(tool_name=name, args=dict(args), context=resolved)


def stopped_message(decision: GateEvalResult) -> str:
    reasons = ",".join(decision.reason_codes) or "none"
    return (
        f"gait gate: verdict={decision.verdict or 'unknown'} reasons={reasons}; "
        "the tool did not run"
    )


class Call:
    """The bookkeeping of one tool call: decide, then record what happened."""

    def __init__(
        self,
        adapter: ToolAdapter | None,
        intent: IntentRequest,
        recorder: Any,
        *,
        record_now: bool = True,
        turn: tuple[str, list[str]] | None = None,
        step: bool = True,
    ) -> None:
        self.intent = intent
        self.step = step  # False: part of an outer recorded tool's work (gated, not recorded)
        self.turn = turn  # (this call's id, the ids of its model turn, in the model's order)
        self.decision: GateEvalResult | None = None
        if adapter is not None:
            self.decision = adapter.gate_intent(intent=intent)
        self.session = get_active_run_session() if step else None
        self.recorder = recorder if step else None
        if recorder is None and step:
            from gait.runpack.recorder import current_run

            self.recorder = current_run()
        self.intent_id = ""
        if record_now:
            self.open()

    def use_recorder(self, recorder: Any) -> None:
        if recorder is not None and not self.intent_id:
            self.recorder = recorder

    def open(self) -> None:
        """Record the intent (once), before the tool runs or is refused."""
        if self.recorder is not None and not self.intent_id:
            key = None
            if self.turn is not None:
                key, keys = self.turn
                self.recorder.expect(keys)
            self.intent_id = self.recorder.intent(
                self.intent.tool_name, self.intent.args, call_key=key
            )

    @property
    def allowed(self) -> bool:
        return self.decision is None or (self.decision.ok and self.decision.verdict == "allow")

    def _in_turn(self) -> Any:
        from gait.compat.session import turn_call

        return turn_call(*self.turn) if self.turn is not None else turn_call("")

    def stopped(self) -> None:
        assert self.decision is not None
        self._take_replayed_place()
        if self.session is not None:
            with self._in_turn():
                self.session.record_attempt(
                    intent=self.intent, decision=self.decision, executed=False
                )
        if self.recorder is not None:
            payload = {
                "executed": False,
                "verdict": self.decision.verdict,
                "reason_codes": list(self.decision.reason_codes),
            }
            self.recorder.result(self.intent_id, payload, status="error")

    def _take_replayed_place(self) -> None:
        """Replaying, a stopped attempt answers for its recorded attempt, as each recorded
        attempt was one call: otherwise the next allowed call with the same arguments (the
        call resumed with an approval token) was served the stopped attempt's result. A stopped
        call the runpack lacks is logged as a miss, which the regress graders report."""
        stubs = replay_stubs() if self.step else None
        if stubs is None:
            return
        from gait.runpack.recorder import jsonable

        try:
            stubs.call_record(self.intent.tool_name, jsonable(self.intent.args))
        except Exception:  # noqa: BLE001 - a miss is logged for the graders; the call stays stopped
            pass

    def finished(self, result: Any = None, error: BaseException | None = None) -> None:
        if self.session is not None and self.decision is not None:
            with self._in_turn():
                self.session.record_attempt(
                    intent=self.intent,
                    decision=self.decision,
                    executed=True,
                    result=result,
                    error=error,
                )
        if self.recorder is not None:
            if error is not None:
                from gait.runpack.recorder import error_payload

                self.recorder.result(self.intent_id, error_payload(error), status="error")
            else:
                self.recorder.result(self.intent_id, _recordable(result))


def _recordable(value: Any) -> Any:
    """Framework results (pydantic models, dataclasses) as JSON values for the recorder."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json")
        except TypeError:
            return dump()
    return value


def replay_stubs() -> Any:
    """The ``GAIT_REPLAY_FROM`` stub provider shared with ``gait.record.tool``, or ``None``."""
    from gait.runpack import recorded_tool

    return recorded_tool.replay_stubs()


def replayed_value(stubs: Any, call: Call) -> Any:
    """The recorded result of ``call``, as the tool returned it."""
    from gait.runpack.recorder import jsonable

    return stubs.call(call.intent.tool_name, jsonable(call.intent.args))


async def _inside(invoke: Callable[[], Awaitable[Any]]) -> Any:
    from gait.runpack.recorded_tool import tool_work

    with tool_work():
        return await invoke()


async def run_async(
    call: Call,
    invoke: Callable[[], Awaitable[Any]],
    rebuild: Callable[[Any], Any] | None = None,
) -> Any:
    """Run (or, replaying, answer) a step's tool; the tool's own code runs as its work, so the
    calls it makes (an agent it delegates to) are not steps. A call that is not a step runs
    as it is. ``rebuild`` turns a replayed (JSON) value back into what the tool returns."""
    if not call.step:
        return await invoke()
    stubs = replay_stubs()
    try:
        if stubs is not None:
            result = replayed_value(stubs, call)
            if rebuild is not None:
                result = rebuild(result)
        else:
            result = await _inside(invoke)
    except Exception as exc:
        call.finished(error=exc)
        raise
    call.finished(result)
    return result


def approve_command(tool_name: str, decision: GateEvalResult) -> str:
    """The ``gait approve`` command minting the token a call held for approval needs, for the
    adapter's ``approval_token`` path (the tool's scope: these intents carry no targets, so no
    destructive-apply scope is asked)."""
    return (
        f"gait approve --intent-digest {decision.intent_digest} "
        f"--policy-digest {decision.policy_digest} --scope tool:{tool_name} --ttl 1h "
        '--approver "$USER" --reason-code CHANGE_ID --out approval_token.json'
    )
