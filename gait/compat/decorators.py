"""``gate_tool``: the reference SDK's decorator, gating every call of a tool function."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

from gait.compat.adapter import GateEnforcementError, ToolAdapter
from gait.compat.models import IntentArgProvenance, IntentContext, IntentRequest, IntentTarget
from gait.compat.session import get_active_run_session

P = ParamSpec("P")
R = TypeVar("R")

CallArgs = tuple[tuple[Any, ...], Mapping[str, Any]]
ArgsMapper = Callable[[tuple[Any, ...], Mapping[str, Any]], Mapping[str, Any]]
ContextResolver = Callable[[tuple[Any, ...], Mapping[str, Any]], IntentContext]
TargetsResolver = Callable[[tuple[Any, ...], Mapping[str, Any]], Sequence[IntentTarget]]
ArgProvenanceResolver = Callable[
    [tuple[Any, ...], Mapping[str, Any]], Sequence[IntentArgProvenance]
]
_EXECUTE = ToolAdapter.execute

PathResolver = Callable[[tuple[Any, ...], Mapping[str, Any]], str | Path | None]


def gate_tool(
    *,
    adapter: ToolAdapter,
    context: IntentContext | ContextResolver,
    tool_name: str | None = None,
    args_mapper: ArgsMapper | None = None,
    targets: Sequence[IntentTarget] | TargetsResolver | None = None,
    arg_provenance: Sequence[IntentArgProvenance] | ArgProvenanceResolver | None = None,
    trace_out: str | Path | PathResolver | None = None,
    cwd: str | Path | PathResolver | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Gate each call of the decorated function; it runs only on ``allow``.

    Fails closed: any other verdict (``dry_run`` included) raises ``GateEnforcementError``
    and the body does not run. Resolvers receive the call's ``(args, kwargs)``.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(function)
        name = tool_name or function.__name__
        bind = _binder(signature)

        # What does not depend on the call is resolved once, at decoration: the same values
        # ``capture_intent`` would build per call (fresh lists each call, as there).
        fixed_context = None if callable(context) else context
        fixed_targets = None if callable(targets) else tuple(targets or ())
        fixed_provenance = None if callable(arg_provenance) else tuple(arg_provenance or ())

        @functools.wraps(function)
        def gated(*args: P.args, **kwargs: P.kwargs) -> R:
            # ``bind`` returns a fresh dict and a mapper's result is copied: the intent owns it
            # (``capture_intent`` would copy it once more, to no effect).
            payload = (
                dict(args_mapper(args, kwargs)) if args_mapper is not None else bind(args, kwargs)
            )
            # Positionally, in field order (tests/test_compat_fastpaths.py pins it): keyword
            # arguments cost a dataclass's __init__ twice as much.
            intent = IntentRequest(
                name,  # tool_name
                payload,  # args
                fixed_context  # context
                if fixed_context is not None
                else cast(ContextResolver, context)(args, kwargs),
                list(fixed_targets)  # targets
                if fixed_targets is not None
                else _resolve(targets, args, kwargs),
                list(fixed_provenance)  # arg_provenance
                if fixed_provenance is not None
                else _resolve(arg_provenance, args, kwargs),
                None,  # delegation
                None,  # script
                datetime.now(UTC),  # created_at
            )
            call_cwd = None if cwd is None else _resolve_path(cwd, args, kwargs)
            call_trace_out = None if trace_out is None else _resolve_path(trace_out, args, kwargs)
            if type(adapter).execute is not _EXECUTE:  # a subclass's (or a patched) execute
                outcome = adapter.execute(
                    intent=intent,
                    executor=lambda _: function(*args, **kwargs),
                    cwd=call_cwd,
                    trace_out=call_trace_out,
                )
                if not outcome.executed:
                    raise GateEnforcementError(outcome.decision)
                return cast(R, outcome.result)
            # ``ToolAdapter.execute`` inlined (same order, same session records, same errors;
            # its dry_run outcome is the GateEnforcementError raised below): no executor
            # closure, no AdapterOutcome, one frame fewer on every gated call.
            session = get_active_run_session()
            decision = adapter.gate_intent(intent=intent, cwd=call_cwd, trace_out=call_trace_out)
            if decision.ok and decision.verdict == "allow":
                try:
                    result = function(*args, **kwargs)
                except Exception as error:
                    if session is not None:
                        session.record_attempt(
                            intent=intent, decision=decision, executed=True, error=error
                        )
                    raise
                if session is not None:
                    session.record_attempt(
                        intent=intent, decision=decision, executed=True, result=result
                    )
                return result
            if session is not None:
                session.record_attempt(intent=intent, decision=decision, executed=False)
            raise GateEnforcementError(decision)

        return gated

    return decorate


def _binder(
    signature: inspect.Signature,
) -> Callable[[tuple[Any, ...], Mapping[str, Any]], dict[str, Any]]:
    """The call's arguments by name, defaults applied (``self``/``cls`` left out).

    Plain positional-or-keyword parameters take a fast path (a zip); anything else, or a call
    the fast path cannot place, goes through ``Signature.bind_partial``.
    """
    params = list(signature.parameters.values())
    simple = all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params)
    names = [p.name for p in params]
    defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    skip = {"self", "cls"} & set(names)

    every_positional = simple and not skip

    def bind(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        if every_positional and not kwargs and len(args) == len(names):
            return dict(zip(names, args, strict=True))  # all given in order: nothing to place
        if simple and len(args) <= len(names) and not (set(kwargs) - set(names[len(args) :])):
            out = dict(zip(names, args, strict=False))
            out.update(kwargs)
            for name, value in defaults.items():
                out.setdefault(name, value)
            if skip:
                for name in skip:
                    out.pop(name, None)
            return {name: out[name] for name in names if name in out}
        return _bound_args(signature, args, kwargs)

    return bind


def _bound_args(
    signature: inspect.Signature, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    bound = signature.bind_partial(*args, **kwargs)
    bound.apply_defaults()
    return {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}


def _resolve(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[Any]:
    if value is None:
        return []
    return list(value(args, kwargs) if callable(value) else value)


def _resolve_path(
    value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> str | Path | None:
    if value is None:
        return None
    return cast("str | Path | None", value(args, kwargs) if callable(value) else value)
