"""The reference's gate differential corpora, in-process: 6 policies x 300 messy intents (v1)
and the same 6 policies x 200 more (v2: intents without ``targets`` or ``args``, or with them
``null``, which the reference evaluates as empty; FORMATS 5.1).

Every pair goes through ``gait policy test --json`` (``main(argv)``, the real CLI frame) and
must give the reference's exit code, verdict, reason codes, violations, matched rule, both
digests and summary; refused intents exit 6 with our own ``E_*`` code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gait.cli.main import main

POLICIES = (
    "default-block",
    "endpoint-dataflow",
    "fail-closed",
    "match-fields",
    "phases-default-dry-run",
    "priorities",
)
COMPARED = (
    "verdict",
    "reason_codes",
    "violations",
    "matched_rule",
    "intent_digest",
    "policy_digest",
    "created_at",
    "schema_id",
    "schema_version",
    "summary",
    "ok",
)


def _split(root: Path, out: Path) -> list[str]:
    """One intent file per line, as ``policy test`` takes them."""
    paths = []
    for index, line in enumerate((root / "intents.jsonl").read_text().splitlines()):
        path = out / f"intent_{index}.json"
        path.write_text(line)
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def corpus(conformance_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = conformance_dir / "gate-differential"
    return {"root": root, "intents": _split(root, tmp_path_factory.mktemp("intents"))}


@pytest.fixture(scope="module")
def corpus_v2(conformance_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = conformance_dir / "gate-differential-v2"
    return {
        "root": root,
        "policies": conformance_dir / "gate-differential" / "policies",
        "intents": _split(root, tmp_path_factory.mktemp("intents_v2")),
    }


@pytest.mark.parametrize("policy_name", POLICIES)
def test_differential_corpus(policy_name: str, corpus: dict, capsys) -> None:
    _compare(corpus, corpus["root"] / "policies", policy_name, 300, capsys)


@pytest.mark.parametrize("policy_name", POLICIES)
def test_differential_corpus_v2(policy_name: str, corpus_v2: dict, capsys) -> None:
    _compare(corpus_v2, corpus_v2["policies"], policy_name, 200, capsys)


def _compare(corpus: dict, policies: Path, policy_name: str, size: int, capsys) -> None:
    root = corpus["root"]
    policy = str(policies / f"{policy_name}.yaml")
    expected = [
        json.loads(line)
        for line in (root / f"expected.{policy_name}.jsonl").read_text().splitlines()
    ]
    assert len(expected) == size
    failures = []
    for item in expected:
        intent = corpus["intents"][item["index"]]
        code = main(["policy", "test", policy, intent, "--json"])
        out = json.loads(capsys.readouterr().out)
        want = item["output"]
        if "error" in want:
            ok = code == 6 and out["ok"] is False and out["error_code"].startswith("E_")
        else:
            ok = code == item["exit_code"] and all(out.get(k) == want.get(k) for k in COMPARED)
        if not ok:
            failures.append((item["index"], code, item["exit_code"]))
    assert not failures, f"{len(failures)} of {size} pairs differ, first: {failures[:5]}"
