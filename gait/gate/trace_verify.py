"""Checking gate traces and the decision log (``gait trace verify``, ``gait verify chain``).

Split from gait.gate.trace, whose names these still are (``gait.gate.trace.verify_directory``
...), so that a process that only decides does not load them (issue 16 item 6).
"""

from __future__ import annotations

from pathlib import Path

from gait.canon import digest, loads_strict
from gait.gate.trace import (
    DECISION_HEAD,
    DECISION_LOG,
    HEAD_SCHEMA_ID,
    TRACE_SCHEMA_ID,
    signable_trace,
)
from gait.plain import Plain
from gait.sha import sha256
from gait.sign.signature import check_signature

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from gait.sign.keys import VerifyKey


class TraceCheck(Plain):
    """One trace file's verification result, reported rather than raised."""

    __slots__ = _fields = ("path", "ok", "trace_id", "verdict", "key_id", "error", "skipped")
    path: str
    ok: bool
    trace_id: str
    verdict: str
    key_id: str
    error: str
    skipped: bool

    def __init__(
        self,
        path: str,
        ok: bool,
        trace_id: str = "",
        verdict: str = "",
        key_id: str = "",
        error: str = "",
        skipped: bool = False,
    ) -> None:
        self.path = path
        self.ok = ok
        self.trace_id = trace_id
        self.verdict = verdict
        self.key_id = key_id
        self.error = error
        self.skipped = skipped


def verify_trace_file(path: Path, keys: Sequence[VerifyKey], *, explicit: bool) -> TraceCheck:
    """Check one trace's signature over its re-read fields."""
    shown = str(path)
    try:
        raw = loads_strict(path.read_bytes(), what=f"trace {path}", code="E_TRACE_INVALID")
    except OSError as exc:
        return TraceCheck(shown, False, error=f"cannot read: {exc.strerror}")
    except Exception as exc:  # noqa: BLE001 - any unreadable trace is a failed check
        return TraceCheck(shown, False, error=str(getattr(exc, "message", exc)))
    if not isinstance(raw, dict) or raw.get("schema_id") != TRACE_SCHEMA_ID:
        return TraceCheck(shown, False, error="not a gait.gate.trace record")
    raw_id, raw_verdict = raw.get("trace_id"), raw.get("verdict")
    trace_id = raw_id if isinstance(raw_id, str) else ""
    verdict = raw_verdict if isinstance(raw_verdict, str) else ""
    signature = raw.get("signature")
    if signature is None:
        return TraceCheck(shown, False, trace_id, verdict, error="trace signature missing")
    try:
        body = signable_trace(raw)
        check = check_signature(signature, digest(body), keys, explicit=explicit)
    except Exception as exc:  # noqa: BLE001 - malformed fields fail the check, never crash
        return TraceCheck(shown, False, trace_id, verdict, error=str(getattr(exc, "message", exc)))
    return TraceCheck(shown, check.ok, trace_id, verdict, check.key_id, check.error, check.skipped)


class ChainReport(Plain):
    """The decision log checked against its traces: every problem, not just the first."""

    __slots__ = _fields = ("ok", "entries", "traces_checked", "problems", "checks", "warnings")
    ok: bool
    entries: int
    traces_checked: int
    problems: list[dict[str, str]]
    checks: list[TraceCheck]
    # Not failures: a trace written by a decision that died before its log line (the commit
    # point) never happened as far as the log is concerned.
    warnings: list[dict[str, str]]

    def __init__(
        self,
        ok: bool,
        entries: int = 0,
        traces_checked: int = 0,
        problems: list[dict[str, str]] | None = None,
        checks: list[TraceCheck] | None = None,
        warnings: list[dict[str, str]] | None = None,
    ) -> None:
        self.ok = ok
        self.entries = entries
        self.traces_checked = traces_checked
        self.problems = [] if problems is None else problems
        self.checks = [] if checks is None else checks
        self.warnings = [] if warnings is None else warnings


def _check_head(
    directory: Path,
    digests: dict[int, str],
    keys: Sequence[VerifyKey],
    explicit: bool,
    problems: list[dict[str, str]],
) -> None:
    """The log must reach the signed head: a shorter log lost its last entries."""
    head_path = directory / DECISION_HEAD
    if not head_path.exists():
        return
    try:
        head = loads_strict(head_path.read_bytes(), what="log head", code="E_TRACE_LOG_CORRUPT")
        if not isinstance(head, dict) or head.get("schema_id") != HEAD_SCHEMA_ID:
            raise ValueError("not a decision log head record")
        body = {k: v for k, v in head.items() if k != "signature"}
        sig = check_signature(head.get("signature"), digest(body), keys, explicit=explicit)
        seq = head.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise ValueError("head seq is not an integer")
    except Exception as exc:  # noqa: BLE001 - an unreadable head is a finding, not a crash
        problems.append(
            {
                "kind": "log_head_invalid",
                "path": DECISION_HEAD,
                "detail": str(getattr(exc, "message", exc)),
            }
        )
        return
    if not sig.ok:
        problems.append({"kind": "log_head_signature", "path": DECISION_HEAD, "detail": sig.error})
        return
    last = max(digests, default=0)
    if seq > last:
        problems.append(
            {
                "kind": "log_truncated",
                "path": DECISION_LOG,
                "detail": f"the signed head records entry {seq} but the log ends at {last} "
                "(its last entries were removed)",
            }
        )
    elif digests.get(seq) != head.get("last_digest"):
        problems.append(
            {
                "kind": "log_truncated",
                "path": DECISION_LOG,
                "detail": f"entry {seq} differs from the one the signed head records",
            }
        )


def verify_directory(directory: Path, keys: Sequence[VerifyKey], *, explicit: bool) -> ChainReport:
    """Check every trace's signature and the decision log's chain; name what is wrong."""
    report = ChainReport(ok=True)
    problems = report.problems
    trace_files = sorted(p for p in directory.glob("trace_*.json") if p.is_file())
    for path in trace_files:
        check = verify_trace_file(path, keys, explicit=explicit)
        report.checks.append(check)
        if not check.ok:
            problems.append(
                {
                    "kind": "signature",
                    "path": path.name,
                    "detail": check.error or "signature invalid",
                }
            )
    report.traces_checked = len(trace_files)
    log_path = directory / DECISION_LOG
    logged: set[str] = set()
    digests: dict[int, str] = {}
    if log_path.exists():
        prev = ""
        expected_seq = 1
        for number, line in enumerate(log_path.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            report.entries += 1
            try:
                entry = loads_strict(line, what="decision log line", code="E_TRACE_LOG_CORRUPT")
            except Exception as exc:  # noqa: BLE001
                problems.append(
                    {
                        "kind": "log_line_invalid",
                        "path": DECISION_LOG,
                        "detail": f"line {number}: {getattr(exc, 'message', exc)}",
                    }
                )
                prev = ""
                continue
            body = (
                {k: v for k, v in entry.items() if k != "signature"}
                if isinstance(entry, dict)
                else {}
            )
            line_digest = digest(body) if body else ""
            sig = (
                check_signature(entry.get("signature"), line_digest, keys, explicit=explicit)
                if body
                else None
            )
            if sig is None or not sig.ok:
                problems.append(
                    {
                        "kind": "log_signature",
                        "path": DECISION_LOG,
                        "detail": f"line {number}: {sig.error if sig else 'not an object'}",
                    }
                )
            if body.get("prev_digest", None) != prev:
                problems.append(
                    {
                        "kind": "log_chain_broken",
                        "path": DECISION_LOG,
                        "detail": f"line {number}: previous-line digest does not "
                        "match (a line was removed, reordered or edited)",
                    }
                )
            if body.get("seq") != expected_seq:
                problems.append(
                    {
                        "kind": "log_sequence",
                        "path": DECISION_LOG,
                        "detail": f"line {number}: seq {body.get('seq')} != {expected_seq}",
                    }
                )
            seq = body.get("seq")
            expected_seq = (seq if isinstance(seq, int) else expected_seq) + 1
            prev = line_digest
            if isinstance(body.get("seq"), int):
                digests[body["seq"]] = line_digest
            name = body.get("trace_file")
            if not isinstance(name, str):
                continue
            logged.add(name)
            target = directory / name
            if not target.exists():
                problems.append(
                    {
                        "kind": "trace_missing",
                        "path": name,
                        "detail": f"logged at line {number} (trace "
                        f"{body.get('trace_id')}) but the file is gone",
                    }
                )
                continue
            actual = sha256(target.read_bytes()).hexdigest()
            if actual != body.get("trace_sha256"):
                problems.append(
                    {
                        "kind": "trace_altered",
                        "path": name,
                        "detail": f"sha256 differs from the log (line {number})",
                    }
                )
        _check_head(directory, digests, keys, explicit, problems)
    else:
        problems.append(
            {
                "kind": "log_missing",
                "path": DECISION_LOG,
                "detail": "no decision log in this directory",
            }
        )
    for path in trace_files:
        if path.name not in logged and log_path.exists():
            report.warnings.append(
                {
                    "kind": "trace_uncommitted",
                    "path": path.name,
                    "detail": "trace has no decision-log line (its decision did not complete); "
                    "it is not part of the record",
                }
            )
    report.ok = not problems
    return report
