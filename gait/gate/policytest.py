"""``gait policy test``: one deterministic decision per intent, no state, trace or approvals.

The result (FORMATS.md 6.3) carries the **unstripped** intent digest, as the reference's does,
while the verdict comes from the stripped intent evaluation sees.
"""

from __future__ import annotations

from collections.abc import Sequence

from gait.errors import InvalidInput, RegressFailed
from gait.gate.evaluate import evaluate, most_restrictive
from gait.gate.intent import normalize_intent
from gait.gate.policy import Policy
from gait.plain import Plain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

POLICYTEST_SCHEMA_ID = "gait.policytest.result"
SUMMARY_LIMIT = 240
EXIT_FOR_VERDICT = {"allow": 0, "dry_run": 0, "block": 3, "require_approval": 4}


def bounded_summary(verdict: str, reasons: list[str], violations: list[str]) -> str:
    """``policy test verdict=... reasons=... violations=...`` cut to 240 characters."""
    raw = (
        f"policy test verdict={verdict} reasons={','.join(reasons) or 'none'} "
        f"violations={','.join(violations) or 'none'}"
    )
    encoded = raw.encode("utf-8")
    if len(encoded) <= SUMMARY_LIMIT:
        return raw
    suffix = f"...(+{len(encoded) - SUMMARY_LIMIT})"
    keep = max(SUMMARY_LIMIT - len(suffix), 0)
    return encoded[:keep].decode("utf-8", errors="ignore") + suffix


def run_policy_test(policy: Policy, intent: Any) -> dict[str, Any]:
    """The policy-test result for one decoded intent; raises ``IntentInvalid`` (exit 6)."""
    normalized = normalize_intent(intent)
    decision = evaluate(policy, normalized)
    result: dict[str, Any] = {
        "schema_id": POLICYTEST_SCHEMA_ID,
        "schema_version": "1.0.0",
        "created_at": decision.created_at,
        "policy_digest": policy.digest,
        "intent_digest": normalized.digest,
        "verdict": decision.verdict,
        "reason_codes": decision.reason_codes,
    }
    if decision.violations:
        result["violations"] = decision.violations
    if decision.matched_rule:
        result["matched_rule"] = decision.matched_rule
    result["summary"] = bounded_summary(
        decision.verdict, decision.reason_codes, decision.violations
    )
    return result


def check_intent_schema(intent: Any, what: str) -> None:
    """Schema-check an IntentRequest where it enters (tests, approvals), never on the decision
    path: the gate's own evaluation reads intents leniently, as the reference does."""
    from gait import schema

    schema.validate("gait.gate.intent_request", intent, what=what)


def check_expectation(item: Any, what: str) -> dict[str, Any]:
    """One ``--expect`` line: an object with a string ``verdict`` (``E_EXPECT_INVALID``)."""
    if not isinstance(item, dict) or not isinstance(item.get("verdict"), str):
        raise InvalidInput(f'{what}: needs a "verdict"', code="E_EXPECT_INVALID")
    return item


def expectation_mismatch(result: dict[str, Any], expected: dict[str, Any]) -> str:
    """What differs between a policy-test result and one expectation ("" when it holds).

    The verdict first, then the exit code it implies, the exact (sorted) reason codes, and the
    reason codes that must be among them: the first difference is the one reported.
    """
    if result["verdict"] != expected["verdict"]:
        return f"verdict {result['verdict']} != expected {expected['verdict']}"
    code = expected.get("exit_code")
    if code is not None and EXIT_FOR_VERDICT[result["verdict"]] != code:
        return f"exit code {EXIT_FOR_VERDICT[result['verdict']]} != expected {code}"
    reasons = expected.get("reason_codes")
    if reasons is not None and sorted(reasons) != result["reason_codes"]:
        return f"reason codes {result['reason_codes']} != expected {sorted(reasons)}"
    must = expected.get("reason_codes_must_include") or []
    missing = [code for code in must if code not in result["reason_codes"]]
    if missing:
        return f"reason codes lack {','.join(missing)}"
    return ""


class PolicyTestRun(Plain):
    """Every intent's result, the combined verdict and, with expectations, what did not hold.

    ``gait policy test`` prints exactly this (``to_json``, ``lines``, ``exit_code``), so an SDK
    caller and the CLI reach the same verdict and the same pass/fail on the same inputs. Not a
    dataclass (gait.plain: the same constructor, equality and repr): a ``gait policy test``
    process would import dataclasses for it alone.
    """

    __slots__ = _fields = ("policy_digest", "results", "many", "expectations", "failures")

    def __init__(
        self,
        policy_digest: str,
        results: list[dict[str, Any]],
        many: bool,
        expectations: list[dict[str, Any]] | None = None,
        failures: list[str] | None = None,
    ) -> None:
        self.policy_digest = policy_digest
        self.results = results
        self.many = many
        self.expectations = expectations
        self.failures: list[str] = [] if failures is None else failures

    @property
    def verdict(self) -> str:
        """The most restrictive verdict over all intents."""
        verdict = "allow"
        for result in self.results:
            verdict = most_restrictive(verdict, result["verdict"])
        return verdict

    @property
    def expectations_met(self) -> bool | None:
        return None if self.expectations is None else not self.failures

    @property
    def exit_code(self) -> int:
        """0/3/4 by the combined verdict; with expectations 0 when all hold, else 5."""
        if self.expectations is None:
            return EXIT_FOR_VERDICT[self.verdict]
        return 0 if not self.failures else 5

    def mismatch(self, index: int) -> str:
        """Intent ``index``'s expectation problem ("" without one or when it holds)."""
        if self.expectations is None or index >= len(self.expectations):
            return ""
        return expectation_mismatch(self.results[index], self.expectations[index])

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any]
        if self.many:
            payload = {
                "ok": True,
                "policy_digest": self.policy_digest,
                "verdict": self.verdict,
                "results": self.results,
                "summary": f"policy test intents={len(self.results)} "
                f"most_restrictive={self.verdict}",
            }
        else:
            payload = {"ok": True, **self.results[0]}
        if self.expectations is not None and not self.failures:
            payload["expectations_met"] = True
        return payload

    def lines(self) -> list[str]:
        lines = [r["summary"] for r in self.results]
        if self.many:
            lines = [self.to_json()["summary"], *lines]
        if self.expectations is not None and not self.failures:
            lines.append("expectations met")
        return lines

    def match(self, expectations: Sequence[Any]) -> None:
        """Check each result against its expectation (one per intent, in order)."""
        self.expectations = [
            check_expectation(item, f"expectation {n}") for n, item in enumerate(expectations)
        ]
        self.failures = []
        if len(self.expectations) != len(self.results):
            self.failures.append(
                f"{len(self.expectations)} expectations for {len(self.results)} intents"
            )
        for index in range(min(len(self.results), len(self.expectations))):
            problem = self.mismatch(index)
            if problem:
                self.failures.append(f"intent {index}: {problem}")

    def raise_for_expectations(self) -> None:
        """``RegressFailed`` (``E_POLICY_TEST_FAIL``, exit 5) naming the first three problems."""
        if not self.failures:
            return
        failures = self.failures
        raise RegressFailed(
            f"policy test expectations not met: {'; '.join(failures[:3])}"
            + (f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""),
            code="E_POLICY_TEST_FAIL",
            details={"results": self.results} if self.many else dict(self.results[0]),
        )


def run_policy_tests(
    policy: Policy,
    intents: Sequence[Any],
    *,
    many: bool | None = None,
    expectations: Sequence[Any] | None = None,
) -> PolicyTestRun:
    """Test decoded intents (each schema-checked) against ``policy`` and match expectations.

    ``many`` says the intents came as a list (JSONL) rather than one document: it shapes the
    output and prefixes errors with the intent's index; by default, more than one intent is many.
    An invalid intent or expectation raises ``InvalidInput`` (exit 6); unmet expectations are
    reported in ``failures`` (``raise_for_expectations`` turns them into exit 5).
    """
    if many is None:
        many = len(intents) != 1
    if not intents:
        raise InvalidInput("no intents to test", code="E_INTENT_INVALID")
    results = []
    for index, intent in enumerate(intents):
        what = f"intent {index}" if many else "intent"
        check_intent_schema(intent, what)
        try:
            results.append(run_policy_test(policy, intent))
        except InvalidInput as exc:
            if many:
                exc.message = f"{what}: {exc.message}"
            raise
    run = PolicyTestRun(policy.digest, results, many)
    if expectations is not None:
        run.match(expectations)
    return run
