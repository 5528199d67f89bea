"""Every file in examples/ is a valid input for the command that reads it, run as a user would
(the installed ``gait``, from a copy of the repository's examples)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
# Each example file and the test below that runs it; a new file without a test fails here.
COVERED = {
    "README.md",
    "intent.json",
    "intents.jsonl",
    "expected.jsonl",
    "policy.yaml",
    "run.json",
    "chat_log.json",
}


def test_every_example_is_covered() -> None:
    present = {p.name for p in EXAMPLES.iterdir() if p.is_file()}
    assert present == COVERED, f"new or missing examples: {sorted(present ^ COVERED)}"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    return tmp_path


def test_policy_validates_and_is_formatted(run_gait, work: Path) -> None:
    proc = run_gait("policy", "validate", "examples/policy.yaml", "--json", cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["ok"] is True


def test_intent_through_policy_test_gate_eval_and_approve(run_gait, work: Path) -> None:
    proc = run_gait(
        "policy", "test", "examples/policy.yaml", "examples/intent.json", "--json", cwd=work
    )
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "require_approval"
    gate = ("gate", "eval", "--policy", "examples/policy.yaml", "--intent", "examples/intent.json")
    assert run_gait(*gate, cwd=work).returncode == 4
    approved = run_gait(
        "approve",
        "--intent",
        "examples/intent.json",
        "--policy",
        "examples/policy.yaml",
        "--approver",
        "bob",
        "--reason-code",
        "ticket_123",
        "--out",
        "token.json",
        cwd=work,
    )
    assert approved.returncode == 0, approved.stderr
    allowed = run_gait(*gate, "--approval-token", "token.json", "--json", cwd=work)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "approval_granted" in json.loads(allowed.stdout)["reason_codes"]


def test_intents_meet_their_expectations(run_gait, work: Path) -> None:
    proc = run_gait(
        "policy",
        "test",
        "examples/policy.yaml",
        "examples/intents.jsonl",
        "--expect",
        "examples/expected.jsonl",
        "--json",
        cwd=work,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["expectations_met"] is True
    lines = (EXAMPLES / "intents.jsonl").read_text().splitlines()
    assert len(doc["results"]) == len(lines) == 4
    assert {r["verdict"] for r in doc["results"]} == {"allow", "block", "require_approval"}


def test_record_input_becomes_a_verified_runpack(run_gait, work: Path) -> None:
    proc = run_gait("run", "record", "--input", "examples/run.json", "--json", cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["run_id"] == "run_example"
    verified = run_gait("verify", "run_example", "--json", cwd=work)
    assert verified.returncode == 0, verified.stdout
    assert json.loads(verified.stdout)["files_checked"] == 4


def test_chat_log_imports(run_gait, work: Path) -> None:
    proc = run_gait(
        "run",
        "record",
        "--from",
        "openai",
        "--input",
        "examples/chat_log.json",
        "--run-id",
        "run_chat",
        "--json",
        cwd=work,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    inspect = run_gait("run", "inspect", "run_chat", "--json", cwd=work)
    assert inspect.returncode == 0
    assert "tickets.create" in inspect.stdout


def test_readme_links_the_examples_and_the_format_reference() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "examples/" in readme and "docs/formats.md" in readme
    formats = (REPO / "docs" / "formats.md").read_text(encoding="utf-8")
    for name in COVERED - {"README.md"}:
        assert f"examples/{name}" in formats or name in (EXAMPLES / "README.md").read_text()


def test_every_cited_section_of_the_format_reference_exists() -> None:
    """Schemas and --explain texts cite docs/formats.md by section; each cited section is there,
    and nothing points at a FORMATS document the repository does not ship."""
    import re

    formats = (REPO / "docs" / "formats.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", formats, flags=re.M))
    cited: set[str] = set()
    for path in [*(REPO / "schemas").glob("*.json"), *(REPO / "gait" / "cli").glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        assert "FORMATS" not in text, f"{path.name} cites a FORMATS document the repo lacks"
        cited.update(re.findall(r"docs/formats\.md(?: section)? (\d+(?:\.\d+)?)", text))
    assert cited, "nothing cites docs/formats.md"
    assert cited <= headings, f"cited but missing: {sorted(cited - headings)}"
