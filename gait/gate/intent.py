"""IntentRequest normalisation (FORMATS.md 5.1, 5.2) and the intent digest.

The normalised intent is what the reference hashes, so every rule here (trimming, lowercasing,
inferred endpoint classes, de-duplication, sort orders, omitted empties) changes digests that
tokens and traces carry across implementations. The input is the decoded JSON of an
IntentRequest; anything not normalisable raises ``IntentInvalid`` (exit 6) with a message that
names the field.
"""

from __future__ import annotations

# collections.abc without the collections package (see gait.gate.engine)
from _collections_abc import Mapping

from gait import gocompat, timefmt
from gait.canon import digest
from gait.gate.intent_fields import (
    HEX64,
    array,
    fail,
    integer,
    mapping,
    normalize_json,
    rfc3339,
    string,
    string_list,
    target_flag,
    target_text,
)
from gait.gate.intent_fields import IntentInvalid as IntentInvalid  # re-exported
from gait.gate.intent_secrets import refuse_credentials
from gait.gate.normalized_intent import EVIDENCE_CLAIMS as EVIDENCE_CLAIMS  # re-exported
from gait.gate.normalized_intent import NormalizedIntent as NormalizedIntent  # re-exported
from gait.gate.vocabulary import (
    CREDENTIAL_ACCESS_TYPES,
    CREDENTIAL_SOURCES,
    DISCOVERY_METHODS,
    ENDPOINT_CLASSES,
    PROVENANCE_SOURCES,
    TARGET_KINDS,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_SCRIPT_STEPS = 64  # gait.gate.intent_blocks reads a script

_EVIDENCE_REF_PREFIXES = ("ref:", "receipt:", "proof:", "sandbox:", "sha256:")
_PATH_READ_OPS = frozenset({"read", "get", "list", "open", "cat", "head", "download", "stat"})
_PATH_WRITE_OPS = frozenset(
    {"write", "append", "put", "create", "update", "save", "copy", "move", "rename"}
)
_PATH_DELETE_OPS = frozenset({"delete", "remove", "rm", "unlink", "rmdir", "drop", "truncate"})
_DNS_OPS = frozenset({"dns", "resolve", "lookup"})
_EXEC_OPS = frozenset({"exec", "spawn", "run", "shell", "command"})
_DESTRUCTIVE_OPS = frozenset(
    {"delete", "remove", "rm", "unlink", "rmdir", "drop", "truncate", "exec", "spawn"}
)

# Context string fields that are only trimmed (omitted when empty).
_CONTEXT_TRIMMED = (
    "agent_id",
    "run_id",
    "workflow_id",
    "repo",
    "environment",
    "job_id",
    "session_id",
    "request_id",
    "credential_ref",
    "credential_issuer",
    "credential_subject",
    "credential_owner",
    "credential_target_binding",
    "credential_run_binding",
    "credential_job_binding",
    "approval_ref",
    "wrkr_inventory_ref",
    "agent_action_bom_ref",
    "environment_fingerprint",
    "contract_family_id",
    "contract_id",
    "proposal_digest",
    "activation_digest",
    "policy_digest",
    "approval_token_digest",
    "delegation_digest",
    "expected_outcome",
)
_CONTEXT_LISTS = ("credential_scopes", "context_refs", "effect_scope", "containment_scope")


def _has_hint(tool_name: str, *hints: str) -> bool:
    base = gocompat.path_base(tool_name.strip().lower())
    return any(hint in base for hint in hints)


def infer_endpoint_class(kind: str, operation: str, tool_name: str) -> str:
    if kind == "path":
        if operation in _PATH_READ_OPS:
            return "fs.read"
        if operation in _PATH_WRITE_OPS:
            return "fs.write"
        if operation in _PATH_DELETE_OPS:
            return "fs.delete"
        if _has_hint(tool_name, "read", "list", "fetch", "search"):
            return "fs.read"
        if _has_hint(tool_name, "write", "update", "save", "create"):
            return "fs.write"
        if _has_hint(tool_name, "delete", "remove", "rm", "drop"):
            return "fs.delete"
        return "other"
    if kind in ("host", "url"):
        return "net.dns" if operation in _DNS_OPS else "net.http"
    if kind == "other":
        if operation in _EXEC_OPS:
            return "proc.exec"
        if _has_hint(tool_name, "exec", "shell", "command", "spawn", "run"):
            return "proc.exec"
    return "other"


def infer_endpoint_domain(kind: str, value: str) -> str:
    if kind == "host":
        host = value.strip()
        if host.startswith("http://"):
            host = host[len("http://") :]
        if host.startswith("https://"):
            host = host[len("https://") :]
        host = host.split("/", 1)[0].split(":", 1)[0]
        return host.strip().lower()
    if kind == "url":
        return gocompat.url_hostname(value.strip()).strip().lower()
    return ""


def _is_destructive(endpoint_class: str, operation: str) -> bool:
    return endpoint_class in ("fs.delete", "proc.exec") or operation in _DESTRUCTIVE_OPS


_HINTS = ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint")


def _normalize_target_general(raw: Any, tool_name: str, where: str) -> dict[str, Any]:
    """One target read field by field: the definition, and the error for a malformed target."""
    target = mapping(raw, where)
    kind = target_text(target, "kind", where).lower()
    value = target_text(target, "value", where)
    operation = target_text(target, "operation", where).lower()
    sensitivity = target_text(target, "sensitivity", where).lower()
    endpoint_class = target_text(target, "endpoint_class", where).lower()
    domain = target_text(target, "endpoint_domain", where).lower()
    method = target_text(target, "discovery_method", where).lower()
    flag = target_flag(target, "destructive", where)
    hints = tuple(target_flag(target, name, where) for name in _HINTS)
    return _build_target(
        tool_name, kind, value, operation, sensitivity, endpoint_class, domain, method, flag, hints
    )


def _normalize_target(raw: Any, tool_name: str, where: str, index: int) -> dict[str, Any]:
    """Target ``where[index]``; the general reading unless every field has its plain JSON type.

    Same result as ``_normalize_target_general`` (tests/test_gate_fastpaths.py checks it): the
    fast path only saves a function call per field and the error-location string.
    """
    if type(raw) is not dict:
        return _normalize_target_general(raw, tool_name, f"{where}[{index}]")
    get = raw.get
    kind = get("kind")
    value = get("value")
    operation = get("operation")
    sensitivity = get("sensitivity")
    endpoint_class = get("endpoint_class")
    domain = get("endpoint_domain")
    method = get("discovery_method")
    flag = get("destructive")
    hints = (
        get("read_only_hint"),
        get("destructive_hint"),
        get("idempotent_hint"),
        get("open_world_hint"),
    )
    # Absent or JSON-typed values only; anything else goes to the general reading for its error.
    if not (
        _STR_OR_NONE.issuperset(
            map(type, (kind, value, operation, sensitivity, endpoint_class, domain, method))
        )
        and (flag is None or type(flag) is bool)
        and (hints == _NO_HINTS or _BOOL_OR_NONE.issuperset(map(type, hints)))
    ):
        return _normalize_target_general(raw, tool_name, f"{where}[{index}]")
    return _build_target(
        tool_name,
        kind.strip().lower() if kind else "",
        value.strip() if value else "",
        operation.strip().lower() if operation else "",
        sensitivity.strip().lower() if sensitivity else "",
        endpoint_class.strip().lower() if endpoint_class else "",
        domain.strip().lower() if domain else "",
        method.strip().lower() if method else "",
        flag is True,
        _NO_HINTS if hints == _NO_HINTS else tuple(h is True for h in hints),
    )


_NO_HINTS = (None, None, None, None)
_STR_OR_NONE = frozenset({str, type(None)})
_BOOL_OR_NONE = frozenset({bool, type(None)})


def _build_target(
    tool_name: str,
    kind: str,
    value: str,
    operation: str,
    sensitivity: str,
    endpoint_class: str,
    domain: str,
    method: str,
    flag: bool,
    hints: tuple[bool | None, ...],
) -> dict[str, Any]:
    """Check and complete one target's trimmed, lowercased fields (FORMATS.md 5.2)."""
    method = method.replace("-", "_").replace(" ", "_") if method else "unknown"
    if not kind or not value:
        raise fail("targets require kind and value")
    if kind not in TARGET_KINDS:
        raise fail(f"unsupported target kind: {kind}")
    if not endpoint_class:
        endpoint_class = infer_endpoint_class(kind, operation, tool_name)
    if endpoint_class not in ENDPOINT_CLASSES:
        raise fail(f"unsupported endpoint class: {endpoint_class}")
    if not domain and (kind == "host" or kind == "url"):
        domain = infer_endpoint_domain(kind, value)
    if method not in DISCOVERY_METHODS:
        raise fail(f"unsupported discovery method: {method}")
    destructive = flag or hints[1] or _is_destructive(endpoint_class, operation)
    out: dict[str, Any] = {"kind": kind, "value": value}
    if operation:
        out["operation"] = operation
    if sensitivity:
        out["sensitivity"] = sensitivity
    out["endpoint_class"] = endpoint_class
    if domain:
        out["endpoint_domain"] = domain
    if destructive:
        out["destructive"] = True
    out["discovery_method"] = method
    if hints != _NO_HINTS:
        for name, hint in zip(_HINTS, hints, strict=True):
            if hint:
                out[name] = True
    return out


def _target_sort_key(target: dict[str, Any]) -> tuple[Any, ...]:
    """(kind, value, operation, sensitivity, class, domain, destructive, method, hints)."""
    get = target.get
    return (
        target["kind"],
        target["value"],
        get("operation", ""),
        get("sensitivity", ""),
        target["endpoint_class"],
        get("endpoint_domain", ""),
        "destructive" in target,
        target["discovery_method"],
        *(name in target for name in _HINTS),
    )


def normalize_model_target(
    tool_name: str, kind: str, value: str, operation: str | None, sensitivity: str | None
) -> dict[str, Any]:
    """A target given as the reference SDK model's four fields (strings, the last two may be
    ``None``): ``_normalize_target`` of the dict that model's ``to_dict`` gives, without it."""
    return _build_target(
        tool_name,
        kind.strip().lower(),
        value.strip(),
        operation.strip().lower() if operation else "",
        sensitivity.strip().lower() if sensitivity else "",
        "",
        "",
        "",
        False,
        _NO_HINTS,
    )


def normalize_targets(raw: Any, tool_name: str, where: str = "targets") -> list[dict[str, Any]]:
    items = array(raw, where)
    if len(items) == 1:  # most intents name one target: nothing to sort or de-duplicate
        return [_normalize_target(items[0], tool_name, where, 0)]
    return _unique_targets(
        [_normalize_target(item, tool_name, where, i) for i, item in enumerate(items)]
    )


def _unique_targets(targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Normalised targets de-duplicated and in the reference's order."""
    if len(targets) < 2:
        return targets
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for target in targets:
        unique.setdefault(_target_sort_key(target), target)
    return [unique[key] for key in sorted(unique)]


def _normalize_provenance_general(raw: Any, where: str) -> dict[str, str]:
    """One provenance entry read field by field: the definition, and the error when malformed."""
    entry = mapping(raw, where)
    arg_path = string(entry.get("arg_path"), f"{where}.arg_path").strip()
    source = string(entry.get("source"), f"{where}.source").strip().lower()
    source_ref = string(entry.get("source_ref"), f"{where}.source_ref").strip()
    integrity = string(entry.get("integrity_digest"), f"{where}.integrity_digest").strip().lower()
    return _build_provenance(arg_path, source, source_ref, integrity)


def _normalize_provenance_entry(raw: Any, where: str, index: int) -> dict[str, str]:
    """Entry ``where[index]``; the general reading unless every field is a plain string."""
    if type(raw) is dict:
        get = raw.get
        arg_path, source, source_ref, integrity = fields = (
            get("arg_path"),
            get("source"),
            get("source_ref"),
            get("integrity_digest"),
        )
        if _STR_OR_NONE.issuperset(map(type, fields)):
            return _build_provenance(
                arg_path.strip() if arg_path else "",
                source.strip().lower() if source else "",
                source_ref.strip() if source_ref else "",
                integrity.strip().lower() if integrity else "",
            )
    return _normalize_provenance_general(raw, f"{where}[{index}]")


def _build_provenance(
    arg_path: str, source: str, source_ref: str, integrity: str
) -> dict[str, Any]:
    if not arg_path or not source:
        raise fail("arg provenance requires arg_path and source")
    if source not in PROVENANCE_SOURCES:
        raise fail(f"unsupported provenance source: {source}")
    if integrity and not HEX64.match(integrity):
        raise fail(f"invalid provenance integrity_digest: {integrity}")
    out = {"arg_path": arg_path, "source": source}
    if source_ref:
        out["source_ref"] = source_ref
    if integrity:
        out["integrity_digest"] = integrity
    return out


def normalize_provenance(raw: Any, where: str = "arg_provenance") -> list[dict[str, Any]]:
    items = array(raw, where)
    if len(items) == 1:
        return [_normalize_provenance_entry(items[0], where, 0)]
    entries = [_normalize_provenance_entry(item, where, i) for i, item in enumerate(items)]
    if len(entries) < 2:
        return entries
    unique: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for entry in entries:
        key = (
            entry["arg_path"],
            entry["source"],
            entry.get("source_ref", ""),
            entry.get("integrity_digest", ""),
        )
        unique.setdefault(key, entry)
    return [unique[key] for key in sorted(unique)]


def _normalize_auth_context(raw: Any) -> dict[str, Any] | None:
    data = mapping(raw, "context.auth_context")
    if not data:
        return None
    normalized = normalize_json(data, "context.auth_context")
    if not normalized:
        return None
    refuse_credentials("context.auth_context", normalized)
    auth: dict[str, Any] = normalized
    return auth


_CONTEXT_TRIMMED_SET = frozenset(_CONTEXT_TRIMMED)
_CONTEXT_REQUIRED = frozenset({"identity", "workspace", "risk_class", "phase"})
_CONTEXT_LISTS_SET = frozenset(_CONTEXT_LISTS)


def normalize_context(raw: Any) -> dict[str, Any]:
    data = raw if type(raw) is dict else mapping(raw, "context")
    get = data.get
    identity = string(get("identity"), "context.identity").strip()
    workspace = string(get("workspace"), "context.workspace").strip()
    risk_class = string(get("risk_class"), "context.risk_class").strip().lower()
    if not identity:
        raise fail("context.identity is required")
    if not workspace:
        raise fail("context.workspace is required")
    if not risk_class:
        raise fail("context.risk_class is required")
    phase = string(get("phase"), "context.phase").strip().lower() or "apply"
    if phase not in ("plan", "apply"):
        raise fail("context.phase must be plan or apply")
    out: dict[str, Any] = {
        "identity": identity,
        "workspace": workspace.replace("\\", "/"),
        "risk_class": risk_class,
        "phase": phase,
    }
    # Only the keys present are visited: most intents carry few of the optional fields.
    for name, value in data.items():
        if name in _CONTEXT_REQUIRED:
            continue
        if name in _CONTEXT_TRIMMED_SET:
            text = string(value, f"context.{name}").strip()
            if text:
                out[name] = text
        elif name in _CONTEXT_LISTS_SET:
            values = string_list(value, f"context.{name}")
            if values:
                out[name] = values
        elif name in _CONTEXT_SPECIAL:
            _CONTEXT_SPECIAL[name](value, out)
    return out


def _ctx_auth(value: Any, out: dict[str, Any]) -> None:
    auth = _normalize_auth_context(value)
    if auth is not None:
        out["auth_context"] = auth


def _ctx_sandbox(value: Any, out: dict[str, Any]) -> None:
    from gait.gate.intent_blocks import _normalize_sandbox

    sandbox = _normalize_sandbox(value)
    if sandbox is not None:
        out["sandbox"] = sandbox


def _ctx_agent_identity(value: Any, out: dict[str, Any]) -> None:
    from gait.gate.intent_blocks import _normalize_agent_identity

    agent = _normalize_agent_identity(value)
    if agent is not None:
        out["agent_identity"] = agent


def _ctx_set_digest(value: Any, out: dict[str, Any]) -> None:
    text = string(value, "context.context_set_digest").strip().lower()
    if text and not HEX64.match(text):
        raise fail("context.context_set_digest must be sha256 hex")
    if text:
        out["context_set_digest"] = text


def _ctx_ttl(value: Any, out: dict[str, Any]) -> None:
    ttl = integer(value, "context.credential_ttl_seconds")
    if ttl < 0:
        raise fail("context.credential_ttl_seconds must be >= 0")
    if ttl:
        out["credential_ttl_seconds"] = ttl


def _ctx_revision(value: Any, out: dict[str, Any]) -> None:
    revision = integer(value, "context.contract_revision")
    if revision:
        out["contract_revision"] = revision


def _ctx_enum(name: str, allowed: frozenset[str] | None, message: str) -> Any:
    def apply(value: Any, out: dict[str, Any]) -> None:
        text = string(value, f"context.{name}").strip().lower()
        if text and allowed is not None and text not in allowed:
            raise fail(message.format(text))
        if text:
            out[name] = text

    return apply


_CONTEXT_SPECIAL = {
    "auth_context": _ctx_auth,
    "sandbox": _ctx_sandbox,
    "agent_identity": _ctx_agent_identity,
    "context_set_digest": _ctx_set_digest,
    "credential_ttl_seconds": _ctx_ttl,
    "contract_revision": _ctx_revision,
    "credential_source": _ctx_enum(
        "credential_source", CREDENTIAL_SOURCES, "context.credential_source is unsupported: {}"
    ),
    "credential_access_type": _ctx_enum(
        "credential_access_type",
        CREDENTIAL_ACCESS_TYPES,
        "context.credential_access_type is unsupported: {}",
    ),
    "context_evidence_mode": _ctx_enum(
        "context_evidence_mode",
        frozenset({"best_effort", "required"}),
        "context.context_evidence_mode must be best_effort or required",
    ),
}


def _normalize_args(raw: Any, where: str, floats: list[float] | None = None) -> dict[str, Any]:
    if raw is None:
        return {}
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise fail(f"{where} must be a JSON object")
    obj: dict[str, Any] = normalize_json(raw, where, floats)
    return obj


def normalize_intent(raw: Any) -> NormalizedIntent:
    """Normalise a decoded IntentRequest; raises ``IntentInvalid`` when it cannot be."""
    data = raw
    if type(raw) is not dict:  # decoded JSON is a dict: skip the slower Mapping checks
        data = mapping(raw, "intent")
        if not isinstance(raw, Mapping):
            raise fail("intent must be a JSON object")
    # Absent optional blocks are tested here rather than in their readers (one call fewer
    # each, on every decision); the readers' own ``None`` handling is the same.
    get = data.get
    script_raw = get("script")
    if script_raw is None and get("skill_provenance") is None and get("delegation") is None:
        return normalize_fields(
            get("tool_name"),
            get("args"),
            get("targets"),
            get("arg_provenance"),
            get("context"),
            get("created_at"),
        )
    # An intent with a script, skill provenance or delegation: their readers load now.
    from gait.gate.intent_blocks import (
        _normalize_delegation,
        _normalize_script,
        _normalize_skill_provenance,
    )

    script = None if script_raw is None else _normalize_script(script_raw)
    tool_name = string(get("tool_name"), "tool_name").strip().lower()
    if script is not None:
        tool_name = "script"
    if not tool_name:
        raise fail("tool_name is required")
    floats: list[float] = []
    args_raw = get("args")
    if type(args_raw) is dict:
        args = normalize_json(args_raw, "args", floats)
    else:
        args = _normalize_args(args_raw, "args", floats)
    refuse_credentials("args", args)
    targets_raw = array(get("targets"), "targets")
    if script is not None and not targets_raw:
        targets_raw = [
            t
            for step in array(data["script"].get("steps"), "s")
            for t in array(mapping(step, "s").get("targets"), "s")
        ]
    targets = normalize_targets(targets_raw, tool_name)
    provenance_raw = array(get("arg_provenance"), "arg_provenance")
    if script is not None and not provenance_raw:
        provenance_raw = [
            p
            for step in array(data["script"].get("steps"), "s")
            for p in array(mapping(step, "s").get("arg_provenance"), "s")
        ]
    provenance = normalize_provenance(provenance_raw)
    skill_raw = get("skill_provenance")
    skill = None if skill_raw is None else _normalize_skill_provenance(skill_raw)
    context = normalize_context(get("context"))
    delegation_raw = get("delegation")
    delegation = None if delegation_raw is None else _normalize_delegation(delegation_raw)
    created_at = _created_at(get("created_at"))
    doc: dict[str, Any] = {"tool_name": tool_name, "args": args, "targets": targets}
    if provenance:
        doc["arg_provenance"] = provenance
    if script is not None:
        doc["script"] = script
        doc["script_hash"] = digest(script)
    if skill is not None:
        doc["skill_provenance"] = skill
    if delegation is not None:
        doc["delegation"] = delegation
    doc["context"] = context
    # Every value of ``doc`` was built here from checked strings, booleans and integers, except
    # the arguments (normalize_json counted their floats), the script's and auth_context (not
    # counted): without floats the digests take orjson's path (gait.canon.digest_floatless).
    floatless = not floats and script is None and "auth_context" not in context
    return NormalizedIntent(doc, created_at, floatless)


def _created_at(raw: Any) -> str:
    """The intent's canonical time: 1980-01-01 when absent or Go's zero time."""
    if raw is None:
        return timefmt.EPOCH_1980
    created = rfc3339(raw, "created_at")
    return timefmt.EPOCH_1980 if created == timefmt.ZERO_TIME else created


def normalize_fields(
    tool_name: Any,
    args_raw: Any,
    targets_raw: Any,
    provenance_raw: Any,
    context_raw: Any,
    created_raw: Any,
    *,
    targets: list[dict[str, Any]] | None = None,
    provenance: list[dict[str, Any]] | None = None,
    context: dict[str, Any] | None = None,
    created_at: str | None = None,
) -> NormalizedIntent:
    """``normalize_intent`` of an intent without script, skill provenance or delegation, from
    its fields (the same checks, in the same order, the same errors).

    A caller holding the normalised ``provenance``, ``context`` or canonical ``created_at`` of
    these very fields (the compat SDK keeps them for a tool's fixed models) passes them to skip
    re-normalising; the raw values are then not read. So for ``targets``: each target
    normalised (``normalize_model_target``), in the intent's order. The doc takes them as given,
    unshared.
    """
    name = string(tool_name, "tool_name").strip().lower()
    if not name:
        raise fail("tool_name is required")
    floats: list[float] = []
    if type(args_raw) is dict:
        args = normalize_json(args_raw, "args", floats)
    else:
        args = _normalize_args(args_raw, "args", floats)
    refuse_credentials("args", args)
    if targets is None:
        targets = normalize_targets(targets_raw, name)
    elif len(targets) > 1:
        targets = _unique_targets(targets)
    if provenance is None:
        provenance = normalize_provenance(provenance_raw)
    if context is None:
        context = normalize_context(context_raw)
    if created_at is None:
        created_at = _created_at(created_raw)
    doc: dict[str, Any] = {"tool_name": name, "args": args, "targets": targets}
    if provenance:
        doc["arg_provenance"] = provenance
    doc["context"] = context
    # as in normalize_intent: without floats (and auth_context) the digests take orjson's path
    return NormalizedIntent(doc, created_at, not floats and "auth_context" not in context)
