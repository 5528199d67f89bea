"""The compiled policy: what evaluation reads (FORMATS 5.4, 5.5).

Plain frozen dataclasses built once by gait.gate.policy. Each rule carries its match keys as
predicates over a NormalizedIntent (typed Any: the model does not import evaluation), in the
order the reference tests them: all given keys must hold; within a list any value; a target key
holds if any target matches. The policy indexes its rules by tool name, so an intent is tested
only against the rules that can match its tool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gait.gate import policy_digest, policy_keys
from gait.gate.arg_constraints import ArgConstraint, lookup_arg
from gait.gate.scripts import ScriptPolicy

TYPE_CHECKING = False
if TYPE_CHECKING:  # loaded only by a policy with an mcp_trust block
    from typing import Any

    from gait.gate.mcp_trust import MCPTrustPolicy


@dataclass(frozen=True)
class RateLimit:
    """A rule's request budget per window; counted in the gate state, not in the policy."""

    requests: int
    window: str
    scope: str

    def payload(self) -> dict[str, Any]:
        return policy_digest.rate_limit(self.requests, self.window, self.scope)


@dataclass(frozen=True)
class Dataflow:
    """A taint rule: data from these sources may not reach these destinations."""

    tainted_sources: frozenset[str]
    destination_kinds: frozenset[str]
    destination_values: frozenset[str]
    destination_operations: frozenset[str]
    action: str
    reason_code: str
    violation: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """Path and domain allow/deny lists, matched as compiled predicates."""

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


@dataclass(frozen=True)
class Rule:
    """One compiled rule: its match keys as predicates and what it decides when they hold."""

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
    default_reasons: tuple[str, ...] = field(default=())
    # The reference's further keys (gait.gate.policy_keys); None when the rule uses none.
    extras: policy_keys.RuleExtras | None = None
    # Derived in __post_init__ for the evaluation hot path; never compared or printed.
    # ``checks``: one predicate per match key the rule sets, in rule_matches' order.
    checks: tuple[Callable[[Any], bool], ...] = field(init=False, repr=False, compare=False)
    # ``fixed_outcome``: no dataflow or endpoint section, so for a non-destructive intent the
    # rule's outcome is its effect, ``sorted_reasons`` and ``sorted_violations``.
    fixed_outcome: bool = field(init=False, repr=False, compare=False)
    sorted_reasons: tuple[str, ...] = field(init=False, repr=False, compare=False)
    sorted_violations: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # object.__setattr__: the dataclass is frozen; these are set once, at construction.
        object.__setattr__(self, "checks", _match_checks(self))
        fixed = self.dataflow is None and self.endpoint is None
        fixed = fixed and (self.extras is None or not self.extras.constraints)
        object.__setattr__(self, "fixed_outcome", fixed)
        object.__setattr__(self, "sorted_reasons", tuple(sorted(set(self.default_reasons))))
        object.__setattr__(self, "sorted_violations", tuple(sorted(set(self.violations))))


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


@dataclass(frozen=True)
class Policy:
    """A compiled policy: what evaluation reads, plus its digest and normalised form."""

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
    scripts: ScriptPolicy = field(default_factory=ScriptPolicy)
    mcp_trust: MCPTrustPolicy | None = None
    required_high_risk_fields: tuple[str, ...] = ()
    uses_clock: bool = False  # a freeze window or agent-expiry rule reads the evaluation time
    # Rule index by tool name (see _rules_by_tool), derived from ``rules`` in __post_init__.
    rules_by_tool: dict[str, tuple[Rule, ...]] = field(init=False, repr=False, compare=False)
    rules_for_any_tool: tuple[Rule, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # object.__setattr__: the dataclass is frozen; set once, at construction.
        object.__setattr__(self, "rules_by_tool", _rules_by_tool(self.rules))
        any_tool = tuple(rule for rule in self.rules if rule.tool_names is None)
        object.__setattr__(self, "rules_for_any_tool", any_tool)

    def candidate_rules(self, tool_name: str) -> tuple[Rule, ...]:
        """The rules that can match an intent for ``tool_name``, in (priority, name) order."""
        return self.rules_by_tool.get(tool_name, self.rules_for_any_tool)

    def fail_closed_for(self, risk_class: str) -> bool:
        return self.fail_closed_enabled and risk_class in self.fail_closed_risk_classes
