"""The reference's four graders, with its names, reason codes and details (FORMATS.md 6.4):
``schema_validation``, ``expected_exit_code``, ``trajectory`` and ``diff``. They run on every
fixture by default, so a fixture set written by the reference grades the same here.
"""

from __future__ import annotations

from typing import Any

from gait.regress import FixturePatch, GradeContext, GradeInputError, GradeResult
from gait.regress.sequences import normalize_verdict, tool_sequence, verdict_sequence
from graders.common import first_mismatch, short

MEMBER_REASONS = {
    "manifest.json": "manifest_schema_invalid",
    "run.json": "run_schema_invalid",
    "refs.json": "refs_schema_invalid",
    "intents.jsonl": "intent_schema_invalid",
    "results.jsonl": "result_schema_invalid",
}


# schema_validation ------------------------------------------------------------------------
def schema_validation(ctx: GradeContext) -> GradeResult:
    """The fixture's runpack verifies (hashes, manifest digest) and every member validates."""
    from gait.errors import GaitError

    try:
        report = ctx.verify_report()
    except GaitError as exc:
        return GradeResult.failed(
            "runpack_parse_error",
            details={"error": exc.message},
            message=f"{ctx.fixture.runpack}: {exc.message}",
        )
    reasons: list[str] = []
    if report.missing_files:
        reasons.append("missing_files")
    if report.hash_mismatches:
        reasons.append("hash_mismatch")
    if report.signature_status == "failed":
        reasons.append("signature_invalid")
    if report.unsafe_members:
        reasons.append("runpack_parse_error")
    for problem in report.schema_errors:
        member = problem.split(":", 1)[0]
        reasons.append(MEMBER_REASONS.get(member, "runpack_parse_error"))
    counts: dict[str, int | str] = {
        "intent_records": 0,
        "result_records": 0,
        "reference_receipts": 0,
    }
    if not reasons:
        try:
            pack = ctx.fixture_runpack()
            counts = {
                "intent_records": len(pack.intents),
                "result_records": len(pack.results),
                "reference_receipts": len(pack.refs.get("receipts") or []),
            }
        except GradeInputError as exc:
            reasons.append("runpack_parse_error")
            counts["error"] = exc.message
    details: dict[str, Any] = {
        "missing_files": list(report.missing_files) or None,
        "hash_mismatches": len(report.hash_mismatches),
        **counts,
    }
    if not reasons:
        return GradeResult.passed(details=details)
    divergence = [f"missing member {name}" for name in report.missing_files[:3]]
    divergence += [
        f"{m['path']}: manifest says sha256 {m['expected'][:16]}..., content is "
        f"{(m['actual'] or 'unreadable')[:16]}..."
        for m in report.hash_mismatches[:3]
    ]
    divergence += report.schema_errors[:3]
    if report.hash_mismatches:
        details["hash_mismatch_paths"] = [m["path"] for m in report.hash_mismatches]
    return GradeResult.failed(
        *reasons,
        details=details,
        divergence=divergence,
        message=f"fixture runpack {ctx.fixture.runpack} fails verification",
    )


# expected_exit_code -------------------------------------------------------------------------
def expected_exit_code(ctx: GradeContext) -> GradeResult:
    """Stub replay of the candidate (the fixture itself by default) exits as expected."""
    from gait.runpack.replay import stub_replay

    pack = ctx.candidate_runpack()
    try:
        replay = stub_replay(pack)
    except Exception as exc:  # noqa: BLE001 - the reference's replay_error
        return GradeResult.failed("replay_error", details={"error": str(exc)[:300]})
    expected = int(ctx.expectations.get("expected_replay_exit_code", 0))
    details: dict[str, Any] = {
        "expected_exit_code": expected,
        "actual_exit_code": replay.exit_code,
        "missing_results": list(replay.missing_results),
    }
    if not ctx.candidate_is_fixture:
        details["candidate_runpack"] = ctx.candidate_label
    if replay.exit_code == expected:
        return GradeResult.passed(details=details)
    divergence = [f"stub replay exit code: expected {expected}, actual {replay.exit_code}"]
    if replay.missing_results:
        divergence.append(f"intents without a result: {short(replay.missing_results)}")
    return GradeResult.failed("unexpected_exit_code", details=details, divergence=divergence)


def update_exit_code(ctx: GradeContext, result: GradeResult) -> FixturePatch | None:
    if "actual_exit_code" not in result.details:
        return None
    return FixturePatch(meta={"expected_replay_exit_code": result.details["actual_exit_code"]})


# trajectory ---------------------------------------------------------------------------------
def _matches(expected: list[str], actual: list[str], mode: str) -> bool:
    if mode == "unordered":
        return sorted(expected) == sorted(actual)
    if mode == "subsequence":
        position = iter(actual)
        return all(any(step == seen for seen in position) for step in expected)
    return expected == actual


def trajectory(ctx: GradeContext) -> GradeResult:
    """The candidate's tool and verdict sequences equal the expected ones (or, with option
    ``mode``, contain them in order: ``subsequence``, or in any order: ``unordered``)."""
    mode = str(ctx.options.get("mode", "exact"))
    if mode not in ("exact", "subsequence", "unordered"):
        raise ValueError(
            f"trajectory option mode must be exact, subsequence or unordered, not {mode!r}"
        )
    pack = ctx.candidate_runpack()
    actual_tools = tool_sequence(pack)
    actual_verdicts = verdict_sequence(pack)
    details: dict[str, Any] = {
        "candidate_runpack": ctx.candidate_label,
        "actual_tool_sequence": actual_tools,
        "actual_verdict_sequence": actual_verdicts,
    }
    if mode != "exact":
        details["trajectory_mode"] = mode
    meta = ctx.expectations
    expected_tools = meta.get("expected_tool_sequence")
    expected_verdicts = meta.get("expected_verdict_sequence")
    if expected_tools is None and expected_verdicts is None:
        return GradeResult.passed("trajectory_not_required", details=details)
    reasons: list[str] = []
    divergence: list[str] = []
    for label, expected, actual in (
        ("tool", expected_tools, actual_tools),
        ("verdict", expected_verdicts, actual_verdicts),
    ):
        if expected is None:
            continue
        expected = [str(s).strip() for s in expected if str(s).strip()]
        if label == "verdict":
            expected = [normalize_verdict(s) or s for s in expected]
        details[f"expected_{label}_sequence"] = expected
        if _matches(expected, actual, mode):
            continue
        reasons.append(f"unexpected_{label}_sequence")
        index = first_mismatch(expected, actual)
        details[f"{label}_sequence_mismatch_index"] = index
        want = expected[index] if index < len(expected) else None
        got = actual[index] if index < len(actual) else None
        if want is not None:
            details[f"{label}_sequence_expected_at_mismatch"] = want
        if got is not None:
            details[f"{label}_sequence_actual_at_mismatch"] = got
        divergence.append(
            f"{label} step {index}: expected {short(want)}, actual {short(got)} "
            f"(expected {len(expected)} steps, actual {len(actual)})"
        )
    misses = ctx.candidate.misses
    if misses:
        reasons.append("replay_miss")
        details["replay_misses"] = [
            {k: m.get(k) for k in ("index", "tool_name", "kind", "closest_intent_id")}
            | {"differing_arg_paths": list(m.get("differing_arg_paths") or [])}
            for m in misses
        ]
    if not reasons:
        return GradeResult.passed("trajectory_match", details=details)
    calls = call_diff(ctx)
    if calls is not None and calls.changed:
        divergence = [calls.headline(), *calls.lines()] + [
            line for line in divergence if not line.startswith("tool step")
        ]
        details["call_diff"] = calls.counts()
    for miss in misses[:5]:
        divergence.append(
            f"  ! replay miss at call {int(miss.get('index', 0)) + 1}: {miss.get('message', '')}"
        )
    if len(misses) > 5:
        divergence.append(f"  ! ... {len(misses) - 5} more replay misses")
    if ctx.candidate.exit_code not in (None, 0):
        divergence.append(f"  the agent exited {ctx.candidate.exit_code} after the miss")
    return GradeResult.failed(*reasons, details=details, divergence=divergence)


def call_diff(ctx: GradeContext) -> Any:
    """The aligned call diff of fixture vs candidate (None when graded against itself)."""
    if ctx.candidate_is_fixture:
        return None
    from gait.regress.seqdiff import diff_calls

    try:
        left, right = ctx.fixture_runpack(), ctx.candidate_runpack()
    except GradeInputError:
        return None
    show = str(ctx.options.get("privacy", "full")) != "metadata"
    return diff_calls(left.intents, right.intents, show_values=show)


def update_trajectory(ctx: GradeContext, result: GradeResult) -> FixturePatch | None:
    meta: dict[str, Any] = {}
    if "expected_tool_sequence" in ctx.expectations:
        meta["expected_tool_sequence"] = result.details.get("actual_tool_sequence", [])
    if "expected_verdict_sequence" in ctx.expectations:
        meta["expected_verdict_sequence"] = result.details.get("actual_verdict_sequence", [])
    return FixturePatch(meta=meta) if meta else None


# diff ---------------------------------------------------------------------------------------
def changed_files(summary: dict[str, Any]) -> list[str]:
    """Which runpack members differ (FORMATS.md 6.5), as the reference's diff grader lists them
    from a diff's summary."""
    changed = set(summary.get("files_changed") or [])
    flags = {
        "manifest_changed": "manifest.json",
        "intents_changed": "intents.jsonl",
        "results_changed": "results.jsonl",
        "refs_changed": "refs.json",
    }
    changed.update(name for flag, name in flags.items() if summary.get(flag))
    return sorted(changed)


def diff(ctx: GradeContext) -> GradeResult:
    """Fixture runpack vs candidate: only members listed in ``diff_allow_changed_files`` may
    differ."""
    from gait.runpack.diff import diff_runpacks

    candidate = ctx.candidate_runpack()
    fixture = ctx.fixture_runpack()
    allowed = sorted(
        {
            str(f).strip()
            for f in ctx.expectations.get("diff_allow_changed_files") or []
            if str(f).strip()
        }
    )
    details: dict[str, Any] = {"candidate_runpack": ctx.candidate_label, "allowed_files": allowed}
    try:
        summary = {} if candidate is fixture else diff_runpacks(fixture, candidate).summary
    except Exception as exc:  # noqa: BLE001 - the reference's diff_error
        details["error"] = str(getattr(exc, "message", exc))[:300]
        return GradeResult.failed("diff_error", details=details, message=details["error"])
    changed = changed_files(summary)
    if (
        ctx.candidate.origin == "command"
        and summary.get("context_drift_classification") == "runtime_only"
        and "refs.json" in changed
    ):
        # A live agent retrieves afresh: receipts that differ only in their retrieval times
        # are not behaviour (context_conformance still judges runtime drift on its own terms).
        changed.remove("refs.json")
        details["refs_runtime_only"] = True
    ignored = _ignored_arg_paths(ctx)
    if ignored and "intents.jsonl" in changed and _same_calls(fixture, candidate, ignored):
        changed = [name for name in changed if name != "intents.jsonl"]
        details["ignored_arg_paths"] = list(ignored)
    details["changed_files"] = changed
    unexpected = [name for name in changed if name not in allowed]
    if not unexpected:
        return GradeResult.passed(details=details)
    details["unexpected_files"] = unexpected
    divergence = [f"changed members not allowed by diff_allow_changed_files: {short(unexpected)}"]
    calls = call_diff(ctx)
    if calls is not None and calls.changed:
        divergence += [line for line in calls.lines(context=0) if not line.startswith("  ...")]
    return GradeResult.failed("unexpected_diff", details=details, divergence=divergence)


def _ignored_arg_paths(ctx: GradeContext) -> tuple[str, ...]:
    """match_on's ignore_arg_paths for a command: fixture: volatile args (request ids, times)
    that neither replay matching nor this grader treat as behaviour."""
    if ctx.candidate.origin != "command":
        return ()
    from gait.runpack.replay import MatchOn

    value = ctx.fixture.match_on if ctx.fixture.match_on is not None else ctx.config.match_on
    return MatchOn.parse(value).ignore_arg_paths


def _same_calls(left: Any, right: Any, ignored: tuple[str, ...]) -> bool:
    """Both runs made the same calls once the ignored arg paths are left out (raw capture)."""
    from gait.canon import digest
    from gait.runpack.replay import strip_paths

    def calls(pack: Any) -> list[tuple[str, str, str]] | None:
        out = []
        for intent in pack.intents:
            args = intent.get("args")
            if not isinstance(args, dict):
                return None
            out.append(
                (
                    str(intent.get("intent_id", "")),
                    str(intent.get("tool_name", "")),
                    digest(strip_paths(args, ignored)),
                )
            )
        return out

    a, b = calls(left), calls(right)
    return a is not None and a == b


def replace_runpack(ctx: GradeContext, result: GradeResult) -> FixturePatch | None:
    """Accept the candidate as the new fixture runpack (and refresh the expectations read from
    it), as ``--update`` does for a snapshot."""
    if ctx.candidate_is_fixture:
        return None
    from gait.regress.init import expectations

    fresh = expectations(ctx.candidate_runpack())
    meta = {key: value for key, value in fresh.items() if key in ctx.expectations}
    return FixturePatch(meta=meta, replace_runpack=True)
