"""Policy YAML read into plain values, every key checked against its shape (gait.yamlshape).

Split from gait.gate.policy so that a decision whose policy comes from the parsed-policy cache
(gait.gate.policy_cache) loads neither this nor gait.yamlshape (issue 16 item 6); what is
refused and every message are gait.gate.policy's (``PolicyInvalid``, ``E_POLICY_PARSE``).
"""

from __future__ import annotations

from gait import gcpause, yamlshape
from gait.gate import policy_keys
from gait.gate.policy import (
    LEGACY_KEYS,
    MAX_POLICY_BYTES,
    UNSUPPORTED_FAIL_CLOSED,
    UNSUPPORTED_MATCH,
    UNSUPPORTED_RULE,
    UNSUPPORTED_TOP,
    PolicyInvalid,
    _err,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _LazyYaml:
    """``yaml`` imported on first attribute use: a policy read from the parsed-policy cache
    (gait.gate.policy_cache) never pays for importing PyYAML."""

    def __getattr__(self, name: str) -> Any:
        import yaml as module

        globals()["yaml"] = module
        return getattr(module, name)


yaml: Any = _LazyYaml()


def _yaml_fail(message: str, line: int | None) -> PolicyInvalid:
    where = f" (line {line})" if line is not None else ""
    return PolicyInvalid(f"policy invalid: {message}{where}", code="E_POLICY_PARSE")


# ---------------------------------------------------------------------------------------------
# The policy's YAML shape (gait.yamlshape reads and checks it).

STR, INT, BOOL, STRS = yamlshape.STR, yamlshape.INT, yamlshape.BOOL, yamlshape.STRS
if TYPE_CHECKING:  # typing is not loaded by a decision (issue 16 item 6)
    Spec = yamlshape.Shape

_RATE_SPEC = {"requests": INT, "window": STR, "scope": STR}
_ARG_CONSTRAINT_SPEC = {
    "path": STR,
    "equals": yamlshape.ANY,
    "in": ("list", yamlshape.ANY),
    "regex": STR,
    "min": yamlshape.NUM,
    "max": yamlshape.NUM,
    "digest": STR,
    "exists": BOOL,
}
_MATCH_SPEC = {
    "tool_name": STR,
    "tool_names": STRS,
    "risk_classes": STRS,
    "identities": STRS,
    "workspace_prefixes": STRS,
    "target_kinds": STRS,
    "target_values": STRS,
    "endpoint_class": STRS,
    "endpoint_classes": STRS,
    "discovery_method": STRS,
    "tool_annotations": {
        "readOnlyHint": BOOL,
        "destructiveHint": BOOL,
        "idempotentHint": BOOL,
        "openWorldHint": BOOL,
    },
    "data_classes": STRS,
    "destination_kinds": STRS,
    "destination_values": STRS,
    "destination_operations": STRS,
    "provenance_sources": STRS,
    "environments": STRS,
    "args": ("list", _ARG_CONSTRAINT_SPEC),
    **policy_keys.MATCH_SPEC,
}
_RULE_SPEC = {
    "name": STR,
    "priority": INT,
    "effect": STR,
    "action": STR,
    "match": _MATCH_SPEC,
    "reason_codes": STRS,
    "violations": STRS,
    "min_approvals": INT,
    "require_distinct_approvers": BOOL,
    "rate_limit": _RATE_SPEC,
    "destructive_budget": _RATE_SPEC,
    "dataflow": {
        "enabled": BOOL,
        "tainted_sources": STRS,
        "destination_kinds": STRS,
        "destination_values": STRS,
        "destination_operations": STRS,
        "action": STR,
        "reason_code": STR,
        "violation": STR,
    },
    "endpoint": {
        "enabled": BOOL,
        "path_allowlist": STRS,
        "path_denylist": STRS,
        "domain_allowlist": STRS,
        "domain_denylist": STRS,
        "egress_classes": STRS,
        "action": STR,
        "destructive_action": STR,
        "reason_code": STR,
        "violation": STR,
    },
    **policy_keys.RULE_SPEC,
}
_POLICY_SPEC: dict[str, Any] = {
    "schema_id": STR,
    "schema_version": STR,
    "default_verdict": STR,
    "default_action": STR,
    "fail_closed": {
        "enabled": BOOL,
        "risk_classes": STRS,
        "required_fields": STRS,
        **policy_keys.FAIL_CLOSED_SPEC,
    },
    "rules": ("list", _RULE_SPEC),
    **policy_keys.TOP_SPEC,
}


def _unsupported_for(path: str) -> frozenset[str]:
    if path == "":
        return UNSUPPORTED_TOP
    if path == "fail_closed":
        return UNSUPPORTED_FAIL_CLOSED
    if path.startswith("rules[") and path.endswith(".match"):
        return UNSUPPORTED_MATCH
    if path.startswith("rules[") and path.endswith("]"):
        return UNSUPPORTED_RULE
    return frozenset()


def _unknown_key(path: str, key: str, where: str) -> str:
    """Why a key is refused: legacy (v0) keys and keys this gate does not evaluate say so."""
    if path == "" and key in LEGACY_KEYS:
        return f"legacy key {where!r} is not supported in policy v1"
    if key in _unsupported_for(path):
        return f"key {where!r} is not evaluated by this gate"
    return f"unknown key {where!r}"


_READERS: list[yamlshape.ShapeReader] = []


def _reader() -> yamlshape.ShapeReader:
    if not _READERS:
        _READERS.append(yamlshape.ShapeReader(_err, _unknown_key))
    return _READERS[0]


@gcpause.paused()
def parse_policy_text(text: str | bytes) -> dict[str, Any]:
    """Strictly parse policy YAML into plain values (not yet normalised)."""
    if isinstance(text, bytes):
        if len(text) > MAX_POLICY_BYTES:
            raise _err("policy file is too large")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _err(f"policy is not valid UTF-8 (byte {exc.start})") from exc
    if not text.strip():
        raise _err("policy is empty")
    from gait import yamlload

    node = yamlload.compose(text, _yaml_fail)
    if node is None:
        raise _err("policy is empty")
    if not isinstance(node, yaml.MappingNode):
        raise _err("policy must be a YAML mapping", node)
    return _reader().read(node, _POLICY_SPEC) or {}
