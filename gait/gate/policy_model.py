"""The compiled policy: what evaluation reads (FORMATS 5.4, 5.5).

Plain frozen classes (gait.plain: what a frozen dataclass gives, without building one at
import) built once by gait.gate.policy. Each rule carries its match keys as
predicates over a NormalizedIntent (typed Any: the model does not import evaluation), in the
order the reference tests them: all given keys must hold; within a list any value; a target key
holds if any target matches. The policy indexes its rules by tool name, so an intent is tested
only against the rules that can match its tool.
"""

from __future__ import annotations

from gait.gate import policy_digest
from gait.gate.arg_constraints import lookup_arg
from gait.gate.scripts import ScriptPolicy
from gait.plain import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:  # loaded only by a policy with an mcp_trust block
    from collections.abc import Callable
    from typing import Any

    from gait.gate.arg_constraints import ArgConstraint
    from gait.gate.mcp_trust import MCPTrustPolicy
    from gait.gate.policy_keys import RuleExtras

_set = object.__setattr__  # how a frozen instance's __init__ sets its fields


class RateLimit(Frozen):
    """A rule's request budget per window; counted in the gate state, not in the policy."""

    __slots__ = _fields = ("requests", "window", "scope")
    requests: int
    window: str
    scope: str

    def __init__(self, requests: int, window: str, scope: str) -> None:
        _set(self, "requests", requests)
        _set(self, "window", window)
        _set(self, "scope", scope)

    def payload(self) -> dict[str, Any]:
        return policy_digest.rate_limit(self.requests, self.window, self.scope)


class Dataflow(Frozen):
    """A taint rule: data from these sources may not reach these destinations."""

    __slots__ = _fields = (
        "tainted_sources",
        "destination_kinds",
        "destination_values",
        "destination_operations",
        "action",
        "reason_code",
        "violation",
        "payload",
    )
    tainted_sources: frozenset[str]
    destination_kinds: frozenset[str]
    destination_values: frozenset[str]
    destination_operations: frozenset[str]
    action: str
    reason_code: str
    violation: str
    payload: dict[str, Any]

    def __init__(
        self,
        tainted_sources: frozenset[str],
        destination_kinds: frozenset[str],
        destination_values: frozenset[str],
        destination_operations: frozenset[str],
        action: str,
        reason_code: str,
        violation: str,
        payload: dict[str, Any],
    ) -> None:
        _set(self, "tainted_sources", tainted_sources)
        _set(self, "destination_kinds", destination_kinds)
        _set(self, "destination_values", destination_values)
        _set(self, "destination_operations", destination_operations)
        _set(self, "action", action)
        _set(self, "reason_code", reason_code)
        _set(self, "violation", violation)
        _set(self, "payload", payload)


class Endpoint(Frozen):
    """Path and domain allow/deny lists, matched as compiled predicates."""

    __slots__ = _fields = (
        "path_allow",
        "path_deny",
        "domain_allow",
        "domain_deny",
        "egress_classes",
        "action",
        "destructive_action",
        "reason_code",
        "violation",
        "payload",
    )
    path_allow: tuple[Callable[[str], bool], ...]
    path_deny: tuple[Callable[[str], bool], ...]
    domain_allow: tuple[Callable[[str], bool], ...]
    domain_deny: tuple[Callable[[str], bool], ...]
    egress_classes: frozenset[str]
    action: str
    destructive_action: str
    reason_code: str
    violation: str
    payload: dict[str, Any]

    def __init__(
        self,
        path_allow: tuple[Callable[[str], bool], ...],
        path_deny: tuple[Callable[[str], bool], ...],
        domain_allow: tuple[Callable[[str], bool], ...],
        domain_deny: tuple[Callable[[str], bool], ...],
        egress_classes: frozenset[str],
        action: str,
        destructive_action: str,
        reason_code: str,
        violation: str,
        payload: dict[str, Any],
    ) -> None:
        _set(self, "path_allow", path_allow)
        _set(self, "path_deny", path_deny)
        _set(self, "domain_allow", domain_allow)
        _set(self, "domain_deny", domain_deny)
        _set(self, "egress_classes", egress_classes)
        _set(self, "action", action)
        _set(self, "destructive_action", destructive_action)
        _set(self, "reason_code", reason_code)
        _set(self, "violation", violation)
        _set(self, "payload", payload)


_RULE_FIELDS = (
    "name",
    "priority",
    "effect",
    "reason_codes",
    "violations",
    "min_approvals",
    "require_distinct_approvers",
    "rate_limit",
    "destructive_budget",
    "dataflow",
    "endpoint",
    "tool_names",
    "risk_classes",
    "identities",
    "workspace_prefixes",
    "environments",
    "target_tests",
    "annotation_tests",
    "provenance_sources",
    "arg_constraints",
    "default_reasons",
    "extras",
)


class Rule(Frozen):
    """One compiled rule: its match keys as predicates and what it decides when they hold."""

    _fields = _RULE_FIELDS
    # Derived in __init__ for the evaluation hot path; never compared or printed.
    __slots__ = (*_RULE_FIELDS, "checks", "fixed_outcome", "sorted_reasons", "sorted_violations")
    name: str
    priority: int
    effect: str
    reason_codes: tuple[str, ...]
    violations: tuple[str, ...]
    min_approvals: int
    require_distinct_approvers: bool
    rate_limit: RateLimit | None
    destructive_budget: RateLimit | None
    dataflow: Dataflow | None
    endpoint: Endpoint | None
    # match, compiled
    tool_names: frozenset[str] | None
    risk_classes: frozenset[str] | None
    identities: frozenset[str] | None
    workspace_prefixes: tuple[str, ...] | None
    environments: frozenset[str] | None
    target_tests: tuple[tuple[str, frozenset[str]], ...]
    annotation_tests: tuple[tuple[str, bool], ...]
    provenance_sources: frozenset[str] | None
    arg_constraints: tuple[ArgConstraint, ...]
    default_reasons: tuple[str, ...]
    # The reference's further keys (gait.gate.policy_keys); None when the rule uses none.
    extras: RuleExtras | None
    # ``checks``: one predicate per match key the rule sets, in rule_matches' order.
    checks: tuple[Callable[[Any], bool], ...]
    # ``fixed_outcome``: no dataflow or endpoint section, so for a non-destructive intent the
    # rule's outcome is its effect, ``sorted_reasons`` and ``sorted_violations``.
    fixed_outcome: bool
    sorted_reasons: tuple[str, ...]
    sorted_violations: tuple[str, ...]

    def __init__(
        self,
        name: str,
        priority: int,
        effect: str,
        reason_codes: tuple[str, ...],
        violations: tuple[str, ...],
        min_approvals: int,
        require_distinct_approvers: bool,
        rate_limit: RateLimit | None,
        destructive_budget: RateLimit | None,
        dataflow: Dataflow | None,
        endpoint: Endpoint | None,
        tool_names: frozenset[str] | None,
        risk_classes: frozenset[str] | None,
        identities: frozenset[str] | None,
        workspace_prefixes: tuple[str, ...] | None,
        environments: frozenset[str] | None,
        target_tests: tuple[tuple[str, frozenset[str]], ...],
        annotation_tests: tuple[tuple[str, bool], ...],
        provenance_sources: frozenset[str] | None,
        arg_constraints: tuple[ArgConstraint, ...],
        default_reasons: tuple[str, ...] = (),
        extras: RuleExtras | None = None,
    ) -> None:
        _set(self, "name", name)
        _set(self, "priority", priority)
        _set(self, "effect", effect)
        _set(self, "reason_codes", reason_codes)
        _set(self, "violations", violations)
        _set(self, "min_approvals", min_approvals)
        _set(self, "require_distinct_approvers", require_distinct_approvers)
        _set(self, "rate_limit", rate_limit)
        _set(self, "destructive_budget", destructive_budget)
        _set(self, "dataflow", dataflow)
        _set(self, "endpoint", endpoint)
        _set(self, "tool_names", tool_names)
        _set(self, "risk_classes", risk_classes)
        _set(self, "identities", identities)
        _set(self, "workspace_prefixes", workspace_prefixes)
        _set(self, "environments", environments)
        _set(self, "target_tests", target_tests)
        _set(self, "annotation_tests", annotation_tests)
        _set(self, "provenance_sources", provenance_sources)
        _set(self, "arg_constraints", arg_constraints)
        _set(self, "default_reasons", default_reasons)
        _set(self, "extras", extras)
        _set(self, "checks", _match_checks(self))
        fixed = dataflow is None and endpoint is None
        fixed = fixed and (extras is None or not extras.constraints)
        _set(self, "fixed_outcome", fixed)
        _set(self, "sorted_reasons", tuple(sorted(set(default_reasons))))
        _set(self, "sorted_violations", tuple(sorted(set(violations))))


# Match predicates over a NormalizedIntent (typed Any: policy.py does not import evaluation).
# All given match keys hold; within a list any; target keys hold if any target matches.


def _match_checks(rule: Rule) -> tuple[Callable[[Any], bool], ...]:
    checks: list[Callable[[Any], bool]] = []
    if rule.tool_names is not None:
        checks.append(_attr_in("tool_name", rule.tool_names))
    if rule.risk_classes is not None:
        checks.append(_attr_in("risk_class", rule.risk_classes))
    if rule.identities is not None:
        checks.append(_attr_in("identity", rule.identities))
    if rule.workspace_prefixes is not None:
        checks.append(_workspace_under(rule.workspace_prefixes))
    if rule.environments is not None:
        checks.append(_environment_in(rule.environments))
    checks.extend(_any_target(key, allowed) for key, allowed in rule.target_tests)
    checks.extend(_any_annotation(key, wanted) for key, wanted in rule.annotation_tests)
    if rule.provenance_sources is not None:
        checks.append(_any_provenance(rule.provenance_sources))
    checks.extend(_arg_holds(constraint) for constraint in rule.arg_constraints)
    if rule.extras is not None:
        checks.extend(rule.extras.checks)
    return tuple(checks)


def _attr_in(name: str, allowed: frozenset[str]) -> Callable[[Any], bool]:
    def check(intent: Any) -> bool:
        return getattr(intent, name) in allowed

    return check


def _workspace_under(prefixes: tuple[str, ...]) -> Callable[[Any], bool]:
    def check(intent: Any) -> bool:
        return bool(intent.workspace.startswith(prefixes))

    return check


def _environment_in(allowed: frozenset[str]) -> Callable[[Any], bool]:
    def check(intent: Any) -> bool:
        return intent.context.get("environment", "") in allowed

    return check


def _any_target(key: str, allowed: frozenset[str]) -> Callable[[Any], bool]:
    def check(intent: Any) -> bool:
        for target in intent.targets:
            if target.get(key, "") in allowed:
                return True
        return False

    return check


def _any_annotation(key: str, wanted: bool) -> Callable[[Any], bool]:
    def check(intent: Any) -> bool:
        for target in intent.targets:
            if (key in target) == wanted:
                return True
        return False

    return check


def _any_provenance(allowed: frozenset[str]) -> Callable[[Any], bool]:
    def check(intent: Any) -> bool:
        for entry in intent.provenance:
            if entry["source"] in allowed:
                return True
        return False

    return check


def _arg_holds(constraint: ArgConstraint) -> Callable[[Any], bool]:
    def check(intent: Any) -> bool:
        return constraint.check(lookup_arg(intent.args, constraint.path))

    return check


def _rules_by_tool(rules: tuple[Rule, ...]) -> dict[str, tuple[Rule, ...]]:
    """For each tool name some rule lists: the rules that can match it, in evaluation order.

    A rule without ``tool_names`` can match any tool, so it is in every entry (and it is all a
    tool name no rule lists can match: ``Policy.rules_for_any_tool``). Dropping the rules that
    list other tools cannot change which rules match, nor their order.
    """
    # One pass over the rules, then per name a merge of its own rules with the rules for any
    # tool (both already in evaluation order): linear in the rules, not names x rules.
    listed: dict[str, list[int]] = {}
    anywhere: list[int] = []
    for index, rule in enumerate(rules):
        if rule.tool_names is None:
            anywhere.append(index)
            continue
        for name in dict.fromkeys(rule.tool_names):
            listed.setdefault(name, []).append(index)
    if not anywhere:
        return {name: tuple(rules[i] for i in listed[name]) for name in sorted(listed)}
    import heapq

    return {
        name: tuple(rules[i] for i in heapq.merge(listed[name], anywhere))
        for name in sorted(listed)
    }


_POLICY_FIELDS = (
    "schema_id",
    "schema_version",
    "default_verdict",
    "fail_closed_enabled",
    "fail_closed_risk_classes",
    "required_fields",
    "rules",
    "digest",
    "normalized",
    "uses_rate_limits",
    "scripts",
    "mcp_trust",
    "required_high_risk_fields",
    "uses_clock",
)


class Policy(Frozen):
    """A compiled policy: what evaluation reads, plus its digest and normalised form."""

    _fields = _POLICY_FIELDS
    # Rule index by tool name (see _rules_by_tool), derived from ``rules`` in __init__.
    __slots__ = (*_POLICY_FIELDS, "rules_by_tool", "rules_for_any_tool")
    schema_id: str
    schema_version: str
    default_verdict: str
    fail_closed_enabled: bool
    fail_closed_risk_classes: frozenset[str]
    required_fields: tuple[str, ...]
    rules: tuple[Rule, ...]
    digest: str
    normalized: dict[str, Any]
    uses_rate_limits: bool
    scripts: ScriptPolicy
    mcp_trust: MCPTrustPolicy | None
    required_high_risk_fields: tuple[str, ...]
    uses_clock: bool  # a freeze window or agent-expiry rule reads the evaluation time
    rules_by_tool: dict[str, tuple[Rule, ...]]
    rules_for_any_tool: tuple[Rule, ...]

    def __init__(
        self,
        schema_id: str,
        schema_version: str,
        default_verdict: str,
        fail_closed_enabled: bool,
        fail_closed_risk_classes: frozenset[str],
        required_fields: tuple[str, ...],
        rules: tuple[Rule, ...],
        digest: str,
        normalized: dict[str, Any],
        uses_rate_limits: bool,
        scripts: ScriptPolicy | None = None,
        mcp_trust: MCPTrustPolicy | None = None,
        required_high_risk_fields: tuple[str, ...] = (),
        uses_clock: bool = False,
    ) -> None:
        _set(self, "schema_id", schema_id)
        _set(self, "schema_version", schema_version)
        _set(self, "default_verdict", default_verdict)
        _set(self, "fail_closed_enabled", fail_closed_enabled)
        _set(self, "fail_closed_risk_classes", fail_closed_risk_classes)
        _set(self, "required_fields", required_fields)
        _set(self, "rules", rules)
        _set(self, "digest", digest)
        _set(self, "normalized", normalized)
        _set(self, "uses_rate_limits", uses_rate_limits)
        _set(self, "scripts", ScriptPolicy() if scripts is None else scripts)
        _set(self, "mcp_trust", mcp_trust)
        _set(self, "required_high_risk_fields", required_high_risk_fields)
        _set(self, "uses_clock", uses_clock)
        _set(self, "rules_by_tool", _rules_by_tool(rules))
        _set(self, "rules_for_any_tool", tuple(rule for rule in rules if rule.tool_names is None))

    def candidate_rules(self, tool_name: str) -> tuple[Rule, ...]:
        """The rules that can match an intent for ``tool_name``, in (priority, name) order."""
        return self.rules_by_tool.get(tool_name, self.rules_for_any_tool)

    def fail_closed_for(self, risk_class: str) -> bool:
        return self.fail_closed_enabled and risk_class in self.fail_closed_risk_classes
