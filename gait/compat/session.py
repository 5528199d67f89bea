"""``run_session``: every gated attempt inside the block becomes one step of a runpack.

The record input has the reference SDK's shape (digest-free intents and results, the payloads
under ``normalization``, one ``gait.trace`` receipt per attempt), so the same input makes the
same runpack whether it is recorded in-process (the default) or by ``<gait_bin> run record``.
"""

from __future__ import annotations

import platform
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from gait.compat.client import _json_ready, record_runpack
from gait.compat.models import GateEvalResult, IntentRequest, RunRecordCapture
from gait.openscopes import OpenScopes

_ACTIVE: ContextVar[RunSession | None] = ContextVar("gait_active_run_session", default=None)
_CALL_KEY: ContextVar[str | None] = ContextVar("gait_session_call_key", default=None)


_OPEN: OpenScopes[RunSession] = OpenScopes()


def get_active_run_session() -> RunSession | None:
    """The session of this context; in a thread started without it, the process's one open
    session (``gait.openscopes``: the reference SDK drops such calls from its runpack)."""
    session = _ACTIVE.get()
    return session if session is not None else _OPEN.sole()


@contextmanager
def turn_call(call_key: str, turn_keys: Sequence[str] = ()) -> Iterator[None]:
    """Attempts recorded inside are the call ``call_key`` of a model turn that asked for
    ``turn_keys`` (in the model's order, announced to the active session): the session lists
    its attempts in that order, however the framework scheduled the calls."""
    session = _ACTIVE.get()
    if session is not None and turn_keys:
        session.expect(turn_keys)
    token = _CALL_KEY.set(call_key or None)
    try:
        yield
    finally:
        _CALL_KEY.reset(token)


def run_session(
    *,
    run_id: str,
    gait_bin: str | list[str] | None = None,
    out_dir: str | Path = "gait-out",
    cwd: str | Path | None = None,
    capture_mode: str = "reference",
    include_raw_payload: bool = False,
    producer_version: str = "0.0.0-dev",
    context_evidence_mode: str | None = None,
    context_envelope: str | Path | None = None,
) -> RunSession:
    return RunSession(
        run_id=run_id,
        gait_bin=gait_bin,
        out_dir=out_dir,
        cwd=cwd,
        capture_mode=capture_mode,
        include_raw_payload=include_raw_payload,
        producer_version=producer_version,
        context_evidence_mode=context_evidence_mode,
        context_envelope=context_envelope,
    )


@dataclass(slots=True, frozen=True)
class RunAttempt:
    intent_id: str
    tool_name: str
    verdict: str
    executed: bool
    status: str


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _session_json(value: Any) -> Any:
    return _json_ready(value, "run session payloads")


class RunSession:
    """Collects attempts (``ToolAdapter.execute`` records into the active session) and writes
    them as one runpack when the block ends."""

    def __init__(
        self,
        *,
        run_id: str,
        gait_bin: str | list[str] | None = None,
        out_dir: str | Path = "gait-out",
        cwd: str | Path | None = None,
        capture_mode: str = "reference",
        include_raw_payload: bool = False,
        producer_version: str = "0.0.0-dev",
        context_evidence_mode: str | None = None,
        context_envelope: str | Path | None = None,
    ) -> None:
        if not run_id.strip():
            raise ValueError("run_id is required")
        if capture_mode not in {"reference", "raw"}:
            raise ValueError("capture_mode must be 'reference' or 'raw'")
        self.run_id = run_id.strip()
        self.gait_bin = gait_bin
        self.out_dir = out_dir
        self.cwd = cwd
        self.capture_mode = capture_mode
        self.include_raw_payload = include_raw_payload
        self.producer_version = producer_version
        self.context_evidence_mode = context_evidence_mode
        self.context_envelope = context_envelope
        self._token: Token[RunSession | None] | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._capture: RunRecordCapture | None = None
        self._record_input: dict[str, Any] | None = None
        self._started_at = _now()
        self._timeline: list[dict[str, Any]] = [
            {"event": "run_started", "ts": _stamp(self._started_at)}
        ]
        self._intents: list[dict[str, Any]] = []
        self._results: list[dict[str, Any]] = []
        self._receipts: list[dict[str, Any]] = []
        self._attempts: list[RunAttempt] = []
        self._number = 0  # the last intent number given out
        self._expected: dict[str, int] = {}  # a turn's call key -> the number kept for it
        self._places: list[int] = []  # each recorded attempt's number, for finalize's order
        self._context_set_digest: str | None = None
        self._evidence_mode: str | None = context_evidence_mode
        self._context_refs: list[str] = []
        self._intent_args: dict[str, Any] = {}
        self._result_payloads: dict[str, Any] = {}

    def __enter__(self) -> RunSession:
        self._token = _ACTIVE.set(self)
        _OPEN.enter(self)
        return self

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> Literal[False]:
        try:
            self.finalize()
        finally:
            _OPEN.exit(self)
            if self._token is not None:
                _ACTIVE.reset(self._token)
                self._token = None
        return False

    @property
    def capture(self) -> RunRecordCapture | None:
        return self._capture

    @property
    def record_input(self) -> dict[str, Any] | None:
        return self._record_input

    @property
    def attempts(self) -> list[RunAttempt]:
        return list(self._attempts)

    def expect(self, call_keys: Sequence[str]) -> None:
        """Keep intent numbers for a model turn's calls, in the model's order (see
        ``turn_call``); keys seen before are ignored."""
        with self._lock:
            for key in call_keys:
                if isinstance(key, str) and key and key not in self._expected:
                    self._number += 1
                    self._expected[key] = self._number

    def record_attempt(
        self,
        *,
        intent: IntentRequest,
        decision: GateEvalResult,
        executed: bool,
        result: Any | None = None,
        error: BaseException | None = None,
    ) -> None:
        with self._lock:  # parallel tool calls (a LangGraph ToolNode runs them in threads)
            self._record(intent, decision, executed, result, error)

    def _record(
        self,
        intent: IntentRequest,
        decision: GateEvalResult,
        executed: bool,
        result: Any | None,
        error: BaseException | None,
    ) -> None:
        if self._closed:
            raise RuntimeError("run session already finalized")
        kept = self._expected.pop(_CALL_KEY.get() or "", None)
        if kept is None:
            self._number += 1
            kept = self._number
        self._places.append(kept)
        intent_id = f"intent_{kept:04d}"
        stamp = _stamp(_now())
        args = _session_json(intent.args)
        ctx = intent.context
        if ctx.context_set_digest and not self._context_set_digest:
            self._context_set_digest = str(ctx.context_set_digest)
        if ctx.context_evidence_mode and not self._evidence_mode:
            self._evidence_mode = str(ctx.context_evidence_mode)
        for ref in ctx.context_refs:
            text = str(ref).strip()
            if text and text not in self._context_refs:
                self._context_refs.append(text)
        raw = self.capture_mode == "raw" and self.include_raw_payload
        envelope = {
            "schema_version": "1.0.0",
            "created_at": stamp,
            "producer_version": self.producer_version,
            "run_id": self.run_id,
            "intent_id": intent_id,
        }
        intent_record: dict[str, Any] = {
            "schema_id": "gait.runpack.intent",
            **envelope,
            "tool_name": intent.tool_name,
        }
        if intent.args_digest:
            intent_record["args_digest"] = intent.args_digest
        if raw:
            intent_record["args"] = args
        verdict = decision.verdict or "unknown"
        status = _status(verdict, executed, error)
        intent_digest = decision.intent_digest or intent.intent_digest
        payload: dict[str, Any] = {
            "executed": executed,
            "verdict": verdict,
            "reason_codes": decision.reason_codes,
            "trace_id": decision.trace_id,
            "trace_path": decision.trace_path,
            "policy_digest": decision.policy_digest,
            "intent_digest": intent_digest,
        }
        if error is not None:
            payload["error"] = str(error)
        if executed and result is not None:
            payload["result"] = _session_json(result)
        payload = _session_json(payload)
        result_record: dict[str, Any] = {
            "schema_id": "gait.runpack.result",
            **envelope,
            "status": status,
        }
        if raw:
            result_record["result"] = payload
        self._intent_args[intent_id] = args
        self._result_payloads[intent_id] = payload
        self._intents.append(intent_record)
        self._results.append(result_record)
        self._receipts.append(
            {
                "ref_id": f"trace_{intent_id}",
                "source_type": "gait.trace",
                "source_locator": decision.trace_path
                or f"trace://{decision.trace_id or intent_id}",
                "retrieved_at": stamp,
                "redaction_mode": self.capture_mode,
                "retrieval_params": {
                    "verdict": verdict,
                    "reason_codes": list(decision.reason_codes),
                },
            }
        )
        self._timeline.append({"event": "intent_captured", "ts": stamp, "ref": intent_id})
        self._timeline.append({"event": "result_captured", "ts": stamp, "ref": intent_id})
        self._attempts.append(
            RunAttempt(
                intent_id=intent_id,
                tool_name=intent.tool_name,
                verdict=verdict,
                executed=executed,
                status=status,
            )
        )

    def _in_order(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One record per attempt, in intent-number order (the model's, for announced turns)."""
        pairs = sorted(zip(self._places, records, strict=True), key=lambda pair: pair[0])
        return [record for _, record in pairs]

    def finalize(self) -> RunRecordCapture:
        """Write the runpack (once); later calls return the same capture."""
        if self._capture is not None:
            return self._capture
        from gait.compat.traces import warn_unwritten

        warn_unwritten()  # the receipts below name traces: have them on disk first
        finished = _stamp(_now())
        self._timeline.append({"event": "run_finished", "ts": finished})
        head = {
            "schema_version": "1.0.0",
            "producer_version": self.producer_version,
            "run_id": self.run_id,
        }
        refs: dict[str, Any] = {
            "schema_id": "gait.runpack.refs",
            **head,
            "created_at": finished,
            "receipts": self._in_order(self._receipts),
        }
        if self._context_set_digest:
            refs["context_set_digest"] = self._context_set_digest
        if self._evidence_mode:
            refs["context_evidence_mode"] = self._evidence_mode
        if self._context_refs:
            refs["context_ref_count"] = len(self._context_refs)
        record_input: dict[str, Any] = {
            "run": {
                "schema_id": "gait.runpack.run",
                **head,
                "created_at": _stamp(self._started_at),
                "env": {
                    "os": platform.system().lower().strip() or sys.platform or "unknown",
                    "arch": platform.machine().lower(),
                    "runtime": f"python{sys.version_info.major}.{sys.version_info.minor}",
                },
                "timeline": list(self._timeline),
            },
            "intents": self._in_order(self._intents),
            "results": self._in_order(self._results),
            "refs": refs,
            "capture_mode": self.capture_mode,
        }
        normalization: dict[str, Any] = {}
        if self._intent_args:
            normalization["intent_args"] = dict(self._intent_args)
        if self._result_payloads:
            normalization["result_payloads"] = dict(self._result_payloads)
        if normalization:
            record_input["normalization"] = normalization
        self._record_input = record_input
        self._capture = record_runpack(
            record_input=record_input,
            gait_bin=self.gait_bin,
            cwd=self.cwd,
            out_dir=self.out_dir,
            capture_mode=self.capture_mode,
            context_evidence_mode=self._evidence_mode,
            context_envelope=self.context_envelope,
        )
        self._closed = True
        return self._capture


def _status(verdict: str, executed: bool, error: BaseException | None) -> str:
    """The reference's attempt status: ok, error, or the verdict that stopped the call."""
    if error is not None:
        return "error"
    if executed:
        return "ok"
    return verdict or "blocked"
