"""The schemas against the reference's own artifacts and schema samples.

Every real artifact the reference wrote must validate here, or a reader built on these schemas
would refuse interop data; every invalid sample must fail, or the schemas say too little.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from gait import schema
from gait.errors import InvalidInput

# The reference CLI's --json outputs carry no schema_id: named by file prefix.
OUTPUT_SCHEMAS = {"verify_": "gait.verify.result", "diff_": "gait.diff.result"}
# Reference CLI outputs with no schema of their own here (record, approve, gate eval,
# regress init/run summaries, trace verify).
NOT_ARTIFACTS = ("record_", "approve", "gate_eval_", "regress_init", "regress_run", "trace_verify")
# The tampered runpack's results.jsonl has status "errox" on purpose: the reference verifies
# only digests, so it reports a hash mismatch; its schema failure is expected here.
EXPECTED_INVALID = {("runpack_run_ref.tampered.zip", "results.jsonl")}


def _json_docs(data: str, name: str) -> list[Any]:
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in data.splitlines() if line.strip()]
    return [json.loads(data)]


def _samples(conformance: Path, kind: str) -> list[tuple[str, Any]]:
    found = []
    for path in sorted((conformance / "schema-samples").iterdir()):
        if f"_{kind}" not in path.stem:
            continue
        for index, doc in enumerate(_json_docs(path.read_text(encoding="utf-8"), path.name)):
            found.append((f"{path.name}#{index}", doc))
    return found


def _reference_artifacts(conformance: Path) -> Iterator[tuple[str, str, Any]]:
    """(label, schema id, document) for every JSON artifact under reference/."""
    reference = conformance / "reference"
    for archive in sorted(reference.rglob("*.zip")):
        with zipfile.ZipFile(archive) as zf:
            for member in sorted(zf.namelist()):
                if (archive.name, member) in EXPECTED_INVALID:
                    continue
                for doc in _json_docs(zf.read(member).decode("utf-8"), member):
                    yield f"{archive.name}:{member}", doc["schema_id"], doc
    for path in sorted([*reference.rglob("*.json"), *reference.rglob("gait.yaml")]):
        if (
            path.name.startswith(NOT_ARTIFACTS)
            or path.parent.name == "inputs"
            and (path.name.startswith("run_"))
        ):
            continue
        doc = json.loads(path.read_text(encoding="utf-8"))
        schema_id = doc.get("schema_id") or next(
            (sid for prefix, sid in OUTPUT_SCHEMAS.items() if path.name.startswith(prefix)), None
        )
        assert schema_id, f"no schema known for {path}"
        yield str(path.relative_to(reference)), schema_id, doc


def test_every_schema_is_valid_2020_12() -> None:
    ids = schema.schema_ids()
    assert ids == sorted(ids) and len(ids) >= 24
    for schema_id in ids:
        document = schema.load_schema(schema_id)
        Draft202012Validator.check_schema(document)
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        stem = schema.schema_path(schema_id).name.removesuffix(".schema.json")
        assert document["$id"] == f"https://gait.dev/schemas/v1/{stem}.schema.json"
        assert schema.load_schema(stem) is document
        const = document["properties"].get("schema_id", {}).get("const")
        assert const in (None, schema_id)
        if "schema_version" in document["properties"]:
            assert document["properties"]["schema_version"]["const"] == "1.0.0"


def test_v1_artifact_ids_present() -> None:
    expected = {
        "gait.runpack.manifest",
        "gait.runpack.run",
        "gait.runpack.intent",
        "gait.runpack.result",
        "gait.runpack.refs",
        "gait.runpack.reference_receipt",
        "gait.runpack.diff",
        "gait.verify.result",
        "gait.diff.result",
        "gait.regress.result",
        "gait.regress.config",
        "gait.regress.fixture",
        "gait.gate.intent_request",
        "gait.gate.result",
        "gait.gate.trace",
        "gait.gate.approval_token",
        "gait.gate.policy",
        "gait.policytest.result",
        "gait.doctor.result",
        "gait.scout.inventory_snapshot",
        "gait.guard.pack_manifest",
        "gait.registry.pack",
        "gait.mcp.adapter_contract",
    }
    assert expected <= set(schema.schema_ids())
    assert schema.schema_path("trace_record") == schema.schema_path("gait.gate.trace")


def test_valid_samples_validate(conformance_dir: Path) -> None:
    samples = _samples(conformance_dir, "valid")
    assert len(samples) >= 15
    for label, doc in samples:
        assert schema.errors(doc["schema_id"], doc) == [], label


def test_invalid_samples_fail(conformance_dir: Path) -> None:
    samples = _samples(conformance_dir, "invalid")
    assert len(samples) >= 15
    for label, doc in samples:
        assert schema.errors(doc["schema_id"], doc), label
        with pytest.raises(InvalidInput) as caught:
            schema.validate(doc["schema_id"], doc, what=label)
        assert caught.value.code == "E_SCHEMA_INVALID"
        assert "\n" not in caught.value.message


def test_reference_artifacts_validate(conformance_dir: Path) -> None:
    seen = set()
    for label, schema_id, doc in _reference_artifacts(conformance_dir):
        assert schema.errors(schema_id, doc) == [], label
        seen.add(schema_id)
    assert {
        "gait.runpack.manifest",
        "gait.runpack.run",
        "gait.runpack.intent",
        "gait.runpack.result",
        "gait.runpack.refs",
        "gait.verify.result",
        "gait.diff.result",
        "gait.regress.result",
        "gait.regress.config",
        "gait.regress.fixture",
        "gait.gate.trace",
        "gait.gate.approval_token",
        "gait.gate.intent_request",
        "gait.policytest.result",
        "gait.gate.approval_audit_record",
    } <= seen


def test_tampered_result_line_fails(conformance_dir: Path) -> None:
    archive = conformance_dir / "reference" / "runpacks" / "runpack_run_ref.tampered.zip"
    with zipfile.ZipFile(archive) as zf:
        lines = _json_docs(zf.read("results.jsonl").decode(), "results.jsonl")
    problems = [p for doc in lines for p in schema.errors("gait.runpack.result", doc)]
    assert problems == ["$.status: 'errox' is not one of ['ok', 'error']"]


def test_gate_inputs_validate(conformance_dir: Path) -> None:
    """Messy but normalisable intents (mixed case, whitespace) and every policy."""
    intents = [
        json.loads(line)
        for line in (conformance_dir / "gate-differential" / "intents.jsonl")
        .read_text()
        .splitlines()
    ]
    for path in conformance_dir.glob("scenarios/*/intent*.json*"):
        intents.extend(_json_docs(path.read_text(), path.name))
    assert len(intents) > 300
    for index, intent in enumerate(intents):
        assert schema.errors("gait.gate.intent_request", intent) == [], index
    policies = [
        *conformance_dir.glob("scenarios/*/policy.yaml"),
        *conformance_dir.glob("gate-differential/policies/*.yaml"),
        conformance_dir / "reference" / "approval" / "policy.yaml",
    ]
    for path in policies:
        assert schema.errors("gait.gate.policy", yaml.safe_load(path.read_text())) == [], path
    for path in conformance_dir.glob("scenarios/*/approval-token.json"):
        assert schema.errors("gait.gate.approval_token", json.loads(path.read_text())) == []


def test_policy_test_outputs_validate(conformance_dir: Path) -> None:
    checked = 0
    for path in sorted((conformance_dir / "gate-differential").glob("expected.*.jsonl")):
        for line in path.read_text().splitlines():
            output = json.loads(line)["output"]
            if "error" not in output:
                assert schema.errors("gait.policytest.result", output) == [], (path, line)
                checked += 1
    assert checked > 1000


def _intent() -> dict[str, Any]:
    return {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-02-18T00:00:00Z",
        "producer_version": "test",
        "tool_name": "tool.write",
        "args": {"path": "/tmp/x"},
        "targets": [{"kind": "path", "value": "/tmp/x"}],
        "context": {"identity": "a", "workspace": "/w", "risk_class": "high"},
    }


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"targets": [{"kind": "banana", "value": "/x"}]}, "$.targets[0].kind"),
        ({"targets": [{"kind": " PATH ", "value": "  "}]}, "$.targets[0].value"),
        ({"arg_provenance": [{"arg_path": "$.a", "source": "model"}]}, "$.arg_provenance[0]"),
        ({"context": {"identity": "a", "workspace": "/w"}}, "'risk_class' is a required"),
        ({"created_at": "2026-02-18T00:00:00.1234567890Z"}, "$.created_at"),
        ({"created_at": "2026-02-30T00:00:00Z"}, "$.created_at"),
        ({"schema_version": "1.1.0"}, "$.schema_version"),
        ({"args_digest": "a" * 64 + "\n"}, "$.args_digest"),
        ({"surprise": 1}, "'surprise' was unexpected"),
    ],
)
def test_intent_request_rejects(change: dict[str, Any], needle: str) -> None:
    doc = {**_intent(), **change}
    problems = schema.errors("gait.gate.intent_request", doc)
    assert any(needle in problem for problem in problems), problems


def test_intent_request_accepts_normalisable_forms() -> None:
    doc = {
        **_intent(),
        "args": None,
        "targets": [
            {
                "kind": " Url ",
                "value": "https://x",
                "endpoint_class": "NET.HTTP",
                "discovery_method": "Static-MCP",
            },
            {"kind": "path", "value": "/p", "discovery_method": ""},
        ],
        "arg_provenance": [{"arg_path": "$.path", "source": " Tool_Output "}],
        "context": {
            "identity": "a",
            "workspace": "C:\\w",
            "risk_class": " HIGH ",
            "phase": "Plan",
            "credential_ref": "vault:x",
            "custom_extension": {},
        },
    }
    assert schema.errors("gait.gate.intent_request", doc) == []


def test_error_paths_and_order() -> None:
    manifest = {
        "schema_id": "gait.runpack.manifest",
        "schema_version": "1.0.0",
        "created_at": "2026-02-05T00:00:00Z",
        "producer_version": "x",
        "run_id": "run_x",
        "capture_mode": "reference",
        "files": [{"path": "run.json", "sha256": "XYZ"}, {"path": "a", "sha256": "0" * 64}],
        "manifest_digest": "0" * 64,
        "signatures": [{"alg": "rsa", "key_id": "", "sig": "x", "signed_digest": "A" * 64}],
    }
    problems = schema.errors("gait.runpack.manifest", manifest)
    assert problems == sorted(problems)
    assert any(p.startswith("$.files[0].sha256: ") for p in problems)
    assert any(p.startswith("$.signatures[0].alg: ") for p in problems)
    assert any(p.startswith("$.signatures[0].signed_digest: ") for p in problems)
    assert schema.errors("gait.runpack.manifest", json.loads(json.dumps(manifest))) == problems


def test_unknown_schema_and_non_object() -> None:
    with pytest.raises(InvalidInput):
        schema.errors("gait.nope", {})
    with pytest.raises(InvalidInput):
        schema.schema_path("gait.nope")
    assert schema.errors("gait.gate.result", []) == ["$: [] is not of type 'object'"]


def test_validate_message_is_one_line() -> None:
    with pytest.raises(InvalidInput) as caught:
        schema.validate("gait.gate.result", {"verdict": "maybe\nnot"}, what="result.json")
    message = caught.value.message
    assert message.startswith("result.json does not match schema gait.gate.result: $")
    assert "\n" not in message and "more)" in message
    assert caught.value.details["errors"] == schema.errors(
        "gait.gate.result", {"verdict": "maybe\nnot"}
    )
    schema.validate(
        "gait.gate.result",
        {
            "schema_id": "gait.gate.result",
            "schema_version": "1.0.0",
            "created_at": "1980-01-01T00:00:00Z",
            "producer_version": "x",
            "verdict": "allow",
            "reason_codes": [],
            "violations": [],
        },
    )


def test_our_outputs_shapes() -> None:
    """The fields this project adds to verify output, and a doctor result, are allowed."""
    verify = {
        "ok": False,
        "path": "p.zip",
        "run_id": "run_x",
        "manifest_digest": "0" * 64,
        "files_checked": 4,
        "signature_status": "missing",
        "checks": [{"name": "hashes", "status": "fail", "code": "E_VERIFY_HASH_MISMATCH"}],
        "signer_key_id": "",
        "signer_trusted": False,
        "signing_mode": None,
        "error_codes": ["E_VERIFY_HASH_MISMATCH"],
    }
    assert schema.errors("gait.verify.result", verify) == []
    error = {
        "ok": False,
        "error": "not a zip",
        "error_code": "E_VERIFY_INPUT_INVALID",
        "error_category": "invalid_input",
        "retryable": False,
        "hint": "h",
    }
    assert schema.errors("gait.verify.result", error) == []
    assert schema.errors("gait.verify.result", {**verify, "checks": [{"name": "x"}]})
    doctor = {
        "schema_id": "gait.doctor.result",
        "schema_version": "1.0.0",
        "ok": True,
        "summary": "all good",
        "checks": [
            {"id": "python", "status": "pass", "message": "3.11"},
            {"id": "keys", "status": "warn", "message": "none", "fix": "gait keys init"},
        ],
    }
    assert schema.errors("gait.doctor.result", doctor) == []
    assert schema.errors(
        "gait.doctor.result", {**doctor, "checks": [{"id": "x", "status": "ok", "message": ""}]}
    )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "schema_id",
                    "schema_version",
                    "created_at",
                    "files",
                    "targets",
                    "context",
                    "verdict",
                    "args",
                    "x",
                ]
            )
            | st.text(max_size=4),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(schema.schema_ids())), JSON)
def test_errors_never_raise(schema_id: str, value: Any) -> None:
    first = schema.errors(schema_id, value)
    assert first == sorted(first)
    assert all(p.startswith("$") for p in first)
    assert schema.errors(schema_id, value) == first
