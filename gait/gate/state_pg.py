"""Gate state on PostgreSQL: one rate limit and one single-use token for a fleet of hosts.

The guarantees are the SQLite backend's, moved from "across processes" to "across hosts":
a rate-limit count is one atomic upsert (no read-then-write window), and spending approval
tokens is one transaction that inserts them with ``ON CONFLICT DO NOTHING`` and rolls back
unless enough of them were new, so two hosts racing for one token cannot both win. Every
change is committed before the gate answers, so a restarted server loses no consumed token.

Connections come from a small ``psycopg_pool`` pool; a connection broken by a server restart
is dropped and the operation retried once on a fresh one, so a restart costs a reconnect.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from gait.errors import DependencyMissing, IOFailure, StateUnavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gait_rate_counters (
    key TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS gait_used_tokens (
    token_id TEXT PRIMARY KEY,
    used_at TEXT NOT NULL,
    decision_ref TEXT NOT NULL
);
"""
_SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('gait_gate_state_schema'))"
_CONSUME = """
INSERT INTO gait_rate_counters AS c (key, bucket, count) VALUES (%s, %s, 1)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN c.bucket = EXCLUDED.bucket THEN c.count + 1 ELSE 1 END,
    bucket = EXCLUDED.bucket
WHERE c.bucket <> EXCLUDED.bucket OR c.count < %s
RETURNING count
"""
_POOLS: dict[str, Any] = {}
_POOLS_LOCK = threading.Lock()


def is_postgres_url(spec: str) -> bool:
    return spec.startswith(("postgresql://", "postgres://"))


def redacted(url: str) -> str:
    """The URL without its password, for messages and ``state show``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def database_name(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/").lstrip("/") or (parts.username or "postgres")


class _Rollback(Exception):
    """Abort a token transaction (not enough new tokens) without an error."""


class PostgresGateState:
    """``GateState`` on PostgreSQL via psycopg 3 and a connection pool."""

    backend = "postgresql"

    def __init__(self, url: str, *, timeout: float = 10.0, max_size: int = 4) -> None:
        try:
            import psycopg  # noqa: F401
            import psycopg_pool  # noqa: F401
        except ImportError as exc:
            raise DependencyMissing(
                f"PostgreSQL gate state needs psycopg and psycopg_pool: {exc}",
                code="E_DEPENDENCY_MISSING",
                hint="pip install 'pytest-gait[postgres]'",
            ) from exc
        self.url = url
        self.location = redacted(url)
        self.database = database_name(url)
        self._timeout = timeout
        self._max_size = max_size
        self._ready = False

    # --- plumbing ---------------------------------------------------------------------------

    def _pool(self) -> Any:
        from psycopg_pool import ConnectionPool

        with _POOLS_LOCK:
            pool = _POOLS.get(self.url)
            if pool is None:
                import psycopg

                # One direct connection first: an unreachable server is reported at once
                # instead of after the pool's reconnect back-off.
                try:
                    psycopg.connect(self.url, connect_timeout=int(self._timeout)).close()
                except psycopg.Error as exc:
                    raise self._error(exc) from exc
                pool = ConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=self._max_size,
                    timeout=self._timeout,
                    kwargs={"autocommit": True, "connect_timeout": int(self._timeout)},
                    open=False,
                )
                try:
                    pool.open(wait=True, timeout=self._timeout)
                except Exception as exc:
                    pool.close()
                    raise self._error(exc) from exc
                _POOLS[self.url] = pool
        return pool

    def _error(self, exc: Exception) -> IOFailure:
        return StateUnavailable(
            f"gate state {self.location} is unavailable: {str(exc).strip().splitlines()[0]}",
            code="E_STATE_UNAVAILABLE",
            hint="check that PostgreSQL is up and the URL in --state / GAIT_GATE_STATE is right",
        )

    def _run(self, work: Any) -> Any:
        import psycopg
        from psycopg_pool import PoolTimeout

        for attempt in (1, 2):
            try:
                with self._pool().connection() as conn:
                    if not self._ready:
                        # Concurrent CREATE TABLE IF NOT EXISTS can still collide in the
                        # catalogue (a unique violation): one creator at a time, fleet-wide.
                        with conn.transaction():
                            conn.execute(_SCHEMA_LOCK)
                            conn.execute(_SCHEMA)
                        self._ready = True
                    return work(conn)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                # A pooled connection from before a server restart fails once; the pool drops
                # it and one retry gets a fresh one. A retry after a lost commit reply can only
                # count a call twice or see its own token as spent: it errs towards refusing.
                if attempt == 2:
                    raise self._error(exc) from exc
            except PoolTimeout as exc:
                raise self._error(exc) from exc
            except psycopg.Error as exc:
                raise IOFailure(
                    f"gate state {self.location}: {exc}".splitlines()[0], code="E_STATE_IO"
                ) from exc
        raise AssertionError("unreachable")

    # --- GateState --------------------------------------------------------------------------

    def consume(self, counter_key: str, bucket: str, limit: int) -> tuple[bool, int]:
        if limit <= 0:
            return False, self.peek(counter_key, bucket)

        def work(conn: Any) -> tuple[bool, int]:
            row = conn.execute(_CONSUME, (counter_key, bucket, limit)).fetchone()
            if row is not None:
                return True, int(row[0])
            return False, self._peek(conn, counter_key, bucket)

        return self._run(work)

    @staticmethod
    def _peek(conn: Any, counter_key: str, bucket: str) -> int:
        row = conn.execute(
            "SELECT count, bucket FROM gait_rate_counters WHERE key = %s", (counter_key,)
        ).fetchone()
        return int(row[0]) if row and row[1] == bucket else 0

    def peek(self, counter_key: str, bucket: str) -> int:
        return self._run(lambda conn: self._peek(conn, counter_key, bucket))

    def redeem(
        self, token_ids: Sequence[str], *, needed: int, used_at: str, decision_ref: str
    ) -> list[str]:
        ids = list(dict.fromkeys(token_ids))

        def work(conn: Any) -> list[str]:
            new: set[str] = set()
            try:
                with conn.transaction():
                    for token_id in ids:
                        row = conn.execute(
                            "INSERT INTO gait_used_tokens(token_id, used_at, decision_ref) "
                            "VALUES (%s, %s, %s) ON CONFLICT (token_id) DO NOTHING "
                            "RETURNING token_id",
                            (token_id, used_at, decision_ref),
                        ).fetchone()
                        if row is not None:
                            new.add(token_id)
                    if len(new) < needed:
                        raise _Rollback
            except _Rollback:
                pass  # nothing spent: the new inserts are rolled back with the transaction
            return [t for t in ids if t not in new]

        return self._run(work)

    def is_spent(self, token_id: str) -> bool:
        return self._run(
            lambda conn: (
                conn.execute(
                    "SELECT 1 FROM gait_used_tokens WHERE token_id = %s", (token_id,)
                ).fetchone()
                is not None
            )
        )

    # --- inspection -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        def work(conn: Any) -> dict[str, Any]:
            rows = conn.execute(
                "SELECT key, bucket, count FROM gait_rate_counters ORDER BY key"
            ).fetchall()
            tokens = conn.execute("SELECT count(*) FROM gait_used_tokens").fetchone()
            return {
                "rate_counters": [{"key": k, "bucket": b, "count": c} for k, b, c in rows],
                "used_tokens": int(tokens[0]),
            }

        return self._run(work)

    def reset(self) -> dict[str, int]:
        def work(conn: Any) -> dict[str, int]:
            with conn.transaction():
                rates = conn.execute("DELETE FROM gait_rate_counters").rowcount
                tokens = conn.execute("DELETE FROM gait_used_tokens").rowcount
            return {"rate_counters": rates, "used_tokens": tokens}

        return self._run(work)

    def close(self) -> None:
        with _POOLS_LOCK:
            pool = _POOLS.pop(self.url, None)
        if pool is not None:
            pool.close()
