"""LangChain 1.x: gate every tool call of a ``create_agent`` agent (or a LangGraph ``ToolNode``).

``GaitLangChainMiddleware`` is an ``AgentMiddleware`` whose ``wrap_tool_call`` (and
``awrap_tool_call``) builds an intent from the tool call, asks the gate and calls the tool only
on ``allow``. A ``block`` or ``require_approval`` raises ``GateEnforcementError`` out of the
agent, as the reference does; ``blocked_response="tool_message"`` instead hands the model a
``ToolMessage`` naming the verdict and reason codes, so the agent can carry on;
``on_approval="interrupt"`` pauses the graph on ``require_approval`` until it is resumed with
an approval token. Inside a ``run_session`` every attempt, allowed or not, becomes a step of
the session's runpack, and inside a ``gait.record`` run a step of that run. While
``GAIT_REPLAY_FROM`` names a runpack, allowed calls are answered from it (raw capture keeps
what the tool said: a ``ToolMessage``, an error one included, or a ``Command``; a tool's
``interrupt()`` pauses the graph again) and tools do not run. A gated call made while a gated
tool's own code runs (an agent used as a tool) is that tool's work: gated, but not a step,
since replay answers the outer call whole.

For a LangGraph graph of your own, pass the same hooks to ``ToolNode``::

    ToolNode(tools, wrap_tool_call=middleware.wrap_tool_call,
             awrap_tool_call=middleware.awrap_tool_call)

LangChain is an optional dependency (``pip install 'pytest-gait[langchain]'``): this module imports
without it, and the middleware says how to install it when constructed.
"""

# mypy: disable-error-code=import-not-found
from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

from gait.compat.adapter import GateEnforcementError, ToolAdapter
from gait.compat.client import capture_intent
from gait.compat.models import (
    GateEvalResult,
    IntentContext,
    IntentRequest,
    LangChainDecisionMetadata,
)
from gait.integrations._calls import approve_command

_AgentMiddlewareBase: type[Any]
_ToolCallRequest: Any
_CallbackHandlerBase: type[Any]

try:
    from langchain.agents.middleware import AgentMiddleware as _Middleware
    from langchain.tools.tool_node import ToolCallRequest as _Request
    from langchain_core.callbacks.base import BaseCallbackHandler as _Handler
except ImportError as error:
    _LANGCHAIN_IMPORT_ERROR: ImportError | None = error
    _AgentMiddlewareBase = object
    _ToolCallRequest = Any
    _CallbackHandlerBase = object
else:
    _LANGCHAIN_IMPORT_ERROR = None
    _AgentMiddlewareBase = _Middleware
    _ToolCallRequest = _Request
    _CallbackHandlerBase = _Handler


class SupportsGaitDecision(Protocol):
    def on_gait_decision(self, metadata: LangChainDecisionMetadata) -> None:
        """Receive correlation metadata after each gate decision."""


IntentFactory = Callable[[Any], IntentRequest]
ContextFactory = Callable[[Any], IntentContext]
TracePathFactory = Callable[[Any], str | Path | None]


class GaitLangChainCallbackHandler(_CallbackHandlerBase):  # type: ignore[misc]  # Any base
    """Collects the middleware's decision metadata (correlation only: it changes nothing)."""

    def __init__(self, *, sink: Callable[[LangChainDecisionMetadata], None] | None = None) -> None:
        self.events: list[LangChainDecisionMetadata] = []
        self._sink = sink

    def on_gait_decision(self, metadata: LangChainDecisionMetadata) -> None:
        self.events.append(metadata)
        if self._sink is not None:
            self._sink(metadata)


class GaitLangChainMiddleware(_AgentMiddlewareBase):  # type: ignore[misc]  # Any base
    """Gate every tool call of a LangChain agent through a ``ToolAdapter``."""

    def __init__(
        self,
        adapter: ToolAdapter,
        *,
        context_factory: ContextFactory | None = None,
        intent_factory: IntentFactory | None = None,
        cwd: str | Path | None = None,
        trace_dir: str | Path | None = None,
        trace_path_factory: TracePathFactory | None = None,
        callback_handler: SupportsGaitDecision | None = None,
        producer_version: str = "0.0.0-dev",
        blocked_response: Literal["raise", "tool_message"] = "raise",
        on_approval: Literal["interrupt"] | None = None,
    ) -> None:
        _require_langchain()
        if blocked_response not in ("raise", "tool_message"):
            raise ValueError("blocked_response must be 'raise' or 'tool_message'")
        if on_approval not in (None, "interrupt"):
            raise ValueError(f"on_approval must be 'interrupt' or None, not {on_approval!r}")
        self._on_approval = on_approval
        self._adapter = adapter
        self._context_factory = context_factory
        self._intent_factory = intent_factory
        self._cwd = cwd
        self._trace_dir = Path(trace_dir) if trace_dir is not None else None
        self._trace_path_factory = trace_path_factory
        self._callback_handler = callback_handler
        self._producer_version = producer_version
        self._blocked_response = blocked_response

    def wrap_tool_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
        from gait.compat.session import turn_call

        with turn_call(*_step_turn(request)):
            call = self._decide(request)
            if call.stopped is not None:
                return self._stopped(request, call.stopped)
            try:
                if call.step and _replaying():
                    result = _replayed(request, call.intent)
                else:
                    with _inside(call.step):
                        result = handler(request)
            except BaseException as exc:
                call.finished(error=exc)
                raise
            call.finished(result=result)
            self._emit(request, call.intent, call.decision, executed=True)
            return result

    async def awrap_tool_call(self, request: Any, handler: Callable[[Any], Awaitable[Any]]) -> Any:
        """The async agent path: the decision is in-process and synchronous, the tool awaited."""
        from gait.compat.session import turn_call

        with turn_call(*_step_turn(request)):
            call = self._decide(request)
            if call.stopped is not None:
                return self._stopped(request, call.stopped)
            try:
                if call.step and _replaying():
                    result = _replayed(request, call.intent)
                else:
                    with _inside(call.step):
                        result = await handler(request)
            except BaseException as exc:
                call.finished(error=exc)
                raise
            call.finished(result=result)
            self._emit(request, call.intent, call.decision, executed=True)
            return result

    def _decide(self, request: Any) -> _Call:
        """Build the intent, record it (before the tool runs, so the run keeps the model's
        order), ask the gate; a refused call is recorded as refused here."""
        from gait.compat.session import get_active_run_session
        from gait.runpack.recorded_tool import inside_a_tool

        # A call made while a gated tool's own code runs (an agent used as a tool) is that
        # tool's work: gated, not a step, since on replay the outer call is answered whole.
        step = not inside_a_tool()
        intent = self._build_intent(request)
        record = _Record.open(intent, request) if step else _Record(None, "")
        try:
            decision = self._adapter.gate_intent(
                intent=intent, cwd=self._cwd, trace_out=self._resolve_trace_path(request)
            )
        except BaseException as exc:
            record.close(error=exc)
            raise
        session = get_active_run_session() if step else None
        if self._on_approval == "interrupt" and decision.ok:
            if decision.verdict == "require_approval":
                decision = self._ask_approval(request, intent, decision, record, session)
        call = _Call(intent, decision, record, session, step=step)
        call.given = (str(_tool_call(request).get("id") or ""), _history(request))
        if not (decision.ok and decision.verdict == "allow"):
            if session is not None:
                session.record_attempt(intent=intent, decision=decision, executed=False)
            record.close(decision=decision)
            self._emit(request, intent, decision, executed=False)
            call.stopped = GateEnforcementError(decision)
        return call

    def _ask_approval(
        self,
        request: Any,
        intent: IntentRequest,
        decision: GateEvalResult,
        record: _Record,
        session: Any,
    ) -> GateEvalResult:
        """``require_approval`` pauses the graph (LangGraph's ``interrupt``) with what the
        approver needs; resumed with ``{"approval_token": path}`` (the token ``gait approve``
        wrote), the gate decides again with it. Any other answer leaves the call refused."""
        from dataclasses import replace

        from langgraph.types import interrupt

        call = _tool_call(request)
        asked = _approval_request(intent, decision, str(call.get("id") or ""))
        try:
            answer = interrupt({"gait": asked})
        except BaseException as pause:
            if session is not None:
                session.record_attempt(intent=intent, decision=decision, executed=False)
            record.close(error=pause)  # the pause is a step; replay pauses here again
            self._emit(request, intent, decision, executed=False)
            raise
        token = answer.get("approval_token") if isinstance(answer, Mapping) else None
        if not isinstance(token, str | Path) or not str(token):
            return decision
        approved = replace(self._adapter, approval_token=token)
        try:
            return approved.gate_intent(
                intent=intent, cwd=self._cwd, trace_out=self._resolve_trace_path(request)
            )
        except BaseException as exc:
            record.close(error=exc)
            raise

    def _stopped(self, request: Any, error: GateEnforcementError) -> Any:
        if self._blocked_response == "raise":
            raise error
        from langchain_core.messages import ToolMessage

        decision = error.decision
        reasons = ",".join(decision.reason_codes) or "none"
        call = _tool_call(request)
        return ToolMessage(
            content=f"gait gate: verdict={decision.verdict or 'unknown'} reasons={reasons}; "
            "the tool did not run",
            tool_call_id=str(call.get("id") or ""),
            name=str(call.get("name") or ""),
            status="error",
        )

    def _build_intent(self, request: Any) -> IntentRequest:
        if self._intent_factory is not None:
            return self._intent_factory(request)
        context = (
            self._context_factory(request)
            if self._context_factory is not None
            else _default_context(request)
        )
        call = _tool_call(request)
        args = call.get("args", {})
        if not isinstance(args, Mapping):
            raise TypeError("LangChain tool middleware expected tool_call args to be a mapping")
        return capture_intent(
            tool_name=_required(call, "name"),
            args=dict(args),
            context=context,
            producer_version=self._producer_version,
        )

    def _resolve_trace_path(self, request: Any) -> str | Path | None:
        if self._trace_path_factory is not None:
            return self._trace_path_factory(request)
        if self._trace_dir is None:
            return None
        call = _tool_call(request)
        stem = _filename(_required(call, "name"))
        call_id = _filename(str(call.get("id", "call")))
        return self._trace_dir / f"{stem}_{call_id}.json"

    def _emit(
        self, request: Any, intent: IntentRequest, decision: GateEvalResult, *, executed: bool
    ) -> None:
        if self._callback_handler is None:
            return
        call_id = _tool_call(request).get("id")
        metadata = LangChainDecisionMetadata(
            tool_name=intent.tool_name,
            tool_call_id=str(call_id) if call_id is not None else None,
            run_id=_lookup(_runtime_context(request), "run_id"),
            request_id=intent.context.request_id,
            auth_context=intent.context.auth_context,
            trace_path=decision.trace_path,
            policy_digest=decision.policy_digest,
            intent_digest=decision.intent_digest or intent.intent_digest,
            verdict=decision.verdict,
            executed=executed,
        )
        try:
            self._callback_handler.on_gait_decision(metadata)
        except Exception:  # noqa: BLE001 - a correlation sink never changes the tool call
            return


class _Call:
    """One gated tool call of the agent, and where it is recorded."""

    def __init__(
        self,
        intent: IntentRequest,
        decision: GateEvalResult,
        record: _Record,
        session: Any,
        *,
        step: bool,
    ) -> None:
        self.intent = intent
        self.decision = decision
        self.record = record
        self.session = session
        self.step = step
        self.stopped: GateEnforcementError | None = None
        self.given: tuple[str, list[Any]] = ("", [])  # the call's id and the tool's history

    def finished(self, *, result: Any = None, error: BaseException | None = None) -> None:
        if error is not None and _bubbling(error) and _interrupts(error) is None:
            return  # LangGraph's own control flow passing through, no outcome of the tool's
        if self.session is not None:
            self.session.record_attempt(
                intent=self.intent,
                decision=self.decision,
                executed=True,
                result=None if error is not None else _tool_output(result, *self.given),
                error=error,
            )
        self.record.close(result=result, error=error)


@contextmanager
def _inside(step: bool) -> Iterator[None]:
    """The tool's own code runs as the step's work (see ``gait.record.tool``)."""
    if not step:
        yield
        return
    from gait.runpack.recorded_tool import tool_work

    with tool_work():
        yield


def _approval_request(
    intent: IntentRequest, decision: GateEvalResult, call_id: str
) -> dict[str, Any]:
    """What a paused call asks the approver: the decision, and the ``gait approve`` command
    whose token resumes it (the tool's scope: these intents carry no targets)."""
    return {
        "tool_name": intent.tool_name,
        "tool_call_id": call_id,
        "args": intent.args,
        "verdict": decision.verdict,
        "reason_codes": list(decision.reason_codes),
        "intent_digest": decision.intent_digest,
        "policy_digest": decision.policy_digest,
        "approve": approve_command(intent.tool_name, decision),
        "resume": 'Command(resume={"approval_token": "approval_token.json"})',
    }


def _bubbling(error: BaseException) -> bool:
    """LangGraph's control flow (``interrupt()``, a parent ``Command``), not a tool failure."""
    try:
        from langgraph.errors import GraphBubbleUp
    except ImportError:  # pragma: no cover - langgraph comes with langchain 1.x
        return False
    return isinstance(error, GraphBubbleUp)


def _interrupts(error: BaseException) -> list[dict[str, Any]] | None:
    """What a tool asked a human (``interrupt(value)``, pausing the graph), or ``None``."""
    try:
        from langgraph.errors import GraphInterrupt
    except ImportError:  # pragma: no cover - langgraph comes with langchain 1.x
        return None
    if not isinstance(error, GraphInterrupt) or not error.args:
        return None
    asked = []
    for pending in error.args[0]:
        entry: dict[str, Any] = {"value": getattr(pending, "value", None)}
        schema = getattr(pending, "response_schema", None)
        if isinstance(schema, dict):
            entry["response_schema"] = schema
        asked.append(entry)
    return asked


def _interrupt_again(asked: list[Any]) -> None:
    """Replay of a call whose tool paused the graph: ask again, as the tool did. Each earlier
    ``interrupt()`` of the tool has its resume value (LangGraph counts them per task), so this
    asks until one is unanswered: that one pauses the graph, with the recorded question."""
    from langgraph.types import interrupt

    entry = asked[-1] if asked and isinstance(asked[-1], dict) else {}
    for _ in range(1000):
        interrupt(entry.get("value"), response_schema=entry.get("response_schema"))


class _Record:
    """The call as a step of the current ``gait.record`` run, when one is open."""

    def __init__(
        self, run: Any, intent_id: str, call_id: str = "", history: list[Any] | None = None
    ) -> None:
        self.run = run
        self.intent_id = intent_id
        self.call_id = call_id
        self.history = history or []  # the conversation the tool was given

    @classmethod
    def open(cls, intent: IntentRequest, request: Any) -> _Record:
        from gait.runpack.recorder import current_run

        run = current_run()
        if run is None:
            return cls(None, "")
        # A ToolNode runs a turn's calls in threads: announce the turn so each call takes its
        # place in the model's order, not the order the threads got here in.
        call_id, ids = _turn(request)
        if ids:
            run.expect(ids)
        intent_id = run.intent(intent.tool_name, intent.args, call_key=call_id or None)
        call_id = call_id or str(_tool_call(request).get("id") or "")
        return cls(run, intent_id, call_id, _history(request))

    def close(
        self,
        *,
        result: Any = None,
        error: BaseException | None = None,
        decision: GateEvalResult | None = None,
    ) -> None:
        if self.run is None or not self.intent_id:
            return
        run, intent_id = self.run, self.intent_id
        self.intent_id = ""
        if decision is not None:
            stopped = {
                "executed": False,
                "verdict": decision.verdict,
                "reason_codes": list(decision.reason_codes),
            }
            run.result(intent_id, stopped, status="error")
        elif error is not None:
            from gait.runpack.recorder import error_payload

            payload = error_payload(error)
            asked = _interrupts(error)
            if asked is not None:  # replay pauses the graph again, asking the same
                payload = {"interrupts": asked, "type": "GraphInterrupt"}
            run.result(intent_id, payload, status="error")
        else:
            output = _tool_output(result, self.call_id, self.history)
            failed = isinstance(output, dict) and output.get("status") == "error"
            run.result(intent_id, output, status="error" if failed else "ok")


def _replaying() -> bool:
    from gait.runpack.replay import REPLAY_FROM_ENV

    return bool(os.environ.get(REPLAY_FROM_ENV))


def _replayed(request: Any, intent: IntentRequest) -> Any:
    """What this call returned when recorded (``GAIT_REPLAY_FROM``), as the tool gave it: a
    ``ToolMessage`` (an error one too: the model retries as it did) or a ``Command``."""
    from gait.runpack.recorded_tool import replay_stubs
    from gait.runpack.recorder import jsonable
    from gait.runpack.replay import ReplayedToolError

    call_id = str(_tool_call(request).get("id") or "")
    stubs = replay_stubs()
    value: Any = None
    while True:
        try:
            value = stubs.call(intent.tool_name, jsonable(intent.args))
        except ReplayedToolError as error:
            payload = error.payload
            if _gate_stop(payload):
                continue  # the gate's earlier refusal or approval pause of this same call
            if isinstance(payload, dict) and isinstance(payload.get("interrupts"), list):
                _interrupt_again(payload["interrupts"])
            if not _is_message(payload):
                raise  # the tool raised out of the agent when recorded: it does again
            value = payload
        break
    if isinstance(value, dict) and value.keys() == {"command"}:
        return _command(value["command"], call_id, _history(request))
    if not _is_message(value):
        value = {"content": json.dumps(value, sort_keys=True), "status": "success"}
    return _tool_message(value, call_id, str(_tool_call(request).get("name") or ""))


def _gate_stop(payload: Any) -> bool:
    """A recorded attempt the gate stopped (refused, or paused for approval): when the same
    call is allowed now (a token approved it), that attempt is not what the tool returned."""
    if not isinstance(payload, dict):
        return False
    if payload.get("executed") is False and "verdict" in payload:
        return True
    asked = payload.get("interrupts")
    values = [entry.get("value") for entry in asked or () if isinstance(entry, dict)]
    return any(isinstance(value, dict) and "gait" in value for value in values)


def _is_message(value: Any) -> bool:
    return isinstance(value, dict) and "content" in value and "status" in value


def _tool_message(value: Mapping[str, Any], call_id: str, name: str) -> Any:
    from langchain_core.messages import ToolMessage

    extra = {"artifact": value["artifact"]} if "artifact" in value else {}
    return ToolMessage(
        content=value["content"],
        tool_call_id=call_id,
        name=name,
        status=value.get("status", "success"),
        **extra,
    )


def _tool_output(result: Any, call_id: str, history: list[Any]) -> Any:
    """What a tool returned, as JSON, without this call's id (it is the model's, new on every
    run: digests stay comparable, and replay puts the new id back)."""
    if _is_tool_message(result):
        output = {"content": result.content, "status": getattr(result, "status", "success")}
        if getattr(result, "artifact", None) is not None:
            output["artifact"] = result.artifact
        return output
    if _is_command(result):
        command: dict[str, Any] = {"update": _update_output(result.update, call_id, history)}
        if result.goto:
            command["goto"] = _goto_output(result.goto)
        if result.graph is not None:
            command["graph"] = result.graph
        return {"command": command}
    dump = getattr(result, "model_dump", None)
    return dump(mode="json") if callable(dump) else result


def _is_tool_message(value: Any) -> bool:
    return hasattr(value, "content") and hasattr(value, "tool_call_id")


def _is_command(value: Any) -> bool:
    try:
        from langgraph.types import Command
    except ImportError:  # pragma: no cover - langgraph comes with langchain 1.x
        return False
    return isinstance(value, Command)


def _update_output(update: Any, call_id: str, history: list[Any]) -> Any:
    """A ``Command``'s state update, its messages as ``{"message": ...}`` (LangChain's own
    message dicts), a message answering this call without its id, and a message of the
    conversation the tool was given (a handoff passing the history on) as ``{"history": i}``:
    its id is this run's, and replay must pass on the replaying run's own message."""
    from langchain_core.messages import BaseMessage, message_to_dict

    given = {id(m): i for i, m in enumerate(history)}
    given_ids = {m.id: i for i, m in enumerate(history) if getattr(m, "id", None)}

    def one(value: Any) -> Any:
        if isinstance(value, BaseMessage) and (id(value) in given or value.id in given_ids):
            return {"history": given.get(id(value), given_ids.get(value.id))}
        if isinstance(value, BaseMessage):
            message = message_to_dict(value)
            data = message.get("data")
            if isinstance(data, dict) and data.get("tool_call_id") == call_id:
                message["data"] = {k: v for k, v in data.items() if k != "tool_call_id"}
            return {"message": message}
        if isinstance(value, list | tuple):
            return [one(item) for item in value]
        return value

    if isinstance(update, Mapping):
        return {str(key): one(value) for key, value in update.items()}
    return one(update)


def _goto_output(goto: Any) -> Any:
    from langgraph.types import Send

    def one(value: Any) -> Any:
        if isinstance(value, Send):
            return {"send": {"node": value.node, "arg": value.arg}}
        return value

    return [one(item) for item in goto] if isinstance(goto, list | tuple) else one(goto)


def _command(recorded: Mapping[str, Any], call_id: str, history: list[Any]) -> Any:
    """The recorded ``Command`` again, its messages answering this call's id."""
    from langchain_core.messages import messages_from_dict
    from langgraph.types import Command, Send

    def one(value: Any) -> Any:
        if isinstance(value, dict) and value.keys() == {"history"}:
            index = value["history"]
            if isinstance(index, int) and 0 <= index < len(history):
                return history[index]
            from gait.runpack.replay import ReplayedToolError

            raise ReplayedToolError(
                "langchain", {"error": "the replaying conversation is shorter than recorded"}
            )
        if isinstance(value, dict) and value.keys() == {"message"}:
            message = dict(value["message"])
            data = dict(message.get("data") or {})
            if data.get("type") == "tool" and "tool_call_id" not in data:
                data["tool_call_id"] = call_id
            message["data"] = data
            return messages_from_dict([message])[0]
        if isinstance(value, list):
            return [one(item) for item in value]
        return value

    def target(value: Any) -> Any:
        if isinstance(value, dict) and value.keys() == {"send"}:
            return Send(value["send"]["node"], value["send"]["arg"])
        return value

    update = recorded.get("update")
    if isinstance(update, Mapping):
        update = {key: one(value) for key, value in update.items()}
    else:
        update = one(update)
    goto = recorded.get("goto", ())
    goto = [target(item) for item in goto] if isinstance(goto, list) else target(goto)
    return Command(graph=recorded.get("graph"), update=update, goto=goto)


def _require_langchain() -> None:
    if _LANGCHAIN_IMPORT_ERROR is None:
        return
    raise ImportError(
        "LangChain integration requires optional dependencies; install them with "
        "`pip install 'pytest-gait[langchain]'` (langchain>=1.0)."
    ) from _LANGCHAIN_IMPORT_ERROR


def _default_context(request: Any) -> IntentContext:
    """The intent context from the agent's runtime context (a mapping or an object)."""
    raw = _runtime_context(request)
    workspace = os.getcwd()
    run_id = _lookup(raw, "run_id")
    return IntentContext(
        identity=_text(raw, "identity") or "langchain-agent",
        workspace=_text(raw, "workspace") or workspace,
        risk_class=_text(raw, "risk_class") or "high",
        session_id=_lookup(raw, "session_id") or run_id,
        request_id=_lookup(raw, "request_id") or _tool_call(request).get("id"),
        auth_context=_mapping(raw, "auth_context"),
        credential_scopes=_strings(raw, "credential_scopes"),
        environment_fingerprint=_text(raw, "environment_fingerprint"),
        context_set_digest=_text(raw, "context_set_digest"),
        context_evidence_mode=_text(raw, "context_evidence_mode"),
        context_refs=_strings(raw, "context_refs"),
    )


def _runtime_context(request: Any) -> Any | None:
    runtime = getattr(request, "runtime", None)
    return getattr(runtime, "context", None) if runtime is not None else None


def _step_turn(request: Any) -> tuple[str, list[str]]:
    """``_turn``, for a call that is a step: one made inside a gated tool (see ``_decide``)
    takes no place in the run session's order (its intent numbers would be gaps)."""
    from gait.runpack.recorded_tool import inside_a_tool

    return ("", []) if inside_a_tool() else _turn(request)


def _turn(request: Any) -> tuple[str, list[str]]:
    """This call's id and the ids of the AI message that asked for it, in its order."""
    call_id = getattr(request, "tool_call", None)
    call_id = call_id.get("id") if isinstance(call_id, Mapping) else None
    state = getattr(request, "state", None)
    messages = state.get("messages") if isinstance(state, Mapping) else None
    if not isinstance(call_id, str) or not call_id or not isinstance(messages, list):
        return "", []
    for message in reversed(messages):
        calls = getattr(message, "tool_calls", None) or ()
        ids = [c.get("id") for c in calls if isinstance(c, Mapping)]
        if call_id in ids:
            return call_id, [i for i in ids if isinstance(i, str) and i]
    return call_id, []


def _history(request: Any) -> list[Any]:
    state = getattr(request, "state", None)
    messages = state.get("messages") if isinstance(state, Mapping) else None
    return messages if isinstance(messages, list) else []


def _tool_call(request: Any) -> Mapping[str, Any]:
    payload = getattr(request, "tool_call", None)
    if not isinstance(payload, Mapping):
        raise TypeError("LangChain tool middleware expected request.tool_call to be a mapping")
    return payload


def _required(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"LangChain tool middleware expected non-empty string for {key}")
    return value


def _lookup(context: Any | None, key: str) -> Any | None:
    if context is None:
        return None
    if isinstance(context, Mapping):
        return context.get(key)
    return getattr(context, key, None)


def _text(context: Any | None, key: str) -> str | None:
    value = _lookup(context, key)
    rendered = str(value).strip() if value is not None else ""
    return rendered or None


def _mapping(context: Any | None, key: str) -> dict[str, Any] | None:
    value = _lookup(context, key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"expected {key} to be a mapping")
    return {str(k): v for k, v in value.items()}


def _strings(context: Any | None, key: str) -> list[str]:
    value = _lookup(context, key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"expected {key} to be a list")
    return [str(item) for item in value]


def _filename(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", value).strip("._") or "trace"
