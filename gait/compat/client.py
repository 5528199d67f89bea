"""The reference SDK's client functions, decided and recorded in-process by default.

Every function keeps the reference's keyword-only signature. Without ``gait_bin`` (the default
here, ``"gait"`` there) the work is done in this process by this project's gate, recorder and
regress core: a gate decision costs microseconds instead of a process. With ``gait_bin`` the
call runs that binary exactly as the reference SDK does (same argv, same JSON parsing, same
errors), so code and tests that point at a particular binary keep their behaviour.

Errors raised in-process carry the same types as over a process: ``GaitCommandError`` with the
CLI contract's exit code, the JSON error document the CLI would have printed as ``stdout``, and
the stable ``E_*`` code as ``code``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # nosec B404 - the gait_bin path runs the binary the caller named
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gait.canon import dumps_pretty
from gait.compat.environ import getenv as env
from gait.compat.models import (
    DemoCapture,
    GateEvalResult,
    IntentArgProvenance,
    IntentContext,
    IntentRequest,
    IntentScript,
    IntentTarget,
    RegressInitResult,
    RunRecordCapture,
    TraceRecord,
)
from gait.fsutil import scratch

DEFAULT_COMMAND_TIMEOUT_SECONDS = 30.0
GaitBin = str | Sequence[str] | None


class GaitError(RuntimeError):
    """Base error of the reference SDK API."""

    code: str = ""


class GaitCommandError(GaitError):
    """A gait command (a process, or its in-process equivalent) failed."""

    def __init__(
        self,
        message: str,
        *,
        command: Sequence[str],
        exit_code: int,
        stdout: str,
        stderr: str,
        code: str = "",
    ) -> None:
        super().__init__(message)
        self.command = list(command)
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.code = code


@dataclass(slots=True, frozen=True)
class _CommandResult:
    command: list[str]
    exit_code: int
    stdout: str
    stderr: str


def capture_intent(
    *,
    tool_name: str,
    args: Mapping[str, Any],
    context: IntentContext,
    targets: Sequence[IntentTarget] | None = None,
    arg_provenance: Sequence[IntentArgProvenance] | None = None,
    script: IntentScript | None = None,
    created_at: datetime | None = None,
    producer_version: str = "0.0.0-dev",
) -> IntentRequest:
    """An ``IntentRequest`` from its parts (nothing is evaluated yet)."""
    return IntentRequest(
        tool_name=tool_name,
        args=dict(args),
        context=context,
        targets=list(targets or ()),
        arg_provenance=list(arg_provenance or ()),
        script=script,
        created_at=created_at or datetime.now(UTC),
        producer_version=producer_version,
    )


# --- in-process plumbing ---------------------------------------------------------------------


def _in(cwd: str | Path | None, path: str | Path | None) -> Path | None:
    """``path`` as the binary would see it when run in ``cwd``."""
    if path is None:
        return None
    target = Path(path)
    if cwd is not None and not target.is_absolute():
        return Path(cwd) / target
    return target


def _describe(*argv: Any) -> list[str]:
    """The command line an in-process call stands for (for messages and ``.command``)."""
    return ["gait", *(str(a) for a in argv if a is not None)]


def _command_error(exc: Exception, command: list[str]) -> GaitCommandError:
    """A ``GaitCommandError`` for an error raised by this project's core."""
    from gait.errors import GaitError as CoreError

    if isinstance(exc, CoreError):
        doc: dict[str, Any] = {
            "ok": False,
            "error": exc.message,
            "error_code": exc.code,
            "error_category": exc.category,
        }
        if exc.hint:
            doc["hint"] = exc.hint
        return GaitCommandError(
            exc.message,
            command=command,
            exit_code=int(exc.exit_code),
            stdout=json.dumps(doc, sort_keys=True),
            stderr="",
            code=exc.code,
        )
    message = f"{type(exc).__name__}: {exc}"
    return GaitCommandError(
        message,
        command=command,
        exit_code=1,
        stdout=json.dumps({"ok": False, "error": message, "error_code": "E_INTERNAL"}),
        stderr="",
        code="E_INTERNAL",
    )


class _GateCache:
    """Compiled gates by what shapes one: policy path, key, mode, key variables, GAIT_HOME.

    Each hit stats the policy file and rebuilds the gate when its mtime, size or inode
    changed, so an edited policy is picked up by the next decision without reloading anything;
    a hit costs one ``stat``, not a parse.
    """

    def __init__(self) -> None:
        self._gates: dict[tuple[Any, ...], tuple[Any, str, tuple[int, int, int]]] = {}
        self._lock = threading.Lock()

    def hit(self, key: tuple[Any, ...]) -> Any:
        """The cached gate for ``key`` if its policy file is unchanged, else ``None``."""
        entry = self._gates.get(key)
        if entry is not None:
            gate, path, signature = entry
            try:
                info = os.stat(path)
            except OSError:
                return None
            if signature == (info.st_mtime_ns, info.st_size, info.st_ino):
                return gate
        return None

    def get(self, key: tuple[Any, ...], policy: Any, build: Any) -> Any:
        """The gate for ``key``; ``policy()`` gives the policy file's absolute path."""
        gate = self.hit(key)
        if gate is not None:
            return gate
        with self._lock:
            policy = policy()
            try:
                info = os.stat(policy)
                signature = (info.st_mtime_ns, info.st_size, info.st_ino)
            except OSError:
                signature = (-1, -1, -1)
            gate = build()
            if signature[0] != -1:  # an unreadable policy is re-read on every decision
                if len(self._gates) > 64:
                    self._gates.clear()
                self._gates[key] = (gate, policy, signature)
            return gate


_GATES = _GateCache()


def _open_gate(
    policy_path: str | Path,
    cwd: str | Path | None,
    key_mode: str,
    private_key: str | Path | None,
    private_key_env: str | None,
    approval_public_key: str | Path | None,
    approval_public_key_env: str | None,
    trace_dir: str | Path,
    approval_private_key: str | Path | None = None,
    approval_private_key_env: str | None = None,
) -> Any:
    # Relative paths resolve against cwd (or the process's working directory), so that is
    # part of the key; so are the key variables' values and GAIT_HOME (the dev key's home).
    where = cwd if cwd is not None else os.getcwd()
    if (
        private_key is None
        and private_key_env is None
        and approval_public_key is None
        and approval_public_key_env is None
        and approval_private_key is None
        and approval_private_key_env is None
    ):  # the usual adapter: a shorter key (its length tells the two shapes apart)
        key: tuple[Any, ...] = (policy_path, where, key_mode, trace_dir, env("GAIT_HOME"))
    else:
        key = (
            policy_path,
            where,
            key_mode,
            private_key,
            private_key_env,
            env(private_key_env) if private_key_env else None,
            approval_public_key,
            approval_public_key_env,
            env(approval_public_key_env) if approval_public_key_env else None,
            approval_private_key,
            approval_private_key_env,
            env(approval_private_key_env) if approval_private_key_env else None,
            trace_dir,
            env("GAIT_HOME"),
        )
    entry = _GATES._gates.get(key)  # _GATES.hit, inlined: this runs on every decision
    if entry is not None:
        try:
            info = os.stat(entry[1])
        except OSError:
            pass
        else:
            if entry[2] == (info.st_mtime_ns, info.st_size, info.st_ino):
                return entry[0]

    def policy() -> Path:
        return _in(cwd, policy_path) or Path(policy_path)

    def build() -> Any:
        # hashlib loaded makes gait.sha hash with OpenSSL: its SHA-256 takes a third of the
        # time of CPython's own on a decision's few hundred bytes (intent digest, trace id).
        # A one-shot CLI process skips that import (gait.sha); an SDK process makes many
        # decisions and pays it once, here, with the first gate it opens.
        import argparse
        import hashlib  # noqa: F401

        from gait.compat.traces import defer_traces
        from gait.gate.engine import open_gate
        from gait.sign.keyring import resolve_signing_key, verify_key_of

        signing = _in(cwd, private_key)
        args = argparse.Namespace(
            key_mode=key_mode,
            private_key=str(signing) if signing else None,
            private_key_env=private_key_env,
        )

        def resolve_key() -> tuple[Any, list[str]]:
            signing_key, _, warnings = resolve_signing_key(args)
            return signing_key, warnings

        approval_path = _in(cwd, approval_public_key)
        approval_private = _in(cwd, approval_private_key)
        # the reference derives the verify key from an approval private key when given one
        approval = verify_key_of(
            str(approval_path) if approval_path else None,
            approval_public_key_env,
            str(approval_private) if approval_private else None,
            approval_private_key_env,
            "approval",
        )
        gate = open_gate(
            policy(),
            mode=key_mode,
            resolve_key=resolve_key,
            approval_keys=[approval] if approval is not None else None,
            # Absolute: the background writer must not follow a later chdir.
            trace_dir=Path(os.path.abspath(_in(cwd, trace_dir) or Path(trace_dir))),
        )
        return defer_traces(gate)

    return _GATES.get(key, lambda: os.path.abspath(policy()), build)


def _read_token(path: Path) -> Any:
    """A decoded approval token; an unreadable one is ``None`` (invalid, never an allow)."""
    from gait.canon import loads_strict
    from gait.errors import GaitError as CoreError

    try:
        return loads_strict(path.read_bytes(), what=f"approval token {path}")
    except (OSError, CoreError):
        return None


def gate_decision(
    intent: IntentRequest | Mapping[str, Any],
    *,
    policy_path: str | Path,
    cwd: str | Path | None = None,
    trace_out: str | Path | None = None,
    approval_token: str | Path | Sequence[str | Path] | None = None,
    key_mode: str = "dev",
    private_key: str | Path | None = None,
    private_key_env: str | None = None,
    approval_public_key: str | Path | None = None,
    approval_public_key_env: str | None = None,
    trace_dir: str | Path = "gait-out/traces",
    approval_private_key: str | Path | None = None,
    approval_private_key_env: str | None = None,
    delegation_token: str | Path | Sequence[str | Path] | None = None,
    delegation_public_key: str | Path | None = None,
    delegation_public_key_env: str | None = None,
    delegation_private_key: str | Path | None = None,
    delegation_private_key_env: str | None = None,
) -> GateEvalResult:
    """One gate decision in this process: the ``evaluate_gate`` of ``gait_bin=None``.

    The same gate ``gait gate eval`` runs (policy, fail-closed rules, rate limits, approvals,
    a signed trace and a decision-log line), cached per policy file and key, so a decision
    costs the evaluation and the trace, not a process and a policy parse.
    """
    return decide_here(
        intent,
        policy_path,
        cwd,
        trace_out,
        approval_token,
        key_mode,
        private_key,
        private_key_env,
        approval_public_key,
        approval_public_key_env,
        trace_dir,
        approval_private_key,
        approval_private_key_env,
        delegation_token,
        delegation_public_key,
        delegation_public_key_env,
        delegation_private_key,
        delegation_private_key_env,
    )


def decide_here(
    intent: IntentRequest | Mapping[str, Any],
    policy_path: str | Path,
    cwd: str | Path | None,
    trace_out: str | Path | None,
    approval_token: str | Path | Sequence[str | Path] | None,
    key_mode: str,
    private_key: str | Path | None,
    private_key_env: str | None,
    approval_public_key: str | Path | None,
    approval_public_key_env: str | None,
    trace_dir: str | Path,
    approval_private_key: str | Path | None,
    approval_private_key_env: str | None,
    delegation_token: str | Path | Sequence[str | Path] | None,
    delegation_public_key: str | Path | None,
    delegation_public_key_env: str | None,
    delegation_private_key: str | Path | None,
    delegation_private_key_env: str | None,
) -> GateEvalResult:
    """``gate_decision`` with every argument given, in its order, by position: the per-call
    path of ``ToolAdapter`` and ``gate_tool`` (matching a keyword argument to its parameter
    is most of what a call with eighteen of them costs)."""
    doc: Any = None
    if isinstance(intent, IntentRequest):
        doc = _normalized(intent)  # the gate takes a normalised intent as it is
        if doc is None:
            # The models hold strings; only the caller's own values need converting.
            doc = intent.to_dict()
            doc["args"] = _json_ready(doc["args"])
            if "auth_context" in doc["context"]:
                doc["context"]["auth_context"] = _json_ready(doc["context"]["auth_context"])
    else:
        doc = _json_ready(dict(intent))
    try:
        gate = _open_gate(
            policy_path,
            cwd,
            key_mode,
            private_key,
            private_key_env,
            approval_public_key,
            approval_public_key_env,
            trace_dir,
            approval_private_key,
            approval_private_key_env,
        )
        tokens: list[Any] = []
        if approval_token is not None:
            paths = (
                [approval_token]
                if isinstance(approval_token, (str, Path))
                else list(approval_token)
            )
            tokens = [_read_token(_in(cwd, p) or Path(p)) for p in paths]
        keys = (
            delegation_public_key,
            delegation_public_key_env,
            delegation_private_key,
            delegation_private_key_env,
        )
        inputs = None
        if delegation_token is not None or any(keys):
            inputs = _delegation_inputs(cwd, delegation_token, *keys)
        outcome = gate.decide(
            doc,
            approval_tokens=tokens,
            trace_out=None if trace_out is None else _in(cwd, trace_out),
            inputs=inputs,
        )
    except Exception as exc:  # noqa: BLE001 - every failure becomes the SDK's command error
        command = _describe("gate", "eval", "--policy", policy_path, "--json")
        raise _command_error(exc, command) from exc
    return _result(outcome)


class _Normalizer:
    """``normalize_intent(intent.to_dict())`` for the common model, without the dict.

    A gated tool sends the same context and provenance objects on every call (fixed at
    decoration); both are frozen models of strings, so their normalised forms are kept, by
    object identity (the object is held, so its id cannot be reused), and copied per call.
    Anything else takes the general path: a script, a delegation, auth_context, evidence claims
    (the gate strips those), non-string fields. Any error here also takes it, so errors, and
    the fail-closed blocks they become, are exactly the general path's.
    """

    __slots__ = ("fields", "target", "contexts", "provenances", "targets")

    def __init__(self) -> None:
        from gait.gate.intent import normalize_fields, normalize_model_target

        self.fields = normalize_fields
        self.target = normalize_model_target
        self.contexts: dict[int, tuple[IntentContext, dict[str, Any]]] = {}
        self.provenances: dict[int, tuple[list[Any], list[dict[str, Any]]]] = {}
        # A normalised target by its tool name and four strings (it depends on nothing else:
        # a flat dict of strings and True, copied per call). A tool often names the same
        # target again (its host, its file); a new one costs a dict lookup more.
        self.targets: dict[tuple[str | None, ...], dict[str, Any]] = {}

    def __call__(self, intent: IntentRequest) -> Any:
        ctx = intent.context
        args = intent.args
        if (
            type(intent) is not IntentRequest  # a subclass may build its own dict
            or type(args) is not dict
            or intent.script is not None
            or intent.delegation is not None
            or type(ctx) is not IntentContext
            or ctx.auth_context
            or ctx.credential_scopes
            or ctx.context_refs
            or ctx.context_set_digest
            or ctx.context_evidence_mode
        ):
            return None
        tool_name = intent.tool_name
        if type(tool_name) is not str:
            return None
        try:
            targets = []
            name = tool_name.strip().lower()
            for target in intent.targets:
                kind, value, operation, sensitivity = fields = (
                    target.kind,
                    target.value,
                    target.operation,
                    target.sensitivity,
                )
                if type(target) is not IntentTarget or not _STR_OR_NONE.issuperset(
                    map(type, fields)
                ):
                    return None  # a subclass's to_dict, or fields the general path refuses
                key = (name, *fields)
                known = self.targets.get(key)
                if known is None:
                    known = self.target(name, kind, value, operation, sensitivity)
                    if len(self.targets) >= 256:
                        self.targets.clear()
                    self.targets[key] = known
                targets.append(dict(known))
            return self.fields(
                tool_name,
                # plain keys and values: normalize_json copies them as _json_ready would
                args
                if _STR_ONLY.issuperset(map(type, args))
                and _JSON_SCALARS.issuperset(map(type, args.values()))
                else _json_ready(args),
                None,
                None,
                None,
                None,
                targets=targets,
                provenance=self._provenance(intent.arg_provenance),
                context=self._context(ctx),
                created_at=_created_text(intent.created_at),
            )
        except Exception:  # noqa: BLE001 - the general path raises (or blocks) as it always has
            return None

    def _context(self, ctx: IntentContext) -> dict[str, Any]:
        entry = self.contexts.get(id(ctx))
        if entry is None or entry[0] is not ctx:
            from gait.gate.intent import normalize_context

            normalized = normalize_context(ctx.to_dict())
            if len(self.contexts) >= 256:
                self.contexts.clear()
            entry = self.contexts[id(ctx)] = (ctx, normalized)
        return dict(entry[1])

    def _provenance(self, entries: Any) -> list[dict[str, Any]]:
        if not entries:
            if type(entries) is not list:
                raise TypeError("not a list")
            return []
        if type(entries) is not list or not _PROVENANCE_ONLY.issuperset(map(type, entries)):
            raise TypeError("not a list of IntentArgProvenance")
        entry = self.provenances.get(id(entries[0]))
        # A list compares its items by identity first: the same objects, the same list. Equal
        # models otherwise (frozen, of strings: the cached ones were normalised).
        if entry is None or entry[0] != entries:
            from gait.gate.intent import normalize_provenance

            normalized = normalize_provenance([e.to_dict() for e in entries])
            if len(self.provenances) >= 256:
                self.provenances.clear()
            entry = self.provenances[id(entries[0])] = (list(entries), normalized)
        return list(map(dict, entry[1]))


_NORMALIZER: list[_Normalizer] = []
_STR_OR_NONE = frozenset({str, type(None)})
_STR_ONLY = frozenset({str})
_PROVENANCE_ONLY = frozenset({IntentArgProvenance})


def _normalized(intent: IntentRequest) -> Any:
    """The gate's ``NormalizedIntent`` of ``intent``, or ``None`` for the general path."""
    if not _NORMALIZER:
        _NORMALIZER.append(_Normalizer())
    return _NORMALIZER[0](intent)


# (the second's fields, its printed "YYYY-MM-DDTHH:MM:SS") of the last ``_created_text``:
# printing the date costs more than the rest, and a tool's calls share their second. One
# tuple, replaced whole (any thread reads a second with its own text).
_LAST_SECOND: tuple[tuple[int, ...], str] = ((), "")


def _created_text(moment: datetime) -> str:
    """``rfc3339(IntentRequest._isoformat(moment))`` (what normalisation makes of the
    model's ``created_at``), printed directly: a datetime needs no parsing back."""
    global _LAST_SECOND
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    second = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)
    last, text = _LAST_SECOND
    if last != second:
        text = utc.isoformat()[:19]
        _LAST_SECOND = (second, text)
    micro = utc.microsecond
    if micro:
        return f"{text}.{f'{micro:06d}'.rstrip('0')}Z"
    if text == "0001-01-01T00:00:00":  # the zero time: unset, which normalisation reads so
        return "1980-01-01T00:00:00Z"
    return text + "Z"


def _delegation_inputs(
    cwd: str | Path | None,
    token: str | Path | Sequence[str | Path] | None,
    public_key: str | Path | None,
    public_key_env: str | None,
    private_key: str | Path | None,
    private_key_env: str | None,
) -> Any:
    """Delegation evidence for an in-process decision, as ``gait gate eval`` builds it from its
    ``--delegation-*`` flags: token files (read only when a matched rule requires delegation)
    and the key that verifies them (default: the approval key, else this gate's trust)."""
    from gait.gate.delegation_tokens import DelegationEvidence
    from gait.gate.gate_inputs import GateInputs
    from gait.sign.keyring import verify_key_of

    given = [] if token is None else [token] if isinstance(token, (str, Path)) else list(token)
    paths = [str(_in(cwd, p) or Path(p)) for p in given]
    public = _in(cwd, public_key)
    private = _in(cwd, private_key)
    key = verify_key_of(
        str(public) if public else None,
        public_key_env,
        str(private) if private else None,
        private_key_env,
        "delegation",
    )
    evidence = DelegationEvidence(
        paths=list(dict.fromkeys(paths)), keys=[key] if key is not None else None
    )
    return GateInputs(delegation=evidence)


def _result(outcome: Any) -> GateEvalResult:
    """The ``GateEvalResult`` of what ``gait gate eval --json`` would print for ``outcome``.

    A deferred trace (``gait.compat.traces``) has its id already and its path once written.
    """
    deferred = getattr(outcome, "deferred_trace_id", "")
    if deferred:  # the writer may or may not have run yet: report what never depends on it
        trace_id, trace_path = deferred, ""
    else:
        trace_id = outcome.trace["trace_id"] if outcome.trace else ""
        trace_path = outcome.trace_path
    decision = outcome.decision
    steps = list(getattr(decision, "step_verdicts", None) or [])
    return _new_result(
        (
            True,  # ok
            outcome.exit_code,
            outcome.verdict,
            list(outcome.reason_codes),
            list(outcome.violations),
            outcome.approval_ref or None,
            trace_id or None,
            trace_path or None,
            outcome.policy_digest or None,
            outcome.intent_digest or None,
            bool(steps),  # script
            len(steps),  # step_count
            None,  # script_hash
            None,  # composite_risk_class
            False,  # pre_approved
            None,  # pattern_id
            None,  # registry_reason
            list(map(dict, steps)),
            list(outcome.warnings),
            None,  # error
        )
    )


class _ResultSlots:
    """``GateEvalResult``'s slot layout without its frozen ``__setattr__``; see ``_new_result``."""

    __slots__ = (
        "ok",
        "exit_code",
        "verdict",
        "reason_codes",
        "violations",
        "approval_ref",
        "trace_id",
        "trace_path",
        "policy_digest",
        "intent_digest",
        "script",
        "step_count",
        "script_hash",
        "composite_risk_class",
        "pre_approved",
        "pattern_id",
        "registry_reason",
        "step_verdicts",
        "warnings",
        "error",
    )


def _new_result(values: tuple[Any, ...]) -> GateEvalResult:
    """``GateEvalResult(*values)`` (fields in declaration order) at a sixth of the cost.

    A frozen dataclass sets each of its twenty slots through ``object.__setattr__`` in
    ``__init__``: 6 us, a tenth of an in-process decision. Here the slots are filled on an
    object of a class with the same slots and then given its class, which Python allows for
    identical layouts; the result is the same object (tests/test_compat_fastpaths.py checks
    equality, type and frozenness). Checked once at import; the constructor if it ever fails.
    """
    if not _SWAP_WORKS:
        return GateEvalResult(*values)
    result: Any = object.__new__(_ResultSlots)
    (
        result.ok,
        result.exit_code,
        result.verdict,
        result.reason_codes,
        result.violations,
        result.approval_ref,
        result.trace_id,
        result.trace_path,
        result.policy_digest,
        result.intent_digest,
        result.script,
        result.step_count,
        result.script_hash,
        result.composite_risk_class,
        result.pre_approved,
        result.pattern_id,
        result.registry_reason,
        result.step_verdicts,
        result.warnings,
        result.error,
    ) = values
    result.__class__ = GateEvalResult
    built: GateEvalResult = result
    return built


def _swap_works() -> bool:
    import dataclasses

    names = tuple(f.name for f in dataclasses.fields(GateEvalResult))
    if names != _ResultSlots.__slots__ or GateEvalResult.__slots__ != names:
        return False
    probe: Any = object.__new__(_ResultSlots)
    try:
        probe.__class__ = GateEvalResult
    except TypeError:
        return False
    return True


_SWAP_WORKS = _swap_works()


def flush_traces() -> None:
    """Wait until every trace of an in-process decision is signed and written.

    Raises ``GaitError`` naming what could not be written (dev mode only: production mode
    writes each trace before the verdict is returned).
    """
    from gait.compat.traces import flush

    errors = flush()
    if errors:
        raise GaitError(f"{len(errors)} deferred trace(s) not written: {errors[0]}")


def evaluate_gate(
    *,
    policy_path: str | Path,
    intent: IntentRequest,
    gait_bin: GaitBin = None,
    cwd: str | Path | None = None,
    trace_out: str | Path | None = None,
    approval_token: str | Path | None = None,
    key_mode: str = "dev",
    private_key: str | Path | None = None,
    private_key_env: str | None = None,
    approval_public_key: str | Path | None = None,
    approval_public_key_env: str | None = None,
    approval_private_key: str | Path | None = None,
    approval_private_key_env: str | None = None,
    delegation_token: str | Path | None = None,
    delegation_token_chain: Sequence[str | Path] | None = None,
    delegation_public_key: str | Path | None = None,
    delegation_public_key_env: str | None = None,
    delegation_private_key: str | Path | None = None,
    delegation_private_key_env: str | None = None,
) -> GateEvalResult:
    """Decide one intent: exit codes 0 (allow, dry_run), 3 (block) and 4 (approval) return a
    ``GateEvalResult``; anything else raises ``GaitCommandError``."""
    if gait_bin is None:
        delegation: list[str | Path] | None = None
        if delegation_token is not None or delegation_token_chain:
            delegation = [delegation_token] if delegation_token is not None else []
            delegation += list(delegation_token_chain or [])
        return gate_decision(
            intent,
            policy_path=policy_path,
            cwd=cwd,
            trace_out=trace_out,
            approval_token=approval_token,
            key_mode=key_mode,
            private_key=private_key,
            private_key_env=private_key_env,
            approval_public_key=approval_public_key,
            approval_public_key_env=approval_public_key_env,
            approval_private_key=approval_private_key,
            approval_private_key_env=approval_private_key_env,
            delegation_token=delegation,
            delegation_public_key=delegation_public_key,
            delegation_public_key_env=delegation_public_key_env,
            delegation_private_key=delegation_private_key,
            delegation_private_key_env=delegation_private_key_env,
        )
    with scratch("gait-intent") as tmp_dir:
        intent_path = Path(tmp_dir) / "intent.json"
        intent_path.write_bytes(
            dumps_pretty(_json_ready(intent.to_dict()), sort_keys=False, ascii_only=True)
        )
        command = _command_prefix(gait_bin) + [
            "gate",
            "eval",
            "--policy",
            str(policy_path),
            "--intent",
            str(intent_path),
            "--key-mode",
            key_mode,
            "--json",
        ]
        for flag, value in (
            ("--trace-out", trace_out),
            ("--approval-token", approval_token),
            ("--delegation-token", delegation_token),
        ):
            if value is not None:
                command += [flag, str(value)]
        if delegation_token_chain:
            command += [
                "--delegation-token-chain",
                ",".join(str(value) for value in delegation_token_chain),
            ]
        for flag, value in (
            ("--private-key", private_key),
            ("--private-key-env", private_key_env),
            ("--approval-public-key", approval_public_key),
            ("--approval-public-key-env", approval_public_key_env),
            ("--approval-private-key", approval_private_key),
            ("--approval-private-key-env", approval_private_key_env),
            ("--delegation-public-key", delegation_public_key),
            ("--delegation-public-key-env", delegation_public_key_env),
            ("--delegation-private-key", delegation_private_key),
            ("--delegation-private-key-env", delegation_private_key_env),
        ):
            if value:
                command += [flag, str(value)]
        result = _run_command(command, cwd=cwd)
        payload = _require_json(result, "gait gate eval")
        if result.exit_code in (0, 3, 4):
            return GateEvalResult.from_dict(payload, exit_code=result.exit_code)
        raise _failed(result, payload, "gait gate eval failed")


def write_trace(*, trace_path: str | Path, destination_path: str | Path) -> Path:
    """Copy a gate trace to ``destination_path`` after checking it is one."""
    source = Path(trace_path)
    if not source.exists():
        raise GaitError(f"trace file not found: {source}")
    try:
        trace = TraceRecord.from_dict(json.loads(source.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise GaitError(f"not a gate trace: {source}: {exc}") from exc
    if trace.schema_id != "gait.gate.trace":
        raise GaitError(f"unexpected trace schema_id: {trace.schema_id}")
    destination = Path(destination_path)
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, destination)
    return destination


def capture_demo_runpack(*, gait_bin: GaitBin = None, cwd: str | Path | None = None) -> DemoCapture:
    """Run the offline demo (a signed three-call runpack, verified)."""
    if gait_bin is None:
        return _demo_in_process(cwd)
    result = _run_command(_command_prefix(gait_bin) + ["demo", "--json"], cwd=cwd)
    payload = _require_json(result, "gait demo")
    if result.exit_code != 0:
        raise _failed(result, payload, "gait demo failed")
    return _demo_capture(payload, result.stdout)


def _demo_capture(payload: dict[str, Any], raw_output: str) -> DemoCapture:
    if not payload.get("ok", False):
        raise GaitError("gait demo returned ok=false")
    run_id = str(payload.get("run_id", ""))
    bundle_path = str(payload.get("bundle", ""))
    if not run_id or not bundle_path:
        raise GaitError("gait demo JSON response is missing run_id or bundle")
    return DemoCapture(
        run_id=run_id,
        bundle_path=bundle_path,
        ticket_footer=str(payload.get("ticket_footer", "")),
        verified=str(payload.get("verify", "")).strip().lower() == "ok",
        raw_output=raw_output,
    )


def _demo_in_process(cwd: str | Path | None) -> DemoCapture:
    command = _describe("demo", "--json")
    try:
        from gait.demo import RUN_ID, demo_input
        from gait.runpack.resolve import remember
        from gait.runpack.verify import VerifyOptions, verify_runpack
        from gait.runpack.writer import default_path, write_record_input
        from gait.sign.keyring import ensure_dev_key, load_keyring

        key, _ = ensure_dev_key()
        shown = default_path(RUN_ID, "gait-out")
        path = _in(cwd, shown) or shown
        written = write_record_input(
            demo_input(), path, signing_keys=[key], evidence_mode_default=""
        )
        remember(written.path, RUN_ID)
        keyring = load_keyring()
        report = verify_runpack(
            written.path, VerifyOptions(keys=tuple(keyring.trusted_keys()), keyring=keyring)
        )
    except Exception as exc:  # noqa: BLE001
        raise _command_error(exc, command) from exc
    payload = {
        "ok": report.ok,
        "run_id": RUN_ID,
        "bundle": f"./{shown.as_posix()}",
        "ticket_footer": written.ticket_footer,
        "verify": "ok" if report.ok else "failed",
    }
    return _demo_capture(payload, json.dumps(payload, sort_keys=True) + "\n")


def create_regress_fixture(
    *,
    from_run: str,
    gait_bin: GaitBin = None,
    cwd: str | Path | None = None,
) -> RegressInitResult:
    """``gait regress init --from RUN``: a fixture (runpack, fixture.json, gait.yaml entry)."""
    if gait_bin is None:
        return _regress_init_in_process(from_run, cwd)
    command = _command_prefix(gait_bin) + ["regress", "init", "--from", from_run, "--json"]
    result = _run_command(command, cwd=cwd)
    payload = _require_json(result, "gait regress init")
    if result.exit_code != 0:
        raise _failed(result, payload, "gait regress init failed")
    if not payload.get("ok", False):
        raise GaitError("gait regress init returned ok=false")
    return RegressInitResult.from_dict(payload)


def _regress_init_in_process(from_run: str, cwd: str | Path | None) -> RegressInitResult:
    command = _describe("regress", "init", "--from", from_run, "--json")
    source = from_run
    if cwd is not None:
        for candidate in (Path(cwd) / from_run, Path(cwd) / "gait-out" / f"runpack_{from_run}.zip"):
            if not Path(from_run).is_absolute() and candidate.is_file():
                source = str(candidate)
                break
    try:
        from gait.regress.init import init_fixture

        result = init_fixture(source, directory=cwd if cwd is not None else ".")
    except Exception as exc:  # noqa: BLE001
        raise _command_error(exc, command) from exc
    return RegressInitResult.from_dict(result.to_json())


def record_runpack(
    *,
    record_input: Mapping[str, Any],
    gait_bin: GaitBin = None,
    cwd: str | Path | None = None,
    out_dir: str | Path = "gait-out",
    capture_mode: str = "reference",
    context_evidence_mode: str | None = None,
    context_envelope: str | Path | None = None,
) -> RunRecordCapture:
    """``gait run record``: a signed runpack from a record input (run, intents, results,
    refs, and the reference's ``normalization`` payloads)."""
    if capture_mode not in {"reference", "raw"}:
        raise GaitError("capture_mode must be 'reference' or 'raw'")
    if gait_bin is None:
        return _record_in_process(
            record_input, cwd, out_dir, capture_mode, context_evidence_mode, context_envelope
        )
    with scratch("gait-run-record") as tmp_dir:
        input_path = Path(tmp_dir) / "run_record.json"
        input_path.write_bytes(
            dumps_pretty(_json_ready(dict(record_input)), sort_keys=False, ascii_only=True)
        )
        command = _command_prefix(gait_bin) + [
            "run",
            "record",
            "--input",
            str(input_path),
            "--out-dir",
            str(out_dir),
            "--capture-mode",
            capture_mode,
            "--json",
        ]
        if context_evidence_mode:
            command += ["--context-evidence-mode", str(context_evidence_mode)]
        if context_envelope is not None:
            command += ["--context-envelope", str(context_envelope)]
        result = _run_command(command, cwd=cwd)
        payload = _require_json(result, "gait run record")
        if result.exit_code != 0:
            raise _failed(result, payload, "gait run record failed")
        if not payload.get("ok", False):
            raise GaitError("gait run record returned ok=false")
        return RunRecordCapture(
            run_id=str(payload.get("run_id", "")),
            bundle_path=str(payload.get("bundle", "")),
            manifest_digest=str(payload.get("manifest_digest", "")),
            ticket_footer=str(payload.get("ticket_footer", "")),
        )


def _record_in_process(
    record_input: Mapping[str, Any],
    cwd: str | Path | None,
    out_dir: str | Path,
    capture_mode: str,
    context_evidence_mode: str | None,
    context_envelope: str | Path | None,
) -> RunRecordCapture:
    command = _describe("run", "record", "--out-dir", out_dir, "--capture-mode", capture_mode)
    try:
        from gait.contextproof import record_evidence
        from gait.runpack.resolve import remember
        from gait.runpack.writer import write_record_input
        from gait.sign.keyring import ensure_dev_key

        doc = _json_ready(dict(record_input))
        # as ``gait run record --context-evidence-mode --context-envelope`` does; a raw-capture
        # record (run_session's own receipts then say redaction_mode raw) is the caller's
        # explicit opt-in, which the binary takes as --unsafe-context-raw
        envelope = None if context_envelope is None else str(_in(cwd, context_envelope))
        doc, _warnings = record_evidence(
            doc,
            mode=context_evidence_mode,
            envelope_path=envelope,
            unsafe_raw=capture_mode == "raw",
        )
        from gait.runpack.replay import RECORD_TO_ENV

        key, _ = ensure_dev_key()
        # Under ``gait regress`` (a fixture's ``command:``) the run goes where regress reads the
        # candidate, as a ``gait.record`` run does.
        record_to = os.environ.get(RECORD_TO_ENV) or None
        written = write_record_input(
            doc,
            record_to,
            out_dir=_in(cwd, out_dir) or Path(out_dir),
            capture_mode=capture_mode,
            signing_keys=[key],
        )
        remember(written.path, written.run_id)
    except GaitError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _command_error(exc, command) from exc
    shown = written.path if record_to else Path(out_dir) / written.path.name
    return RunRecordCapture(
        run_id=written.run_id,
        bundle_path=str(shown),
        manifest_digest=written.manifest_digest,
        ticket_footer=written.ticket_footer,
    )


# --- the subprocess path (the reference's behaviour) ----------------------------------------


def _require_json(result: _CommandResult, what: str) -> dict[str, Any]:
    payload = _parse_json_stdout(result.stdout)
    if payload is None:
        raise GaitCommandError(
            f"failed to parse JSON from {what}",
            command=result.command,
            exit_code=result.exit_code,
            stdout=result.stdout,
            stderr=result.stderr,
        )
    return payload


def _failed(result: _CommandResult, payload: dict[str, Any], default: str) -> GaitCommandError:
    return GaitCommandError(
        str(payload.get("error") or default),
        command=result.command,
        exit_code=result.exit_code,
        stdout=result.stdout,
        stderr=result.stderr,
        code=str(payload.get("error_code") or ""),
    )


def _run_command(command: Sequence[str], *, cwd: str | Path | None) -> _CommandResult:
    argv = list(command)
    where = str(cwd) if cwd is not None else None
    try:
        completed = subprocess.run(  # nosec B603 - argv list, no shell
            argv,
            cwd=where,
            capture_output=True,
            text=True,
            check=False,
            timeout=DEFAULT_COMMAND_TIMEOUT_SECONDS,
        )
    except FileNotFoundError as exc:
        missing = str(getattr(exc, "filename", "") or "")
        if where is not None and (missing == where or not Path(where).exists()):
            raise GaitCommandError(
                f"unable to execute command: cwd not found: {where}",
                command=argv,
                exit_code=-1,
                stdout="",
                stderr=str(exc),
            ) from exc
        binary = argv[0] if argv else "gait"
        raise GaitCommandError(
            f"unable to execute '{binary}': binary not found. Install gait and put it on PATH, "
            "pass gait_bin explicitly, or leave gait_bin unset to decide in-process.",
            command=argv,
            exit_code=127,
            stdout="",
            stderr=str(exc),
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise GaitCommandError(
            "gait command timed out",
            command=argv,
            exit_code=-1,
            stdout=str(exc.stdout or ""),
            stderr=str(exc.stderr or ""),
        ) from exc
    return _CommandResult(
        command=argv,
        exit_code=completed.returncode,
        stdout=completed.stdout,
        stderr=completed.stderr,
    )


def _parse_json_stdout(stdout: str) -> dict[str, Any] | None:
    text = stdout.strip()
    if not text:
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _command_prefix(gait_bin: str | Sequence[str]) -> list[str]:
    if isinstance(gait_bin, str):
        return [gait_bin]
    return [str(part) for part in gait_bin]


_JSON_SCALARS = frozenset({str, int, bool, float, type(None)})


def _json_ready(value: Any, what: str = "Gait JSON payloads") -> Any:
    """A JSON value, converting what the reference converts (paths, datetimes, models)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value
    if kind is dict:
        return {
            key if type(key) is str else str(key): (
                item if type(item) in _JSON_SCALARS else _json_ready(item, what)
            )
            for key, item in value.items()
        }
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item, what) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item, what) for item in value]
    if isinstance(value, set):
        raise TypeError(f"set values are not supported in {what}; convert to a list")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    for method in ("model_dump", "dict", "to_dict"):
        convert = getattr(value, method, None)
        if callable(convert):
            return _json_ready(convert(), what)
    raise TypeError(f"unsupported JSON value in {what}: {type(value).__name__}")
