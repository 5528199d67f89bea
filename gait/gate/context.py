"""Context evidence and inventory context in policies (issue 15, item 3).

Two rule parts: match keys on the inventory context an intent carries in
``context.auth_context["wrkr.*"]`` (``context_tool_names`` ...), and the evidence constraint
(``require_context_evidence``, ``required_context_evidence_mode``, ``max_context_age_seconds``),
which blocks a matched rule whose intent lacks verified context evidence. Unverified evidence
claims are stripped before evaluation, so only an envelope the gate verified can satisfy it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gait.gate.intent import NormalizedIntent

_MATCH_KEYS = (
    ("context_tool_names", "ContextToolNames", "wrkr.tool_name"),
    ("context_data_classes", "ContextDataClasses", "wrkr.data_class"),
    ("context_endpoint_classes", "ContextEndpointClasses", "wrkr.endpoint_class"),
    ("context_autonomy_levels", "ContextAutonomyLevels", "wrkr.autonomy_level"),
)


def compile_match(match: dict[str, Any], payload: dict[str, Any]) -> list[Callable[[Any], bool]]:
    from gait.gate.policy_keys import norm

    checks = []
    for key, field_name, context_key in _MATCH_KEYS:
        values = norm(match.get(key), lower=True)
        if values:
            payload[field_name] = values
            checks.append(_context_in(context_key, frozenset(values)))
    return checks


def _context_in(key: str, allowed: frozenset[str]) -> Callable[[Any], bool]:
    def check(intent: Any) -> bool:
        auth = intent.context.get("auth_context") or {}
        value = auth.get(key)
        if not isinstance(value, str):
            return False
        text = value.strip().lower()
        return bool(text) and text in allowed

    return check


def compile_rule(raw: dict[str, Any], payload: dict[str, Any], name: str) -> Any:
    from gait.gate.policy_keys import err

    mode = (raw.get("required_context_evidence_mode") or "").strip().lower()
    if mode and mode != "required":
        raise err(f"required_context_evidence_mode must be required for {name}")
    require = bool(raw.get("require_context_evidence"))
    if require and not mode:
        mode = "required"
    max_age = raw.get("max_context_age_seconds") or 0
    if max_age < 0:
        raise err(f"max_context_age_seconds must be >= 0 for {name}")
    if require:
        payload["RequireContextEvidence"] = True
    if mode:
        payload["RequiredContextEvidenceMode"] = mode
    if max_age > 0:
        payload["MaxContextAgeSeconds"] = max_age
    if not (require or mode == "required" or max_age > 0):
        return None

    def constraint(intent: Any, now: Any) -> Any:
        ctx = intent.context
        reasons: set[str] = set()
        violations: set[str] = set()
        if not ctx.get("context_set_digest", "").strip():
            reasons |= {"context_evidence_missing", "context_set_digest_missing"}
            violations.add("missing_context_evidence")
        if mode == "required" and ctx.get("context_evidence_mode", "").strip() != "required":
            reasons.add("context_evidence_mode_mismatch")
            violations.add("context_evidence_mode_violation")
        if max_age > 0:
            age = context_age_seconds(ctx.get("auth_context"))
            if age is None or age > max_age:
                reasons.add("context_freshness_exceeded")
                violations.add("context_freshness_violation")
        if not reasons:
            return None
        return "block", reasons, violations, ""

    return constraint


def context_age_seconds(auth: Any) -> int | None:
    """``auth_context.context_age_seconds`` as a non-negative integer, or None."""
    if not auth or "context_age_seconds" not in auth:
        return None
    value = auth["context_age_seconds"]
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if value < 0 else int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
    return None


# ---------------------------------------------------------------------------------------------
# The tool inventory (``--wrkr-inventory``): per-tool context merged into ``auth_context``.

_INVENTORY_FIELDS = ("tool_name", "data_class", "endpoint_class", "autonomy_level")


class InventoryUnavailable(Exception):
    pass


def load_inventory(path: str) -> tuple[dict[str, dict[str, str]], str]:
    """(tool name -> ``wrkr.*`` values, cleaned path) from ``{"items": [...]}`` or a list."""
    import json
    from pathlib import Path

    from gait.gocompat import clean_path

    clean = clean_path(path.strip())
    if not path.strip():
        raise InventoryUnavailable("wrkr inventory path is required")
    try:
        data = Path(clean).read_bytes()
    except OSError as exc:
        raise InventoryUnavailable(f"stat wrkr inventory: {exc.strerror or exc}") from exc
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise InventoryUnavailable(f"parse wrkr inventory: {exc}") from exc
    items = doc.get("items") if isinstance(doc, dict) and "items" in doc else doc
    if not isinstance(items, list):
        raise InventoryUnavailable("parse wrkr inventory: items must be an array")
    tools: dict[str, dict[str, str]] = {}
    for item in items:
        if not isinstance(item, dict):
            raise InventoryUnavailable("parse wrkr inventory: items must be objects")
        values = {}
        for name in _INVENTORY_FIELDS:
            value = item.get(name)
            if value is not None and not isinstance(value, str):
                raise InventoryUnavailable(f"parse wrkr inventory: {name} must be a string")
            values[name] = (value or "").strip().lower()
        if values["tool_name"]:
            tools[values["tool_name"]] = {f"wrkr.{k}": v for k, v in values.items()}
    return tools, clean


def enrich(intent: Any, inventory: dict[str, dict[str, str]] | None) -> Any:
    """The intent with its tool's inventory context in ``auth_context`` (itself if none)."""
    from gait.gate.intent import NormalizedIntent

    if not inventory or intent.tool_name not in inventory:
        return intent
    ctx = dict(intent.context)
    ctx["auth_context"] = {**(ctx.get("auth_context") or {}), **inventory[intent.tool_name]}
    doc = dict(intent.doc)
    doc["context"] = ctx
    return NormalizedIntent(doc, intent.created_at)


# ---------------------------------------------------------------------------------------------
# A verified context envelope (``--context-envelope``), bound to the intent before evaluation.


def bind_envelope(intent: NormalizedIntent, envelope: dict[str, Any], now: str) -> NormalizedIntent:
    """``intent`` (normalized, claims not yet stripped) with the envelope's evidence in its
    context; raises ``gait.contextproof.EnvelopeMismatch`` when the intent claims a digest or
    mode the envelope does not have. The intent digest covers the bound evidence."""
    from gait.contextproof import bound_context
    from gait.gate.intent import NormalizedIntent

    doc = dict(intent.doc)
    doc["context"] = bound_context(intent.context, envelope, now)
    return NormalizedIntent(doc, intent.created_at)


def evidence_fields(intent: Any) -> dict[str, Any]:
    """What a decision reports of the bound evidence (gate result and trace fields)."""
    ctx = intent.context
    out: dict[str, Any] = {}
    if ctx.get("context_set_digest"):
        out["context_set_digest"] = ctx["context_set_digest"]
    if ctx.get("context_evidence_mode"):
        out["context_evidence_mode"] = ctx["context_evidence_mode"]
    if ctx.get("context_refs"):
        out["context_ref_count"] = len(ctx["context_refs"])
    return out


def merge_source(current: str, extra: str) -> str:
    """Context sources, distinct and sorted, comma-joined (as the reference merges them)."""
    parts = {p.strip() for p in (*current.split(","), extra) if p.strip()}
    return ",".join(sorted(parts))
