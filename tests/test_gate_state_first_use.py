"""The gate state's first use, with another process in the middle of its own.

A fresh state file is a rollback-journal database until someone turns it to WAL. Turning it
to WAL reads the file and then takes its write lock; when another connection holds that lock
(another ``gait gate eval`` turning the same new file to WAL), SQLite answers "database is
locked" at once instead of waiting out the busy timeout, because waiting while holding a read
lock could deadlock. Sixteen processes on a fresh GAIT_HOME hit this now and then (an exit 1 in
tests/test_gate_concurrency.py). Here the other process is a plain SQLite connection holding
the write lock of the new file, released a moment later: the gate must wait for it, not fail.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from gait.cli.main import main

HOLD = 0.3


def _hold_write_lock(path: Path) -> threading.Timer:
    """A connection holding ``path``'s write lock (a new, rollback-journal file) for HOLD s."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")

    def release() -> None:
        holder.execute("COMMIT")
        holder.close()

    timer = threading.Timer(HOLD, release)
    timer.start()
    return timer


def test_first_use_waits_for_a_concurrent_first_use(tmp_path: Path, capsys) -> None:
    state = tmp_path / "state.sqlite3"
    timer = _hold_write_lock(state)
    started = time.monotonic()
    try:
        code = main(["gate", "state", "show", "--state", str(state), "--json"])
    finally:
        timer.join()
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert time.monotonic() - started >= HOLD * 0.9  # it waited for the holder
    assert json.loads(captured.out)["rate_counters"] == []
    with sqlite3.connect(state) as check:
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_busy_past_the_timeout_is_contention_not_internal(tmp_path: Path) -> None:
    from gait.errors import StateContention
    from gait.gate.state import SQLiteGateState

    path = tmp_path / "state.sqlite3"
    SQLiteGateState(path).snapshot()  # created, in WAL mode
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # reset's BEGIN times out: it opened no transaction, so there is nothing to roll back
        with pytest.raises(StateContention) as caught:
            SQLiteGateState(path, timeout=0.2).reset()
        assert caught.value.code == "E_STATE_CONTENTION"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
