"""The reference's ``context_conformance`` grader: did the candidate run use the same context?

It compares the fixture's and the candidate's refs (``gait.pack.spec.context_drift``: ``none``,
``runtime_only`` when only retrieval times moved, ``semantic`` otherwise) and, when conformance
is enforced, fails on missing evidence, semantic drift, or runtime drift not allowed. It runs on
every fixture when ``gait regress run --context-conformance`` is given or when any fixture.json
sets ``context_conformance``, ``expected_context_set_digest`` or
``allow_context_runtime_drift`` (``gait regress init`` writes the first two for a run recorded
with context evidence). Options ``enforce`` and ``allow_runtime_drift`` are what the two run
flags set. Reason codes and details are the reference's; the result element carries
``context_conformance`` (the classification, or ``missing``).
"""

from __future__ import annotations

from typing import Any

from gait.regress import GradeContext, GradeInputError, GradeResult

NAME = "context_conformance"


def _result(result: GradeResult, classification: str) -> GradeResult:
    result.context_conformance = classification
    return result


def context_conformance(ctx: GradeContext) -> GradeResult:
    """Fixture refs vs candidate refs, as the reference's context conformance grader."""
    from gait.pack.spec import context_drift

    try:
        source = ctx.fixture_runpack()
    except GradeInputError as exc:
        failed = GradeResult.failed("source_runpack_invalid", details={"error": exc.message})
        return _result(failed, "missing")
    try:
        candidate = ctx.candidate_runpack()
    except GradeInputError as exc:
        failed = GradeResult.failed("candidate_runpack_invalid", details={"error": exc.message})
        return _result(failed, "missing")
    left, right = source.refs, candidate.refs
    try:
        classification, changed, runtime_only = context_drift(left, right)
    except Exception as exc:  # noqa: BLE001 - the reference's context_diff_error
        failed = GradeResult.failed("context_diff_error", details={"error": str(exc)[:300]})
        return _result(failed, "missing")
    candidate_digest = str(right.get("context_set_digest") or "")
    details: dict[str, Any] = {
        "candidate_runpack": ctx.candidate_label,
        "context_set_digest_fixture": str(left.get("context_set_digest") or ""),
        "context_set_digest_candidate": candidate_digest,
        "context_changed": changed,
        "context_runtime_only": runtime_only,
    }
    meta = ctx.expectations
    expected = str(meta.get("expected_context_set_digest") or "").strip()
    enforce = (
        bool(ctx.options.get("enforce"))
        or str(meta.get("context_conformance") or "").strip() == "required"
        or bool(expected)
    )
    allow_runtime = bool(ctx.options.get("allow_runtime_drift")) or bool(
        meta.get("allow_context_runtime_drift")
    )
    if (
        expected
        and candidate_digest.lower() != expected.lower()
        and classification != "runtime_only"
    ):
        failed = GradeResult.failed("context_set_digest_mismatch", details=details)
        return _result(failed, "semantic")
    if not enforce:
        return _result(
            GradeResult.passed("context_conformance_not_required", details=details), classification
        )
    if not candidate_digest.strip():
        return _result(GradeResult.failed("context_evidence_missing", details=details), "missing")
    if classification == "semantic":
        return _result(GradeResult.failed("context_semantic_drift", details=details), "semantic")
    if classification == "runtime_only" and not allow_runtime:
        failed = GradeResult.failed("context_runtime_drift_blocked", details=details)
        return _result(failed, "runtime_only")
    return _result(GradeResult.passed("context_conformance_pass", details=details), classification)
