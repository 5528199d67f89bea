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
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = _thread.allocate_lock()
_state = {"depth": 0, "was_enabled": False}


@contextmanager
def paused() -> Iterator[None]:
    with _LOCK:
        if _state["depth"] == 0:
            _state["was_enabled"] = gc.isenabled()
            gc.disable()
        _state["depth"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _state["depth"] -= 1
            if _state["depth"] == 0 and _state["was_enabled"]:
                gc.enable()
