"""Signed trace records (FORMATS.md 6.2), approval audit records, and the decision log.

A trace carries exactly the reference's fields: the reference re-reads a trace into a fixed
record before checking its signature, so an extra key would break verification there. What the
trace format lacks (reason codes, matched rules, ordering) goes into an append-only, signed,
hash-chained decision log beside the traces, which makes a deleted, reordered or edited trace
detectable.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

from gait import timefmt
from gait.canon import canonical_bytes, digest, dumps_pretty, id24, loads_strict
from gait.errors import TraceUnwritable
from gait.fsutil import _exchange, atomic_write, file_lock, replace_with
from gait.lazyre import lazy
from gait.plain import Plain
from gait.sha import sha256
from gait.sign.keys import SigningKey
from gait.sign.signature import sign_digest
from gait.timefmt import UTC, datetime  # the C types (see gait.timefmt)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from gait.gate.trace_verify import ChainReport as ChainReport
    from gait.gate.trace_verify import TraceCheck as TraceCheck
    from gait.gate.trace_verify import verify_directory as verify_directory
    from gait.gate.trace_verify import verify_trace_file as verify_trace_file

TRACE_SCHEMA_ID = "gait.gate.trace"
AUDIT_SCHEMA_ID = "gait.gate.approval_audit_record"
LOG_SCHEMA_ID = "gait.gate.decision_log_entry"
SCHEMA_VERSION = "1.0.0"
DECISION_LOG = "decisions.jsonl"
# Signed record of the log's last committed entry, kept beside it: deleting the last lines of
# the log (which the hash chain alone cannot show) makes the log shorter than its head.
DECISION_HEAD = "decisions.head.json"
HEAD_SCHEMA_ID = "gait.gate.decision_log_head"
_LOG_LOCK = ".decisions.lock"

# Trace fields by kind, as the reference's TraceRecord holds them (re-serialisation set).
_TRACE_STRINGS = (
    "schema_id",
    "schema_version",
    "producer_version",
    "trace_id",
    "event_id",
    "correlation_id",
    "tool_name",
    "args_digest",
    "intent_digest",
    "policy_digest",
    "agent_id",
    "run_id",
    "workflow_id",
    "repo",
    "environment",
    "credential_ref",
    "credential_source",
    "credential_access_type",
    "credential_issuer",
    "credential_subject",
    "credential_owner",
    "credential_target_binding",
    "credential_run_binding",
    "credential_job_binding",
    "broker_credential_ref",
    "broker_credential_source",
    "broker_credential_access_type",
    "broker_credential_issuer",
    "broker_request_digest",
    "broker_target_binding",
    "broker_run_binding",
    "broker_job_binding",
    "approval_ref",
    "wrkr_inventory_ref",
    "agent_action_bom_ref",
    "policy_id",
    "policy_version",
    "verdict",
    "context_set_digest",
    "context_evidence_mode",
    "context_source",
    "script_hash",
    "composite_risk_class",
    "pattern_id",
    "registry_reason",
    "approval_token_ref",
)
_TRACE_ALWAYS = frozenset(
    {
        "schema_id",
        "schema_version",
        "producer_version",
        "trace_id",
        "tool_name",
        "args_digest",
        "intent_digest",
        "policy_digest",
        "verdict",
    }
)
_TRACE_INTS = ("credential_ttl_seconds", "context_ref_count", "step_count")
_TRACE_BOOLS = ("script", "pre_approved")
_TRACE_LISTS = ("matched_rule_ids", "violations")
_TRACE_OBJECTS = (
    "agent_identity",
    "step_verdicts",
    "delegation_ref",
    "freeze_window",
    "sandbox",
    "kill_switch",
    "mcp_trust",
    "relationship",
    "skill_provenance",
)


def _refs(refs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"kind": kind, "id": ref_id} for kind, ref_id in sorted(set(refs)) if ref_id]


def _edge(kind: str, src: tuple[str, str], dst: tuple[str, str]) -> dict[str, Any]:
    return {
        "kind": kind,
        "from": {"kind": src[0], "id": src[1]},
        "to": {"kind": dst[0], "id": dst[1]},
    }


def trace_relationship(
    *,
    intent_doc: dict[str, Any],
    trace_id: str,
    policy_id: str,
    policy_version: str,
    policy_digest: str,
    matched_rule_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """The ``relationship`` object the reference writes into a trace."""
    ctx = intent_doc["context"]
    tool = intent_doc["tool_name"]
    identity = ctx["identity"]
    rel: dict[str, Any] = {}
    if ctx.get("session_id"):
        rel["parent_ref"] = {"kind": "session", "id": ctx["session_id"]}
    entity = _refs(
        [("trace", trace_id), ("tool", tool), ("agent", identity), ("policy", policy_digest)]
    )
    rel["entity_refs"] = entity
    policy_ref: dict[str, Any] = {
        "policy_id": policy_id,
        "policy_version": policy_version,
        "policy_digest": policy_digest,
    }
    if matched_rule_ids:
        policy_ref["matched_rule_ids"] = sorted(set(matched_rule_ids))
    rel["policy_ref"] = policy_ref
    delegation = intent_doc.get("delegation")
    chain: set[tuple[str, str]] = set()
    edges = [
        _edge("calls", ("agent", identity), ("tool", tool)),
        _edge("governed_by", ("tool", tool), ("policy", policy_digest)),
    ]
    if delegation:
        chain.add(("requester", delegation["requester_identity"]))
        for link in delegation.get("chain", []):
            chain.add(("delegator", link["delegator_identity"]))
            chain.add(("delegate", link["delegate_identity"]))
            edges.append(
                _edge(
                    "delegates_to",
                    ("agent", link["delegator_identity"]),
                    ("agent", link["delegate_identity"]),
                )
            )
    else:
        chain.add(("requester", identity))
    rel["agent_chain"] = [{"identity": who, "role": role} for role, who in sorted(chain)]
    rel["edges"] = _sorted_edges(edges)
    rel["related_entity_ids"] = sorted({ref["id"] for ref in entity})
    return rel


def _sorted_edges(edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(edge: dict[str, Any]) -> tuple[str, ...]:
        return (
            edge["kind"],
            edge["from"]["kind"],
            edge["from"]["id"],
            edge["to"]["kind"],
            edge["to"]["id"],
        )

    unique = {key(edge): edge for edge in edges}
    return [unique[k] for k in sorted(unique)]


def audit_relationship(
    trace_id: str, tool: str, policy_digest: str, approvers: Sequence[str]
) -> dict[str, Any]:
    refs = [("trace", trace_id), ("tool", tool), ("policy", policy_digest)]
    refs += [("agent", who) for who in approvers if who]
    entity = _refs(refs)
    return {
        "parent_ref": {"kind": "trace", "id": trace_id},
        "entity_refs": entity,
        "policy_ref": {"policy_digest": policy_digest},
        "edges": [_edge("governed_by", ("tool", tool), ("policy", policy_digest))],
        "parent_record_id": trace_id,
        "related_entity_ids": sorted({ref["id"] for ref in entity}),
    }


# What ``signable_trace`` keeps of each known field, by name (built once from the lists above).
_KEEP_STRING, _KEEP_INT, _KEEP_TRUE, _KEEP_LIST, _KEEP_LATENCY, _KEEP_OBJECT = range(6)
_TRACE_FIELD_KIND: dict[str, int] = {
    **dict.fromkeys(_TRACE_STRINGS, _KEEP_STRING),
    **dict.fromkeys(_TRACE_INTS, _KEEP_INT),
    **dict.fromkeys(_TRACE_BOOLS, _KEEP_TRUE),
    **dict.fromkeys(_TRACE_LISTS, _KEEP_LIST),
    "latency_ms": _KEEP_LATENCY,
    **dict.fromkeys(_TRACE_OBJECTS, _KEEP_OBJECT),
}
_CANONICAL_TIME_SHAPE = lazy(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{0,8}[1-9])?Z",
    256,  # re.ASCII: \d must not accept other scripts' digits, which the full path re-prints
)


def _canonical_time(text: str) -> str:
    """``timefmt.canonical``, skipping the re-print for a time already in canonical form.

    Traces carry times this project printed itself (UTC, ``Z``, shortest fraction), and
    re-printing those costs more than the rest of ``signable_trace``. A string of exactly that
    shape whose fields make a real date re-prints to itself; anything else takes the full path,
    which also raises the usual error.
    """
    fields = _canonical_fields(text)
    if fields is not None:
        try:
            datetime(*fields)
        except ValueError:
            pass
        else:
            return text
    return timefmt.canonical(text)


def _canonical_fields(text: str) -> tuple[int, int, int, int, int, int] | None:
    """``_CANONICAL_TIME_SHAPE.fullmatch(text)``'s six numbers, read without re for a str in a
    process that has not loaded re (a decision needs no ``re`` for it); anything else goes to
    the pattern, which raises for it as it always did."""
    if type(text) is not str or "re" in sys.modules:  # re loaded: its matcher is quicker
        shape = _CANONICAL_TIME_SHAPE.fullmatch(text)
        if shape is None:
            return None
        year, month, day, hour, minute, second = map(int, shape.groups())
        return year, month, day, hour, minute, second
    return _canonical_fields_plain(text)


def _canonical_fields_plain(text: str) -> tuple[int, int, int, int, int, int] | None:
    """``_canonical_fields`` of a str, with string methods."""
    size = len(text)
    if (
        size < 20
        or text[4] != "-"
        or text[7] != "-"
        or text[10] != "T"
        or text[13] != ":"
        or text[16] != ":"
        or text[-1] != "Z"
    ):
        return None
    digits = text[:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19]
    if not (digits.isascii() and digits.isdigit()):
        return None
    if size > 20:  # ``\.\d{0,8}[1-9]``: one to nine ASCII digits, the last not 0
        fraction = text[20:-1]
        if (
            text[19] != "."
            or not fraction
            or len(fraction) > 9
            or not (fraction.isascii() and fraction.isdigit())
            or fraction[-1] == "0"
        ):
            return None
    return (
        int(digits[:4]),
        int(digits[4:6]),
        int(digits[6:8]),
        int(digits[8:10]),
        int(digits[10:12]),
        int(digits[12:14]),
    )


def signable_trace(raw: dict[str, Any]) -> dict[str, Any]:
    """A trace re-read into the reference's fixed fields, minus ``signature``.

    Unknown keys drop out, times are re-printed canonically (zero time when unset), empty
    optional fields are omitted: exactly the bytes the reference hashes when it verifies.
    Only the keys present are visited; the result is only ever hashed, so its key order is free.
    """
    out: dict[str, Any] = dict.fromkeys(_TRACE_ALWAYS, "")
    for name in ("created_at", "observed_at"):
        value = raw.get(name)
        out[name] = _canonical_time(value) if isinstance(value, str) else timefmt.ZERO_TIME
    kinds = _TRACE_FIELD_KIND
    for name, value in raw.items():
        kind = kinds.get(name)
        if kind is None or not value:
            continue  # unknown, or empty/false/zero: omitted (or left "" when always present)
        if kind == _KEEP_STRING:
            if isinstance(value, str):
                out[name] = value
        elif kind == _KEEP_INT or kind == _KEEP_LATENCY:
            allowed = int if kind == _KEEP_INT else (int, float)
            if isinstance(value, allowed) and not isinstance(value, bool):
                out[name] = value
        elif kind == _KEEP_TRUE:
            if value is True:
                out[name] = True
        elif kind == _KEEP_LIST:
            if isinstance(value, list):
                out[name] = value
        else:
            out[name] = value
    return out


class TraceInput(Plain):
    """Everything a trace records about one decision."""

    __slots__ = _fields = (
        "intent_doc",
        "intent_digest",
        "args_digest",
        "policy_digest",
        "policy_id",
        "policy_version",
        "verdict",
        "violations",
        "created_at",
        "producer_version",
        "correlation_id",
        "latency_ms",
        "approval_token_ref",
        "step_verdicts",
        "script_hash",
        "step_count",
        "extra",
    )
    intent_doc: dict[str, Any]
    intent_digest: str
    args_digest: str
    policy_digest: str
    policy_id: str
    policy_version: str
    verdict: str
    violations: list[str]
    created_at: str
    producer_version: str
    correlation_id: str
    latency_ms: float
    approval_token_ref: str
    step_verdicts: list[dict[str, Any]]
    script_hash: str
    step_count: int
    # Boundary decisions recorded as they were made (``kill_switch``, ``mcp_trust``).
    extra: dict[str, Any]

    def __init__(
        self,
        intent_doc: dict[str, Any],
        intent_digest: str,
        args_digest: str,
        policy_digest: str,
        policy_id: str,
        policy_version: str,
        verdict: str,
        violations: list[str],
        created_at: str,
        producer_version: str,
        correlation_id: str = "",
        latency_ms: float = 0.0,
        approval_token_ref: str = "",
        step_verdicts: list[dict[str, Any]] | None = None,
        script_hash: str = "",
        step_count: int = 0,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.intent_doc = intent_doc
        self.intent_digest = intent_digest
        self.args_digest = args_digest
        self.policy_digest = policy_digest
        self.policy_id = policy_id
        self.policy_version = policy_version
        self.verdict = verdict
        self.violations = violations
        self.created_at = created_at
        self.producer_version = producer_version
        self.correlation_id = correlation_id
        self.latency_ms = latency_ms
        self.approval_token_ref = approval_token_ref
        self.step_verdicts = [] if step_verdicts is None else step_verdicts
        self.script_hash = script_hash
        self.step_count = step_count
        self.extra = {} if extra is None else extra


def now_observed() -> str:
    """Wall-clock time with nanoseconds, as the reference stamps ``observed_at``."""
    total = time.time_ns()
    seconds, nanos = divmod(total, 1_000_000_000)
    return timefmt.format_utc(datetime.fromtimestamp(seconds, UTC), nanos)


# Context copies the reference writes into a trace when the (prepared) intent has them; the
# plain context (identity, workspace, risk class, phase) has none, so most traces skip this.
_PLAIN_CONTEXT_SIZE = 4
_CONTEXT_COPIES = (
    "workflow_id",
    "repo",
    "credential_ref",
    "credential_source",
    "credential_access_type",
    "credential_issuer",
    "credential_subject",
    "credential_owner",
    "credential_target_binding",
    "credential_run_binding",
    "credential_job_binding",
    "credential_ttl_seconds",
    "approval_ref",
    "wrkr_inventory_ref",
    "agent_action_bom_ref",
    "agent_identity",
    "context_set_digest",
    "context_evidence_mode",
)
# Decision fields other than objects a trace takes from ``TraceInput.extra`` (issue 15).
_EXTRA_SCALARS = frozenset(
    {"context_source", "composite_risk_class", "pre_approved", "pattern_id", "registry_reason"}
)


def _context_copies(record: dict[str, Any], ctx: dict[str, Any]) -> None:
    for name in _CONTEXT_COPIES:
        if ctx.get(name):
            record[name] = ctx[name]
    if ctx.get("context_refs"):
        record["context_ref_count"] = len(ctx["context_refs"])


def build_trace(data: TraceInput, key: SigningKey, observed_at: str) -> dict[str, Any]:
    """The signed trace record for one decision."""
    trace_id = id24(f"{data.policy_digest}:{data.intent_digest}:{data.verdict}")
    ctx = data.intent_doc["context"]
    matched_rule_ids = sorted({s["matched_rule"] for s in data.step_verdicts if s["matched_rule"]})
    record: dict[str, Any] = {
        "schema_id": TRACE_SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "created_at": data.created_at,
        "observed_at": observed_at,
        "producer_version": data.producer_version,
        "trace_id": trace_id,
        "event_id": id24(f"{trace_id}:{observed_at}"),
    }
    if data.correlation_id:
        record["correlation_id"] = data.correlation_id
    record.update(
        tool_name=data.intent_doc["tool_name"],
        args_digest=data.args_digest,
        intent_digest=data.intent_digest,
        policy_digest=data.policy_digest,
    )
    for name in ("agent_id", "run_id", "environment"):
        if ctx.get(name):
            record[name] = ctx[name]
    if len(ctx) > _PLAIN_CONTEXT_SIZE:
        _context_copies(record, ctx)
    record["policy_id"] = data.policy_id
    record["policy_version"] = data.policy_version
    if matched_rule_ids:
        record["matched_rule_ids"] = matched_rule_ids
    record["verdict"] = data.verdict
    if data.script_hash:
        record["script"] = True
        record["step_count"] = data.step_count
        record["script_hash"] = data.script_hash
        record["step_verdicts"] = [
            {k: v for k, v in step.items() if v or k in ("index", "tool_name", "verdict")}
            for step in data.step_verdicts
        ]
    if data.violations:
        record["violations"] = sorted(set(data.violations))
    latency = round(max(data.latency_ms, 0.0), 6)
    if latency:
        record["latency_ms"] = latency
    if data.approval_token_ref:
        record["approval_token_ref"] = data.approval_token_ref
    for name in sorted(data.extra):
        value = data.extra[name]
        if value and (name in _TRACE_OBJECTS or name in _EXTRA_SCALARS):
            record[name] = value
    record["relationship"] = trace_relationship(
        intent_doc=data.intent_doc,
        trace_id=trace_id,
        policy_id=data.policy_id,
        policy_version=data.policy_version,
        policy_digest=data.policy_digest,
        matched_rule_ids=matched_rule_ids,
    )
    if data.intent_doc.get("skill_provenance"):
        record["skill_provenance"] = data.intent_doc["skill_provenance"]
    record["signature"] = sign_digest(key, digest(signable_trace(record)))
    return record


def approval_audit(
    *,
    created_at: str,
    producer_version: str,
    trace_id: str,
    tool_name: str,
    intent_digest: str,
    policy_digest: str,
    required: int,
    entries: list[dict[str, Any]],
) -> dict[str, Any]:
    """The reference's ``approval_audit_<trace_id>.json`` record (unsigned)."""
    valid = [e for e in entries if e.get("valid")]
    approvers = sorted({e["approver_identity"] for e in valid if e.get("approver_identity")})
    record: dict[str, Any] = {
        "schema_id": AUDIT_SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "created_at": created_at,
        "producer_version": producer_version,
        "trace_id": trace_id,
        "tool_name": tool_name,
        "intent_digest": intent_digest,
        "policy_digest": policy_digest,
        "required_approvals": required,
        "valid_approvals": len(valid),
        "approved": bool(valid) and len(valid) >= required,
    }
    if approvers:
        record["approvers"] = approvers
    record["relationship"] = audit_relationship(trace_id, tool_name, policy_digest, approvers)
    record["entries"] = entries
    return record


def write_json(path: Path, record: dict[str, Any], *, mode: int = 0o600) -> None:
    atomic_write(path, dumps_pretty(record), mode=mode)


# ---------------------------------------------------------------------------------------------
# The decision log.


# Temp files of the log's writers. Every write in a trace directory happens under its lock, so
# one fixed name per kind is enough: a writer that died between creating and renaming one leaves
# it for the next writer, which replaces it (no directory scan for leftovers per decision).
_TRACE_TEMP = ".decisions.trace.tmp"
_HEAD_TEMP = ".decisions.head.tmp"
# Unsynced head writes (the decision service) rewrite the record the last exchange swapped out,
# kept under this name, instead of creating a temp file and deleting the old record per decision.
_HEAD_SPARE = ".decisions.head.spare"


class _locked:  # lower case: used as the function it was, ``with _locked(directory):``
    """``fsutil.file_lock`` on a trace directory's decision log; failing to take it is
    ``TraceUnwritable`` (a decision that cannot be logged is not made). A class, not a
    ``contextlib.contextmanager``: a gate decision process does not import contextlib."""

    __slots__ = ("_directory", "_lock")

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def __enter__(self) -> None:
        lock = file_lock(self._directory / _LOG_LOCK)
        try:
            lock.__enter__()
        except OSError as exc:
            raise TraceUnwritable(
                f"cannot lock decision log in {self._directory}: {exc.strerror}",
                code="E_TRACE_UNWRITABLE",
            ) from exc
        self._lock = lock

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        self._lock.__exit__(kind, error, tb)


# The last line this process appended to each decision log, by the log's (st_dev, st_ino), with
# its seq and digest: the next decision checks that the log still ends with exactly that line
# (one small read) instead of re-reading and parsing the log's tail. A log another writer
# appended to, or anything else, takes the full path. Only touched under the log's lock.
_HEADS: dict[tuple[int, int], tuple[bytes, int, str]] = {}


def _chain_head(log_path: Path) -> tuple[int, str]:
    """(sequence, line digest) of the log's last entry; (0, "") for a new log."""
    try:
        fd = os.open(log_path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return 0, ""
    except OSError as exc:
        raise TraceUnwritable(
            f"cannot read decision log {log_path}: {exc.strerror}", code="E_TRACE_UNWRITABLE"
        ) from exc
    try:
        info = os.fstat(fd)
        size = info.st_size
        known = _HEADS.get((info.st_dev, info.st_ino))
        if known is not None:
            line, seq, line_digest = known
            if size >= len(line) and os.pread(fd, len(line), size - len(line)) == line:
                return seq, line_digest
        tail = b""
        chunk = 4096
        while size:
            chunk = min(size, chunk)
            tail = os.pread(fd, chunk, size - chunk)
            # enough once a line break precedes the last line (or the file starts here)
            if chunk == size or b"\n" in tail.rstrip():
                break
            chunk *= 8
    except OSError as exc:
        raise TraceUnwritable(
            f"cannot read decision log {log_path}: {exc.strerror}", code="E_TRACE_UNWRITABLE"
        ) from exc
    finally:
        os.close(fd)
    lines = [line for line in tail.splitlines() if line.strip()]
    if not lines:
        return 0, ""
    last = loads_strict(lines[-1], what="decision log", code="E_TRACE_LOG_CORRUPT")
    body = {k: v for k, v in last.items() if k != "signature"}
    return int(last.get("seq", 0)), digest(body)


def _swap_spare(path: Path, spare: Path, data: bytes) -> bool:
    """Write ``data`` into ``spare`` (the record the previous exchange swapped out, or a new
    file) and exchange it with ``path``; False (``path`` untouched) if the spare is unusable.

    Why not a new temp file per write: on ext4 without a journal, every inode freed in the last
    minute (five if its table block is dirty) is skipped, one by one, by each later file
    creation in its group, so deleting the old record per decision made every trace file
    creation slower the longer the service ran (most of its system time at 600 decisions/s).
    Two inodes swapped back and forth free nothing. The spare is ours alone: a regular file
    with one link owned by this user, else it is removed and the caller takes the temp path.
    """
    flags = os.O_WRONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        try:
            fd = os.open(spare, flags)
        except FileNotFoundError:
            fd = os.open(spare, flags | os.O_CREAT | os.O_EXCL, 0o600)
            os.fchmod(fd, 0o600)  # the umask may have narrowed it; never widened
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_uid != os.geteuid():
                os.unlink(spare)
                return False
            view = memoryview(data)
            offset = 0
            while offset < len(view):
                offset += os.pwrite(fd, view[offset:], offset)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)
    except OSError:
        return False
    if not _exchange(spare, path):
        os.replace(spare, path)  # no record yet, or no exchange here
    return True


def record_decision(
    *,
    directory: Path,
    trace: dict[str, Any],
    trace_path: Path | None,
    reason_codes: Sequence[str],
    matched_rules: Sequence[str],
    key: SigningKey,
    sync: bool = True,
) -> Path:
    """Write the trace (unique name unless ``trace_path``) and append its signed log line.

    ``sync=False`` leaves the fsyncs to a caller that syncs the file system in batches (the
    decision service's group commit); the order of the steps, and so what a crash leaves, is
    the same either way.
    """
    trace_bytes = dumps_pretty(trace)
    log_path = directory / DECISION_LOG
    with _locked(directory):
        seq, prev = _chain_head(log_path)
        seq += 1
        path = trace_path or directory / f"trace_{trace['trace_id']}_{seq:06d}.json"
        try:
            replace_with(path, trace_bytes, mode=0o600, sync=sync, temp=directory / _TRACE_TEMP)
        except OSError as exc:
            raise TraceUnwritable(
                f"cannot write {path}: {exc.strerror}", code="E_TRACE_UNWRITABLE"
            ) from exc
        try:
            relative = os.path.relpath(path, directory)
        except ValueError:
            relative = str(path)
        entry: dict[str, Any] = {
            "schema_id": LOG_SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "seq": seq,
            "observed_at": trace["observed_at"],
            "trace_id": trace["trace_id"],
            "event_id": trace["event_id"],
            "trace_file": relative.replace(os.sep, "/"),
            "trace_sha256": sha256(trace_bytes).hexdigest(),
            "verdict": trace["verdict"],
            "reason_codes": sorted(set(reason_codes)),
            "matched_rules": sorted(set(matched_rules)),
            "prev_digest": prev,
        }
        entry_digest = digest(entry)
        entry["signature"] = sign_digest(key, entry_digest)
        line = canonical_bytes(entry) + b"\n"
        try:
            fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                written = os.write(fd, line)
                if sync:
                    os.fsync(fd)
                after = os.fstat(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise TraceUnwritable(
                f"cannot append to {log_path}: {exc.strerror}", code="E_TRACE_UNWRITABLE"
            ) from exc
        if written == len(line):
            _HEADS[(after.st_dev, after.st_ino)] = (line, seq, entry_digest)
        # The log line above is the commit point; the head only lags if we die right here.
        head: dict[str, Any] = {
            "schema_id": HEAD_SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "seq": seq,
            "last_digest": entry_digest,
        }
        head["signature"] = sign_digest(key, digest(head))
        head_bytes = canonical_bytes(head) + b"\n"
        head_path = directory / DECISION_HEAD
        try:  # the decision stands if this fails; verify reports a stale head
            if sync or not _swap_spare(head_path, directory / _HEAD_SPARE, head_bytes):
                replace_with(
                    head_path,
                    head_bytes,
                    mode=0o600,
                    sync=sync,
                    temp=directory / _HEAD_TEMP,
                    exchange=not sync,  # no rename over it: ext4 would flush it (fsutil)
                )
        except OSError:
            pass
    return path


# Verification (``gait trace verify``, ``gait verify chain``) is gait.gate.trace_verify's: a
# process that decides does not load it (issue 16 item 6). Its names are read through here too.
_VERIFICATION = frozenset({"TraceCheck", "ChainReport", "verify_trace_file", "verify_directory"})


def __getattr__(name: str) -> Any:
    if name in _VERIFICATION:
        from gait.gate import trace_verify

        return getattr(trace_verify, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "TraceInput",
    "approval_audit",
    "build_trace",
    "now_observed",
    "record_decision",
    "signable_trace",
    "verify_directory",
    "verify_trace_file",
    "write_json",
]
