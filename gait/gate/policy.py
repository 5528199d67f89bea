"""Policy YAML: strict load, normalisation, compilation and the policy digest (FORMATS 5.4, 5.6).

A policy is read and compiled once into plain frozen classes; evaluation never touches YAML.
Loading is strict because a policy that silently means something other than what its author
wrote is a security bug: unknown or duplicate keys, YAML 1.1 ``yes``/``no`` booleans, wrong types
and keys this project does not evaluate are all ``E_POLICY_PARSE`` errors that name the key and
its line. Anchors and aliases are read, bounded by ``gait.yamlload`` (no alias bombs).
"""

from __future__ import annotations

from pathlib import Path

from gait import gcpause, gocompat
from gait.canon import digest
from gait.errors import InvalidInput
from gait.gate import policy_digest, policy_keys
from gait.gate.arg_constraints import compile_arg_constraint
from gait.gate.arg_constraints import lookup_arg as lookup_arg  # re-exported
from gait.gate.policy_model import Dataflow, Endpoint
from gait.gate.policy_model import Policy as Policy  # re-exported, as the engine imports them
from gait.gate.policy_model import RateLimit as RateLimit
from gait.gate.policy_model import Rule as Rule
from gait.gate.scripts import compile_scripts
from gait.gate.vocabulary import DISCOVERY_METHODS, ENDPOINT_CLASSES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    import yaml

    from gait.gate.arg_constraints import ArgConstraint


POLICY_SCHEMA_ID = "gait.gate.policy"
POLICY_SCHEMA_VERSION = "1.0.0"
VERDICTS = ("allow", "dry_run", "require_approval", "block")
VERDICT_RANK = {name: rank for rank, name in enumerate(VERDICTS)}
REQUIRED_FIELDS = frozenset(
    {"targets", "arg_provenance", "endpoint_class", "delegation", "context_evidence"}
)
REQUIRED_HIGH_RISK_FIELDS = frozenset(
    {
        "agent_id",
        "agent_identity",
        "run_id",
        "workflow_id",
        "repo",
        "environment",
        "credential_ref",
        "credential_source",
        "credential_access_type",
        "credential_issuer",
        "credential_ttl_seconds",
        "approval_ref",
        "wrkr_inventory_ref",
        "agent_action_bom_ref",
    }
)
RATE_SCOPES = frozenset({"tool", "identity", "tool_identity"})
RATE_WINDOWS = frozenset({"minute", "hour"})
CONSTRAINT_ACTIONS = frozenset({"block", "require_approval"})
MAX_POLICY_BYTES = 4 * 1024 * 1024

LEGACY_KEYS = frozenset(
    {"version", "name", "boundaries", "defaults", "trust_sources", "unknown_server"}
)
# Keys the reference knows but this project does not evaluate: refused, never ignored.
UNSUPPORTED_TOP: frozenset[str] = frozenset()
UNSUPPORTED_FAIL_CLOSED: frozenset[str] = frozenset()
UNSUPPORTED_RULE = frozenset(
    {
        "agent_identity",
        "credential",
        "credentials",
        "freeze_windows",
        "kill_switch",
        "context_evidence",
        "delegation",
        "require_agent_identity",
        "require_sandbox",
    }
)
UNSUPPORTED_MATCH = frozenset(
    {
        "agent_ids",
        "agent_identity",
        "credential_sources",
        "credential_access_types",
        "sandbox",
    }
)


class PolicyInvalid(InvalidInput):
    """The policy cannot be read or is not valid: ``E_POLICY_PARSE`` (exit 6)."""

    default_code = "E_POLICY_PARSE"


def _err(message: str, node: yaml.Node | None = None) -> PolicyInvalid:
    """A PolicyInvalid naming ``node``'s line when given (gait.gate.policy_yaml passes one)."""
    where = f" (line {node.start_mark.line + 1})" if node is not None else ""
    return PolicyInvalid(f"policy invalid: {message}{where}", code="E_POLICY_PARSE")


def parse_policy_text(text: str | bytes) -> dict[str, Any]:
    """Strictly parse policy YAML into plain values (not yet normalised): gait.gate.policy_yaml,
    which a policy read from the parsed-policy cache (gait.gate.policy_cache) never loads."""
    from gait.gate.policy_yaml import parse_policy_text as parse

    return parse(text)


# ---------------------------------------------------------------------------------------------
# Glob matchers (Go path.Match plus the reference's exact, prefix and suffix shortcuts).


def _path_matcher(pattern: str) -> Callable[[str], bool]:
    glob = gocompat.path_matcher(pattern)
    prefix = pattern[:-3] if pattern.endswith("/**") else None

    def match(value: str) -> bool:
        if value == pattern:
            return True
        if prefix is not None and (value == prefix or value.startswith(prefix + "/")):
            return True
        return glob is not None and glob(value)

    return match


def _domain_matcher(pattern: str) -> Callable[[str], bool]:
    glob = gocompat.path_matcher(pattern)
    suffix = pattern[1:] if pattern.startswith("*.") else None

    def match(value: str) -> bool:
        if value == pattern:
            return True
        if suffix is not None and value.endswith(suffix):
            return True
        return glob is not None and glob(value)

    return match


_norm_list = policy_keys.norm  # Go's normalizeStringList[Lower], one definition


def sanitize_rule_name(name: str) -> str:
    """``matched_rule_<name>`` suffix: Go's JSON string escaping, spaces and ``-`` to ``_``."""
    if not name:
        return "rule"
    escaped = gocompat.json_escape(name)
    return escaped.replace(" ", "_").replace("-", "_").lower()


def _rate(raw: dict[str, Any] | None, what: str, name: str, *, strict: bool) -> RateLimit | None:
    if not raw:
        return None
    requests = raw.get("requests") or 0
    window = (raw.get("window") or "").strip().lower()
    scope = (raw.get("scope") or "").strip().lower()
    if requests < 0:
        raise _err(f"{what}.requests must be >= 0 for {name}")
    configured = requests > 0 or (strict and (window or scope))
    if not configured:
        return None
    if requests <= 0:
        raise _err(f"{what}.requests must be >= 1 for {name}")
    window = window or "minute"
    scope = scope or "tool_identity"
    if window not in RATE_WINDOWS:
        raise _err(f"unsupported {what}.window {window!r} for {name}")
    if scope not in RATE_SCOPES:
        raise _err(f"unsupported {what}.scope {scope!r} for {name}")
    return RateLimit(requests, window, scope)


def _lower(raw: dict[str, Any], key: str) -> str:
    return (raw.get(key) or "").strip().lower()


@gcpause.paused()
def compile_policy(data: dict[str, Any]) -> Policy:
    """Normalise parsed policy values, check them, and compile evaluation structures."""
    schema_id = (data.get("schema_id") or "").strip() or POLICY_SCHEMA_ID
    if schema_id != POLICY_SCHEMA_ID:
        raise _err(f"unsupported policy schema_id: {schema_id}")
    schema_version = (data.get("schema_version") or "").strip() or POLICY_SCHEMA_VERSION
    if schema_version != POLICY_SCHEMA_VERSION:
        raise _err(f"unsupported policy schema_version: {schema_version}")
    default = _lower(data, "default_verdict")
    default_action = _lower(data, "default_action")
    if not default:
        default = default_action
    if default_action and default != default_action:
        raise _err("default_action must match default_verdict when both are set")
    default = default or "require_approval"
    if default not in VERDICT_RANK:
        raise _err(f"invalid default_verdict: {default}")

    fail_closed = data.get("fail_closed") or {}
    fc_enabled = bool(fail_closed.get("enabled"))
    fc_risk = _norm_list(fail_closed.get("risk_classes"), lower=True)
    if fc_enabled and not fc_risk:
        fc_risk = ["critical", "high"]
    fc_fields = _norm_list(fail_closed.get("required_fields"), lower=True)
    for name in fc_fields:
        if name not in REQUIRED_FIELDS:
            raise _err(f"unsupported fail_closed required_field: {name}")
    fc_high_risk = _norm_list(fail_closed.get("required_high_risk_fields"), lower=True)
    for name in fc_high_risk:
        if name not in REQUIRED_HIGH_RISK_FIELDS:
            raise _err(f"unsupported fail_closed required_high_risk_field: {name}")
    mcp_trust, mcp_payload = _mcp_trust(data.get("mcp_trust"))
    scripts, scripts_payload = compile_scripts(data.get("scripts"))

    compiled: list[tuple[Rule, dict[str, Any]]] = []
    seen_names: set[str] = set()
    for index, raw in enumerate(data.get("rules") or []):
        rule, payload = _compile_rule(raw or {}, f"rules[{index}]")
        if rule.name in seen_names:
            raise _err(f"duplicate rule name {rule.name!r}")
        seen_names.add(rule.name)
        compiled.append((rule, payload))
    compiled.sort(key=lambda pair: (pair[0].priority, pair[0].name))
    rules = tuple(rule for rule, _ in compiled)

    normalized = policy_digest.policy(
        schema_id=schema_id,
        schema_version=schema_version,
        default_verdict=default,
        fail_closed=policy_digest.fail_closed(fc_enabled, fc_risk, fc_fields, fc_high_risk),
        rules=[payload for _, payload in compiled],
        scripts=scripts_payload,
        mcp_trust=mcp_payload,
    )
    return Policy(
        schema_id=schema_id,
        schema_version=schema_version,
        default_verdict=default,
        fail_closed_enabled=fc_enabled,
        fail_closed_risk_classes=frozenset(fc_risk),
        required_fields=tuple(fc_fields),
        rules=rules,
        digest=digest(normalized),
        normalized=normalized,
        uses_rate_limits=any(r.rate_limit or r.destructive_budget for r in rules),
        scripts=scripts,
        mcp_trust=mcp_trust,
        required_high_risk_fields=tuple(fc_high_risk),
        uses_clock=any(r.extras is not None and r.extras.uses_clock for r in rules),
    )


class _Match:
    """A rule's ``match`` section, normalised (Go's normalizeStringList on every list)."""

    __slots__ = (
        "tool_names",
        "risk_classes",
        "target_kinds",
        "target_values",
        "endpoint_classes",
        "discovery",
        "data_classes",
        "dest_kinds",
        "dest_values",
        "dest_ops",
        "provenance",
        "identities",
        "prefixes",
        "environments",
        "annotations",
        "constraints",
    )

    def __init__(
        self,
        tool_names: list[str],
        risk_classes: list[str],
        target_kinds: list[str],
        target_values: list[str],
        endpoint_classes: list[str],
        discovery: list[str],
        data_classes: list[str],
        dest_kinds: list[str],
        dest_values: list[str],
        dest_ops: list[str],
        provenance: list[str],
        identities: list[str],
        prefixes: list[str],
        environments: list[str],
        annotations: dict[str, bool | None],
        constraints: tuple[ArgConstraint, ...],
    ) -> None:
        self.tool_names = tool_names
        self.risk_classes = risk_classes
        self.target_kinds = target_kinds
        self.target_values = target_values
        self.endpoint_classes = endpoint_classes
        self.discovery = discovery
        self.data_classes = data_classes
        self.dest_kinds = dest_kinds
        self.dest_values = dest_values
        self.dest_ops = dest_ops
        self.provenance = provenance
        self.identities = identities
        self.prefixes = prefixes
        self.environments = environments
        self.annotations = annotations
        self.constraints = constraints

    def payload(self, extra: dict[str, Any]) -> dict[str, Any]:
        payload = policy_digest.match(
            tool_names=self.tool_names,
            risk_classes=self.risk_classes,
            target_kinds=self.target_kinds,
            target_values=self.target_values,
            provenance=self.provenance,
            identities=self.identities,
            prefixes=self.prefixes,
            endpoint_classes=self.endpoint_classes,
            discovery=self.discovery,
            annotations=self.annotations,
            data_classes=self.data_classes,
            dest_kinds=self.dest_kinds,
            dest_values=self.dest_values,
            dest_ops=self.dest_ops,
            environments=self.environments,
            arg_constraints=[c.payload for c in self.constraints],
        )
        payload.update(extra)
        return payload

    def target_tests(self) -> tuple[tuple[str, frozenset[str]], ...]:
        """(target field, allowed values) per target key the rule sets: any target may hold."""
        return tuple(
            (key, frozenset(values))
            for key, values in (
                ("kind", self.target_kinds),
                ("value", self.target_values),
                ("endpoint_class", self.endpoint_classes),
                ("discovery_method", self.discovery),
                ("sensitivity", self.data_classes),
                ("kind", self.dest_kinds),
                ("value", self.dest_values),
                ("operation", self.dest_ops),
            )
            if values
        )

    def annotation_tests(self) -> tuple[tuple[str, bool], ...]:
        return tuple(
            (_HINT_TARGET_FIELDS[key], value)
            for key, value in self.annotations.items()
            if value is not None
        )


_HINT_TARGET_FIELDS = {
    "readOnlyHint": "read_only_hint",
    "destructiveHint": "destructive_hint",
    "idempotentHint": "idempotent_hint",
    "openWorldHint": "open_world_hint",
}
_NO_MATCH: dict[str, Any] = {}


def _read_match(match: dict[str, Any], name: str, where: str) -> _Match:
    tool_names = list(match.get("tool_names") or ())
    if (match.get("tool_name") or "").strip():
        tool_names.append(match["tool_name"].strip())
    endpoint_classes = _norm_list(
        list(match.get("endpoint_classes") or ()) + list(match.get("endpoint_class") or ()),
        lower=True,
    )
    for value in endpoint_classes:
        if value not in ENDPOINT_CLASSES:
            raise _err(f"unsupported match endpoint_class {value!r} for {name}")
    discovery = _norm_list(match.get("discovery_method"), lower=True)
    for value in discovery:
        if value not in DISCOVERY_METHODS:
            raise _err(f"unsupported match discovery_method {value!r} for {name}")
    get = match.get
    return _Match(
        tool_names=_norm_list(tool_names, lower=True),
        risk_classes=_norm_list(get("risk_classes"), lower=True),
        target_kinds=_norm_list(get("target_kinds"), lower=True),
        target_values=_norm_list(get("target_values"), lower=False),
        endpoint_classes=endpoint_classes,
        discovery=discovery,
        data_classes=_norm_list(get("data_classes"), lower=True),
        dest_kinds=_norm_list(get("destination_kinds"), lower=True),
        dest_values=_norm_list(get("destination_values"), lower=False),
        dest_ops=_norm_list(get("destination_operations"), lower=True),
        provenance=_norm_list(get("provenance_sources"), lower=True),
        identities=_norm_list(get("identities"), lower=False),
        prefixes=_norm_list(get("workspace_prefixes"), lower=False),
        environments=_norm_list(get("environments"), lower=False),
        annotations=get("tool_annotations") or {},
        constraints=tuple(
            compile_arg_constraint(item or {}, f"{where}.match.args[{i}]")
            for i, item in enumerate(get("args") or ())
        ),
    )


def _rule_effect(raw: dict[str, Any], where: str) -> tuple[str, str]:
    """(name, effect): ``action`` is the reference's older spelling of ``effect``."""
    name = (raw.get("name") or "").strip()
    if not name:
        raise _err(f"{where}: rule name is required")
    effect = _lower(raw, "effect")
    action = _lower(raw, "action")
    if not effect:
        effect = action
    if action and effect != action:
        raise _err(f"rule action must match effect for {name}")
    if not effect:
        raise _err(f"rule effect is required for {name}")
    if effect not in VERDICT_RANK:
        raise _err(f"invalid rule effect {effect!r} for {name}")
    return name, effect


def _compile_rule(raw: dict[str, Any], where: str) -> tuple[Rule, dict[str, Any]]:
    """One rule: (what evaluation reads, its digest payload)."""
    name, effect = _rule_effect(raw, where)
    priority = raw.get("priority") or 0
    match_raw = raw.get("match") or _NO_MATCH
    match = _read_match(match_raw, name, where)
    reason_codes = _norm_list(raw.get("reason_codes"), lower=False)
    violations = _norm_list(raw.get("violations"), lower=False)
    min_approvals = raw.get("min_approvals") or 0
    if min_approvals < 0:
        raise _err(f"min_approvals must be >= 0 for {name}")
    distinct = bool(raw.get("require_distinct_approvers")) or min_approvals > 1
    rate_limit = _rate(raw.get("rate_limit"), "rate_limit", name, strict=False)
    budget = _rate(raw.get("destructive_budget"), "destructive_budget", name, strict=True)
    dataflow = _compile_dataflow(raw.get("dataflow") or _NO_MATCH, name)
    endpoint = _compile_endpoint(raw.get("endpoint") or _NO_MATCH, name)
    extras, extra_match, extra_rule = policy_keys.compile_rule_extras(raw, match_raw, name)

    payload = policy_digest.rule(
        name=name,
        priority=priority,
        effect=effect,
        match=match.payload(extra_match),
        reason_codes=reason_codes,
        violations=violations,
        min_approvals=min_approvals,
        distinct_approvers=distinct,
        rate_limit=rate_limit.payload() if rate_limit else None,
        destructive_budget=budget.payload() if budget else None,
        dataflow=dataflow.payload if dataflow else None,
        endpoint=endpoint.payload if endpoint else None,
    )
    payload.update(extra_rule)
    rule = Rule(
        name=name,
        priority=priority,
        effect=effect,
        reason_codes=tuple(reason_codes),
        violations=tuple(violations),
        min_approvals=min_approvals,
        require_distinct_approvers=distinct,
        rate_limit=rate_limit,
        destructive_budget=budget,
        dataflow=dataflow,
        endpoint=endpoint,
        tool_names=frozenset(match.tool_names) or None,
        risk_classes=frozenset(match.risk_classes) or None,
        identities=frozenset(match.identities) or None,
        workspace_prefixes=tuple(match.prefixes) or None,
        environments=frozenset(match.environments) or None,
        target_tests=match.target_tests(),
        annotation_tests=match.annotation_tests(),
        provenance_sources=frozenset(match.provenance) or None,
        arg_constraints=match.constraints,
        default_reasons=tuple(reason_codes) or ("matched_rule_" + sanitize_rule_name(name),),
        extras=extras,
    )
    return rule, payload


def _compile_dataflow(raw: dict[str, Any], name: str) -> Dataflow | None:
    if not raw:
        return None
    tainted = _norm_list(raw.get("tainted_sources"), lower=True)
    kinds = _norm_list(raw.get("destination_kinds"), lower=True)
    values = _norm_list(raw.get("destination_values"), lower=False)
    ops = _norm_list(raw.get("destination_operations"), lower=True)
    if not (raw.get("enabled") or tainted or kinds or values or ops):
        return None
    tainted = tainted or ["external", "tool_output"]
    action = _lower(raw, "action") or "require_approval"
    if action not in CONSTRAINT_ACTIONS:
        raise _err(f"unsupported dataflow.action {action!r} for {name}")
    reason = (raw.get("reason_code") or "").strip() or "dataflow_tainted_destination"
    violation = (raw.get("violation") or "").strip() or "tainted_dataflow"
    return Dataflow(
        frozenset(tainted),
        frozenset(kinds),
        frozenset(values),
        frozenset(ops),
        action,
        reason,
        violation,
        policy_digest.dataflow(tainted, kinds, values, ops, action, reason, violation),
    )


def _compile_endpoint(raw: dict[str, Any], name: str) -> Endpoint | None:
    if not raw:
        return None

    def paths(key: str) -> list[str]:
        return sorted({v.strip().replace("\\", "/") for v in raw.get(key) or () if v.strip()})

    path_allow = paths("path_allowlist")
    path_deny = paths("path_denylist")
    domain_allow = _norm_list(raw.get("domain_allowlist"), lower=True)
    domain_deny = _norm_list(raw.get("domain_denylist"), lower=True)
    egress = _norm_list(raw.get("egress_classes"), lower=True)
    for value in egress:
        if value not in ENDPOINT_CLASSES:
            raise _err(f"unsupported endpoint.egress_class {value!r} for {name}")
        if not value.startswith("net."):
            raise _err(f"endpoint.egress_class must be network class for {name}")
    destructive_action = _lower(raw, "destructive_action")
    used = path_allow or path_deny or domain_allow or domain_deny or egress or destructive_action
    if not (raw.get("enabled") or used):
        return None
    action = _lower(raw, "action") or "block"
    if action not in CONSTRAINT_ACTIONS:
        raise _err(f"unsupported endpoint.action {action!r} for {name}")
    if destructive_action and destructive_action not in CONSTRAINT_ACTIONS:
        raise _err(f"unsupported endpoint.destructive_action {destructive_action!r} for {name}")
    reason = (raw.get("reason_code") or "").strip() or "endpoint_constraint_violation"
    violation = (raw.get("violation") or "").strip() or "endpoint_constraint_violation"
    payload = policy_digest.endpoint(
        path_allow=path_allow,
        path_deny=path_deny,
        domain_allow=domain_allow,
        domain_deny=domain_deny,
        egress=egress,
        action=action,
        destructive_action=destructive_action,
        reason=reason,
        violation=violation,
    )
    return Endpoint(
        path_allow=tuple(_path_matcher(p) for p in path_allow),
        path_deny=tuple(_path_matcher(p) for p in path_deny),
        domain_allow=tuple(_domain_matcher(p) for p in domain_allow),
        domain_deny=tuple(_domain_matcher(p) for p in domain_deny),
        egress_classes=frozenset(egress),
        action=action,
        destructive_action=destructive_action,
        reason_code=reason,
        violation=violation,
        payload=payload,
    )


def _mcp_trust(raw: Any) -> tuple[Any, dict[str, Any] | None]:
    """``compile_mcp_trust``, whose module loads only for a policy that has the block (an empty
    or absent block compiles to nothing there too)."""
    if not raw:
        return None, None
    from gait.gate.mcp_trust import compile_mcp_trust

    return compile_mcp_trust(raw)


def load_policy_text(text: str | bytes) -> Policy:
    """Parse and compile policy YAML text."""
    return compile_policy(parse_policy_text(text))


def load_policy(path: str | Path) -> Policy:
    """Read, parse and compile a policy file; every failure is ``E_POLICY_PARSE``."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PolicyInvalid(
            f"cannot read policy {path}: {exc.strerror or exc}", code="E_POLICY_PARSE"
        ) from exc
    from gait.gate.policy_cache import parsed_policy

    return compile_policy(parsed_policy(data, parse_policy_text))
