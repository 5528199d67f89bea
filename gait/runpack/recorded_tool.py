"""The ``@gait.record.tool`` decorator: each call of a tool function recorded into the current
run (``gait.runpack.recorder``), or answered from a runpack while ``GAIT_REPLAY_FROM`` is set.

Plain, async, generator and async-generator functions and methods are wrapped alike: the intent is
taken when the call starts (its place in the run is the call's), the result when it returns,
raises, or (a stream) ends. On replay the recorded result comes back in the type the function
declares (``gait.retype``), and a recorded error is raised again as its own exception type.

A tool called while another recorded tool runs is part of that tool's work, not a step of the
agent's: it runs untouched. Recording it would break the loop, since replay answers the outer call
from the runpack and the inner one never runs again.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from gait import values
from gait.runpack.recorder import CALL_KEY, Recorder, current_run, error_payload, jsonable
from gait.runpack.replay import REPLAY_FROM_ENV

F = TypeVar("F", bound=Callable[..., Any])


_INSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar("gait_inside_tool", default=False)
"""True while a recorded tool's own code runs (in its task, and in tasks it starts)."""


def inside_a_tool() -> bool:
    """Whether a recorded tool's own code is running here: a call made now is that tool's work,
    not a step (on replay the outer call is answered whole and this one never happens)."""
    return _INSIDE.get()


@contextlib.contextmanager
def tool_work() -> Iterator[None]:
    """Run the block as a recorded tool's own work (what a framework integration wraps around
    the tool it records), in this task and in the tasks it starts."""
    token = _INSIDE.set(True)
    try:
        yield
    finally:
        _INSIDE.reset(token)


def enter_tool_work() -> None:
    """The rest of the current context is a recorded tool's work: for a framework that runs
    the tool later in the task it decides it in (the OpenAI Agents SDK's guardrails)."""
    _INSIDE.set(True)


def _not_a_step(run: Recorder | None) -> bool:
    """The call runs untouched: no run records it and no runpack answers it, or it is part of
    another recorded tool's work."""
    return _INSIDE.get() or (run is None and not os.environ.get(REPLAY_FROM_ENV))


_STUBS: dict[tuple[Any, ...], Any] = {}
_STUBS_LOCK = threading.Lock()


def replay_stubs() -> Any:
    """The stub provider of the runpack ``GAIT_REPLAY_FROM`` names (loaded once), or ``None``."""
    source = os.environ.get(REPLAY_FROM_ENV, "")
    if not source:
        return None
    from gait.runpack.resolve import resolve

    # By the file, not the text: a relative path or a run id names another runpack after a
    # chdir, and a runpack recorded again in place is another runpack.
    path = os.path.abspath(resolve(source))
    try:
        info = os.stat(path)
        key: tuple[Any, ...] = (path, info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)
    except OSError:
        key = (path,)  # replay() reports what is wrong with it
    stubs = _STUBS.get(key)
    if stubs is None:
        with _STUBS_LOCK:  # a turn's calls in worker threads load the runpack once
            stubs = _STUBS.get(key)
            if stubs is None:
                from gait.runpack.replay import replay

                if len(_STUBS) >= 16:
                    _STUBS.clear()
                stubs = _STUBS[key] = replay(path)
    return stubs


def tool(name: str | Callable[..., Any] | None = None) -> Any:
    """Decorator: record each call of a tool function into the current run.

    Outside a recorded run the function runs untouched. With ``GAIT_REPLAY_FROM`` set, the
    recorded result is returned instead and the real function never runs.
    """

    def decorate(fn: F) -> F:
        tool_name = name if isinstance(name, str) else f"{fn.__module__}.{fn.__qualname__}"
        signature = inspect.signature(fn)
        receiver = values.receiver(fn, signature)
        returns = _Returns(fn, tool_name)

        def bound_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return {"args": list(args[1:] if receiver else args), **kwargs}
            arguments = dict(bound.arguments)
            if receiver:
                arguments.pop(receiver, None)
            return arguments

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def stream_wrapper(*args: Any, **kwargs: Any) -> Any:
                run = current_run()
                if _not_a_step(run):
                    return (yield from fn(*args, **kwargs))
                call = _Streamed(run, tool_name, bound_args(args, kwargs), returns)
                try:
                    source = call.source(lambda: fn(*args, **kwargs))
                    try:
                        for item in _pulled_inside(source):
                            yield call.took(item)
                    finally:
                        if inspect.isgenerator(source):
                            source.close()
                except BaseException as exc:
                    call.finish(exc)
                    raise
                call.finish(None)

            return stream_wrapper  # type: ignore[return-value]

        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def async_stream_wrapper(*args: Any, **kwargs: Any) -> Any:
                run = current_run()
                if _not_a_step(run):
                    async for item in fn(*args, **kwargs):
                        yield item
                    return
                call = _Streamed(run, tool_name, bound_args(args, kwargs), returns)
                try:
                    source = call.source(lambda: fn(*args, **kwargs))
                    try:
                        if inspect.isasyncgen(source):
                            async for item in _async_pulled_inside(source):
                                yield call.took(item)
                        else:
                            for item in _pulled_inside(source):
                                yield call.took(item)
                    finally:
                        if inspect.isasyncgen(source):
                            await source.aclose()
                except BaseException as exc:
                    call.finish(exc)
                    raise
                call.finish(None)

            return async_stream_wrapper  # type: ignore[return-value]

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                run = current_run()
                if _not_a_step(run):
                    return await fn(*args, **kwargs)
                call_args = bound_args(args, kwargs)
                return await _run_async(run, tool_name, call_args, fn, args, kwargs, returns)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            run = current_run()
            if _not_a_step(run):
                return fn(*args, **kwargs)
            call_args = bound_args(args, kwargs)
            # The intent first: its place is the call's, before the replay runpack loads.
            intent_id = (
                "" if run is None else run.intent(tool_name, call_args, call_key=CALL_KEY.get())
            )
            try:
                stubs = replay_stubs()
                if stubs is not None:
                    value = _from_stubs(
                        stubs,
                        tool_name,
                        call_args,
                        lambda: _called_inside(fn, args, kwargs),
                        returns,
                    )
                else:
                    value = _called_inside(fn, args, kwargs)
            except Exception as exc:
                if run is not None:
                    run.result(intent_id, error_payload(exc), status="error")
                raise
            if run is not None:
                run.result(intent_id, value)
            return value

        return wrapper  # type: ignore[return-value]

    if callable(name) and not isinstance(name, str):
        fn, name = name, None
        return decorate(fn)
    return decorate


class _Returns:
    """The type a tool function declares it returns, resolved on first replay only."""

    def __init__(self, fn: Callable[..., Any], tool_name: str) -> None:
        self.fn = fn
        self.tool_name = tool_name
        self.hint: Any = None
        self.resolved = False

    def _hint(self) -> Any:
        if not self.resolved:
            from gait.retype import declared_return

            self.hint, self.resolved = declared_return(self.fn), True
        return self.hint

    def value(self, value: Any) -> Any:
        from gait.retype import retyped

        return retyped(self._hint(), value, self.tool_name)

    def item(self, value: Any) -> Any:
        from gait.retype import retyped, stream_item

        return retyped(stream_item(self._hint()), value, self.tool_name)


class _Streamed:
    """One call of a generator tool: its result is the list of what it yielded, recorded when
    the stream ends (exhausted, stopped early by the consumer, or failed). On replay the
    recorded items are yielded again."""

    def __init__(
        self, run: Recorder | None, tool_name: str, call_args: dict[str, Any], returns: _Returns
    ) -> None:
        self.run = run
        self.returns = returns
        self.tool_name = tool_name
        self.call_args = call_args
        self.items: list[Any] = []
        self.intent_id = (
            "" if run is None else run.intent(tool_name, call_args, call_key=CALL_KEY.get())
        )

    def source(self, start: Callable[[], Any]) -> Any:
        stubs = replay_stubs()
        if stubs is None:
            return start()
        value = _from_stubs(stubs, self.tool_name, self.call_args, start)
        if inspect.isgenerator(value) or inspect.isasyncgen(value):
            return value  # new_episodes: a miss ran the real tool
        items = value if isinstance(value, list) else [value]
        if stubs.runpack.capture_mode != "raw":
            return iter(items)
        return (self.returns.item(item) for item in items)

    def took(self, item: Any) -> Any:
        self.items.append(item)
        return item

    def finish(self, exc: BaseException | None) -> None:
        if self.run is None:
            return
        if exc is None or isinstance(exc, GeneratorExit):
            self.run.result(self.intent_id, self.items)
        else:
            self.run.result(self.intent_id, error_payload(exc), status="error")


async def _run_async(
    run: Recorder | None,
    tool_name: str,
    call_args: dict[str, Any],
    fn: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    returns: _Returns,
) -> Any:
    intent_id = "" if run is None else run.intent(tool_name, call_args, call_key=CALL_KEY.get())
    try:
        stubs = replay_stubs()
        if stubs is not None:
            value = _from_stubs(stubs, tool_name, call_args, None, returns)
            if value is _RUN_REAL:
                value = await _awaited_inside(fn, args, kwargs)
        else:
            value = await _awaited_inside(fn, args, kwargs)
    except Exception as exc:
        if run is not None:
            run.result(intent_id, error_payload(exc), status="error")
        raise
    if run is not None:
        run.result(intent_id, value)
    return value


_RUN_REAL = object()


def _called_inside(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    token = _INSIDE.set(True)
    try:
        return fn(*args, **kwargs)
    finally:
        _INSIDE.reset(token)


async def _awaited_inside(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    token = _INSIDE.set(True)
    try:
        return await fn(*args, **kwargs)
    finally:
        _INSIDE.reset(token)


def _pulled_inside(source: Any) -> Any:
    """The stream's items, each taken inside the tool: the consumer's own code between two
    items is the agent's, and its tool calls are steps."""
    source = iter(source)
    while True:
        token = _INSIDE.set(True)
        try:
            item = next(source)
        except StopIteration:
            return
        finally:
            _INSIDE.reset(token)
        yield item


async def _async_pulled_inside(source: Any) -> Any:
    while True:
        token = _INSIDE.set(True)
        try:
            item = await source.__anext__()
        except StopAsyncIteration:
            return
        finally:
            _INSIDE.reset(token)
        yield item


def _from_stubs(
    stubs: Any,
    tool_name: str,
    call_args: dict[str, Any],
    run_real: Any,
    returns: _Returns | None = None,
) -> Any:
    """The recorded answer, in the type the tool declares (``returns``); on a miss under
    record_mode ``new_episodes`` with the real-tool interlock open, the real tool's
    (``_RUN_REAL`` tells an async caller to await it)."""
    from gait.runpack.replay import ReplayMiss

    try:
        value = stubs.call(tool_name, jsonable(call_args))
        if returns is None or stubs.runpack.capture_mode != "raw":
            return value  # a reference-capture runpack answers with digest markers
        return returns.value(value)
    except ReplayMiss:
        if not stubs.real_tool_allowed(tool_name):
            raise
    stubs.served_real(tool_name)
    return _RUN_REAL if run_real is None else run_real()
