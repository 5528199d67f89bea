"""Where kill-switch entries live: the reference's JSON state file, or PostgreSQL for a fleet.

A file (the default, in the reference's shape) is right for one host. When several hosts must
stop the same tool at once, ``--kill-switch-state postgresql://...`` keeps the same state
document in one table, changed under a transaction-scoped advisory lock, with the signed,
chained journal in a second table; every gate re-reads it on each decision, so an entry applies
fleet-wide from the moment it is committed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gait.gate.killswitch import (
    KillSwitchInvalid,
    State,
    append_journal,
    journal_path,
    journal_record,
    load_state,
    write_state,
)

_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS gait_kill_switch_state (id INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gait_kill_switch_journal (
    seq BIGSERIAL PRIMARY KEY,
    record TEXT NOT NULL
);
"""
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('gait_kill_switch'))"


def is_url(spec: str | Path) -> bool:
    return str(spec).startswith(("postgresql://", "postgres://"))


class FileStore:
    """The state file and ``kill_switch_journal.jsonl`` beside it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.location = str(path)

    def stamp(self) -> Any:
        st = os.stat(self.path)
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def load(self) -> State:
        return load_state(self.path)

    def mutate(self, change: Callable[[State], None], *, create_at: str = "") -> State:
        from gait import __version__
        from gait.fsutil import file_lock

        with file_lock(str(self.path) + ".lock"):
            try:
                state = load_state(self.path)
            except FileNotFoundError:
                if not create_at:
                    raise
                state = State.new(create_at, __version__)
            change(state)
            write_state(self.path, state)
        return state

    def journal(self, fields: Mapping[str, Any], key: Any) -> dict[str, Any]:
        return append_journal(journal_path(self.path), fields, key)

    def journal_lines(self) -> list[bytes]:
        try:
            return journal_path(self.path).read_bytes().splitlines()
        except FileNotFoundError:
            return []


class PostgresStore:
    """The same state document and journal in PostgreSQL (the ``postgres`` extra)."""

    def __init__(self, url: str) -> None:
        from gait.gate.state_pg import PostgresGateState

        self._db = PostgresGateState(url)
        self.location = self._db.location
        self._ready = False

    def _run(self, work: Callable[[Any], Any]) -> Any:
        def wrapped(conn: Any) -> Any:
            if not self._ready:
                conn.execute(_PG_SCHEMA)
                self._ready = True
            return work(conn)

        return self._db._run(wrapped)

    def stamp(self) -> Any:
        return None  # re-read on every decision: an entry applies as soon as it is committed

    def load(self) -> State:
        def work(conn: Any) -> Any:
            return conn.execute("SELECT doc FROM gait_kill_switch_state WHERE id = 1").fetchone()

        row = self._run(work)
        if row is None:
            raise FileNotFoundError(f"no kill switch state in {self.location}")
        try:
            return State.from_json(json.loads(row[0]))
        except ValueError as exc:
            raise KillSwitchInvalid(f"parse kill switch state {self.location}: {exc}") from exc

    def mutate(self, change: Callable[[State], None], *, create_at: str = "") -> State:
        from gait import __version__

        def work(conn: Any) -> State:
            with conn.transaction():
                conn.execute(_LOCK)
                row = conn.execute("SELECT doc FROM gait_kill_switch_state WHERE id = 1").fetchone()
                if row is None:
                    if not create_at:
                        raise FileNotFoundError(f"no kill switch state in {self.location}")
                    state = State.new(create_at, __version__)
                else:
                    state = State.from_json(json.loads(row[0]))
                change(state)
                conn.execute(
                    "INSERT INTO gait_kill_switch_state(id, doc) VALUES (1, %s) "
                    "ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc",
                    (json.dumps(state.to_json(), sort_keys=True),),
                )
            return state

        return self._run(work)

    def journal(self, fields: Mapping[str, Any], key: Any) -> dict[str, Any]:
        from gait.canon import canonical_bytes, digest

        def work(conn: Any) -> dict[str, Any]:
            with conn.transaction():
                conn.execute(_LOCK)
                row = conn.execute(
                    "SELECT record FROM gait_kill_switch_journal ORDER BY seq DESC LIMIT 1"
                ).fetchone()
                prev = ""
                if row is not None:
                    last = json.loads(row[0])
                    prev = digest({k: v for k, v in last.items() if k != "signature"})
                record = journal_record(fields, prev, key)
                conn.execute(
                    "INSERT INTO gait_kill_switch_journal(record) VALUES (%s)",
                    (canonical_bytes(record).decode("utf-8"),),
                )
            return record

        return self._run(work)

    def journal_lines(self) -> list[bytes]:
        rows = self._run(
            lambda conn: conn.execute(
                "SELECT record FROM gait_kill_switch_journal ORDER BY seq"
            ).fetchall()
        )
        return [r[0].encode("utf-8") for r in rows]


def open_store(spec: str | Path) -> FileStore | PostgresStore:
    return PostgresStore(str(spec)) if is_url(spec) else FileStore(spec)
