"""Every JUnit file gait writes validates against the JUnit XSD (issue 12, item 8).

The schema is Jenkins xunit's ``junit-10.xsd``, the one pytest validates its own output
against (``../shared/conformance/junit/junit-10.xsd``); ``xmlschema`` (pure Python, in the test
extra) does the validating.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

xmlschema = pytest.importorskip("xmlschema")


@pytest.fixture
def junit_schema(conformance_dir: Path) -> Any:
    xsd = conformance_dir / "junit" / "junit-10.xsd"
    if not xsd.is_file():
        pytest.skip(f"JUnit schema not found: {xsd}")
    return xmlschema.XMLSchema(str(xsd))


def _errors(schema: Any, path: Path) -> list[str]:
    return [f"{e.path}: {e.reason}" for e in schema.iter_errors(str(path))]


@pytest.mark.parametrize("expect", [None, "allow"])
def test_policy_test_junit_is_schema_valid(
    junit_schema: Any, conformance_dir: Path, tmp_path: Path, run_gait: Any, expect: str | None
) -> None:
    root = conformance_dir / "scenarios/policy-block-destructive"
    junit = tmp_path / "policy.xml"
    args = ["policy", "test", str(root / "policy.yaml"), str(root / "intents.jsonl")]
    if expect:
        expectations = tmp_path / "expect.jsonl"
        expectations.write_text("\n".join(json.dumps({"verdict": expect}) for _ in range(5)))
        args += ["--expect", str(expectations)]
    proc = run_gait(*args, "--junit", str(junit))
    assert proc.returncode in (0, 3, 5), proc.stderr
    assert _errors(junit_schema, junit) == []
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "5"
    assert int(suite.get("failures") or 0) > 0  # blocked intents are failures either way


def test_regress_junit_is_schema_valid_but_for_pytest_properties(
    junit_schema: Any, reference_set: Any, tmp_path: Path, run_gait: Any
) -> None:
    """``gait regress run --junit`` is pytest's own ``--junitxml``; its only deviation is the
    ``<properties>`` pytest's ``record_property`` puts inside ``<testcase>`` (see README)."""
    root = reference_set(tmp_path / "set")
    proc = run_gait("regress", "run", "--json", "--junit", "junit.xml", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tree = ET.parse(root / "junit.xml")
    for case in tree.getroot().iter("testcase"):
        for properties in case.findall("properties"):
            case.remove(properties)
    stripped = tmp_path / "stripped.xml"
    tree.write(stripped, encoding="utf-8", xml_declaration=True)
    assert _errors(junit_schema, stripped) == []
