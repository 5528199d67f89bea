"""Signed traces written off the decision path (dev mode), so a decision costs microseconds.

Signing a trace (Ed25519) and appending its decision-log line (an fsync) cost far more than the
decision itself. For an in-process SDK call in dev mode without an explicit ``trace_out``, the
gate's trace writing is handed to one background thread per process: the verdict is returned
at once, and the trace and its log line are written, in decision order, moments later. Nothing
is skipped: ``flush()`` waits for every queued trace (``run_session`` calls it before writing
its runpack), and so does interpreter exit.

Production mode never defers: a trace that cannot be written there must block the call
(``fail_closed_trace_unwritable``), so it is written before the verdict is returned. Neither
does a decision involving approvals (its audit names the trace), nor a forked child process
(it may exit without running exit handlers). Set ``GAIT_SDK_TRACES=sync`` to write every trace
before returning in dev mode too.

Durability: the writer takes every trace queued when it runs as one batch, writes each (trace
file, log line, head: the same steps and order as a synchronous write) without fsyncs, then
makes the batch durable with one ``syncfs`` of each trace directory's file system, where Linux
has it (elsewhere each trace is fsynced as it is written, as before). A trace counts as written,
for ``flush()`` and exit, only once that sync returned; a failed sync is reported like a failed
write. One sync per batch instead of three fsyncs per trace (trace file, log, head): 3x fewer
journal commits for a lone trace, far fewer for a burst. What a crash can lose is unchanged in
kind: the traces still queued or in the batch being written (a power loss may leave a batch's
last files empty or its log lines without their trace files, which ``gait trace verify``
reports); traces of a batch whose sync returned survive both.
"""

from __future__ import annotations

import atexit
import collections
import os
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from gait.canon import id24
from gait.compat.environ import getenv
from gait.fsutil import syncfs_function

# A decision appends its trace job here and returns: no lock handed over, no thread woken (a
# wake-up per decision cost more than the decision). The writer polls while traces keep
# coming and parks after a quiet spell; only the first trace after that (or a flush) wakes it.
_POLL_SECONDS = 0.02
_PARK_AFTER_SECONDS = 1.0

# A job writes one trace without fsyncs and returns the directory to sync (None: nothing to
# sync, it synced itself); ``job(True)`` writes and fsyncs it as a synchronous write does.
_Job = Callable[[bool], "str | None"]
_PENDING: collections.deque[_Job] = collections.deque()
# At most this many traces share one sync (a flood still reports progress to flush()).
_BATCH = 256
_ERRORS: list[str] = []
_STATE: dict[str, Any] = {"thread": None, "parked": False, "unfinished": 0}
_START = threading.Lock()
_WAKE = threading.Event()
# _DONE's own lock, taken directly where nothing is waited for or notified (a submit): the
# Condition's Python-level __enter__/__exit__ cost more than the lock.
_DONE_LOCK = threading.Lock()
_DONE = threading.Condition(_DONE_LOCK)


def _after_fork() -> None:
    """A forked child has no writer thread and may leave by ``os._exit`` (multiprocessing
    does), skipping the exit flush: it writes its traces before returning, as in prod."""
    global _PENDING, _START, _WAKE, _DONE, _DONE_LOCK
    _PENDING = collections.deque()
    _START = threading.Lock()
    _WAKE = threading.Event()
    _DONE_LOCK = threading.Lock()
    _DONE = threading.Condition(_DONE_LOCK)
    _ERRORS.clear()
    _STATE.update(thread=None, parked=False, unfinished=0, forked=True)


os.register_at_fork(after_in_child=_after_fork)


class TraceWriteWarning(UserWarning):
    """A deferred trace could not be written (dev mode; production mode never defers)."""


def _worker() -> None:
    quiet_since = time.monotonic()
    while True:
        if not _PENDING:
            if time.monotonic() - quiet_since < _PARK_AFTER_SECONDS:
                _WAKE.wait(_POLL_SECONDS)
            else:
                _STATE["parked"] = True
                if not _PENDING:  # a job appended before "parked" was seen is not missed
                    _WAKE.wait()
                _STATE["parked"] = False
            _WAKE.clear()
            continue
        batch = [_PENDING.popleft() for _ in range(min(len(_PENDING), _BATCH))]
        try:
            _write_batch(batch)
        finally:
            with _DONE:
                _STATE["unfinished"] -= len(batch)
                if not _STATE["unfinished"]:
                    _DONE.notify_all()
        quiet_since = time.monotonic()


def _write_batch(batch: list[_Job]) -> None:
    """Write every trace of ``batch``, then sync the directories they went to, once each."""
    syncfs = syncfs_function()
    directories: dict[str, None] = {}
    for index, job in enumerate(batch):
        if index:
            # Hand the GIL to a caller waiting for it between traces: a batch of a burst is
            # CPU work (signing, printing), and without this a decision made meanwhile waits
            # out the interpreter's switch interval (5 ms), not one trace's work.
            time.sleep(0)
        try:
            directory = job(syncfs is None)
        except Exception as exc:  # noqa: BLE001 - reported by flush(), never lost silently
            _ERRORS.append(f"{type(exc).__name__}: {exc}")
        else:
            if directory is not None:
                directories[directory] = None
    if syncfs is None:
        return
    devices: set[int] = set()
    for directory in directories:
        try:
            fd = os.open(directory, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            _ERRORS.append(f"cannot sync traces in {directory}: {exc.strerror}")
            continue
        try:
            device = os.fstat(fd).st_dev
            if device in devices:
                continue
            devices.add(device)
            if syncfs(fd) != 0:
                error = _errno()
                _ERRORS.append(f"cannot sync traces in {directory}: {os.strerror(error)}")
        finally:
            os.close(fd)


def _errno() -> int:
    import ctypes

    return ctypes.get_errno()


def _submit(job: _Job) -> None:
    if _STATE["thread"] is None:
        with _START:
            if _STATE["thread"] is None:
                thread = threading.Thread(target=_worker, name="gait-trace-writer", daemon=True)
                thread.start()
                _STATE["thread"] = thread
                atexit.register(warn_unwritten)
    with _DONE_LOCK:  # uncontended: no thread is woken by it
        _STATE["unfinished"] += 1
    _PENDING.append(job)
    if _STATE["parked"]:
        _WAKE.set()


def flush() -> list[str]:
    """Wait until every deferred trace is written; returns (and clears) the write errors."""
    if _STATE["thread"] is not None:
        with _DONE:
            while _STATE["unfinished"]:
                _WAKE.set()
                _DONE.wait(0.5)
    errors = list(_ERRORS)
    _ERRORS.clear()
    return errors


def warn_unwritten() -> None:
    """Flush, turning write errors into ``TraceWriteWarning``s."""
    for error in flush():
        message = f"gait: a deferred trace was not written: {error}"
        warnings.warn(message, TraceWriteWarning, stacklevel=3)


def enabled() -> bool:
    if _STATE.get("forked"):
        return False
    return (getenv("GAIT_SDK_TRACES") or "").strip().lower() != "sync"


def defer_traces(gate: Any) -> Any:
    """Have ``gate`` write its traces on the background writer where that is safe.

    The gate's own ``_write_trace`` still builds, signs and writes every trace; only when it
    runs changes. Deferred: dev mode, no ``trace_out``, no approvals in the decision.
    """
    if gate.mode == "prod":
        return gate
    write = type(gate)._write_trace

    def deferred(outcome: Any, *args: Any, **kwargs: Any) -> str:
        trace_out = args[4] if len(args) > 4 else kwargs.get("trace_out")
        if trace_out is not None or outcome.required_approvals or not enabled():
            written: str = write(gate, outcome, *args, **kwargs)
            return written
        trace_id = id24(f"{gate.policy.digest}:{outcome.intent_digest}:{outcome.verdict}")
        # The writer sets ``outcome.trace`` and ``trace_path`` later; nothing else of it changes
        # once the decision is returned, and the SDK's result reads neither (see _result).
        snapshot = outcome
        started = args[3] if len(args) > 3 else None
        elapsed = time.perf_counter() - started if isinstance(started, float) else None

        def job(sync: bool) -> str | None:
            call_args = list(args)
            if elapsed is not None:
                # The trace's latency is the decision's, not the time spent in the queue.
                call_args[3] = time.perf_counter() - elapsed
            write(gate, snapshot, *call_args, **kwargs, sync=sync)
            # the batch's sync covers it (a gate without a trace directory wrote no file)
            return None if sync or gate.trace_dir is None else str(gate.trace_dir)

        _submit(job)
        outcome.deferred_trace_id = trace_id
        return trace_id

    gate._write_trace = deferred
    return gate
