"""Opt-in starter graders: finer checks of a candidate against its fixture.

Each runs where gait.yaml or fixture.json names it under ``graders`` (``true`` or an options
object). They compare the candidate with the fixture's own runpack, so on the fixture itself
they pass: what they catch is drift in a candidate (``candidate:`` or ``command:``).
"""

from __future__ import annotations

import math
import re
from typing import Any

from gait.regress import FixturePatch, GradeContext, GradeResult
from gait.regress.sequences import tool_sequence, verdict_sequence
from graders.common import (
    MISSING,
    PathError,
    first_mismatch,
    lookup,
    occurrences,
    parse_path,
    short,
)

MAX_SHOWN = 5


# args_match ---------------------------------------------------------------------------------
def _pairs(ctx: GradeContext, rule: dict[str, Any]) -> list[tuple[str, dict | None, dict | None]]:
    fixture = ctx.fixture_runpack().intents
    candidate = ctx.candidate_runpack().intents
    if "intent_id" in rule:
        wanted = str(rule["intent_id"])
        left = next((i for i in fixture if i.get("intent_id") == wanted), None)
        right = next((i for i in candidate if i.get("intent_id") == wanted), None)
        return [(wanted, left, right)]
    tool = str(rule.get("tool", ""))
    if not tool:
        raise ValueError("args_match rule needs tool or intent_id")
    left_all, right_all = occurrences(fixture, tool), occurrences(candidate, tool)
    count = max(len(left_all), len(right_all))
    return [
        (
            f"{tool}#{n}",
            left_all[n] if n < len(left_all) else None,
            right_all[n] if n < len(right_all) else None,
        )
        for n in range(count)
    ]


def _compare(rule: dict[str, Any], expected: Any, actual: Any) -> bool:
    if "regex" in rule:
        return isinstance(actual, str) and re.search(str(rule["regex"]), actual) is not None
    if "tolerance" in rule:
        numbers = (expected, actual)
        if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers):
            return False
        return math.isclose(
            float(expected), float(actual), rel_tol=0.0, abs_tol=float(rule["tolerance"])
        )
    return expected == actual


def args_match(ctx: GradeContext) -> GradeResult:
    """Candidate tool-call arguments at JSON paths: equal to the fixture's (default) or to
    ``equals``, matching ``regex``, or within a numeric ``tolerance``.

    Options: ``{"rules": [{"tool": "tool.search" | "intent_id": "intent_1", "path": "$.query",
    "equals": ..., "regex": "...", "tolerance": 0.01}]}``. Paths need raw capture.
    """
    rules = ctx.options.get("rules")
    if not isinstance(rules, list) or not rules:
        raise ValueError("args_match needs options {rules: [{tool|intent_id, path, ...}]}")
    reasons: set[str] = set()
    divergence: list[str] = []
    checked = 0
    for rule in rules:
        if not isinstance(rule, dict):
            raise ValueError("each args_match rule must be an object")
        try:
            parts = parse_path(str(rule.get("path", "$")))
        except PathError as exc:
            raise ValueError(str(exc)) from exc
        for label, left, right in _pairs(ctx, rule):
            checked += 1
            where = f"{label} {rule.get('path', '$')}"
            if right is None:
                reasons.add("args_missing")
                divergence.append(f"{where}: the candidate has no such call")
                continue
            if "args" not in right or (
                left is not None
                and "args" not in left
                and "equals" not in rule
                and "regex" not in rule
            ):
                if (
                    not parts
                    and left is not None
                    and left.get("args_digest") == right.get("args_digest")
                ):
                    continue
                reasons.add("args_not_captured")
                divergence.append(f"{where}: arguments were not captured (capture_mode raw needed)")
                continue
            actual = lookup(right["args"], parts)
            if "equals" in rule:
                expected = rule["equals"]
            elif left is None:
                expected = MISSING
            else:
                expected = lookup(left.get("args"), parts)
            if actual is MISSING:
                reasons.add("args_missing")
                divergence.append(f"{where}: missing in the candidate")
            elif expected is MISSING and "regex" not in rule:
                reasons.add("args_missing")
                divergence.append(f"{where}: missing in the fixture")
            elif not _compare(rule, None if expected is MISSING else expected, actual):
                reasons.add("unexpected_args")
                want = f"/{rule['regex']}/" if "regex" in rule else short(expected)
                if "tolerance" in rule:
                    want += f" +-{rule['tolerance']}"
                divergence.append(f"{where}: expected {want}, actual {short(actual)}")
    details = {"candidate_runpack": ctx.candidate_label, "checked": checked, "rules": len(rules)}
    if not reasons:
        return GradeResult.passed(details=details)
    details["mismatches"] = divergence[:MAX_SHOWN]
    return GradeResult.failed(*sorted(reasons), details=details, divergence=divergence[:MAX_SHOWN])


# result_digest ------------------------------------------------------------------------------
def result_digest(ctx: GradeContext) -> GradeResult:
    """Each recorded result's digest is unchanged in the candidate (by intent id); option
    ``intents`` limits the check to some intent ids."""
    fixture = ctx.fixture_runpack().results_by_intent()
    candidate = ctx.candidate_runpack().results_by_intent()
    only = ctx.options.get("intents")
    ids = [i for i in fixture if not only or i in only]
    changed, missing = [], []
    for intent_id in ids:
        got = candidate.get(intent_id)
        if got is None:
            missing.append(intent_id)
        elif got.get("result_digest") != fixture[intent_id].get("result_digest"):
            changed.append(intent_id)
    details: dict[str, Any] = {"candidate_runpack": ctx.candidate_label, "checked": len(ids)}
    if not changed and not missing:
        return GradeResult.passed(details=details)
    reasons = []
    divergence = []
    if changed:
        reasons.append("unexpected_result_digest")
        details["changed_results"] = changed
        first = changed[0]
        divergence.append(
            f"{first}: result_digest expected {fixture[first]['result_digest'][:16]}..., "
            f"actual {str(candidate[first].get('result_digest'))[:16]}..."
        )
    if missing:
        reasons.append("missing_result")
        details["missing_results"] = missing
        divergence.append(f"results missing in the candidate: {short(missing)}")
    return GradeResult.failed(*reasons, details=details, divergence=divergence)


# verdict_sequence ---------------------------------------------------------------------------
def verdict_sequence_grader(ctx: GradeContext) -> GradeResult:
    """The candidate's verdicts equal fixture.json's ``expected_verdict_sequence`` (or, when it
    has none, the fixture runpack's own)."""
    expected = ctx.expectations.get("expected_verdict_sequence")
    if expected is None:
        expected = verdict_sequence(ctx.fixture_runpack())
    actual = verdict_sequence(ctx.candidate_runpack())
    details = {
        "candidate_runpack": ctx.candidate_label,
        "expected_verdict_sequence": expected,
        "actual_verdict_sequence": actual,
    }
    if list(expected) == actual:
        return GradeResult.passed(details=details)
    index = first_mismatch(list(expected), actual)
    details["verdict_sequence_mismatch_index"] = index
    return GradeResult.failed(
        "unexpected_verdict_sequence",
        details=details,
        divergence=[
            f"verdict step {index}: expected "
            f"{short(expected[index] if index < len(expected) else None)}, actual "
            f"{short(actual[index] if index < len(actual) else None)}"
        ],
    )


def update_verdicts(ctx: GradeContext, result: GradeResult) -> FixturePatch | None:
    return FixturePatch(
        meta={"expected_verdict_sequence": result.details["actual_verdict_sequence"]}
    )


# refs_match ---------------------------------------------------------------------------------
REF_FIELDS = ("source_type", "source_locator", "query_digest", "content_digest")


def refs_match(ctx: GradeContext) -> GradeResult:
    """The candidate's reference receipts match the fixture's by ``ref_id`` on option
    ``fields`` (default source, locator, query and content digests); fixture.json's
    ``expected_context_set_digest``, when set, must equal the candidate's."""
    fields = tuple(ctx.options.get("fields") or REF_FIELDS)
    left = {r["ref_id"]: r for r in ctx.fixture_runpack().refs.get("receipts") or []}
    right_refs = ctx.candidate_runpack().refs
    right = {r["ref_id"]: r for r in right_refs.get("receipts") or []}
    problems = []
    for ref_id in sorted(set(left) | set(right)):
        if ref_id not in right:
            problems.append(f"{ref_id}: missing in the candidate")
        elif ref_id not in left:
            problems.append(f"{ref_id}: new in the candidate")
        else:
            for name in fields:
                if left[ref_id].get(name) != right[ref_id].get(name):
                    problems.append(
                        f"{ref_id}.{name}: expected {short(left[ref_id].get(name), 40)}, "
                        f"actual {short(right[ref_id].get(name), 40)}"
                    )
    reasons = ["unexpected_refs"] if problems else []
    expected_digest = ctx.expectations.get("expected_context_set_digest")
    if (
        expected_digest
        and str(right_refs.get("context_set_digest", "")).lower() != expected_digest.lower()
    ):
        reasons.append("unexpected_context_set_digest")
        problems.append(
            f"context_set_digest: expected {expected_digest[:16]}..., actual "
            f"{str(right_refs.get('context_set_digest') or '(none)')[:16]}"
        )
    details: dict[str, Any] = {
        "candidate_runpack": ctx.candidate_label,
        "receipts_expected": len(left),
        "receipts_actual": len(right),
    }
    if not reasons:
        return GradeResult.passed(details=details)
    details["mismatches"] = problems[:MAX_SHOWN]
    return GradeResult.failed(*reasons, details=details, divergence=problems[:MAX_SHOWN])


# no_new_tools -------------------------------------------------------------------------------
def no_new_tools(ctx: GradeContext) -> GradeResult:
    """The candidate calls no tool the fixture did not (option ``allow``: extra tool names)."""
    known = set(tool_sequence(ctx.fixture_runpack())) | set(ctx.options.get("allow") or [])
    used = tool_sequence(ctx.candidate_runpack())
    new = sorted(set(used) - known)
    details: dict[str, Any] = {
        "candidate_runpack": ctx.candidate_label,
        "known_tools": sorted(known),
    }
    if not new:
        return GradeResult.passed(details=details)
    details["new_tools"] = new
    first = next(i for i, tool in enumerate(used) if tool in new)
    return GradeResult.failed(
        "unexpected_new_tools",
        details=details,
        divergence=[
            f"step {first} calls {used[first]!r}, which the fixture never called",
            f"new tools: {short(new)}",
        ],
    )


# max_steps ----------------------------------------------------------------------------------
def max_steps(ctx: GradeContext) -> GradeResult:
    """The candidate makes at most option ``max`` tool calls (default: as many as the
    fixture)."""
    limit = ctx.options.get("max")
    if limit is None:
        limit = len(ctx.fixture_runpack().intents)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"max_steps option max must be a non-negative integer, not {limit!r}")
    steps = len(ctx.candidate_runpack().intents)
    details = {"candidate_runpack": ctx.candidate_label, "max_steps": limit, "steps": steps}
    if steps <= limit:
        return GradeResult.passed(details=details)
    return GradeResult.failed(
        "max_steps_exceeded",
        details=details,
        divergence=[f"{steps} tool calls, limit {limit}"],
    )


def update_max_steps(ctx: GradeContext, result: GradeResult) -> FixturePatch | None:
    if "max" in ctx.options:
        return None  # an explicit limit in gait.yaml/fixture.json is the user's to change
    from graders.reference import replace_runpack

    return replace_runpack(ctx, result)
