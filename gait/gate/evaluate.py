"""Policy evaluation (FORMATS.md 5.5): a pure function of a compiled policy and an intent.

No I/O, no YAML, no schema work: the compiled ``Policy`` holds frozensets and precompiled
matchers, the intent is normalised once, and the decision is a few set lookups per rule. Rate
limits and approvals, which need state, are applied afterwards by ``gait.gate.engine``.
"""

from __future__ import annotations

import posixpath

# collections.abc and contextvars without the collections package and the contextvars module
# (see gait.gate.engine): the same classes
from _collections_abc import Mapping
from _contextvars import ContextVar

from gait.gate import scripts as script_policy
from gait.gate.intent import IntentInvalid, NormalizedIntent, normalize_intent
from gait.gate.policy import VERDICT_RANK, Policy, RateLimit, Rule
from gait.gate.policy_keys import RuleExtras, apply_constraints
from gait.plain import Plain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

GATE_RESULT_SCHEMA_ID = "gait.gate.result"
SCHEMA_VERSION = "1.0.0"
_DEFAULT_EGRESS_KINDS = frozenset({"host", "url", "bucket", "queue", "topic"})


class Decision(Plain):
    """The outcome of evaluation: the GateResult fields plus what enforcement needs."""

    __slots__ = _fields = (
        "verdict",
        "reason_codes",
        "violations",
        "created_at",
        "intent",
        "matched_rule",
        "matched_rules",
        "min_approvals",
        "require_distinct_approvers",
        "rate_limits",
        "destructive_budgets",
        "step_verdicts",
        "more",
    )
    verdict: str
    reason_codes: list[str]
    violations: list[str]
    created_at: str
    intent: NormalizedIntent | None
    matched_rule: str
    matched_rules: tuple[str, ...]
    min_approvals: int
    require_distinct_approvers: bool
    rate_limits: tuple[tuple[str, RateLimit], ...]
    destructive_budgets: tuple[tuple[str, RateLimit], ...]
    step_verdicts: list[dict[str, Any]]
    # Gate-time requirements of the winning rules (delegation tokens, a brokered credential)
    # and a script's composite risk class; one field, None for the common decision, so
    # decisions that use none of it cost nothing more to build (read through the properties).
    more: dict[str, Any] | None

    def __init__(
        self,
        verdict: str,
        reason_codes: list[str],
        violations: list[str],
        created_at: str,
        intent: NormalizedIntent | None,
        matched_rule: str = "",
        matched_rules: tuple[str, ...] = (),
        min_approvals: int = 0,
        require_distinct_approvers: bool = False,
        rate_limits: tuple[tuple[str, RateLimit], ...] = (),
        destructive_budgets: tuple[tuple[str, RateLimit], ...] = (),
        step_verdicts: list[dict[str, Any]] | None = None,
        more: dict[str, Any] | None = None,
    ) -> None:
        self.verdict = verdict
        self.reason_codes = reason_codes
        self.violations = violations
        self.created_at = created_at
        self.intent = intent
        self.matched_rule = matched_rule
        self.matched_rules = matched_rules
        self.min_approvals = min_approvals
        self.require_distinct_approvers = require_distinct_approvers
        self.rate_limits = rate_limits
        self.destructive_budgets = destructive_budgets
        self.step_verdicts = [] if step_verdicts is None else step_verdicts
        self.more = more

    @property
    def require_delegation(self) -> bool:
        return bool(self.more and self.more.get("require_delegation"))

    @property
    def delegation_scopes(self) -> tuple[str, ...]:
        return self.more.get("delegation_scopes", ()) if self.more else ()

    @property
    def require_broker_credential(self) -> bool:
        return bool(self.more and self.more.get("require_broker_credential"))

    @property
    def broker_reference(self) -> str:
        return self.more.get("broker_reference", "") if self.more else ""

    @property
    def broker_scopes(self) -> tuple[str, ...]:
        return self.more.get("broker_scopes", ()) if self.more else ()

    @property
    def composite_risk_class(self) -> str:
        return self.more.get("composite_risk_class", "") if self.more else ""

    def gate_result(self, producer_version: str) -> dict[str, Any]:
        """The GateResult artifact (``gait.gate.result``)."""
        return {
            "schema_id": GATE_RESULT_SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "created_at": self.created_at,
            "producer_version": producer_version,
            "verdict": self.verdict,
            "reason_codes": list(self.reason_codes),
            "violations": list(self.violations),
        }


def most_restrictive(a: str, b: str) -> str:
    return b if VERDICT_RANK.get(b, 0) > VERDICT_RANK.get(a, 0) else a


def _risk_class_of(raw: Any) -> str:
    if isinstance(raw, Mapping):
        ctx = raw.get("context")
        if isinstance(ctx, Mapping) and isinstance(ctx.get("risk_class"), str):
            return str(ctx["risk_class"]).strip().lower()
    return ""


def _created_at_of(raw: Any) -> str:
    from gait import timefmt

    if isinstance(raw, Mapping) and isinstance(raw.get("created_at"), str):
        try:
            value = timefmt.canonical(raw["created_at"])
        except Exception:  # noqa: BLE001 - an unreadable time is simply unset here
            return timefmt.EPOCH_1980
        if value != timefmt.ZERO_TIME:
            return value
    return timefmt.EPOCH_1980


def evaluate(
    policy: Policy,
    intent: Any,
    *,
    extra_required_fields: tuple[str, ...] = (),
) -> Decision:
    """Evaluate an intent (raw IntentRequest mapping or ``NormalizedIntent``).

    Raises ``IntentInvalid`` for an intent that cannot be normalised, unless the policy fails
    closed for its risk class, which turns it into a ``block`` (``fail_closed_intent_invalid``).
    ``extra_required_fields`` lets production mode demand fields the policy did not list.
    """
    if isinstance(intent, NormalizedIntent):
        normalized = intent
    else:
        try:
            normalized = normalize_intent(intent)
        except IntentInvalid:
            if policy.fail_closed_for(_risk_class_of(intent)):
                return Decision(
                    "block",
                    ["fail_closed_intent_invalid"],
                    ["intent_not_evaluable"],
                    _created_at_of(intent),
                    None,
                )
            raise
    return evaluate_normalized(policy, normalized.stripped(), extra_required_fields)


def evaluate_normalized(
    policy: Policy,
    intent: NormalizedIntent,
    extra_required_fields: tuple[str, ...] = (),
    *,
    now: str | None = None,
    inventory: dict[str, dict[str, str]] | None = None,
) -> Decision:
    """Evaluate an already normalised (and evidence-stripped) intent.

    ``now`` (RFC 3339) is the evaluation time for freeze windows and agent expiry; the wall
    clock when unset, as the reference's ``policy test``.
    """
    if inventory and intent.script is not None:
        token = _INVENTORY.set(inventory)
        try:
            return evaluate_normalized(policy, intent, extra_required_fields, now=now)
        finally:
            _INVENTORY.reset(token)
    if now is not None and policy.uses_clock:
        time_token = _EVALUATION_TIME.set(now)
        try:
            return evaluate_normalized(policy, intent, extra_required_fields)
        finally:
            _EVALUATION_TIME.reset(time_token)
    closed = policy.fail_closed_enabled and intent.risk_class in policy.fail_closed_risk_classes
    if closed or extra_required_fields:
        fields = policy.required_fields if closed else ()
        if extra_required_fields:
            fields = tuple(sorted(set(fields) | set(extra_required_fields)))
        reasons, violations = _fail_closed(intent, fields, closed)
        if closed and policy.required_high_risk_fields:
            more = _missing_high_risk(intent, policy.required_high_risk_fields)
            reasons = sorted(set(reasons) | {"fail_closed_missing_" + f for f in more})
            violations = sorted(set(violations) | {"missing_" + f for f in more})
        if reasons:
            return Decision("block", reasons, violations, intent.created_at, intent)
    if intent.script is not None:
        return _evaluate_script(policy, intent)
    return _evaluate_single(policy, intent)


def _fail_closed(
    intent: NormalizedIntent, fields: tuple[str, ...], check_classes: bool
) -> tuple[list[str], list[str]]:
    targets = intent.targets
    unknown_class = False
    for target in targets:
        if target["endpoint_class"] in _UNKNOWN_CLASSES:
            unknown_class = True
            break
    if (
        not unknown_class
        and targets
        and intent.provenance
        and _TARGETS_AND_PROVENANCE.issuperset(fields)
    ):
        return [], []  # the common case: every field it can ask for is there
    reasons: set[str] = set()
    violations: set[str] = set()
    for name in fields:
        if name == "targets":
            if not targets:
                reasons.add("fail_closed_missing_targets")
                violations.add("missing_targets")
        elif name == "arg_provenance":
            if not intent.provenance:
                reasons.add("fail_closed_missing_arg_provenance")
                violations.add("missing_arg_provenance")
        elif name == "endpoint_class":
            if unknown_class:
                reasons.add("fail_closed_missing_endpoint_class")
                violations.add("missing_endpoint_class")
        elif name == "delegation":
            if "delegation" not in intent.doc:
                reasons.add("fail_closed_missing_delegation")
                violations.add("missing_delegation")
        elif name == "context_evidence":
            if not intent.context.get("context_set_digest"):
                reasons.add("context_evidence_missing")
                violations.add("missing_context_evidence")
    if check_classes and unknown_class:
        reasons.add("fail_closed_endpoint_class_unknown")
        violations.add("endpoint_class_unknown")
    return sorted(reasons), sorted(violations)


_UNKNOWN_CLASSES = ("", "other")
_TARGETS_AND_PROVENANCE = frozenset({"targets", "arg_provenance"})


def _missing_high_risk(intent: NormalizedIntent, fields: tuple[str, ...]) -> list[str]:
    """``fail_closed.required_high_risk_fields`` the intent's context does not carry."""
    ctx = intent.context
    missing = []
    for name in fields:
        if name == "agent_identity":
            present = ctx.get("agent_identity") is not None
        elif name == "credential_ttl_seconds":
            present = ctx.get("credential_ttl_seconds", 0) > 0
        else:
            present = bool(ctx.get(name, "").strip())
        if not present:
            missing.append(name)
    return missing


def rule_matches(rule: Rule, intent: NormalizedIntent) -> bool:
    """All given match keys hold; within a list any; target keys hold if any target matches.

    The per-key predicates are built once, when the policy is compiled (``Rule.checks``).
    """
    for check in rule.checks:
        if not check(intent):
            return False
    return True


def _dataflow(rule: Rule, intent: NormalizedIntent) -> bool:
    flow = rule.dataflow
    assert flow is not None
    if not any(entry["source"] in flow.tainted_sources for entry in intent.provenance):
        return False
    targets = intent.targets
    if not targets:
        return False
    kinds, values = flow.destination_kinds, flow.destination_values
    ops = flow.destination_operations
    if not kinds and not values and not ops:
        return any(t["kind"] in _DEFAULT_EGRESS_KINDS for t in targets)
    for target in targets:
        if kinds and target["kind"] not in kinds:
            continue
        if values and target["value"] not in values:
            continue
        if ops and target.get("operation", "") not in ops:
            continue
        return True
    return False


def _path_forms(path: str) -> tuple[str, ...]:
    """Every path a target may reach: as written, with ``.``/``..`` segments resolved, and up to a
    NUL (where C APIs stop reading). A path is denied when any form is, and allowlisted only when
    every form is, so ``/workspace/app/../../etc/passwd`` cannot pass ``/workspace/**`` and
    ``/srv/app/x/../secrets/k`` cannot slip past ``/srv/app/secrets/**``. The reference matches
    the path as written only; a path without such segments is matched exactly as there."""
    if "." not in path and "//" not in path and "\x00" not in path:
        return (path,)
    forms = [path]
    head = path.split("\x00", 1)[0]
    for form in (
        head,
        posixpath.normpath(path) if path else path,
        posixpath.normpath(head) if head else head,
    ):
        if form not in forms:
            forms.append(form)
    return tuple(forms)


def _endpoint(rule: Rule, intent: NormalizedIntent) -> tuple[str, set[str], set[str]] | None:
    endpoint = rule.endpoint
    assert endpoint is not None
    reasons: set[str] = set()
    for target in intent.targets:
        if target["kind"] == "path":
            forms = _path_forms(target["value"].replace("\\", "/"))
            deny, allow = endpoint.path_deny, endpoint.path_allow
            if deny and any(m(form) for form in forms for m in deny):
                reasons.add("endpoint_path_denied")
            if allow and not all(any(m(form) for m in allow) for form in forms):
                reasons.add("endpoint_path_not_allowlisted")
        domain = target.get("endpoint_domain", "")
        if domain:
            if endpoint.domain_deny and any(m(domain) for m in endpoint.domain_deny):
                reasons.add("endpoint_domain_denied")
            if endpoint.domain_allow and not any(m(domain) for m in endpoint.domain_allow):
                reasons.add("endpoint_domain_not_allowlisted")
        cls = target["endpoint_class"]
        egress = endpoint.egress_classes
        if egress and cls.startswith("net.") and cls not in egress:
            reasons.add("endpoint_egress_class_not_allowed")
    violations = set(reasons)
    effect = endpoint.action
    if endpoint.destructive_action and intent.destructive:
        effect = most_restrictive(effect, endpoint.destructive_action)
        reasons.add("endpoint_destructive_operation")
        violations.add("destructive_operation")
    if not reasons:
        return None
    reasons.add(endpoint.reason_code)
    violations.add(endpoint.violation)
    return effect, reasons, violations


def _rule_outcome(
    rule: Rule, intent: NormalizedIntent
) -> tuple[str, set[str], set[str], dict[str, Any] | None]:
    """(effect, reasons, violations, decision records): the records are the rule's
    freeze-window and sandbox decisions (None when the rule has no such constraint)."""
    effect = rule.effect
    reasons = set(rule.default_reasons)
    violations = set(rule.violations)
    if rule.dataflow is not None and _dataflow(rule, intent):
        effect = rule.dataflow.action
        reasons.add(rule.dataflow.reason_code)
        violations.add(rule.dataflow.violation)
    if rule.endpoint is not None:
        hit = _endpoint(rule, intent)
        if hit is not None:
            effect = most_restrictive(effect, hit[0])
            reasons |= hit[1]
            violations |= hit[2]
    destructive = intent.destructive
    decisions: dict[str, Any] | None = None
    if rule.extras is not None and rule.extras.constraints:
        decisions = {}
        effect, sandbox_valid = apply_constraints(
            rule.extras,
            intent,
            _utc_now,
            effect,
            reasons,
            violations,
            most_restrictive,
            decisions,
        )
        if destructive and sandbox_valid and _only_proc_exec(intent):
            destructive = False
    if destructive:
        if intent.phase == "plan":
            effect = most_restrictive(effect, "dry_run")
            reasons.add("plan_phase_non_destructive")
        else:
            effect = most_restrictive(effect, "require_approval")
            reasons.add("destructive_apply_requires_approval")
    return effect, reasons, violations, decisions or None


_EVALUATION_TIME: ContextVar[str | None] = ContextVar("gait_evaluation_time", default=None)
# A tool inventory for script steps (``--wrkr-inventory``); single intents are enriched first.
_INVENTORY: ContextVar[dict[str, dict[str, str]] | None] = ContextVar(
    "gait_inventory", default=None
)


def _utc_now() -> Any:
    """The evaluation time (``evaluate_normalized(now=...)``) or the wall clock, in UTC."""
    from datetime import UTC, datetime

    from gait import timefmt

    fixed = _EVALUATION_TIME.get()
    if fixed is not None:
        return timefmt.to_datetime(fixed)
    return datetime.now(UTC)


def _only_proc_exec(intent: NormalizedIntent) -> bool:
    targets = intent.targets
    return bool(targets) and all(t["endpoint_class"] == "proc.exec" for t in targets)


def _gate_requirements(winners: list[Rule] | tuple[Rule, ...]) -> dict[str, Any]:
    """The winning rules' delegation and broker requirements, merged as the reference does."""
    extras: list[RuleExtras] = [r.extras for r in winners if r.extras is not None]
    if not extras:
        return {}
    return {
        "require_delegation": any(e.require_delegation for e in extras),
        "delegation_scopes": tuple(sorted({s for e in extras for s in e.delegation_scopes})),
        "require_broker_credential": any(e.require_broker_credential for e in extras),
        "broker_reference": ",".join(
            sorted({e.broker_reference for e in extras if e.broker_reference})
        ),
        "broker_scopes": tuple(sorted({s for e in extras for s in e.broker_scopes})),
    }


def matching_rules(policy: Policy, intent: NormalizedIntent) -> list[Rule]:
    """Every matching rule at the first priority where any rule matches (not first-match)."""
    matched: list[Rule] = []
    priority = None
    for rule in policy.rules_by_tool.get(intent.tool_name, policy.rules_for_any_tool):
        if priority is not None and rule.priority != priority:
            break
        for check in rule.checks:  # rule_matches, inlined: this loop runs for every rule
            if not check(intent):
                break
        else:
            matched.append(rule)
            priority = rule.priority
    return matched


def _evaluate_single(policy: Policy, intent: NormalizedIntent) -> Decision:
    matched = matching_rules(policy, intent)
    if not matched:
        default = policy.default_verdict
        return Decision(
            default,
            ["default_" + default],
            [],
            intent.created_at,
            intent,
            min_approvals=1 if default == "require_approval" else 0,
        )
    if len(matched) == 1 and matched[0].fixed_outcome and not intent.destructive:
        return _fixed_rule_decision(matched[0], intent)
    return _combined_decision(matched, intent)


def _fixed_rule_decision(rule: Rule, intent: NormalizedIntent) -> Decision:
    """``_combined_decision([rule], intent)`` for a rule whose outcome is fixed at compile time
    and an intent that no escalation applies to (the common case); equal by construction and
    checked against it in tests/test_gate_fastpaths.py."""
    verdict = rule.effect
    min_approvals = rule.min_approvals
    if verdict == "require_approval" and min_approvals == 0:
        min_approvals = 1
    decision = Decision(
        verdict,
        list(rule.sorted_reasons),
        list(rule.sorted_violations),
        intent.created_at,
        intent,
        matched_rule=rule.name,
        matched_rules=(rule.name,),
        min_approvals=min_approvals,
        require_distinct_approvers=rule.require_distinct_approvers,
        rate_limits=((rule.name, rule.rate_limit),) if rule.rate_limit else (),
        destructive_budgets=(
            ((rule.name, rule.destructive_budget),) if rule.destructive_budget else ()
        ),
    )
    if rule.extras is not None:
        decision.more = _gate_requirements((rule,))
    return decision


def _combined_decision(matched: list[Rule], intent: NormalizedIntent) -> Decision:
    """The decision of one or more matching rules: most restrictive effect wins (FORMATS 5.5)."""
    outcomes = [(rule, *_rule_outcome(rule, intent)) for rule in matched]
    verdict = "allow"
    for _, effect, _, _, _ in outcomes:
        if VERDICT_RANK[effect] > VERDICT_RANK[verdict]:
            verdict = effect
    reasons: set[str] = set()
    violations: set[str] = set()
    min_approvals = 0
    distinct = False
    winners = []
    records: dict[str, Any] = {}
    for rule, effect, rule_reasons, rule_violations, decisions in outcomes:
        if effect != verdict:
            continue
        winners.append(rule)
        reasons |= rule_reasons
        violations |= rule_violations
        min_approvals = max(min_approvals, rule.min_approvals)
        distinct = distinct or rule.require_distinct_approvers
        if decisions:
            _pick_records(records, decisions)
    if verdict == "require_approval" and min_approvals == 0:
        min_approvals = 1
    names = tuple(sorted(rule.name for rule in matched))
    more = _gate_requirements(winners)
    if records:
        more = {**more, **records}
    return Decision(
        verdict,
        sorted(reasons),
        sorted(violations),
        intent.created_at,
        intent,
        matched_rule=",".join(names),
        matched_rules=names,
        min_approvals=min_approvals,
        require_distinct_approvers=distinct,
        rate_limits=tuple((r.name, r.rate_limit) for r in winners if r.rate_limit),
        destructive_budgets=tuple(
            (r.name, r.destructive_budget) for r in winners if r.destructive_budget
        ),
        more=more or None,
    )


def _pick_records(records: dict[str, Any], found: dict[str, Any]) -> None:
    """Merge freeze-window and sandbox decision records as the reference picks among rules
    and script steps (gait.gate.freeze_window.pick, gait.gate.sandbox.pick)."""
    from gait.gate import freeze_window, sandbox

    for name, pick in (("freeze_window", freeze_window.pick), ("sandbox", sandbox.pick)):
        if found.get(name):
            records[name] = pick(records.get(name), found[name])


def _evaluate_script(policy: Policy, intent: NormalizedIntent) -> Decision:
    """Steps as single intents, most restrictive wins, then the policy's ``scripts`` block.

    ``matched_rule`` joins each step's matched rule (sorted, unique strings), as the reference.
    """
    assert intent.script is not None
    verdict = "allow"
    reasons: set[str] = set()
    violations: set[str] = set()
    matched: set[str] = set()
    step_rules: set[str] = set()
    min_approvals = 0
    distinct = False
    rate_limits: list[tuple[str, RateLimit]] = []
    budgets: list[tuple[str, RateLimit]] = []
    risk_classes: set[str] = set()
    requirements: dict[str, Any] = {}
    records: dict[str, Any] = {}
    steps = []
    count = len(intent.script["steps"])
    for index in range(count):
        step = intent.step(index)
        inventory = _INVENTORY.get()
        if inventory is not None:
            from gait.gate.context import enrich

            step = enrich(step, inventory)
        outcome = _evaluate_single(policy, step)
        steps.append(
            {
                "index": index,
                "tool_name": step.tool_name,
                "verdict": outcome.verdict,
                "reason_codes": outcome.reason_codes,
                "violations": outcome.violations,
                "matched_rule": outcome.matched_rule,
            }
        )
        verdict = most_restrictive(verdict, outcome.verdict)
        reasons.update(outcome.reason_codes)
        violations.update(outcome.violations)
        matched.update(outcome.matched_rules)
        if outcome.matched_rule:
            step_rules.add(outcome.matched_rule)
        min_approvals = max(min_approvals, outcome.min_approvals)
        distinct = distinct or outcome.require_distinct_approvers
        rate_limits.extend(outcome.rate_limits)
        budgets.extend(outcome.destructive_budgets)
        risk_classes.add(script_policy.step_risk(step.targets))
        if outcome.require_delegation or outcome.require_broker_credential:
            requirements = _merge_requirements(requirements, outcome)
        if outcome.more and ("freeze_window" in outcome.more or "sandbox" in outcome.more):
            _pick_records(records, outcome.more)
    verdict, min_approvals = script_policy.apply_script_policy(
        policy.scripts,
        count,
        risk_classes,
        verdict,
        reasons,
        violations,
        min_approvals,
        most_restrictive,
    )
    names = tuple(sorted({n for m in matched for n in m.split(",")}))
    return Decision(
        verdict,
        sorted(reasons),
        sorted(violations),
        intent.created_at,
        intent,
        # As the reference: the steps' own comma-joined matched_rule texts, de-duplicated as
        # whole texts and sorted, then joined; so a name can repeat ("a,b,b" when one step
        # matched "a,b" and another "b"). gate-differential-v2 holds such a script.
        matched_rule=",".join(sorted(step_rules)),
        matched_rules=names,
        min_approvals=min_approvals,
        require_distinct_approvers=distinct,
        rate_limits=tuple(dict.fromkeys(rate_limits)),
        destructive_budgets=tuple(dict.fromkeys(budgets)),
        step_verdicts=steps,
        more={
            **requirements,
            **records,
            "composite_risk_class": script_policy.composite_risk(risk_classes),
        },
    )


def _merge_requirements(current: dict[str, Any], outcome: Decision) -> dict[str, Any]:
    return {
        "require_delegation": current.get("require_delegation", False)
        or outcome.require_delegation,
        "delegation_scopes": tuple(
            sorted(set(current.get("delegation_scopes", ())) | set(outcome.delegation_scopes))
        ),
        "require_broker_credential": current.get("require_broker_credential", False)
        or outcome.require_broker_credential,
        "broker_reference": current.get("broker_reference") or outcome.broker_reference,
        "broker_scopes": tuple(
            sorted(set(current.get("broker_scopes", ())) | set(outcome.broker_scopes))
        ),
    }
