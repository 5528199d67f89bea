"""Gate state: rate-limit windows and spent approval tokens.

The state must be right across processes (16 agents hitting one rate limit at once) and survive
a crash mid-write, so it lives in SQLite in WAL mode with ``BEGIN IMMEDIATE`` transactions rather
than in JSON files and hand-made locks. Evaluation only sees the small ``GateState`` protocol, so
a shared backend for a fleet (Redis, Postgres...) can replace this one without touching it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gait.errors import IOFailure, StateContention
from gait.fsutil import gait_home


class _LazySqlite:
    """``sqlite3`` imported when the state is first touched: most decisions (no rate limit,
    budget or token) never open the state, and the import is a cost per ``gate eval``."""

    def __getattr__(self, name: str) -> Any:
        import sqlite3 as module

        globals()["sqlite3"] = module
        return getattr(module, name)


sqlite3: Any = _LazySqlite()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rate_counters (
    key TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_counters_bucket ON rate_counters(bucket);
CREATE TABLE IF NOT EXISTS used_tokens (
    token_id TEXT PRIMARY KEY,
    used_at TEXT NOT NULL,
    decision_ref TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class RateDecision:
    """A rate-limit check's answer, with the counts the trace and the error message report."""

    allowed: bool
    limit: int
    used: int
    remaining: int
    scope: str
    key: str


class GateState(Protocol):
    """What the gate needs from its state store."""

    def consume(self, counter_key: str, bucket: str, limit: int) -> tuple[bool, int]:
        """Count one request in ``counter_key``'s current bucket unless it is full.

        Returns (allowed, used after this call). Atomic across processes.
        """
        ...

    def peek(self, counter_key: str, bucket: str) -> int:
        """Requests counted so far in ``counter_key``'s current bucket (simulate mode)."""
        ...

    def redeem(
        self, token_ids: Sequence[str], *, needed: int, used_at: str, decision_ref: str
    ) -> list[str]:
        """Spend tokens atomically: the ids already spent before this call.

        Nothing is spent unless at least ``needed`` of ``token_ids`` are still unspent.
        """
        ...

    def is_spent(self, token_id: str) -> bool: ...


def default_state_path() -> Path:
    """``$GAIT_GATE_STATE`` when it names a file (regress gives each fixture's agent its own),
    else the one state under GAIT_HOME."""
    override = os.environ.get(STATE_ENV, "").strip()
    if override and "://" not in override:
        return Path(override)
    return gait_home() / "gate" / "state.sqlite3"


STATE_ENV = "GAIT_GATE_STATE"


def state_spec(explicit: str | Path | None = None) -> str:
    """Where the gate's state lives: ``--state``, else ``GAIT_GATE_STATE``, else GAIT_HOME.

    A ``postgresql://`` URL selects the PostgreSQL backend; anything else is a SQLite file.
    """
    import os

    if explicit:
        return str(explicit)
    return os.environ.get(STATE_ENV, "").strip() or str(default_state_path())


def open_state(explicit: str | Path | None = None) -> GateState:
    """The state backend ``explicit`` (or ``GAIT_GATE_STATE``) names."""
    spec = state_spec(explicit)
    if spec.startswith(("postgresql://", "postgres://")):
        from gait.gate.state_pg import PostgresGateState

        return PostgresGateState(spec)
    return SQLiteGateState(spec)


class SQLiteGateState:
    """``GateState`` in one SQLite file (WAL, full sync, busy timeout for contention)."""

    backend = "sqlite"

    def __init__(self, path: str | Path | None = None, *, timeout: float = 30.0) -> None:
        self.path = Path(path) if path else default_state_path()
        self.location = str(self.path)
        self._timeout = timeout
        import threading  # a plain decision without rate limits never opens the state

        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        import time

        deadline = time.monotonic() + self._timeout
        pause = 0.002
        while True:
            try:
                conn = self._open()
            except sqlite3.OperationalError as exc:
                # SQLite answers "locked" at once, without its busy timeout, where waiting could
                # deadlock: on first use several processes convert the new file to WAL, each
                # reading it and then needing the write lock another one holds. Our statement
                # has ended (its read lock is gone), so trying again until the timeout is safe.
                if _transient(exc) and time.monotonic() + pause < deadline:
                    time.sleep(pause)
                    pause = min(pause * 2, 0.05)
                    continue
                raise _state_error(self.path, exc) from exc
            except sqlite3.DatabaseError as exc:
                raise IOFailure(
                    f"gate state {self.path} is unreadable: {exc}", code="E_STATE_CORRUPT"
                ) from exc
            except OSError as exc:
                raise IOFailure(
                    f"gate state {self.path}: {exc.strerror or exc}", code="E_STATE_IO"
                ) from exc
            self._local.conn = conn
            return conn

    def _open(self) -> sqlite3.Connection:
        """A connection in WAL mode with the schema in place; closed again if a step fails."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(self.path),
            timeout=self._timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if not mode or str(mode[0]).lower() != "wal":
                raise IOFailure(f"gate state {self.path}: WAL mode unavailable", code="E_STATE_IO")
            conn.execute("PRAGMA synchronous = FULL")
            conn.executescript(_SCHEMA)
        except BaseException:
            conn.close()
            raise
        return conn

    def consume(self, counter_key: str, bucket: str, limit: int) -> tuple[bool, int]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "DELETE FROM rate_counters WHERE key LIKE ? AND bucket <> ?",
                    (counter_key.split("|", 1)[0] + "|%", bucket),
                )
                row = conn.execute(
                    "SELECT count, bucket FROM rate_counters WHERE key = ?", (counter_key,)
                ).fetchone()
                used = row[0] if row and row[1] == bucket else 0
                if used >= limit:
                    conn.execute("COMMIT")
                    return False, used
                used += 1
                conn.execute(
                    "INSERT INTO rate_counters(key, bucket, count) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET bucket = excluded.bucket, "
                    "count = excluded.count",
                    (counter_key, bucket, used),
                )
                conn.execute("COMMIT")
                return True, used
            except BaseException:
                _rollback(conn)
                raise
        except sqlite3.OperationalError as exc:
            raise _state_error(self.path, exc) from exc

    def peek(self, counter_key: str, bucket: str) -> int:
        conn = self._conn()
        try:
            row = conn.execute(
                "SELECT count, bucket FROM rate_counters WHERE key = ?", (counter_key,)
            ).fetchone()
        except sqlite3.OperationalError as exc:
            raise _state_error(self.path, exc) from exc
        return row[0] if row and row[1] == bucket else 0

    def redeem(
        self, token_ids: Sequence[str], *, needed: int, used_at: str, decision_ref: str
    ) -> list[str]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                spent = []
                for token_id in token_ids:
                    row = conn.execute(
                        "SELECT 1 FROM used_tokens WHERE token_id = ?", (token_id,)
                    ).fetchone()
                    if row:
                        spent.append(token_id)
                if len(token_ids) - len(spent) >= needed:
                    conn.executemany(
                        "INSERT INTO used_tokens(token_id, used_at, decision_ref) VALUES (?, ?, ?)",
                        [(t, used_at, decision_ref) for t in token_ids if t not in spent],
                    )
                conn.execute("COMMIT")
                return spent
            except BaseException:
                _rollback(conn)
                raise
        except sqlite3.OperationalError as exc:
            raise _state_error(self.path, exc) from exc

    def is_spent(self, token_id: str) -> bool:
        conn = self._conn()
        try:
            row = conn.execute(
                "SELECT 1 FROM used_tokens WHERE token_id = ?", (token_id,)
            ).fetchone()
        except sqlite3.OperationalError as exc:
            raise _state_error(self.path, exc) from exc
        return row is not None

    def snapshot(self) -> dict[str, object]:
        """Every rate counter and the number of spent tokens (``gait gate state show``)."""
        conn = self._conn()
        try:
            rows = conn.execute(
                "SELECT key, bucket, count FROM rate_counters ORDER BY key"
            ).fetchall()
            tokens = conn.execute("SELECT count(*) FROM used_tokens").fetchone()
        except sqlite3.OperationalError as exc:
            raise _state_error(self.path, exc) from exc
        return {
            "rate_counters": [{"key": k, "bucket": b, "count": c} for k, b, c in rows],
            "used_tokens": int(tokens[0]),
        }

    def reset(self) -> dict[str, int]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            rates = conn.execute("DELETE FROM rate_counters").rowcount
            tokens = conn.execute("DELETE FROM used_tokens").rowcount
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            _rollback(conn)  # a BEGIN that timed out opened nothing to roll back
            raise _state_error(self.path, exc) from exc
        return {"rate_counters": rates, "used_tokens": tokens}

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back what is open, if anything: SQLite may already have rolled back on the error,
    and a failing ROLLBACK must not hide the error that caused it."""
    import contextlib

    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _transient(exc: sqlite3.OperationalError) -> bool:
    """Lock contention (SQLITE_BUSY, SQLITE_LOCKED) or WAL lock churn (SQLITE_PROTOCOL):
    gone once the other connection moves on."""
    text = str(exc)
    return "locked" in text or "busy" in text or "locking protocol" in text


def _state_error(path: Path, exc: sqlite3.OperationalError) -> Exception:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StateContention(
            f"gate state {path} is busy: {text}",
            code="E_STATE_CONTENTION",
            hint="retry; another gate holds the state lock",
        )
    return IOFailure(f"gate state {path}: {text}", code="E_STATE_IO")
