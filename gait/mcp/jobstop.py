"""Job emergency stops at the tool boundary (``--job-root``, the reference's job runtime files).

A call whose context names a ``job_id`` is checked against that job's state under the job root
(``<root>/<job_id>/state.json``, default ``./gait-out/jobs``) before it is answered, as the
reference's proxy and service check it: a job in ``emergency_stopped`` blocks the call
(``emergency_stop_preempted``) and the refused dispatch is recorded in the job's event log; a
job whose state cannot be read blocks it too (``emergency_stop_state_unavailable``: fail closed).
A call without a ``job_id`` is not affected.

The files are the reference's (``gait.job.runtime`` state, ``gait.job.event`` lines, the
``gait.job.pending_mutation`` marker and the ``state.json.lock`` lock file), so a job stopped by
the reference's ``gait job stop`` stops calls here, and the blocked dispatches recorded here read
there. A mutation is made as the reference makes it: under the lock, the pending marker first,
then the state, then the event, then the marker removed; a reader that finds a marker finishes
or rolls back the interrupted mutation first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_JOB_ROOT = "./gait-out/jobs"
STATE_SCHEMA_ID = "gait.job.runtime"
EVENT_SCHEMA_ID = "gait.job.event"
PENDING_SCHEMA_ID = "gait.job.pending_mutation"
SCHEMA_VERSION = "1.0.0"
EMERGENCY_STOPPED = "emergency_stopped"
PREEMPTED = "emergency_stop_preempted"
UNAVAILABLE = "emergency_stop_state_unavailable"
VIOLATION = "emergency_stop_active"
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_LOCK_TIMEOUT = 2.0
_LOCK_STALE = 30.0
# The reference's JobState fields in its order; ``None``: left out when empty (omitempty).
_STATE_FIELDS: tuple[tuple[str, Any], ...] = (
    ("schema_id", ""),
    ("schema_version", ""),
    ("created_at", "0001-01-01T00:00:00Z"),
    ("updated_at", "0001-01-01T00:00:00Z"),
    ("producer_version", ""),
    ("job_id", ""),
    ("status", ""),
    ("stop_reason", ""),
    ("status_reason_code", ""),
    ("environment_fingerprint", ""),
    ("safety_invariant_version", None),
    ("safety_invariant_hash", None),
    ("safety_invariants", None),
    ("policy_digest", None),
    ("policy_ref", None),
    ("identity", None),
    ("revision", 0),
    ("checkpoints", []),
    ("approvals", None),
)


class JobStateError(Exception):
    """The job's state cannot be read or changed; the message is the reference's wording."""


def check(job_root: str, job_id: str, *, actor: str, dispatch_path: str) -> tuple[str, list[str]]:
    """The emergency-stop reason code for a call of ``job_id`` ("" if none) and warnings."""
    job_id = job_id.strip()
    if not job_id:
        return "", []
    try:
        files = _JobFiles(job_root, job_id)
        state = status(files)
    except JobStateError as exc:
        return UNAVAILABLE, [f"job_status_unavailable={exc}"]
    if not is_emergency_stopped(state):
        return "", []
    try:
        record_blocked_dispatch(files, actor=actor, dispatch_path=dispatch_path)
    except JobStateError as exc:
        return PREEMPTED, [f"blocked_dispatch_record_failed={exc}"]
    return PREEMPTED, []


def is_emergency_stopped(state: dict[str, Any]) -> bool:
    return (
        str(state.get("status") or "").strip() == EMERGENCY_STOPPED
        and str(state.get("stop_reason") or "").strip() == EMERGENCY_STOPPED
    )


class _JobFiles:
    def __init__(self, root: str, job_id: str) -> None:
        base = Path(os.path.abspath(root.strip() or DEFAULT_JOB_ROOT))
        if not _JOB_ID.fullmatch(job_id):
            raise JobStateError(f"job_id must match ^{_JOB_ID.pattern}$")
        directory = base / job_id
        if os.path.relpath(directory, base).split(os.sep)[0] == "..":
            raise JobStateError("job path escapes root")
        self.job_id = job_id
        self.state = directory / "state.json"
        self.events = directory / "events.jsonl"
        self.pending = directory / "pending_mutation.json"
        self.lock = directory / "state.json.lock"


def status(files: _JobFiles) -> dict[str, Any]:
    """The job's state, after finishing a mutation a crash interrupted (the reference's Status)."""
    if files.pending.exists():
        with _locked(files):
            _recover(files)
    return _read_state(files.state)


def record_blocked_dispatch(files: _JobFiles, *, actor: str, dispatch_path: str) -> None:
    """Append a ``dispatch_blocked`` event (revision + 1) to a job in emergency stop."""
    with _locked(files):
        _recover(files)
        previous = _read_state(files.state)
        if not is_emergency_stopped(previous):
            raise JobStateError(
                "invalid transition: blocked dispatch requires emergency stopped state"
            )
        now = _go_time(time.time_ns())
        updated = dict(previous)
        updated["updated_at"] = now
        updated["revision"] = int(previous.get("revision") or 0) + 1
        event = {
            "schema_id": EVENT_SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "created_at": now,
            "job_id": previous["job_id"],
            "revision": updated["revision"],
            "type": "dispatch_blocked",
            "actor": actor,
            "reason_code": PREEMPTED,
            "payload": {"dispatch_path": dispatch_path},
        }
        pending = {
            "schema_id": PENDING_SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "created_at": now,
            "job_id": previous["job_id"],
            "previous_state": _go_state(previous),
            "updated_state": _go_state(updated),
            "event": event,
        }
        _write_json(files.pending, pending)
        _write_json(files.state, _go_state(updated))
        _append_event(files.events, event)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(files.pending)


def _read_state(path: Path) -> dict[str, Any]:
    try:
        payload = path.read_bytes()
    except FileNotFoundError:
        raise JobStateError("job not found") from None
    except OSError as exc:
        raise JobStateError(f"read job state: {exc.strerror}") from exc
    try:
        state = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JobStateError(f"parse job state: {exc}") from exc
    if not isinstance(state, dict):
        raise JobStateError("parse job state: not a JSON object")
    if not str(state.get("job_id") or "").strip():
        raise JobStateError("invalid job state: missing job_id")
    _ensure_invariants(state)
    if state.get("checkpoints") is None:
        state["checkpoints"] = []
    return state


def _ensure_invariants(state: dict[str, Any]) -> None:
    """The safety-invariant ledger the reference fills in on every read of a state."""
    if not str(state.get("safety_invariant_version") or "").strip():
        state["safety_invariant_version"] = "1"
    if not state.get("safety_invariants"):
        values = [
            "control_boundary=runtime_go",
            "fail_closed=true",
            "default_privacy=reference_receipts",
        ]
        for name in ("policy_digest", "policy_ref", "identity"):
            value = str(state.get(name) or "").strip()
            if value:
                values.append(f"{name}={value}")
        state["safety_invariants"] = sorted(values)
    if not str(state.get("safety_invariant_hash") or "").strip():
        kept = sorted(v.strip() for v in state["safety_invariants"] if str(v).strip())
        state["safety_invariant_hash"] = hashlib.sha256("|".join(kept).encode()).hexdigest()


def _go_state(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with the reference's fields in its order (what it would write back)."""
    out: dict[str, Any] = {}
    for name, default in _STATE_FIELDS:
        value = state.get(name)
        if default is None:
            if value:
                out[name] = value
        else:
            out[name] = default if value is None else value
    return out


def _go_time(nanos: int) -> str:
    """UTC time as Go marshals it (RFC 3339, fraction without trailing zeros)."""
    seconds, fraction = divmod(nanos, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{fraction:09d}".rstrip("0")
    return f"{text}.{digits}Z" if digits else f"{text}Z"


def _write_json(path: Path, value: Any) -> None:
    from gait.errors import GaitError
    from gait.fsutil import atomic_write

    data = json.dumps(value, indent=2, ensure_ascii=False).encode() + b"\n"
    try:
        atomic_write(path, data, mode=0o600)
    except GaitError as exc:
        raise JobStateError(f"write json: {exc.message}") from exc


def _append_event(path: Path, event: dict[str, Any]) -> None:
    import fcntl

    line = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        raise JobStateError(f"append event: {exc.strerror}") from exc


def _read_events(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise JobStateError(f"read job events: {exc}") from exc
    events = []
    for line in text.splitlines():
        if line.strip():
            try:
                events.append(json.loads(line))
            except ValueError as exc:
                raise JobStateError(f"parse job event: {exc}") from exc
    return events


def _recover(files: _JobFiles) -> None:
    """Finish (its event was logged) or roll back (it was not) an interrupted mutation."""
    try:
        pending = json.loads(files.pending.read_bytes())
    except FileNotFoundError:
        return
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise JobStateError(f"parse pending mutation: {exc}") from exc
    if not isinstance(pending, dict) or pending.get("job_id") != files.job_id:
        raise JobStateError("invalid pending mutation: job_id mismatch")
    updated = pending.get("updated_state")
    previous = pending.get("previous_state")
    event = pending.get("event")
    if not isinstance(updated, dict) or not isinstance(event, dict):
        raise JobStateError("invalid pending mutation: missing updated_state or event")
    revision = event.get("revision")
    if any(
        e.get("revision") == revision for e in _read_events(files.events) if isinstance(e, dict)
    ):
        _write_json(files.state, updated)
    elif isinstance(previous, dict):
        _write_json(files.state, previous)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(files.state)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(files.pending)


@contextlib.contextmanager
def _locked(files: _JobFiles) -> Iterator[None]:
    """The reference's job lock: ``state.json.lock`` created exclusively, removed after; one
    older than 30 s is a dead holder's and is taken over; 2 s of contention is an error."""
    started = time.monotonic()
    while True:
        try:
            fd = os.open(files.lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            break
        except FileExistsError:
            pass
        except OSError as exc:
            raise JobStateError(f"acquire lock: {exc.strerror}") from exc
        if time.monotonic() - started > _LOCK_TIMEOUT:
            raise JobStateError("state contention: lock timeout")
        try:
            if time.time() - files.lock.stat().st_mtime > _LOCK_STALE:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(files.lock)
                continue
        except FileNotFoundError:
            continue
        time.sleep(0.01)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(files.lock)
