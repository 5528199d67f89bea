"""Replay a recorded run: stub replay (the default, pure), SDK stubs and the real-tool interlock.

Stub replay answers every tool call from the runpack and never runs a tool, so a replay is
deterministic and safe to run on any machine, in CI, against any runpack.

``stub_replay(runpack)`` is the pure core that ``gait run replay`` and the regress graders use.
``replay(run)`` is the SDK side: a stub provider for an agent's tool layer::

    with gait.replay("run_x") as stubs:
        result = stubs.call("tool.search", {"query": "..."})

A call that was not recorded raises ``ReplayMiss`` (``E_REPLAY_MISS``, exit 2) naming the closest
recorded call: its tool name and the argument paths that differ, as vcrpy does on a cassette miss.
In reference capture the runpack holds digests, not payloads, so a stub returns a digest marker
(``{"gait_stub": "recorded_digest", ...}``) instead of the result.

Environment variables, so that ``gait regress run`` can start a user's agent command that
replays and records with no code change:

``GAIT_REPLAY_FROM``
    Runpack path (or run id) that ``gait.replay()`` stubs from when called with no argument.
``GAIT_RECORD_TO``
    Path where ``gait.record()`` writes the candidate runpack, overriding ``out_dir``/``out``.

Real tools are off unless all four locks are open: ``real_tools``, ``unsafe_real_tools``, a
non-empty ``allow_tools`` list and ``GAIT_ALLOW_REAL_REPLAY=1`` in the environment. Anything
less is ``E_REPLAY_REAL_TOOL_DISABLED`` (exit 8) naming what is missing. Even then a real tool
runs only through a registry the caller supplies (tool name -> callable taking the recorded
args); gait itself ships no real tool, so ``gait run replay`` needs ``--tool-registry
module:attr`` for real replay and exits 8 without one.
"""

from __future__ import annotations

import difflib
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gait.canon import digest
from gait.errors import InvalidInput, UnsafeOperation, VerificationFailed
from gait.runpack.model import Runpack

REPLAY_FROM_ENV = "GAIT_REPLAY_FROM"
RECORD_TO_ENV = "GAIT_RECORD_TO"
# Set by ``gait regress run`` for a ``command:`` agent: how calls match recorded ones (JSON),
# where each miss is written (a JSON-lines sidecar beside the candidate runpack), and the
# record mode (``none``: a miss fails; ``new_episodes``: a miss runs the real tool).
MATCH_ON_ENV = "GAIT_REPLAY_MATCH_ON"
MISSES_ENV = "GAIT_REPLAY_MISSES"
RECORD_MODE_ENV = "GAIT_REPLAY_RECORD_MODE"
ALLOW_TOOLS_ENV = "GAIT_REPLAY_ALLOW_TOOLS"
RECORD_MODES = ("none", "new_episodes")
ALLOW_REAL_ENV = "GAIT_ALLOW_REAL_REPLAY"
SOURCE_RESULT = "recorded_result"
SOURCE_DIGEST = "recorded_digest"
SOURCE_MISSING = "missing"
SOURCE_EXECUTED = "executed"
STATUS_MISSING = "missing_result"
MAX_SHOWN_PATHS = 8


class ReplayMiss(VerificationFailed):
    """A tool call the runpack did not record (or recorded fewer times than it was made)."""

    default_code = "E_REPLAY_MISS"


class ReplayedToolError(Exception):
    """A recorded call whose tool raised: replay raises again, so the agent takes the same
    error path it took when recorded. ``payload`` is the recorded error result."""

    def __init__(self, tool_name: str, payload: Any) -> None:
        super().__init__(self.message(tool_name, payload))
        self.tool_name = tool_name
        self.payload = payload

    @staticmethod
    def message(tool_name: str, payload: Any) -> str:
        detail = payload.get("error") if isinstance(payload, dict) else payload
        kind = payload.get("type") if isinstance(payload, dict) else None
        return f"{tool_name}: {kind + ': ' if kind else ''}{detail}"


def replayed_error(tool_name: str, payload: Any) -> ReplayedToolError:
    """The error to raise for a recorded failing call: a ``ReplayedToolError`` that is also an
    instance of the recorded exception type (``except FileNotFoundError`` or ``except
    RateLimited`` still catches it), so the agent takes the path it took when recorded.

    The type is a built-in, or one of a module the agent has already imported (the payload's
    ``module``): a runpack never makes replay import anything."""
    import builtins
    import sys

    kind = payload.get("type") if isinstance(payload, dict) else None
    module = payload.get("module", "builtins") if isinstance(payload, dict) else "builtins"
    owner = sys.modules.get(module) if isinstance(module, str) else None
    base = getattr(owner, kind, None) if isinstance(kind, str) and owner is not None else None
    if base is None and isinstance(kind, str) and module == "builtins":
        base = getattr(builtins, kind, None)
    if (
        isinstance(kind, str)
        and isinstance(base, type)
        and issubclass(base, Exception)
        and base is not Exception
        and not issubclass(base, ReplayedToolError)
    ):
        try:
            cls: type[ReplayedToolError] = type(
                kind, (ReplayedToolError, base), {"__module__": base.__module__}
            )
        except TypeError:  # a layout that cannot be mixed in (some extension types)
            return ReplayedToolError(tool_name, payload)
        try:
            replayed: ReplayedToolError = cls(tool_name, payload)
        except Exception:  # noqa: BLE001 - an __init__ that wants more than a message
            replayed = Exception.__new__(cls)
            Exception.__init__(replayed, ReplayedToolError.message(tool_name, payload))
            replayed.tool_name, replayed.payload = tool_name, payload
        return replayed
    return ReplayedToolError(tool_name, payload)


@dataclass(frozen=True)
class MatchOn:
    """How a call matches a recorded one (vcrpy's ``match_on``): by tool name and canonical
    args (default), by tool name only, or by args without some volatile paths.

    In gait.yaml: ``"match_on": "tool_name"``, ``"match_on": "tool_name_and_args"`` or
    ``"match_on": {"ignore_arg_paths": ["$.request_id", "$.items[*].ts"]}``.
    """

    args: bool = True
    ignore_arg_paths: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: Any, what: str = "match_on") -> MatchOn:
        if value is None or value == "" or value == "tool_name_and_args":
            return cls()
        if value == "tool_name":
            return cls(args=False)
        if isinstance(value, Mapping) and set(value) <= {"ignore_arg_paths"}:
            paths = value.get("ignore_arg_paths") or []
            if isinstance(paths, list) and all(
                isinstance(p, str) and p.startswith("$") for p in paths
            ):
                return cls(ignore_arg_paths=tuple(sorted(set(paths))))
        raise InvalidInput(
            f"{what} must be tool_name, tool_name_and_args or "
            f'{{"ignore_arg_paths": ["$.path", ...]}}, not {value!r}',
            code="E_REGRESS_CONFIG_INVALID",
        )

    def to_json(self) -> Any:
        if not self.args:
            return "tool_name"
        if self.ignore_arg_paths:
            return {"ignore_arg_paths": list(self.ignore_arg_paths)}
        return "tool_name_and_args"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MatchOn:
        import json

        text = (os.environ if environ is None else environ).get(MATCH_ON_ENV, "")
        if not text:
            return cls()
        try:
            return cls.parse(json.loads(text), MATCH_ON_ENV)
        except ValueError:
            return cls.parse(text, MATCH_ON_ENV)

    def key(self, args: Any) -> str | None:
        """What a call's args contribute to its match key; None when they are not compared."""
        if not self.args:
            return None
        if self.ignore_arg_paths:
            args = strip_paths(args, self.ignore_arg_paths)
        return digest(args)


def _parse_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    rest = path[1:]
    while rest:
        if rest.startswith("."):
            rest = rest[1:]
            end = min([i for i in (rest.find("."), rest.find("[")) if i >= 0] or [len(rest)])
            parts.append(rest[:end])
            rest = rest[end:]
        elif rest.startswith("["):
            end = rest.find("]")
            if end < 0:
                break
            inner = rest[1:end]
            parts.append(int(inner) if inner.isdigit() else "*")
            rest = rest[end + 1 :]
        else:
            break
    return parts


def strip_paths(value: Any, paths: Iterable[str]) -> Any:
    """A copy of ``value`` without the JSON paths given (``*`` and ``[*]`` match any key/index)."""
    import copy

    out = copy.deepcopy(value)
    for path in paths:
        _strip(out, _parse_path(path))
    return out


def _strip(node: Any, parts: list[str | int]) -> None:
    if not parts:
        return
    head, tail = parts[0], parts[1:]
    if isinstance(node, dict):
        keys = list(node) if head == "*" else [head] if head in node else []
        for key in keys:
            if tail:
                _strip(node[key], tail)
            else:
                del node[key]
    elif isinstance(node, list):
        if head == "*":
            indexes = list(range(len(node)))
        elif isinstance(head, int) and head < len(node):
            indexes = [head]
        else:
            indexes = []
        for index in reversed(indexes):
            if tail:
                _strip(node[index], tail)
            else:
                del node[index]


@dataclass
class ReplayStep:
    intent_id: str
    tool_name: str
    status: str
    result_digest: str
    source: str
    result: Any = None
    args_digest: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "intent_id": self.intent_id,
            "tool_name": self.tool_name,
            "status": self.status,
            "source": self.source,
        }
        if self.args_digest:
            out["args_digest"] = self.args_digest
        if self.result_digest:
            out["result_digest"] = self.result_digest
        if self.source in (SOURCE_RESULT, SOURCE_EXECUTED) and self.result is not None:
            out["result"] = self.result
        return out


@dataclass
class ReplayReport:
    run_id: str
    mode: str
    exit_code: int
    steps: list[ReplayStep] = field(default_factory=list)
    missing_results: list[str] = field(default_factory=list)
    capture_mode: str = "reference"

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "run_id": self.run_id,
            "mode": self.mode,
            "capture_mode": self.capture_mode,
            "exit_code": self.exit_code,
            "steps_total": len(self.steps),
            "steps": [s.to_json() for s in self.steps],
            "missing_results": list(self.missing_results),
        }


def stub_replay(runpack: Runpack) -> ReplayReport:
    """Answer every recorded intent from its recorded result; nothing real ever runs.

    Exit code 2 when an intent has no recorded result: the run cannot be reproduced from the
    runpack alone, which is what a regress ``expected_exit_code`` grader needs to see.
    """
    return _replay(runpack, mode="stub", execute=None)


def _replay(
    runpack: Runpack,
    *,
    mode: str,
    execute: Callable[[dict[str, Any]], ReplayStep | None] | None,
) -> ReplayReport:
    results = runpack.results_by_intent()
    raw = runpack.capture_mode == "raw"
    steps: list[ReplayStep] = []
    missing: list[str] = []
    for intent in runpack.intents:
        intent_id = str(intent.get("intent_id", ""))
        tool_name = str(intent.get("tool_name", ""))
        step = execute(intent) if execute is not None else None
        if step is not None:
            steps.append(step)
            continue
        recorded = results.get(intent_id)
        if recorded is None:
            missing.append(intent_id)
            steps.append(
                ReplayStep(
                    intent_id,
                    tool_name,
                    STATUS_MISSING,
                    "",
                    SOURCE_MISSING,
                    args_digest=str(intent.get("args_digest", "")),
                )
            )
            continue
        has_payload = raw and "result" in recorded
        steps.append(
            ReplayStep(
                intent_id=intent_id,
                tool_name=tool_name,
                status=str(recorded.get("status", "ok")),
                result_digest=str(recorded.get("result_digest", "")),
                source=SOURCE_RESULT if has_payload else SOURCE_DIGEST,
                result=recorded.get("result") if has_payload else None,
                args_digest=str(intent.get("args_digest", "")),
            )
        )
    return ReplayReport(
        run_id=runpack.run_id,
        mode=mode,
        exit_code=2 if missing else 0,
        steps=steps,
        missing_results=sorted(missing),
        capture_mode=runpack.capture_mode,
    )


# --- the real-tool interlock -------------------------------------------------------------


def parse_allow_tools(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return sorted({item.strip().lower() for item in items if item and item.strip()})


def check_real_tool_interlock(
    *,
    real_tools: bool,
    unsafe_real_tools: bool,
    allow_tools: Iterable[str],
    environ: Mapping[str, str] | None = None,
    env_var: str = ALLOW_REAL_ENV,
) -> list[str]:
    """The normalised allow list when all four locks are open; else exit 8 naming what is missing.

    Four independent locks, because running a recorded tool call for real can repeat a payment,
    a deletion or an email: a flag typed by habit or a variable left in a shell is not enough.
    """
    env = os.environ if environ is None else environ
    allowed = parse_allow_tools(allow_tools)
    missing = []
    if not real_tools:
        missing.append("--real-tools")
    if not unsafe_real_tools:
        missing.append("--unsafe-real-tools")
    if not allowed:
        missing.append("--allow-tools a,b")
    env_var = env_var.strip() or ALLOW_REAL_ENV  # the reference's --unsafe-real-tools-env
    if env.get(env_var, "").strip() != "1":
        missing.append(f"{env_var}=1")
    if missing:
        raise UnsafeOperation(
            "real tool replay is disabled; missing: " + ", ".join(missing),
            code="E_REPLAY_REAL_TOOL_DISABLED",
            hint="stub replay needs none of these: gait run replay <run>",
            details={"missing_interlocks": missing},
        )
    return allowed


ToolRegistry = Mapping[str, Callable[[dict[str, Any]], Any]]


def real_replay(
    runpack: Runpack,
    registry: ToolRegistry,
    *,
    real_tools: bool,
    unsafe_real_tools: bool,
    allow_tools: Iterable[str],
    environ: Mapping[str, str] | None = None,
    env_var: str = ALLOW_REAL_ENV,
) -> ReplayReport:
    """Run allow-listed tools for real through the caller's registry; stub every other call.

    Needs raw capture, since a reference runpack keeps only the digest of each call's args.
    A tool that raises becomes an ``error`` step with the digest of its message; the replay
    goes on, so one broken tool does not hide the others.
    """
    allowed = set(
        check_real_tool_interlock(
            real_tools=real_tools,
            unsafe_real_tools=unsafe_real_tools,
            allow_tools=allow_tools,
            environ=environ,
            env_var=env_var,
        )
    )
    if runpack.capture_mode != "raw":
        raise InvalidInput(
            "real replay needs a raw-capture runpack; reference capture keeps no tool arguments",
            code="E_REPLAY_REAL_REQUIRES_RAW",
        )
    tools = {name.strip().lower(): fn for name, fn in registry.items()}
    absent = sorted(name for name in allowed if name not in tools)
    if absent:
        raise UnsafeOperation(
            f"no real implementation registered for allowed tools: {', '.join(absent)}",
            code="E_REPLAY_REAL_TOOL_DISABLED",
            hint="register each allowed tool, or leave it out of --allow-tools",
        )

    def execute(intent: dict[str, Any]) -> ReplayStep | None:
        name = str(intent.get("tool_name", ""))
        key = name.strip().lower()
        if key not in allowed:
            return None
        raw_args = intent.get("args")
        args = raw_args if isinstance(raw_args, dict) else {}
        step = ReplayStep(
            str(intent.get("intent_id", "")),
            name,
            "ok",
            "",
            SOURCE_EXECUTED,
            args_digest=str(intent.get("args_digest", "")),
        )
        try:
            value = tools[key](dict(args))
            step.result = value
            step.result_digest = digest(value)
        except Exception as exc:  # noqa: BLE001 - a user's tool failing is a step result
            step.status = "error"
            step.result = {"error": f"{type(exc).__name__}: {exc}"}
            step.result_digest = digest(step.result)
        return step

    return _replay(runpack, mode="real", execute=execute)


# --- SDK stubs -----------------------------------------------------------------------------


def _paths(value: Any, prefix: str = "$") -> dict[str, Any]:
    """Leaf values by JSON path, for naming the argument paths where two calls differ."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(_paths(value[key], f"{prefix}.{key}"))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, item in enumerate(value):
            out.update(_paths(item, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def differing_paths(left: Any, right: Any) -> list[str]:
    """Sorted JSON paths whose leaf values differ (or exist on one side only)."""
    a, b = _paths(left), _paths(right)
    keys = sorted(set(a) | set(b))
    return [k for k in keys if k not in a or k not in b or digest(a[k]) != digest(b[k])]


_ATTEMPT_KEYS = frozenset(
    {"executed", "verdict", "reason_codes", "trace_id", "trace_path", "policy_digest"}
)


def tool_value(payload: Any) -> Any:
    """What the tool returned, from a recorded result. The reference SDK's ``run_session``
    records each attempt inside its gate envelope (``executed``, ``verdict``, ``trace_id``,
    ... and the tool's value as ``result``); replaying such a run hands the tool's value back,
    as a run recorded by ``gait.record`` does."""
    if isinstance(payload, dict) and _ATTEMPT_KEYS <= payload.keys():
        if payload.keys() <= _ATTEMPT_KEYS | {"intent_digest", "error", "result"}:
            return payload.get("result")
    return payload


@dataclass
class _Recorded:
    intent: dict[str, Any]
    result: dict[str, Any] | None
    played: int = 0


UNSAFE_ENV = "GAIT_REPLAY_UNSAFE_REAL_TOOLS"


class StubProvider:
    """Recorded tool calls served back to an agent, in recorded order per (tool, args).

    Each recorded call answers once (vcrpy's default): an agent that now calls a tool more
    often than it did when recorded has changed behaviour, and that should fail loudly.
    A recorded call whose tool raised raises ``ReplayedToolError`` again.

    Every miss is appended to ``miss_log`` (JSON lines) before ``ReplayMiss`` is raised, so the
    regress graders see it as drift even when the agent swallows the exception or crashes.
    """

    def __init__(
        self,
        runpack: Runpack,
        *,
        allow_repeats: bool = False,
        match_on: MatchOn | None = None,
        miss_log: str | Path | None = None,
        record_mode: str = "none",
    ) -> None:
        self.runpack = runpack
        self.allow_repeats = allow_repeats
        self.match_on = match_on or MatchOn()
        self.miss_log = Path(miss_log) if miss_log else None
        if record_mode not in RECORD_MODES:
            raise InvalidInput(
                f"record_mode must be one of {', '.join(RECORD_MODES)}, not {record_mode!r}",
                code="E_REGRESS_CONFIG_INVALID",
            )
        self.record_mode = record_mode
        results = runpack.results_by_intent()
        self._calls = [
            _Recorded(intent, results.get(str(intent.get("intent_id", ""))))
            for intent in runpack.intents
        ]
        self._keys = [self._recorded_key(c.intent) for c in self._calls]
        self.played: list[str] = []
        self.calls_made = 0
        self.misses: list[dict[str, Any]] = []
        self._lock = threading.RLock()  # a turn's calls arrive from worker threads at once

    @property
    def run_id(self) -> str:
        return self.runpack.run_id

    def __enter__(self) -> StubProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _recorded_key(self, intent: Mapping[str, Any]) -> str | None:
        if not self.match_on.args:
            return None
        if self.match_on.ignore_arg_paths and isinstance(intent.get("args"), dict):
            return self.match_on.key(intent["args"])
        return str(intent.get("args_digest", ""))

    def unplayed(self) -> list[str]:
        """Intent ids recorded but never asked for: the agent skipped steps it used to take."""
        return [str(c.intent["intent_id"]) for c in self._calls if not c.played]

    def call(self, tool_name: str, args: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """What the tool returned, from its recorded result (raw capture), or a digest marker
        (reference capture). A runpack keeps a result that is not an object as
        ``{"value": x}`` (the recorder keeps an object that is exactly ``{"value": ...}`` inside
        one more), so ``x`` is handed back; a call that returned nothing gives ``None``."""
        record = self.call_record(tool_name, args, **kwargs)
        if str(record.get("status", "ok")) == "error" and "result" in record:
            raise replayed_error(tool_name, record["result"])
        if self.runpack.capture_mode == "raw":
            if "result" not in record:
                return None
            value = tool_value(record["result"])
            if isinstance(value, dict) and value.keys() == {"value"}:
                return value["value"]
            return value
        return {
            "gait_stub": SOURCE_DIGEST,
            "intent_id": record.get("intent_id", ""),
            "result_digest": record.get("result_digest", ""),
            "status": record.get("status", "ok"),
        }

    def call_record(
        self, tool_name: str, args: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """The whole recorded result record (status, digest, payload when raw)."""
        call_args = {**(dict(args) if args else {}), **kwargs}
        with self._lock:
            return self._take(tool_name, call_args)

    def _take(self, tool_name: str, call_args: dict[str, Any]) -> dict[str, Any]:
        index = self.calls_made
        self.calls_made += 1
        key = self.match_on.key(call_args)
        matches = [
            c
            for c, recorded_key in zip(self._calls, self._keys, strict=True)
            if c.intent.get("tool_name") == tool_name and recorded_key == key
        ]
        fresh = [c for c in matches if not c.played]
        chosen = fresh[0] if fresh else (matches[0] if matches and self.allow_repeats else None)
        if chosen is None:
            raise self._log(index, call_args, self._miss(tool_name, call_args, bool(matches)))
        if chosen.result is None:
            miss = ReplayMiss(
                f"recorded call {chosen.intent.get('intent_id')} ({tool_name}) has no recorded "
                "result to replay",
                hint="the run ended before this call returned; re-record it",
                details={
                    "tool_name": tool_name,
                    "kind": "no_result",
                    "closest_intent_id": chosen.intent.get("intent_id"),
                },
            )
            raise self._log(index, call_args, miss)
        chosen.played += 1
        self.played.append(str(chosen.intent.get("intent_id")))
        return dict(chosen.result)

    def real_tool_allowed(self, tool_name: str, environ: Mapping[str, str] | None = None) -> bool:
        """record_mode ``new_episodes`` with the four locks open for this tool: a miss may run
        the real tool (and is recorded by the caller) instead of failing."""
        if self.record_mode != "new_episodes":
            return False
        env = os.environ if environ is None else environ
        try:
            allowed = check_real_tool_interlock(
                real_tools=True,
                unsafe_real_tools=env.get(UNSAFE_ENV, "") == "1",
                allow_tools=parse_allow_tools(env.get(ALLOW_TOOLS_ENV, "")),
                environ=env,
            )
        except UnsafeOperation:
            return False
        return tool_name.strip().lower() in allowed

    def served_real(self, tool_name: str) -> None:
        """Mark the last miss of ``tool_name`` as answered by the real tool (new_episodes)."""
        with self._lock:
            for miss in reversed(self.misses):
                if miss["tool_name"] == tool_name and not miss.get("served"):
                    miss["served"] = "real_tool"
                    self._append(miss)
                    return

    def _log(self, index: int, call_args: dict[str, Any], miss: ReplayMiss) -> ReplayMiss:
        tool_name = str(miss.details.get("tool_name", ""))
        record = {
            "index": index,
            "tool_name": tool_name,
            "kind": str(miss.details.get("kind", "unrecorded")),
            "args_digest": digest(call_args),
            "closest_intent_id": str(miss.details.get("closest_intent_id") or ""),
            "differing_arg_paths": list(miss.details.get("differing_arg_paths") or []),
            "message": miss.message,
        }
        self.misses.append(record)
        if not self.real_tool_allowed(tool_name):
            self._append(record)  # else the caller runs the real tool, then served_real()
        return miss

    def _append(self, record: Mapping[str, Any]) -> None:
        if self.miss_log is None:
            return
        from gait.canon import dumps_compact

        self.miss_log.parent.mkdir(parents=True, exist_ok=True)
        with self.miss_log.open("a", encoding="utf-8") as handle:
            handle.write(dumps_compact(dict(record)) + "\n")
            handle.flush()

    def tool(self, tool_name: str) -> Callable[..., Any]:
        """A stand-in function for one tool: ``search = stubs.tool("tool.search")``."""

        def stub(args: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
            return self.call(tool_name, args, **kwargs)

        stub.__name__ = tool_name.replace(".", "_")
        return stub

    def _miss(self, tool_name: str, call_args: dict[str, Any], replayed: bool) -> ReplayMiss:
        if replayed:
            return ReplayMiss(
                f"{tool_name} called with these args more often than recorded",
                hint="pass allow_repeats=True to gait.replay() to answer repeats",
                details={"tool_name": tool_name, "kind": "repeat"},
            )
        same_tool = [c for c in self._calls if c.intent.get("tool_name") == tool_name]
        if not same_tool:
            names = sorted({str(c.intent.get("tool_name")) for c in self._calls})
            close = difflib.get_close_matches(tool_name, names, n=1, cutoff=0.0)
            detail = f"; closest recorded tool: {close[0]}" if close else "; nothing recorded"
            return ReplayMiss(
                f"no recorded call to {tool_name}{detail}",
                details={
                    "tool_name": tool_name,
                    "kind": "unrecorded_tool",
                    "closest_tool_name": close[0] if close else "",
                },
            )
        best, best_paths = same_tool[0], None
        for candidate in sorted(same_tool, key=lambda c: c.played > 0):
            recorded_args = candidate.intent.get("args")
            if recorded_args is None:
                continue
            ignore = self.match_on.ignore_arg_paths
            paths = differing_paths(
                strip_paths(recorded_args, ignore) if ignore else recorded_args,
                strip_paths(call_args, ignore) if ignore else call_args,
            )
            if best_paths is None or len(paths) < len(best_paths):
                best, best_paths = candidate, paths
        intent_id = str(best.intent.get("intent_id"))
        if best_paths is None:
            where = "args differ (reference capture keeps only args digests, not arg paths)"
        elif not best_paths:
            where = "every recorded call with these args was already replayed"
        else:
            shown = best_paths[:MAX_SHOWN_PATHS]
            more = len(best_paths) - len(shown)
            extra = f" (+{more} more)" if more else ""
            where = "differing arg paths: " + ", ".join(shown) + extra
        return ReplayMiss(
            f"no recorded call to {tool_name} with these args; closest recorded call "
            f"{intent_id} ({tool_name}): {where}",
            hint="the agent changed its tool arguments; re-record, or diff the two runs",
            details={
                "tool_name": tool_name,
                "kind": "unrecorded_args",
                "closest_intent_id": intent_id,
                "differing_arg_paths": best_paths or [],
            },
        )


def load(run: str | Path | Runpack, *, verify: bool = True) -> Runpack:
    """A Runpack from a run id, a path or a Runpack, verified unless told otherwise."""
    if isinstance(run, Runpack):
        return run
    from gait.runpack.reader import load_runpack
    from gait.runpack.resolve import resolve

    return load_runpack(resolve(str(run)), verify=verify)


def replay(
    run: str | Path | Runpack | None = None,
    *,
    allow_repeats: bool = False,
    verify: bool = True,
    match_on: MatchOn | None = None,
    record_mode: str | None = None,
) -> StubProvider:
    """A stub provider for an agent's tool layer; ``run`` defaults to ``$GAIT_REPLAY_FROM``."""
    if run is None or run == "":
        run = os.environ.get(REPLAY_FROM_ENV, "")
        if not run:
            raise InvalidInput(
                "no runpack to replay: pass a run id or path, or set " + REPLAY_FROM_ENV,
                code="E_REPLAY_NO_SOURCE",
            )
    env = os.environ
    return StubProvider(
        load(run, verify=verify),
        allow_repeats=allow_repeats,
        match_on=MatchOn.from_env(env) if match_on is None else match_on,
        miss_log=env.get(MISSES_ENV) or None,
        record_mode=record_mode or env.get(RECORD_MODE_ENV) or "none",
    )
