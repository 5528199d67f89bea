"""Building a large acyclic structure with the cyclic garbage collector paused.

Reading a 20,000-rule policy allocates about a million objects that all stay alive (YAML nodes,
then rules and their closures). CPython's collector runs a pass every few hundred allocations
and a full pass whenever the surviving heap has grown by a quarter, so such a load spends about
half its time walking objects none of which can be garbage (the tree has no cycles, and reference
counting frees what is dropped). ``paused()`` turns the collector off for such a bounded build
and back on afterwards, only if it was on; nested and concurrent pauses are counted, so the
collector comes back when the last of them ends and never when the caller had turned it off.
"""

from __future__ import annotations

import _thread  # not threading: a gate decision per process does not import it
import gc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType as Traceback
    from typing import Any, TypeVar

    _F = TypeVar("_F", bound=Callable[..., Any])

_LOCK = _thread.allocate_lock()
_state = {"depth": 0, "was_enabled": False}


def paused() -> _Paused:
    """A context manager, and a decorator (``@paused()``) pausing the collector per call."""
    return _Paused()


class _Paused:
    """Not a ``contextlib.contextmanager``: a gate decision imports this module, and importing
    contextlib was 2% of a ``gait gate eval`` process (issue 16 item 6)."""

    __slots__ = ()

    def __enter__(self) -> None:
        with _LOCK:
            if _state["depth"] == 0:
                _state["was_enabled"] = gc.isenabled()
                gc.disable()
            _state["depth"] += 1

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Traceback | None
    ) -> None:
        with _LOCK:
            _state["depth"] -= 1
            if _state["depth"] == 0 and _state["was_enabled"]:
                gc.enable()

    def __call__(self, function: _F) -> _F:
        def run_paused(*args: Any, **kwargs: Any) -> Any:
            with self:
                return function(*args, **kwargs)

        for name in ("__module__", "__name__", "__qualname__", "__doc__"):  # functools.wraps
            setattr(run_paused, name, getattr(function, name, None))
        run_paused.__dict__.update(getattr(function, "__dict__", {}))
        run_paused.__wrapped__ = function  # type: ignore[attr-defined]
        return run_paused  # type: ignore[return-value]
