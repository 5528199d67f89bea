"""``gait policy simulate`` (issue 15, item 7): roll a candidate policy out by comparison.

Every fixture intent is decided by the baseline (current) and the candidate policy, as
``policy test`` decides (no state, trace or approvals); fixtures whose verdict, reason codes,
violations or matched rule differ are listed, and a rollout stage is recommended as the
reference does: ``observe`` when the candidate allows something the baseline did not,
``require_approval`` when it blocks something new, ``enforce`` otherwise (or when nothing
changed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gait.errors import InvalidInput


def fixture_paths(spec: str) -> list[str]:
    """The ``.json`` files named by a comma-separated list of files and directories."""
    seen: set[str] = set()
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        path = Path(item)
        if not path.exists():
            raise InvalidInput(
                f"fixtures path: {item}: no such file or directory", code="E_FIXTURES"
            )
        if path.is_dir():
            for found in path.rglob("*"):
                if found.is_file() and found.suffix.lower() == ".json":
                    seen.add(str(found))
            continue
        if path.suffix.lower() != ".json":
            raise InvalidInput(f"fixture file must be .json: {item}", code="E_FIXTURES")
        seen.add(str(path))
    if not seen:
        raise InvalidInput(
            "no intent fixtures discovered from --fixtures; next: point it at *.json intents",
            code="E_FIXTURES",
        )
    return sorted(seen)


def recommend(changed: list[dict[str, Any]]) -> str:
    if any(c["baseline_verdict"] != "allow" and c["candidate_verdict"] == "allow" for c in changed):
        return "observe"
    if any(c["baseline_verdict"] != "block" and c["candidate_verdict"] == "block" for c in changed):
        return "require_approval"
    return "enforce"


def simulate(candidate: Any, baseline: Any, intents: list[tuple[str, Any]]) -> dict[str, Any]:
    """The reference's simulate document for decoded ``(path, intent)`` fixtures."""
    from gait.gate.policytest import run_policy_test

    counts: dict[str, dict[str, int]] = {"baseline": {}, "candidate": {}}
    changed = []
    for path, intent in intents:
        base = run_policy_test(baseline, intent)
        cand = run_policy_test(candidate, intent)
        for side, result in (("baseline", base), ("candidate", cand)):
            counts[side][result["verdict"]] = counts[side].get(result["verdict"], 0) + 1
        keys = ("verdict", "reason_codes", "violations", "matched_rule")
        if any(base.get(k) != cand.get(k) for k in keys):
            entry: dict[str, Any] = {
                "fixture_path": path,
                "intent_digest": base["intent_digest"],
                "baseline_verdict": base["verdict"],
                "candidate_verdict": cand["verdict"],
            }
            for side, result in (("baseline", base), ("candidate", cand)):
                for key in ("reason_codes", "violations", "matched_rule"):
                    if result.get(key):
                        entry[f"{side}_{key}"] = result[key]
            entry["changed"] = True
            changed.append(entry)
    stage = recommend(changed)
    doc: dict[str, Any] = {
        "ok": True,
        "baseline_policy_digest": baseline.digest,
        "candidate_policy_digest": candidate.digest,
        "fixtures_total": len(intents),
        "changed_fixtures": len(changed),
        "baseline_verdicts": _counts(counts["baseline"]),
        "candidate_verdicts": _counts(counts["candidate"]),
        "recommendation": stage,
        "summary": (
            f"policy simulate fixtures={len(intents)} changed={len(changed)} recommendation={stage}"
        ),
    }
    if changed:
        doc["changed"] = changed
    if not changed:
        del doc["changed_fixtures"]  # omitted when 0, as the reference
    return doc


def _counts(counts: dict[str, int]) -> list[dict[str, Any]]:
    return [{"verdict": v, "count": counts[v]} for v in sorted(counts)]
