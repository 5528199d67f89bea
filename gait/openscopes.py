"""The runs open in this process, for threads that do not carry a run's context.

``gait.record`` and the reference SDK's ``run_session`` find their run through a ``ContextVar``.
Agents run a model turn's tool calls in worker threads (``ThreadPoolExecutor``,
``threading.Thread``), which start with an empty context, and replay serves those calls from the
environment: so recording must see them too, or the candidate of a regression run lacks calls the
fixture holds. A thread without a run in its context falls back to the process's one open run.
With several open, the call could belong to any of them: it is not guessed, and a warning says so.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

AMBIGUOUS = (
    "a recorded tool was called outside any run's context while {count} runs are open: "
    "not recorded; run it with contextvars.copy_context().run(...) to record it in its run"
)


class OpenScopes(Generic[T]):
    """Objects between their ``__enter__`` and ``__exit__``, in any thread."""

    def __init__(self, live: Callable[[T], bool] = lambda _: True) -> None:
        self._open: list[T] = []
        self._lock = threading.Lock()
        self._live = live

    def enter(self, scope: T) -> None:
        with self._lock:
            self._open.append(scope)

    def exit(self, scope: T) -> None:
        with self._lock:
            if scope in self._open:
                self._open.remove(scope)

    def sole(self) -> T | None:
        """The one open (and live) scope, else ``None``; warns when several are open."""
        if not self._open:
            return None
        with self._lock:
            live = [scope for scope in self._open if self._live(scope)]
        if len(live) == 1:
            return live[0]
        if live:
            warnings.warn(AMBIGUOUS.format(count=len(live)), RuntimeWarning, stacklevel=4)
        return None
