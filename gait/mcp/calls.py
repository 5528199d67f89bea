"""One tool call in an agent framework's shape, decoded into an IntentRequest.

The shapes and defaults are the reference's (``gait mcp proxy --adapter``): a call that names no
identity, workspace or risk class is gated as identity ``mcp-proxy`` in workspace ``.`` at risk
``high``, so an unlabelled call gets the strict treatment rather than the lenient one. The
intent's ``created_at`` is the 1980 epoch unless the call carries one, so the same call always
has the same intent digest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gait.canon import STRICT_DECODER
from gait.errors import InvalidInput

ADAPTERS = ("mcp", "openai", "anthropic", "langchain", "claude_code")
DEFAULT_IDENTITY = "mcp-proxy"
DEFAULT_WORKSPACE = "."
DEFAULT_RISK_CLASS = "high"
EPOCH_1980 = "1980-01-01T00:00:00Z"

_CLAUDE_CODE_TOOLS = {
    "read": "tool.read",
    "grep": "tool.read",
    "glob": "tool.read",
    "webfetch": "tool.read",
    "websearch": "tool.read",
    "write": "tool.write",
    "edit": "tool.write",
    "notebookedit": "tool.write",
    "bash": "tool.exec",
    "task": "tool.delegate",
}
_HINTS = (
    ("read_only_hint", "readOnlyHint"),
    ("destructive_hint", "destructiveHint"),
    ("idempotent_hint", "idempotentHint"),
    ("open_world_hint", "openWorldHint"),
)


class CallInvalid(InvalidInput):
    """The tool call cannot be decoded: ``E_MCP_CALL_INVALID`` (exit 6)."""

    default_code = "E_MCP_CALL_INVALID"


@dataclass
class ToolCall:
    """A decoded call: the reference's ``mcp.ToolCall`` fields this project evaluates."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    arg_provenance: list[dict[str, Any]] = field(default_factory=list)
    script: dict[str, Any] | None = None
    server: dict[str, Any] | None = None
    context: dict[str, Any] = field(default_factory=dict)
    delegation: dict[str, Any] | None = None
    created_at: str = ""

    def context_str(self, name: str) -> str:
        value = self.context.get(name)
        return value.strip() if isinstance(value, str) else ""


def _fail(message: str) -> CallInvalid:
    return CallInvalid(message, hint="check the call against the adapter's shape (--adapter)")


def _strict(text: bytes | str) -> Any:
    """JSON as the gate reads it everywhere: a duplicate key (which value would the tool see?)
    or NaN/Infinity is refused, not resolved silently."""
    return STRICT_DECODER.decode(text.decode("utf-8") if isinstance(text, bytes) else text)


def _loads(payload: bytes | str, what: str) -> Any:
    try:
        return _strict(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _fail(f"parse {what} tool call: {exc}") from exc


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(f"{what} must be a JSON object")
    return dict(value)


def _arguments(raw: Any, what: str) -> dict[str, Any]:
    """Arguments given as an object, a JSON string holding one, or nothing."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            raw = _strict(raw)
        except (ValueError, RecursionError) as exc:
            raise _fail(f"decode {what}: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise _fail(f"decode {what}: arguments must be a JSON object")
    return dict(raw)


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# Each adapter name (and its spellings) with the word a parse error names it by.
_LABELS = {
    "": "mcp",
    "mcp": "mcp",
    "openai": "openai",
    "anthropic": "anthropic",
    "claude_code": "claude code",
    "claude-code": "claude code",
    "claudecode": "claude code",
    "langchain": "langchain",
}


def decode(adapter: str, payload: bytes | str) -> ToolCall:
    """The call in ``payload`` read as ``adapter`` shapes it."""
    name = (adapter or "mcp").strip().lower()
    label = _LABELS.get(name)
    if label is None:
        raise _unsupported(adapter)
    return decode_value(name, _loads(payload, label))


def decode_value(adapter: str, doc: Any) -> ToolCall:
    """The call ``doc`` (already parsed JSON, e.g. the decision service's request) as
    ``adapter`` shapes it: the same as ``decode`` of its JSON text, without writing and
    re-reading that text."""
    name = (adapter or "mcp").strip().lower()
    if name in ("", "mcp"):
        return _decode_mcp(doc)
    if name == "openai":
        doc = _object(doc, "openai tool call")
        if doc.get("function") is None and doc.get("type") == "function_call":
            # A Responses API item (``ResponseFunctionToolCall``): name and arguments sit on
            # the item itself rather than under ``function`` as in Chat Completions.
            return ToolCall(
                name=_str(doc.get("name")),
                args=_arguments(doc.get("arguments"), "openai arguments"),
            )
        fn = _object(doc.get("function"), "openai function")
        return ToolCall(
            name=_str(fn.get("name")), args=_arguments(fn.get("arguments"), "openai arguments")
        )
    if name == "anthropic":
        doc = _object(doc, "anthropic tool call")
        return ToolCall(name=_str(doc.get("name")), args=_object(doc.get("input"), "input"))
    if name in ("claude_code", "claude-code", "claudecode"):
        return _decode_claude_code(_object(doc, "claude code call"))
    if name == "langchain":
        doc = _object(doc, "langchain tool call")
        if "tool" not in doc and (doc.get("type") == "tool_call" or {"name", "args"} <= doc.keys()):
            # LangChain 1.x's ``ToolCall`` (what ``AIMessage.tool_calls`` holds): ``name`` and
            # ``args``; the reference reads only the older ``AgentAction`` (``tool``,
            # ``tool_input``).
            return ToolCall(
                name=_str(doc.get("name")), args=_arguments(doc.get("args"), "langchain args")
            )
        return ToolCall(
            name=_str(doc.get("tool")),
            args=_arguments(doc.get("tool_input"), "langchain tool_input"),
        )
    raise _unsupported(adapter)


def _unsupported(adapter: str) -> CallInvalid:
    return CallInvalid(
        f"unsupported adapter: {adapter}",
        code="E_USAGE",
        hint="--adapter mcp|openai|anthropic|langchain|claude_code",
    )


def _decode_mcp(doc: Any) -> ToolCall:
    doc = _object(doc, "mcp tool call")
    # A JSON-RPC ``tools/call`` request is accepted as well as the bare call.
    if doc.get("method") == "tools/call" and isinstance(doc.get("params"), Mapping):
        params = doc["params"]
        meta = _object(params.get("_meta"), "params._meta")
        # ``_meta.gait`` is where the stdio proxy reads them (docs/decision-service.md): the
        # same message gated here must not lose its declared targets and be decided without
        # them. Bare ``_meta`` keys are still read; ``_meta.gait`` wins where both are given.
        meta = {**meta, **_object(meta.get("gait"), "params._meta.gait")}
        doc = {
            "name": params.get("name"),
            "args": params.get("arguments"),
            **{k: meta[k] for k in ("targets", "context", "server") if k in meta},
        }
    targets = doc.get("targets")
    if not targets and _str(doc.get("target")):
        targets = [_legacy_target(_str(doc["target"]))]
    if targets is not None and not isinstance(targets, list):
        raise _fail("targets must be a list")
    provenance = doc.get("arg_provenance") or []
    if not isinstance(provenance, list):
        raise _fail("arg_provenance must be a list")
    script = doc.get("script")
    if script is not None and not isinstance(script, Mapping):
        raise _fail("script must be an object")
    server = doc.get("server")
    created = doc.get("created_at")
    return ToolCall(
        name=_str(doc.get("name")),
        args=_object(doc.get("args"), "args"),
        targets=[_target(t, f"targets[{i}]") for i, t in enumerate(targets or [])],
        arg_provenance=[_object(p, "arg_provenance entry") for p in provenance],
        script=dict(script) if script else None,
        server=_object(server, "server") if server is not None else None,
        context=_object(doc.get("context"), "context"),
        delegation=_object(doc.get("delegation"), "delegation") or None,
        created_at=created if isinstance(created, str) else "",
    )


def _legacy_target(value: str) -> dict[str, Any]:
    kind = "url" if "://" in value else "path" if "/" in value else "host"
    return {"kind": kind, "value": value}


def _truthy(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _target(raw: Any, where: str) -> dict[str, Any]:
    """A target with MCP's camelCase hint aliases and ``annotations`` folded in."""
    target = _object(raw, where)
    out: dict[str, Any] = {
        "kind": _str(target.get("kind")),
        "value": _str(target.get("value")),
    }
    for name in ("operation", "sensitivity", "endpoint_class", "endpoint_domain"):
        if _str(target.get(name)):
            out[name] = _str(target[name])
    annotations = target.get("annotations")
    annotations = annotations if isinstance(annotations, Mapping) else {}
    method = _str(target.get("discovery_method")) or _str(target.get("discoveryMethod"))
    for key in ("discovery_method", "discoveryMethod"):
        if isinstance(annotations.get(key), str):
            method = annotations[key].strip()
            break
    if method:
        out["discovery_method"] = method
    for snake, camel in _HINTS:
        flag = target.get(snake) is True or target.get(camel) is True
        for key in (snake, camel):
            if key in annotations and _truthy(annotations[key]) is not None:
                flag = bool(_truthy(annotations[key]))
                break
        if flag:
            out[snake] = True
    return out


def _claude_code_name(raw: str) -> str:
    if not raw:
        return ""
    canonical = raw.lower().replace(" ", "").replace("_", "").replace("-", "")
    if canonical in _CLAUDE_CODE_TOOLS:
        return _CLAUDE_CODE_TOOLS[canonical]
    if "." in raw:
        return raw.lower()
    return "tool." + raw.lower().replace(" ", "_").replace("-", "_")


def _first(args: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = args.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _decode_claude_code(doc: dict[str, Any]) -> ToolCall:
    name = _claude_code_name(_str(doc.get("tool_name")) or _str(doc.get("name")))
    if not name:
        raise _fail("claude code tool call name is required")
    raw_args = doc.get("tool_input")
    if raw_args is None:
        raw_args = doc.get("input")
    args = _arguments(raw_args, "claude code tool_input")
    call = ToolCall(name=name, args=args)
    if _str(doc.get("session_id")):
        call.context["session_id"] = _str(doc["session_id"])
    if _str(doc.get("hook_event_name")):
        call.context["auth_context"] = {
            "hook_event_name": _str(doc["hook_event_name"]),
            "adapter": "claude_code",
        }
    targets: list[dict[str, Any]] = []
    if name == "tool.read":
        path = _first(args, "path", "file_path", "filepath", "file")
        if path:
            targets.append({"kind": "path", "value": path, "operation": "read"})
        url = _first(args, "url", "uri")
        if url:
            targets.append({"kind": "url", "value": url, "operation": "read"})
    elif name == "tool.write":
        path = _first(args, "path", "file_path", "filepath", "file")
        if path:
            targets.append({"kind": "path", "value": path, "operation": "write"})
    elif name == "tool.exec":
        command = _first(args, "command", "cmd", "script")
        if command:
            targets.append({"kind": "other", "value": command, "operation": "execute"})
    elif name == "tool.delegate":
        task = _first(args, "task", "prompt", "description")
        if task:
            targets.append({"kind": "other", "value": task, "operation": "delegate"})
    call.targets = targets
    return call


def to_intent(call: ToolCall, *, strict: bool = False) -> dict[str, Any]:
    """The IntentRequest for ``call``; ``strict`` (oss-prod) refuses a call without context."""
    name = call.name.strip()
    steps = (call.script or {}).get("steps") or []
    if not name and not steps:
        raise _fail("tool call name is required")
    ctx = call.context
    if strict:
        for needed in ("identity", "workspace", "session_id"):
            if not call.context_str(needed):
                raise _fail(f"context.{needed} is required in strict profile")
    context: dict[str, Any] = {
        "identity": call.context_str("identity") or DEFAULT_IDENTITY,
        "workspace": call.context_str("workspace") or DEFAULT_WORKSPACE,
        "risk_class": call.context_str("risk_class") or DEFAULT_RISK_CLASS,
    }
    for key in (
        "phase",
        "job_id",
        "session_id",
        "request_id",
        "run_id",
        "agent_id",
        "environment",
        "environment_fingerprint",
    ):
        if call.context_str(key):
            context[key] = call.context_str(key)
    auth = (
        dict(ctx.get("auth_context") or {}) if isinstance(ctx.get("auth_context"), Mapping) else {}
    )
    if call.context_str("auth_mode"):
        auth["auth_mode"] = call.context_str("auth_mode")
    if isinstance(ctx.get("oauth_evidence"), Mapping):
        auth["oauth_evidence"] = dict(ctx["oauth_evidence"])
    if auth:
        context["auth_context"] = auth
    if isinstance(ctx.get("credential_scopes"), list) and ctx["credential_scopes"]:
        context["credential_scopes"] = list(ctx["credential_scopes"])
    intent: dict[str, Any] = {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": call.created_at or EPOCH_1980,
        "producer_version": "0.0.0-dev",
        "tool_name": name,
        "args": dict(call.args),
        "targets": list(call.targets),
        "context": context,
    }
    if call.arg_provenance:
        intent["arg_provenance"] = list(call.arg_provenance)
    if steps:
        intent["tool_name"] = "script"
        intent["args"] = {}
        intent["script"] = {
            "steps": [
                {
                    "tool_name": _str(_object(step, "script step").get("name"))
                    or _str(step.get("tool_name")),
                    "args": _object(step.get("args"), "script step args"),
                    "targets": [
                        _target(t, f"script.steps[{i}].targets") for t in step.get("targets") or []
                    ],
                    **(
                        {"arg_provenance": list(step["arg_provenance"])}
                        if step.get("arg_provenance")
                        else {}
                    ),
                }
                for i, step in enumerate(steps)
            ]
        }
    if call.delegation:
        intent["delegation"] = dict(call.delegation)
    return intent
