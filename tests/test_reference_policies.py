"""The reference's own 72 policies and 3,600 of its decisions (issue 15), in-process.

Each policy goes through ``gait policy validate --json`` (exit code and policy digest) and its 50
intents through ``gait policy test --json`` (exit code, verdict, reason codes, violations,
matched rule and both digests; an intent the reference refuses exits 6 with our own ``E_*``).
Policies that do not agree yet are listed in ``XFAIL_*`` (strict: a fix must shrink the list).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gait.cli.main import main

COMPARED = ("verdict", "reason_codes", "violations", "matched_rule", "intent_digest")
COMPARED += ("policy_digest", "created_at", "schema_id", "schema_version", "summary", "ok")

# Policies whose validate answer or decisions do not agree yet (shrinks as features land).
XFAIL_VALIDATE: frozenset[str] = frozenset()
XFAIL_DECISIONS: frozenset[str] = frozenset()


def _conformance_reason() -> str:
    """conftest's reason when ../shared/conformance is absent (so a clean clone shows one
    reason); this corpus's own when only its folder is missing."""
    from conftest import CONFORMANCE_MISSING, _conformance_root

    if _conformance_root() is None:
        return CONFORMANCE_MISSING
    return "reference policy corpus absent: ../shared/conformance/reference-policies"


def _corpus_root() -> Path | None:
    here = Path(__file__).resolve().parents[1]
    for candidate in (
        os.environ.get("GAIT_CONFORMANCE_DIR", ""),
        here.parent / "shared" / "conformance",
        here / "shared" / "conformance",
    ):
        if candidate and (Path(candidate) / "reference-policies" / "index.json").is_file():
            return Path(candidate) / "reference-policies"
    return None


ROOT = _corpus_root()
CONFORMANCE_MISSING = _conformance_reason()
INDEX = json.loads((ROOT / "index.json").read_text()) if ROOT else []
NAMES = [item["policy"] for item in INDEX] or ["<corpus absent>"]


def _entry(name: str) -> dict:
    if ROOT is None:
        pytest.skip(CONFORMANCE_MISSING)  # one reason for every interop test
    return next(item for item in INDEX if item["policy"] == name)


def _mark(name: str, xfails: frozenset[str]) -> pytest.MarkDecorator | tuple:
    if name in xfails:
        return (pytest.mark.xfail(strict=True, reason="feature not implemented yet"),)
    return ()


def test_corpus_is_whole() -> None:
    if ROOT is None:
        pytest.skip(CONFORMANCE_MISSING)  # one reason for every interop test
    assert len(INDEX) == 72


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=_mark(n, XFAIL_VALIDATE), id=n) for n in NAMES]
)
def test_validate(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    entry = _entry(name)
    assert ROOT is not None
    code = main(["policy", "validate", str(ROOT / "policies" / name), "--json"])
    out = json.loads(capsys.readouterr().out)
    want = entry["validate"]
    assert code == want["exit_code"], out
    for key in ("ok", "policy_digest", "default_verdict", "rule_count", "summary"):
        assert out.get(key) == want["output"].get(key), key


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=_mark(n, XFAIL_DECISIONS), id=n) for n in NAMES]
)
def test_decisions(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The first intent of each policy through ``gait policy test`` itself; the other 49
    through the function that command runs (same result document, without re-reading the
    policy 50 times), so the 3,600 decisions stay within the test-time budget."""
    from gait.gate.intent import IntentInvalid
    from gait.gate.policy import load_policy
    from gait.gate.policytest import EXIT_FOR_VERDICT, run_policy_test

    _entry(name)
    assert ROOT is not None
    policy_path = str(ROOT / "policies" / name)
    policy = load_policy(policy_path)
    lines = (ROOT / f"expected.{name}.jsonl").read_text().splitlines()
    assert len(lines) == 50
    failures = []
    for number, line in enumerate(lines):
        item = json.loads(line)
        if number == 0:
            intent = tmp_path / "intent.json"
            intent.write_text(json.dumps(item["intent"]))
            code = main(["policy", "test", policy_path, str(intent), "--json"])
            out = json.loads(capsys.readouterr().out)
        else:
            try:
                out = run_policy_test(policy, item["intent"])
                out["ok"] = True
                code = EXIT_FOR_VERDICT[out["verdict"]]
            except IntentInvalid as exc:
                out = {"ok": False, "error_code": exc.code}
                code = 6
        want = item["output"]
        if want.get("ok") is False:
            ok = code == 6 and out["ok"] is False and out["error_code"].startswith("E_")
        else:
            ok = code == item["exit_code"] and all(out.get(k) == want.get(k) for k in COMPARED)
        if not ok:
            diff = {k: (out.get(k), want.get(k)) for k in COMPARED if out.get(k) != want.get(k)}
            failures.append((item["index"], code, item["exit_code"], diff))
    assert not failures, f"{len(failures)} of 50 differ, first: {failures[:3]}"
