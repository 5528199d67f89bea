"""Sessions: an append-only journal for long runs, checkpoint runpacks chained by digest.

A run that lasts hours cannot wait for its end to leave evidence. Each tool decision is appended
to a JSON Lines journal (one ``write`` + ``fsync`` per line, under a file lock), so a crash loses
at most the line being written; ``checkpoint`` turns the events since the last checkpoint into
an ordinary signed runpack and links it to the previous one by ``prev_checkpoint_digest``; the
chain file lists them all and ``gait verify session-chain`` checks every link.

Formats follow the reference's (``gait.runpack.session_journal`` header, ``session_event``,
``session_checkpoint``, ``session_chain``; ``checkpoint_digest`` = SHA-256 of
``<manifest_digest>:<prev_checkpoint_digest>:<index>:<sequence_start>:<sequence_end>``), so
chains cross between the two implementations. What this project adds: a torn last line (the
crash case) is reported by name and cut off by the next append instead of making the whole
journal unreadable.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from gait import __version__, timefmt
from gait.canon import dumps_pretty, loads_strict
from gait.errors import GaitError, InvalidInput, VerificationFailed
from gait.fsutil import atomic_write, file_lock, read_input
from gait.sign.keys import SigningKey, VerifyKey

JOURNAL_SCHEMA = "gait.runpack.session_journal"
EVENT_SCHEMA = "gait.runpack.session_event"
CHECKPOINT_SCHEMA = "gait.runpack.session_checkpoint"
CHAIN_SCHEMA = "gait.runpack.session_chain"
VERSION = "1.0.0"
VERDICTS = ("allow", "block", "dry_run", "require_approval")
CORRUPT = "E_SESSION_JOURNAL_CORRUPT"
START_HINT = "gait run session start --journal PATH --session-id ID --run-id run_ID"


def _journal_error(path: Path, line: int, message: str, code: str) -> VerificationFailed:
    return VerificationFailed(
        f"session journal {path} line {line}: {message}",
        code=code,
        hint=f"gait run session status --journal {path} --json",
    )


def checkpoint_digest(manifest_digest: str, prev: str, index: int, start: int, end: int) -> str:
    raw = f"{manifest_digest}:{prev}:{index}:{start}:{end}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _dump(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


@dataclass
class Journal:
    path: Path
    header: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    last_sequence: int = 0
    good_bytes: int = 0  # length of the intact prefix (everything before a torn tail)
    torn_tail: dict[str, int] | None = None

    @property
    def session_id(self) -> str:
        return str(self.header.get("session_id", ""))

    @property
    def run_id(self) -> str:
        return str(self.header.get("run_id", ""))


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidInput(
            f"session journal not found: {path}",
            code="E_SESSION_NOT_FOUND",
            hint=START_HINT,
        ) from exc
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", code="E_SESSION_IO") from exc


def read_journal(path: str | Path) -> Journal:
    """Parse and check a journal: header first, sequences without gaps, checkpoints linked.

    A last line without its newline is a write a crash cut short: it is reported in
    ``torn_tail`` (never trusted) and everything before it stays usable.
    """
    target = Path(path)
    data = _read_bytes(target)
    end = data.rfind(b"\n") + 1
    journal: Journal | None = None
    expected = 1
    last_index, last_digest, last_seq_end = 0, "", 0
    lines = data[:end].split(b"\n")[:-1] if end else []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = loads_strict(raw, what=f"line {number}")
        except GaitError as exc:
            raise _journal_error(target, number, exc.message, CORRUPT) from exc
        kind = record.get("record_type") if isinstance(record, dict) else None
        if kind == "header":
            header = record.get("header")
            if journal is not None:
                raise _journal_error(target, number, "second header", CORRUPT)
            if (
                not isinstance(header, dict)
                or not header.get("session_id")
                or not header.get("run_id")
            ):
                raise _journal_error(
                    target, number, "header lacks session_id/run_id", "E_SESSION_JOURNAL_CORRUPT"
                )
            journal = Journal(target, header)
            continue
        if journal is None:
            raise _journal_error(
                target, number, "record before header", "E_SESSION_JOURNAL_CORRUPT"
            )
        if kind == "event":
            event = record.get("event")
            if not isinstance(event, dict):
                raise _journal_error(
                    target, number, "no event payload", "E_SESSION_JOURNAL_CORRUPT"
                )
            if event.get("sequence") != expected:
                raise _journal_error(
                    target,
                    number,
                    f"event sequence {event.get('sequence')} where {expected} was due",
                    "E_SESSION_SEQUENCE_GAP",
                )
            if event.get("session_id") != journal.session_id or event.get("run_id") != (
                journal.run_id
            ):
                raise _journal_error(
                    target, number, "event of another session", "E_SESSION_JOURNAL_CORRUPT"
                )
            journal.events.append(event)
            expected += 1
        elif kind == "checkpoint":
            cp = record.get("checkpoint")
            if not isinstance(cp, dict):
                raise _journal_error(
                    target, number, "no checkpoint payload", "E_SESSION_JOURNAL_CORRUPT"
                )
            problem = _checkpoint_link_problem(cp, last_index, last_digest, last_seq_end)
            if problem:
                raise _journal_error(target, number, problem, "E_SESSION_CHAIN_BROKEN")
            journal.checkpoints.append(cp)
            last_index, last_digest = cp["checkpoint_index"], cp["checkpoint_digest"]
            last_seq_end = cp["sequence_end"]
            expected = max(expected, last_seq_end + 1)
        else:
            raise _journal_error(
                target, number, f"unsupported record_type {kind!r}", "E_SESSION_JOURNAL_CORRUPT"
            )
    if journal is None:
        raise VerificationFailed(
            f"session journal {target} has no header",
            code="E_SESSION_JOURNAL_CORRUPT",
            hint=START_HINT,
        )
    journal.last_sequence = expected - 1
    journal.good_bytes = end
    if end < len(data):
        journal.torn_tail = {"line": len(lines) + 1, "bytes": len(data) - end}
    return journal


def _is_int(value: object) -> TypeGuard[int]:
    """A JSON integer: bool is an int subclass in Python but never a count in the journal."""
    return isinstance(value, int) and not isinstance(value, bool)


def _checkpoint_link_problem(
    cp: dict[str, Any], last_index: int, last_digest: str, last_end: int
) -> str:
    index, start, end = cp.get("checkpoint_index"), cp.get("sequence_start"), cp.get("sequence_end")
    if not (_is_int(index) and _is_int(start) and _is_int(end)):
        return "checkpoint index or sequence range missing"
    if index != last_index + 1:
        return (
            f"checkpoint {index} where {last_index + 1} was due (a checkpoint is missing or moved)"
        )
    if start < 1 or end < start:
        return f"checkpoint {index}: sequence range {start}..{end} invalid"
    if start <= last_end:
        return f"checkpoint {index}: sequence {start} overlaps checkpoint {last_index}"
    prev = cp.get("prev_checkpoint_digest", "") or ""
    if index > 1 and prev != last_digest:
        return f"checkpoint {index}: prev_checkpoint_digest does not name checkpoint {last_index}"
    expected = checkpoint_digest(str(cp.get("manifest_digest", "")), prev, index, start, end)
    if cp.get("checkpoint_digest") != expected:
        return f"checkpoint {index}: checkpoint_digest does not match its fields"
    return ""


def _lock(path: Path) -> AbstractContextManager[None]:
    return file_lock(path.with_name(path.name + ".lock"))


def _append_line(path: Path, line: bytes, *, cut_to: int | None = None) -> None:
    """One write and one fsync: a crash leaves the line whole or torn, never earlier lines."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        if cut_to is not None:
            os.ftruncate(fd, cut_to)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _status(journal: Journal) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "session_id": journal.session_id,
        "run_id": journal.run_id,
        "created_at": journal.header.get("created_at", ""),
        "started_at": journal.header.get("started_at", ""),
        "event_count": len(journal.events),
        "checkpoint_count": len(journal.checkpoints),
        "last_sequence": journal.last_sequence,
    }
    if journal.torn_tail:
        doc["torn_tail"] = dict(journal.torn_tail)
    return doc


def _check_run_id(run_id: str) -> None:
    if not run_id.startswith("run_") or not all(
        (c.isascii() and c.isalnum()) or c in "_-" for c in run_id
    ):
        raise InvalidInput(
            f"run id {run_id!r} must match ^run_[A-Za-z0-9_-]+$ (checkpoints become runpacks)",
            code="E_SESSION_INPUT_INVALID",
        )


def start(
    path: str | Path, session_id: str, run_id: str, *, now: str | None = None
) -> dict[str, Any]:
    target = Path(path)
    session_id, run_id = session_id.strip(), run_id.strip()
    if not session_id or not run_id:
        raise InvalidInput("--session-id and --run-id are required", code="E_USAGE")
    _check_run_id(run_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock(target):
        if target.exists() and target.stat().st_size:
            journal = read_journal(target)
            if journal.session_id != session_id or journal.run_id != run_id:
                raise InvalidInput(
                    f"{target} already holds session {journal.session_id} / {journal.run_id}",
                    code="E_SESSION_EXISTS",
                    hint="use another --journal path",
                )
            return _status(journal)
        stamp = now or timefmt.now()
        header = {
            "schema_id": JOURNAL_SCHEMA,
            "schema_version": VERSION,
            "created_at": stamp,
            "producer_version": __version__,
            "session_id": session_id,
            "run_id": run_id,
            "started_at": stamp,
            "events": [],
        }
        _append_line(target, _dump({"record_type": "header", "header": header}))
    return _status(read_journal(target))


def _strings(values: Iterable[str] | None) -> list[str]:
    return sorted({v.strip() for v in values or [] if v and v.strip()})


def make_event(
    journal: Journal,
    sequence: int,
    *,
    tool: str,
    verdict: str,
    intent_id: str = "",
    trace_id: str = "",
    trace_path: str = "",
    intent_digest: str = "",
    policy_digest: str = "",
    reason_codes: Sequence[str] = (),
    violations: Sequence[str] = (),
    now: str | None = None,
) -> dict[str, Any]:
    if not tool.strip():
        raise InvalidInput("--tool is required", code="E_USAGE")
    if verdict not in VERDICTS:
        raise InvalidInput(
            f"--verdict must be one of {', '.join(VERDICTS)}", code="E_SESSION_INPUT_INVALID"
        )
    event: dict[str, Any] = {
        "schema_id": EVENT_SCHEMA,
        "schema_version": VERSION,
        "created_at": now or timefmt.now(),
        "producer_version": __version__,
        "session_id": journal.session_id,
        "run_id": journal.run_id,
        "sequence": sequence,
    }
    optional = {
        "intent_id": intent_id.strip(),
        "tool_name": tool.strip(),
        "intent_digest": intent_digest.strip().lower(),
        "policy_digest": policy_digest.strip().lower(),
        "trace_id": trace_id.strip(),
        "trace_path": trace_path.strip(),
        "verdict": verdict,
        "reason_codes": _strings(reason_codes),
        "violations": _strings(violations),
    }
    event.update({k: v for k, v in optional.items() if v})
    return event


def append(path: str | Path, **fields: Any) -> dict[str, Any]:
    """Append one event; returns it, with ``repaired_torn_tail`` when a crash remnant was cut."""
    target = Path(path)
    with _lock(target):
        journal = read_journal(target)
        event = make_event(journal, journal.last_sequence + 1, **fields)
        cut = journal.good_bytes if journal.torn_tail else None
        _append_line(target, _dump({"record_type": "event", "event": event}), cut_to=cut)
    result = dict(event)
    if journal.torn_tail:
        result["repaired_torn_tail"] = dict(journal.torn_tail)
    return result


def status(path: str | Path) -> dict[str, Any]:
    return _status(read_journal(path))


def chain_path_for(journal_path: str | Path) -> Path:
    target = Path(journal_path)
    return target.with_name(f"{target.stem or 'session'}_chain.json")


def _chain(journal: Journal, checkpoints: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schema_id": CHAIN_SCHEMA,
        "schema_version": VERSION,
        "created_at": journal.header.get("created_at") or journal.header.get("started_at"),
        "producer_version": journal.header.get("producer_version") or __version__,
        "session_id": journal.session_id,
        "run_id": journal.run_id,
        "checkpoints": checkpoints,
    }


def write_chain(path: str | Path, chain: dict[str, Any]) -> Path:
    return atomic_write(path, dumps_pretty(chain, sort_keys=False, ascii_only=True), mode=0o600)


def _checkpoint_runpack_input(
    journal: Journal, events: list[dict[str, Any]], index: int, now: str
) -> dict[str, Any]:
    run_id = f"{journal.run_id}_cp_{index:04d}"
    intents, results, timeline = [], [], []
    for i, event in enumerate(events):
        intent_id = str(event.get("intent_id") or f"intent_{i + 1}")
        trace_id = str(event.get("trace_id", ""))
        intent: dict[str, Any] = {
            "intent_id": intent_id,
            "tool_name": event.get("tool_name", ""),
            "created_at": event["created_at"],
        }
        args = {
            "session_id": journal.session_id,
            "sequence": event["sequence"],
            "trace_id": trace_id,
            "trace_path": event.get("trace_path", ""),
        }
        if event.get("intent_digest"):
            intent["args_digest"] = event["intent_digest"]
        else:
            intent["args"] = args
        intents.append(intent)
        verdict = str(event.get("verdict", ""))
        results.append(
            {
                "intent_id": intent_id,
                "created_at": event["created_at"],
                "status": "error" if verdict in ("block", "require_approval") else "ok",
                "result": {
                    "verdict": verdict,
                    "reason_codes": list(event.get("reason_codes") or []),
                    "violations": list(event.get("violations") or []),
                    "trace_id": trace_id,
                    "trace_path": event.get("trace_path", ""),
                },
            }
        )
        step = {"event": "session_event", "ts": event["created_at"]}
        if trace_id:
            step["ref"] = trace_id
        timeline.append(step)
    timeline.append(
        {"event": "session_checkpoint_emitted", "ts": now, "ref": f"checkpoint:{index}"}
    )
    return {
        "run": {"run_id": run_id, "created_at": now, "timeline": timeline},
        "intents": intents,
        "results": results,
        "refs": {"run_id": run_id, "receipts": []},
        "capture_mode": "reference",
    }


def checkpoint(
    path: str | Path,
    out: str | Path,
    *,
    key: SigningKey | None = None,
    chain_out: str | Path | None = None,
    now: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """Write the events since the last checkpoint as a runpack; append and chain it."""
    from gait.runpack.writer import write_record_input

    target = Path(path)
    with _lock(target):
        journal = read_journal(target)
        last = journal.checkpoints[-1] if journal.checkpoints else None
        last_end = int(last["sequence_end"]) if last else 0
        fresh = [e for e in journal.events if int(e["sequence"]) > last_end]
        if not fresh:
            raise InvalidInput(
                "no new session events to checkpoint",
                code="E_SESSION_NOTHING_TO_CHECKPOINT",
                hint=f"gait run session append --journal {target} --tool NAME --verdict allow",
            )
        index = len(journal.checkpoints) + 1
        stamp = now or timefmt.now()
        written = write_record_input(
            _checkpoint_runpack_input(journal, fresh, index, stamp),
            Path(out),
            signing_keys=[key] if key else None,
        )
        prev = str(last["checkpoint_digest"]) if last else ""
        start_seq, end_seq = int(fresh[0]["sequence"]), int(fresh[-1]["sequence"])
        cp: dict[str, Any] = {
            "schema_id": CHECKPOINT_SCHEMA,
            "schema_version": VERSION,
            "created_at": stamp,
            "producer_version": __version__,
            "session_id": journal.session_id,
            "run_id": journal.run_id,
            "checkpoint_index": index,
            "sequence_start": start_seq,
            "sequence_end": end_seq,
            "runpack_path": str(out),
            "manifest_digest": written.manifest_digest,
        }
        if prev:
            cp["prev_checkpoint_digest"] = prev
        cp["checkpoint_digest"] = checkpoint_digest(
            written.manifest_digest, prev, index, start_seq, end_seq
        )
        cut = journal.good_bytes if journal.torn_tail else None
        _append_line(target, _dump({"record_type": "checkpoint", "checkpoint": cp}), cut_to=cut)
        chain = _chain(journal, [*journal.checkpoints, cp])
        chain_file = Path(chain_out) if chain_out else chain_path_for(target)
        write_chain(chain_file, chain)
    return cp, chain, chain_file


def compact(
    path: str | Path, *, out: str | Path | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Drop events already covered by checkpoints (their runpacks hold them)."""
    target = Path(path)
    output = Path(out) if out else target
    with _lock(target):
        journal = read_journal(target)
        last_end = int(journal.checkpoints[-1]["sequence_end"]) if journal.checkpoints else 0
        kept = [e for e in journal.events if int(e["sequence"]) > last_end]
        header = {k: v for k, v in journal.header.items() if k != "events"}
        lines = [_dump({"record_type": "header", "header": header})]
        lines += [
            _dump({"record_type": "checkpoint", "checkpoint": c}) for c in journal.checkpoints
        ]
        lines += [_dump({"record_type": "event", "event": e}) for e in kept]
        data = b"".join(lines)
        before = target.stat().st_size
        changed = len(kept) != len(journal.events) or output != target or len(data) != before
        if changed and not dry_run:
            atomic_write(output, data, mode=0o600)
    return {
        "journal_path": str(target),
        "output_path": str(output),
        "dry_run": dry_run,
        "compacted": changed,
        "events_before": len(journal.events),
        "events_after": len(kept),
        "checkpoints": len(journal.checkpoints),
        "last_checkpoint_sequence": last_end,
        "bytes_before": before,
        "bytes_after": len(data),
    }


# ---------------------------------------------------------------------------------------------
# Chains


def read_chain(path: str | Path) -> dict[str, Any]:
    raw = read_input(path, "E_SESSION_NOT_FOUND", "session chain")
    try:
        chain = loads_strict(raw, what=str(path), code="E_SESSION_CHAIN_INVALID")
    except InvalidInput as exc:
        exc.hint = "gait run session checkpoint writes <journal>_chain.json; pass that file"
        raise
    if not isinstance(chain, dict):
        raise InvalidInput(f"{path} is not a session chain", code="E_SESSION_CHAIN_INVALID")
    if (chain.get("schema_id") or CHAIN_SCHEMA) != CHAIN_SCHEMA or (
        chain.get("schema_version") or VERSION
    ) != VERSION:
        raise InvalidInput(
            f"{path}: unsupported session chain schema", code="E_SESSION_CHAIN_INVALID"
        )
    if not chain.get("session_id") or not chain.get("run_id"):
        raise InvalidInput(f"{path}: session_id/run_id missing", code="E_SESSION_CHAIN_INVALID")
    if not isinstance(chain.get("checkpoints"), list) or not chain["checkpoints"]:
        raise InvalidInput(f"{path}: the chain has no checkpoints", code="E_SESSION_CHAIN_INVALID")
    return chain


def checkpoint_runpack(chain_path: str | Path, cp: dict[str, Any]) -> Path:
    """A checkpoint's runpack: its path as written, else beside the chain file."""
    given = Path(str(cp.get("runpack_path", "")))
    if given.exists() or given.is_absolute():
        return given
    beside = Path(chain_path).parent / given.name
    return beside if beside.exists() else given


def resolve_checkpoint(chain_path: str | Path, ref: str = "latest") -> Path:
    chain = read_chain(chain_path)
    cps = chain["checkpoints"]
    if ref.strip() in ("", "latest"):
        return checkpoint_runpack(chain_path, cps[-1])
    if ref.strip().isdigit():
        for cp in cps:
            if cp.get("checkpoint_index") == int(ref):
                return checkpoint_runpack(chain_path, cp)
    raise InvalidInput(
        f"checkpoint {ref!r} not in {chain_path}", code="E_SESSION_CHECKPOINT_MISSING"
    )


def is_chain_ref(ref: str) -> bool:
    return ref.strip().lower().endswith(".json")


@dataclass
class ChainReport:
    chain_path: str
    session_id: str = ""
    run_id: str = ""
    checkpoints_checked: int = 0
    linkage_errors: list[str] = field(default_factory=list)
    checkpoint_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.linkage_errors and not self.checkpoint_errors

    def error_code(self) -> str:
        return "E_SESSION_CHAIN_BROKEN" if self.linkage_errors else "E_SESSION_CHECKPOINT_INVALID"

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "ok": self.ok,
            "chain_path": self.chain_path,
            "session_id": self.session_id,
            "run_id": self.run_id,
            "checkpoints_checked": self.checkpoints_checked,
        }
        if self.linkage_errors:
            doc["linkage_errors"] = self.linkage_errors
        if self.checkpoint_errors:
            doc["checkpoint_errors"] = self.checkpoint_errors
        if not self.ok:
            doc["error_code"] = self.error_code()
            doc["failing_link"] = (self.linkage_errors or self.checkpoint_errors)[0]
        return doc


def verify_chain(
    path: str | Path,
    *,
    keys: Sequence[VerifyKey] = (),
    explicit_keys: bool = False,
    require_signature: bool = False,
) -> ChainReport:
    from gait.runpack.verify import VerifyOptions, verify_runpack

    chain = read_chain(path)
    report = ChainReport(str(path), str(chain["session_id"]), str(chain["run_id"]))
    last_index, last_digest, last_end = 0, "", 0
    for position, cp in enumerate(chain["checkpoints"]):
        if not isinstance(cp, dict):
            report.linkage_errors.append(f"position {position}: not a checkpoint object")
            continue
        problem = _checkpoint_link_problem(cp, last_index, last_digest, last_end)
        if problem:
            report.linkage_errors.append(problem)
        index = cp.get("checkpoint_index")
        runpack = checkpoint_runpack(path, cp)
        try:
            result = verify_runpack(
                runpack,
                VerifyOptions(
                    keys=tuple(keys),
                    explicit_keys=explicit_keys,
                    require_signature=require_signature,
                ),
            )
        except GaitError as exc:
            report.checkpoint_errors.append(f"checkpoint {index}: {exc.message}")
        else:
            if result.manifest_digest != cp.get("manifest_digest"):
                report.checkpoint_errors.append(
                    f"checkpoint {index}: runpack {runpack} is not the one the chain recorded "
                    "(manifest digest differs)"
                )
            if result.missing_files or result.hash_mismatches:
                report.checkpoint_errors.append(f"checkpoint {index}: runpack integrity failure")
            if require_signature and result.signature_status != "verified":
                report.checkpoint_errors.append(f"checkpoint {index}: signature not verified")
        last_index = index if isinstance(index, int) else last_index + 1
        last_digest = str(cp.get("checkpoint_digest", ""))
        end = cp.get("sequence_end")
        last_end = end if isinstance(end, int) else last_end
        report.checkpoints_checked += 1
    return report


# ---------------------------------------------------------------------------------------------
# SDK


class SessionWriter:
    """The recorder's session hook: one journal event per finished tool call.

    ``gait.record(..., session=PATH)`` opens one for the run (session id = run id); pass a
    ``SessionWriter`` instead to choose the session id or ``checkpoint_every`` N events. Each
    call appends under the journal lock with one write and fsync; the writer remembers the
    journal's size after its own last write, so it re-reads the journal only when another
    process (a CLI checkpoint) wrote in between.
    """

    def __init__(
        self,
        path: str | Path,
        session_id: str,
        run_id: str,
        *,
        checkpoint_every: int = 0,
        checkpoint_dir: str | Path | None = None,
        key: SigningKey | None = None,
    ) -> None:
        self.path = Path(path)
        self.checkpoint_every = checkpoint_every
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else self.path.parent
        self.key = key
        start(self.path, session_id, run_id)
        self._journal = read_journal(self.path)
        self._size = self._journal.good_bytes
        self._since_checkpoint = 0

    def record(self, tool: str, intent_id: str, ok: bool) -> None:
        with _lock(self.path):
            size = self.path.stat().st_size
            if size != self._size or self._journal.torn_tail:
                self._journal = read_journal(self.path)
            journal = self._journal
            event = make_event(
                journal,
                journal.last_sequence + 1,
                tool=tool,
                verdict="allow",
                intent_id=intent_id,
                reason_codes=() if ok else ("tool_error",),
            )
            line = _dump({"record_type": "event", "event": event})
            cut = journal.good_bytes if journal.torn_tail else None
            _append_line(self.path, line, cut_to=cut)
            journal.events.append(event)
            journal.last_sequence += 1
            journal.torn_tail = None
            journal.good_bytes = (cut if cut is not None else size) + len(line)
            self._size = journal.good_bytes
        self._since_checkpoint += 1
        if self.checkpoint_every and self._since_checkpoint >= self.checkpoint_every:
            self.checkpoint()

    def checkpoint(self, out: str | Path | None = None) -> dict[str, Any]:
        index = len(read_journal(self.path).checkpoints) + 1
        target = Path(out) if out else self.checkpoint_dir / f"{self.path.stem}_cp_{index:04d}.zip"
        cp = checkpoint(self.path, target, key=self.key)[0]
        self._since_checkpoint = 0
        self._size = -1  # our cached view is stale: the journal grew by the checkpoint line
        return cp


def open_session(session: Any, run_id: str) -> SessionWriter:
    if isinstance(session, SessionWriter):
        return session
    if isinstance(session, (str, os.PathLike)):
        return SessionWriter(os.fspath(session), run_id, run_id)
    raise InvalidInput(
        "session must be a journal path or a gait.runpack.session.SessionWriter",
        code="E_SESSION_INPUT_INVALID",
    )
