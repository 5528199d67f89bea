"""IntentRequest normalisation (FORMATS.md 5.1, 5.2) and the intent digest.

The normalised intent is what the reference hashes, so every rule here (trimming, lowercasing,
inferred endpoint classes, de-duplication, sort orders, omitted empties) changes digests that
tokens and traces carry across implementations. The input is the decoded JSON of an
IntentRequest; anything not normalisable raises ``IntentInvalid`` (exit 6) with a message that
names the field.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from gait import gocompat, timefmt
from gait.canon import digest
from gait.errors import InvalidInput

MAX_SCRIPT_STEPS = 64

TARGET_KINDS = frozenset(
    {"path", "url", "host", "repo", "bucket", "table", "queue", "topic", "other"}
)
PROVENANCE_SOURCES = frozenset({"user", "tool_output", "external", "system"})
ENDPOINT_CLASSES = frozenset(
    {
        "fs.read",
        "fs.write",
        "fs.delete",
        "proc.exec",
        "net.http",
        "net.dns",
        "ui.click",
        "ui.type",
        "ui.navigate",
        "other",
    }
)
DISCOVERY_METHODS = frozenset(
    {"webmcp", "dynamic_mcp", "a2a", "mcp", "static_mcp", "manual", "unknown"}
)
CREDENTIAL_SOURCES = frozenset(
    {
        "aws_iam_user",
        "aws_sts",
        "azure_federated",
        "command",
        "env",
        "gcp_sts",
        "github_oidc",
        "github_pat",
        "kubernetes_service_account",
        "stub",
        "unknown",
        "vault_dynamic",
    }
)
CREDENTIAL_ACCESS_TYPES = frozenset(
    {"cloud_admin", "inherited", "jit", "standing", "static", "unknown"}
)
SANDBOX_ENUMS = {
    "network_mode": frozenset({"disabled", "egress_allowlist", "full"}),
    "env_exposure_mode": frozenset({"allowlist", "full", "none"}),
    "filesystem_isolation": frozenset({"container", "none", "workspace"}),
    "user_mode": frozenset({"default", "root", "unprivileged"}),
}

_HEX64 = re.compile(r"^[a-f0-9]{64}$")
_CREDENTIAL_KEY = re.compile(r"(token|secret|api[_-]?key|access[_-]?key|password|credential)")
_RAW_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SAFE_KEY_SUFFIXES = (
    "_ref",
    "_refs",
    "_digest",
    "_digests",
    "_hash",
    "_issuer",
    "_source",
    "_type",
    "_ttl",
    "_ttl_seconds",
    "_id",
    "_ids",
    "_name",
    "_names",
    "_scope",
    "_scopes",
)
_EVIDENCE_REF_PREFIXES = ("ref:", "receipt:", "proof:", "sandbox:", "sha256:")
_SAFE_VALUE_PREFIXES = ("env:", "stub:", "cmd:", "ref:", "sha256:")
_SECRET_VALUE_PREFIXES = ("ghp_", "gho_", "github_pat_", "sk-", "AKIA", "ASIA")

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
# Claims an intent makes about context evidence: dropped unless a verified envelope backs them.
EVIDENCE_CLAIMS = ("context_set_digest", "context_evidence_mode", "context_refs")


class IntentInvalid(InvalidInput):
    """The intent cannot be normalised: the reference refuses it (exit 6)."""

    default_code = "E_INTENT_INVALID"


def _fail(message: str) -> IntentInvalid:
    return IntentInvalid(f"intent invalid: {message}", code="E_INTENT_INVALID")


def _str(value: Any, where: str) -> str:
    if type(value) is str:
        return value
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail(f"{where} must be a string")
    return value


def _bool(value: Any, where: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _fail(f"{where} must be a boolean")
    return value


def _int(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(f"{where} must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise _fail(f"{where} must be an integer")
        value = int(value)
    count: int = value
    return count


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(f"{where} must be an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(f"{where} must be an array")
    return value


@functools.lru_cache(maxsize=4096)
def _canonical_time(value: str) -> str:
    return timefmt.canonical(value)


def _time(value: Any, where: str) -> str:
    """Canonical RFC 3339 (the zero time when unset), as the reference always prints it."""
    if value is None:
        return timefmt.ZERO_TIME
    if not isinstance(value, str):
        raise _fail(f"{where} must be an RFC 3339 time")
    try:
        return _canonical_time(value)
    except InvalidInput as exc:
        raise _fail(f"{where} is not an RFC 3339 time") from exc


def _time_before_eq(a: str, b: str) -> bool:
    return timefmt.parse(a) <= timefmt.parse(b)


def normalize_json(value: Any, where: str = "args") -> Any:
    """Trim keys and strings recursively; an empty key is an error."""
    kind = type(value)
    if kind is str:
        return value.strip()
    if kind is dict or isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, nested in value.items():
            if not isinstance(key, str):
                raise _fail(f"{where} has a non-string key")
            trimmed = key.strip()
            if not trimmed:
                raise _fail(f"{where} contains an empty key")
            out[trimmed] = normalize_json(nested, where)
        return out
    if kind is list or kind is tuple:
        return [normalize_json(item, where) for item in value]
    if value is None or kind is bool or kind is int or kind is float:
        return value
    raise _fail(f"{where} holds a value that is not JSON ({kind.__name__})")


@functools.lru_cache(maxsize=8192)
def _key_suggests_credential(key: str) -> bool:
    lowered = key.strip().lower()
    if not lowered or lowered.endswith(_SAFE_KEY_SUFFIXES):
        return False
    return _CREDENTIAL_KEY.search(lowered) is not None


def looks_like_secret(value: str) -> bool:
    trimmed = value.strip()
    if not trimmed:
        return False
    lowered = trimmed.lower()
    if lowered.startswith(_SAFE_VALUE_PREFIXES) or _HEX64.match(lowered):
        return False
    if trimmed.startswith(_SECRET_VALUE_PREFIXES):
        return True
    if len(trimmed) < 16 or any(ch in trimmed for ch in " \t\r\n"):
        return False
    has_alpha = any(("a" <= ch <= "z") or ("A" <= ch <= "Z") for ch in trimmed)
    has_digit = any("0" <= ch <= "9" for ch in trimmed)
    return has_alpha and has_digit


def _has_credentials(value: Any) -> bool:
    if isinstance(value, dict):
        for key, nested in value.items():
            if (
                _key_suggests_credential(key)
                and isinstance(nested, str)
                and looks_like_secret(nested)
            ):
                return True
            if isinstance(nested, (dict, list)) and _has_credentials(nested):
                return True
    elif isinstance(value, list):
        return any(isinstance(v, (dict, list)) and _has_credentials(v) for v in value)
    return False


def _reject_credentials(path: str, value: Any) -> None:
    """Refuse raw credential material; the error names the first offender in key order."""
    if _has_credentials(value):
        _reject_credentials_sorted(path, value)


def _reject_credentials_sorted(path: str, value: Any) -> None:
    if isinstance(value, dict):
        for key in sorted(value):
            child = f"{path}.{key}"
            nested = value[key]
            if (
                _key_suggests_credential(key)
                and isinstance(nested, str)
                and looks_like_secret(nested)
            ):
                raise _fail(
                    f"{child} must not contain raw credential material; "
                    "use credential references or digests instead"
                )
            _reject_credentials_sorted(child, nested)
    elif isinstance(value, list):
        for index, nested in enumerate(value):
            _reject_credentials_sorted(f"{path}[{index}]", nested)


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


def _field(target: Mapping[str, Any], name: str, where: str) -> str:
    value = target.get(name)
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    raise _fail(f"{where}.{name} must be a string")


def _flag(target: Mapping[str, Any], name: str, where: str) -> bool:
    value = target.get(name)
    if value is None or value is False:
        return False
    if value is True:
        return True
    raise _fail(f"{where}.{name} must be a boolean")


def _normalize_target_general(raw: Any, tool_name: str, where: str) -> dict[str, Any]:
    """One target read field by field: the definition, and the error for a malformed target."""
    target = _obj(raw, where)
    kind = _field(target, "kind", where).lower()
    value = _field(target, "value", where)
    operation = _field(target, "operation", where).lower()
    sensitivity = _field(target, "sensitivity", where).lower()
    endpoint_class = _field(target, "endpoint_class", where).lower()
    domain = _field(target, "endpoint_domain", where).lower()
    method = _field(target, "discovery_method", where).lower()
    flag = _flag(target, "destructive", where)
    hints = tuple(_flag(target, name, where) for name in _HINTS)
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
        raise _fail("targets require kind and value")
    if kind not in TARGET_KINDS:
        raise _fail(f"unsupported target kind: {kind}")
    if not endpoint_class:
        endpoint_class = infer_endpoint_class(kind, operation, tool_name)
    if endpoint_class not in ENDPOINT_CLASSES:
        raise _fail(f"unsupported endpoint class: {endpoint_class}")
    if not domain and (kind == "host" or kind == "url"):
        domain = infer_endpoint_domain(kind, value)
    if method not in DISCOVERY_METHODS:
        raise _fail(f"unsupported discovery method: {method}")
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


def normalize_targets(raw: Any, tool_name: str, where: str = "targets") -> list[dict[str, Any]]:
    items = _list(raw, where)
    targets = [_normalize_target(item, tool_name, where, i) for i, item in enumerate(items)]
    if len(targets) < 2:
        return targets
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for target in targets:
        unique.setdefault(_target_sort_key(target), target)
    return [unique[key] for key in sorted(unique)]


def _normalize_provenance_general(raw: Any, where: str) -> dict[str, str]:
    """One provenance entry read field by field: the definition, and the error when malformed."""
    entry = _obj(raw, where)
    arg_path = _str(entry.get("arg_path"), f"{where}.arg_path").strip()
    source = _str(entry.get("source"), f"{where}.source").strip().lower()
    source_ref = _str(entry.get("source_ref"), f"{where}.source_ref").strip()
    integrity = _str(entry.get("integrity_digest"), f"{where}.integrity_digest").strip().lower()
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
        raise _fail("arg provenance requires arg_path and source")
    if source not in PROVENANCE_SOURCES:
        raise _fail(f"unsupported provenance source: {source}")
    if integrity and not _HEX64.match(integrity):
        raise _fail(f"invalid provenance integrity_digest: {integrity}")
    out = {"arg_path": arg_path, "source": source}
    if source_ref:
        out["source_ref"] = source_ref
    if integrity:
        out["integrity_digest"] = integrity
    return out


def normalize_provenance(raw: Any, where: str = "arg_provenance") -> list[dict[str, Any]]:
    items = _list(raw, where)
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


def _string_list(raw: Any, where: str, *, lower: bool = False) -> list[str]:
    out = set()
    for index, item in enumerate(_list(raw, where)):
        text = _str(item, f"{where}[{index}]").strip()
        if lower:
            text = text.lower()
        if text:
            out.add(text)
    return sorted(out)


def _normalize_auth_context(raw: Any) -> dict[str, Any] | None:
    data = _obj(raw, "context.auth_context")
    if not data:
        return None
    normalized = normalize_json(data, "context.auth_context")
    if not normalized:
        return None
    _reject_credentials("context.auth_context", normalized)
    auth: dict[str, Any] = normalized
    return auth


def _normalize_sandbox(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    data = _obj(raw, "context.sandbox")
    out: dict[str, Any] = {}
    for name, allowed in SANDBOX_ENUMS.items():
        text = _str(data.get(name), f"context.sandbox.{name}").strip().lower()
        if text and text not in allowed:
            raise _fail(f"context.sandbox.{name} is unsupported: {text}")
        if text:
            out[name] = text
    timeout = _int(data.get("timeout_seconds"), "context.sandbox.timeout_seconds")
    if timeout < 0:
        raise _fail("context.sandbox.timeout_seconds must be >= 0")
    if timeout:
        out["timeout_seconds"] = timeout
    for name in ("writable_paths", "read_only_roots"):
        paths = set()
        for index, item in enumerate(_list(data.get(name), f"context.sandbox.{name}")):
            text = gocompat.clean_path(_str(item, f"context.sandbox.{name}[{index}]").strip())
            if text in ("", "."):
                continue
            if _RAW_ENV_ASSIGNMENT.match(text):
                raise _fail(
                    f"context.sandbox.{name}[{index}] must not contain raw environment "
                    "variable assignments"
                )
            paths.add(text)
        if paths:
            out[name] = sorted(paths)
    evidence_ref = _str(data.get("evidence_ref"), "context.sandbox.evidence_ref").strip()
    evidence_digest = (
        _str(data.get("evidence_digest"), "context.sandbox.evidence_digest").strip().lower()
    )
    if evidence_digest and not _HEX64.match(evidence_digest):
        raise _fail("context.sandbox.evidence_digest must be sha256 hex")
    if evidence_ref:
        if _RAW_ENV_ASSIGNMENT.match(evidence_ref):
            raise _fail(
                "context.sandbox.evidence_ref must not contain raw environment variable assignments"
            )
        safe = evidence_ref.lower().startswith(
            ("ref:", "receipt:", "proof:", "sandbox:", "sha256:")
        )
        if not safe and looks_like_secret(evidence_ref):
            raise _fail(
                "context.sandbox.evidence_ref must not contain secret-like sandbox "
                "material; use sandbox evidence refs or digests instead"
            )
        out["evidence_ref"] = evidence_ref
    if evidence_digest:
        out["evidence_digest"] = evidence_digest
    return out or None


def _normalize_agent_identity(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    data = _obj(raw, "context.agent_identity")
    where = "context.agent_identity"
    manifest = _str(data.get("manifest_digest"), f"{where}.manifest_digest").strip().lower()
    if manifest and not _HEX64.match(manifest):
        raise _fail(f"{where}.manifest_digest must be sha256 hex")
    issued = _time(data.get("issued_at"), f"{where}.issued_at")
    approved = _time(data.get("approved_at"), f"{where}.approved_at")
    expires = _time(data.get("expires_at"), f"{where}.expires_at")
    zero = timefmt.ZERO_TIME
    if issued != zero and approved != zero and timefmt.parse(approved) < timefmt.parse(issued):
        raise _fail(f"{where}.approved_at must be on or after issued_at")
    if expires != zero:
        if issued != zero and _time_before_eq(expires, issued):
            raise _fail(f"{where}.expires_at must be after issued_at")
        if approved != zero and _time_before_eq(expires, approved):
            raise _fail(f"{where}.expires_at must be after approved_at")
    out: dict[str, Any] = {}
    states = _string_list(data.get("lifecycle_states"), f"{where}.lifecycle_states")
    if states:
        out["lifecycle_states"] = states
    for name in ("owner", "publisher"):
        text = _str(data.get(name), f"{where}.{name}").strip()
        if text:
            out[name] = text
    if manifest:
        out["manifest_digest"] = manifest
    source = _str(data.get("source"), f"{where}.source").strip().lower()
    if source:
        out["source"] = source
    out["issued_at"] = issued
    out["approved_at"] = approved
    out["expires_at"] = expires
    if _bool(data.get("revoked"), f"{where}.revoked"):
        out["revoked"] = True
    return out


_CONTEXT_TRIMMED_SET = frozenset(_CONTEXT_TRIMMED)
_CONTEXT_LISTS_SET = frozenset(_CONTEXT_LISTS)


def normalize_context(raw: Any) -> dict[str, Any]:
    data = _obj(raw, "context")
    identity = _str(data.get("identity"), "context.identity").strip()
    workspace = _str(data.get("workspace"), "context.workspace").strip()
    risk_class = _str(data.get("risk_class"), "context.risk_class").strip().lower()
    if not identity:
        raise _fail("context.identity is required")
    if not workspace:
        raise _fail("context.workspace is required")
    if not risk_class:
        raise _fail("context.risk_class is required")
    phase = _str(data.get("phase"), "context.phase").strip().lower() or "apply"
    if phase not in ("plan", "apply"):
        raise _fail("context.phase must be plan or apply")
    out: dict[str, Any] = {
        "identity": identity,
        "workspace": workspace.replace("\\", "/"),
        "risk_class": risk_class,
        "phase": phase,
    }
    # Only the keys present are visited: most intents carry few of the optional fields.
    for name, value in data.items():
        if name in _CONTEXT_TRIMMED_SET:
            text = _str(value, f"context.{name}").strip()
            if text:
                out[name] = text
        elif name in _CONTEXT_LISTS_SET:
            values = _string_list(value, f"context.{name}")
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
    sandbox = _normalize_sandbox(value)
    if sandbox is not None:
        out["sandbox"] = sandbox


def _ctx_agent_identity(value: Any, out: dict[str, Any]) -> None:
    agent = _normalize_agent_identity(value)
    if agent is not None:
        out["agent_identity"] = agent


def _ctx_set_digest(value: Any, out: dict[str, Any]) -> None:
    text = _str(value, "context.context_set_digest").strip().lower()
    if text and not _HEX64.match(text):
        raise _fail("context.context_set_digest must be sha256 hex")
    if text:
        out["context_set_digest"] = text


def _ctx_ttl(value: Any, out: dict[str, Any]) -> None:
    ttl = _int(value, "context.credential_ttl_seconds")
    if ttl < 0:
        raise _fail("context.credential_ttl_seconds must be >= 0")
    if ttl:
        out["credential_ttl_seconds"] = ttl


def _ctx_revision(value: Any, out: dict[str, Any]) -> None:
    revision = _int(value, "context.contract_revision")
    if revision:
        out["contract_revision"] = revision


def _ctx_enum(name: str, allowed: frozenset[str] | None, message: str) -> Any:
    def apply(value: Any, out: dict[str, Any]) -> None:
        text = _str(value, f"context.{name}").strip().lower()
        if text and allowed is not None and text not in allowed:
            raise _fail(message.format(text))
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


def _normalize_skill_provenance(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    data = _obj(raw, "skill_provenance")
    name = _str(data.get("skill_name"), "skill_provenance.skill_name").strip()
    source = _str(data.get("source"), "skill_provenance.source").strip().lower()
    publisher = _str(data.get("publisher"), "skill_provenance.publisher").strip()
    if not name or not source or not publisher:
        raise _fail("skill provenance requires skill_name, source, and publisher")
    digest_value = _str(data.get("digest"), "skill_provenance.digest").strip().lower()
    if digest_value and not _HEX64.match(digest_value):
        raise _fail(f"invalid skill provenance digest: {digest_value}")
    out = {"skill_name": name, "source": source, "publisher": publisher}
    version = _str(data.get("skill_version"), "skill_provenance.skill_version").strip()
    if version:
        out["skill_version"] = version
    if digest_value:
        out["digest"] = digest_value
    key_id = _str(data.get("signature_key_id"), "skill_provenance.signature_key_id").strip()
    if key_id:
        out["signature_key_id"] = key_id
    return out


def _normalize_delegation(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    data = _obj(raw, "delegation")
    requester = _str(data.get("requester_identity"), "delegation.requester_identity").strip()
    if not requester:
        raise _fail("delegation.requester_identity is required")
    scope_class = _str(data.get("scope_class"), "delegation.scope_class").strip().lower()
    token_refs = _string_list(data.get("token_refs"), "delegation.token_refs")
    chain: list[dict[str, Any]] = []
    for index, item in enumerate(_list(data.get("chain"), "delegation.chain")):
        where = f"delegation.chain[{index}]"
        link = _obj(item, where)
        delegator = _str(link.get("delegator_identity"), f"{where}.delegator_identity").strip()
        delegate = _str(link.get("delegate_identity"), f"{where}.delegate_identity").strip()
        if not delegator or not delegate:
            raise _fail(f"{where} requires delegator_identity and delegate_identity")
        if index > 0 and chain[index - 1]["delegate_identity"] != delegator:
            raise _fail(
                f"{where} delegator_identity must match "
                f"delegation.chain[{index - 1}].delegate_identity"
            )
        issued = _time(link.get("issued_at"), f"{where}.issued_at")
        expires = _time(link.get("expires_at"), f"{where}.expires_at")
        if (
            issued != timefmt.ZERO_TIME
            and expires != timefmt.ZERO_TIME
            and _time_before_eq(expires, issued)
        ):
            raise _fail(f"{where} expires_at must be after issued_at")
        entry: dict[str, Any] = {"delegator_identity": delegator, "delegate_identity": delegate}
        link_scope = _str(link.get("scope_class"), f"{where}.scope_class").strip().lower()
        if link_scope:
            entry["scope_class"] = link_scope
        token_ref = _str(link.get("token_ref"), f"{where}.token_ref").strip()
        if token_ref:
            entry["token_ref"] = token_ref
        entry["issued_at"] = issued
        entry["expires_at"] = expires
        chain.append(entry)
    issued = _time(data.get("issued_at"), "delegation.issued_at")
    expires = _time(data.get("expires_at"), "delegation.expires_at")
    if (
        issued != timefmt.ZERO_TIME
        and expires != timefmt.ZERO_TIME
        and _time_before_eq(expires, issued)
    ):
        raise _fail("delegation.expires_at must be after issued_at")
    if chain and chain[-1]["delegate_identity"] != requester:
        raise _fail(
            "delegation.chain last delegate_identity must match delegation.requester_identity"
        )
    out: dict[str, Any] = {"requester_identity": requester}
    if scope_class:
        out["scope_class"] = scope_class
    if token_refs:
        out["token_refs"] = token_refs
    if chain:
        out["chain"] = chain
    out["issued_at"] = issued
    out["expires_at"] = expires
    return out


def _normalize_args(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise _fail(f"{where} must be a JSON object")
    obj: dict[str, Any] = normalize_json(raw, where)
    return obj


def _normalize_script(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    data = _obj(raw, "script")
    steps_raw = _list(data.get("steps"), "script.steps")
    if not steps_raw:
        raise _fail("script.steps must not be empty")
    if len(steps_raw) > MAX_SCRIPT_STEPS:
        raise _fail(f"script.steps exceeds max supported steps ({MAX_SCRIPT_STEPS})")
    steps = []
    for index, item in enumerate(steps_raw):
        where = f"script.steps[{index}]"
        step = _obj(item, where)
        tool_name = _str(step.get("tool_name"), f"{where}.tool_name").strip().lower()
        if not tool_name:
            raise _fail(f"{where}.tool_name is required")
        out: dict[str, Any] = {
            "tool_name": tool_name,
            "args": _normalize_args(step.get("args"), f"{where}.args"),
        }
        targets = normalize_targets(step.get("targets"), tool_name, f"{where}.targets")
        if targets:
            out["targets"] = targets
        provenance = normalize_provenance(step.get("arg_provenance"), f"{where}.arg_provenance")
        if provenance:
            out["arg_provenance"] = provenance
        steps.append(out)
    return {"steps": steps}


class NormalizedIntent:
    """A normalised IntentRequest: ``doc`` is exactly what the intent digest hashes.

    The attributes are the fields evaluation reads, pulled out once so that rule matching is a
    handful of attribute loads and set lookups.
    """

    __slots__ = (
        "doc",
        "tool_name",
        "args",
        "targets",
        "provenance",
        "context",
        "script",
        "created_at",
        "identity",
        "workspace",
        "risk_class",
        "phase",
        "destructive",
        "_digest",
        "_args_digest",
    )

    def __init__(self, doc: dict[str, Any], created_at: str) -> None:
        self.doc = doc
        self.tool_name: str = doc["tool_name"]
        self.args: dict[str, Any] = doc["args"]
        self.targets: list[dict[str, Any]] = doc["targets"]
        self.provenance: list[dict[str, Any]] = doc.get("arg_provenance", [])
        self.context: dict[str, Any] = doc["context"]
        self.script: dict[str, Any] | None = doc.get("script")
        self.created_at = created_at
        ctx = self.context
        self.identity: str = ctx["identity"]
        self.workspace: str = ctx["workspace"]
        self.risk_class: str = ctx["risk_class"]
        self.phase: str = ctx["phase"]
        self.destructive = any("destructive" in target for target in self.targets)
        self._digest: str | None = None
        self._args_digest: str | None = None

    @property
    def digest(self) -> str:
        """``intent_digest``: H(normalised intent)."""
        if self._digest is None:
            self._digest = digest(self.doc)
        return self._digest

    @property
    def args_digest(self) -> str:
        """The gate's ``args_digest``: H(trimmed args)."""
        if self._args_digest is None:
            self._args_digest = digest(self.args)
        return self._args_digest

    def stripped(self) -> NormalizedIntent:
        """This intent without unverified context-evidence claims (what evaluation sees)."""
        ctx = self.context
        auth = ctx.get("auth_context")
        has_age = auth is not None and "context_age_seconds" in auth
        if not has_age and not any(name in ctx for name in EVIDENCE_CLAIMS):
            return self
        new_ctx = {key: val for key, val in ctx.items() if key not in EVIDENCE_CLAIMS}
        if has_age and auth is not None:
            rest = {key: val for key, val in auth.items() if key != "context_age_seconds"}
            if rest:
                new_ctx["auth_context"] = rest
            else:
                del new_ctx["auth_context"]
        doc = dict(self.doc)
        doc["context"] = new_ctx
        return NormalizedIntent(doc, self.created_at)

    def step(self, index: int) -> NormalizedIntent:
        """Script step ``index`` as a single intent sharing this intent's context."""
        assert self.script is not None
        step = self.script["steps"][index]
        doc = {
            "tool_name": step["tool_name"],
            "args": step["args"],
            "targets": step.get("targets", []),
            "context": self.context,
        }
        if step.get("arg_provenance"):
            doc["arg_provenance"] = step["arg_provenance"]
        for shared in ("skill_provenance", "delegation"):  # steps keep the script's own
            if shared in self.doc:
                doc[shared] = self.doc[shared]
        return NormalizedIntent(doc, self.created_at)


def normalize_intent(raw: Any) -> NormalizedIntent:
    """Normalise a decoded IntentRequest; raises ``IntentInvalid`` when it cannot be."""
    data = raw
    if type(raw) is not dict:  # decoded JSON is a dict: skip the slower Mapping checks
        data = _obj(raw, "intent")
        if not isinstance(raw, Mapping):
            raise _fail("intent must be a JSON object")
    script = _normalize_script(data.get("script"))
    tool_name = _str(data.get("tool_name"), "tool_name").strip().lower()
    if script is not None:
        tool_name = "script"
    if not tool_name:
        raise _fail("tool_name is required")
    args = _normalize_args(data.get("args"), "args")
    _reject_credentials("args", args)
    targets_raw = _list(data.get("targets"), "targets")
    if script is not None and not targets_raw:
        targets_raw = [
            t
            for step in _list(data["script"].get("steps"), "s")
            for t in _list(_obj(step, "s").get("targets"), "s")
        ]
    targets = normalize_targets(targets_raw, tool_name)
    provenance_raw = _list(data.get("arg_provenance"), "arg_provenance")
    if script is not None and not provenance_raw:
        provenance_raw = [
            p
            for step in _list(data["script"].get("steps"), "s")
            for p in _list(_obj(step, "s").get("arg_provenance"), "s")
        ]
    provenance = normalize_provenance(provenance_raw)
    skill = _normalize_skill_provenance(data.get("skill_provenance"))
    context = normalize_context(data.get("context"))
    delegation = _normalize_delegation(data.get("delegation"))
    created_raw = data.get("created_at")
    created_at = timefmt.EPOCH_1980
    if created_raw is not None:
        created = _time(created_raw, "created_at")
        if created != timefmt.ZERO_TIME:
            created_at = created
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
    return NormalizedIntent(doc, created_at)
