"""Reserved v1.1 interfaces: each schema has a valid and an invalid sample; each protocol can be
implemented; none of them reaches into a v1 schema (so none can force a v1 change)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from gait import reserved, schema
from gait.reserved import guard, mcp, scout
from gait.reserved import registry as reserved_registry

ENVELOPE = {
    "schema_version": "1.0.0",
    "created_at": "2026-02-05T00:00:00Z",
    "producer_version": "0.1.0",
}

MCP_BLOCKED = {
    "schema_id": "gait.mcp.adapter_contract",
    **ENVELOPE,
    "server": {"name": "files", "discovery_method": "static_mcp"},
    "call": {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "fs.delete", "arguments": {"path": "/srv/data"}},
    },
    "intent": {
        "tool_name": "fs.delete",
        "args": {"path": "/srv/data"},
        "targets": [
            {
                "kind": "path",
                "value": "/srv/data",
                "operation": "delete",
                "discovery_method": "static_mcp",
            }
        ],
        "context": {"identity": "agent.ops", "workspace": "/srv", "risk_class": "high"},
    },
    "decision": {
        "verdict": "block",
        "reason_codes": ["matched_rule_block_deletes"],
        "violations": ["destructive_delete"],
        "trace_id": "e1849ccad19157fb3a67a6dd",
    },
    "response": {
        "jsonrpc": "2.0",
        "id": 7,
        "error": {
            "code": mcp.ERROR_BLOCKED,
            "message": "blocked by gait policy",
            "data": {
                "verdict": "block",
                "reason_codes": ["matched_rule_block_deletes"],
                "violations": ["destructive_delete"],
                "trace_id": "e1849ccad19157fb3a67a6dd",
            },
        },
    },
}


def _mcp_allowed() -> dict[str, Any]:
    doc = copy.deepcopy(MCP_BLOCKED)
    doc["decision"] = {"verdict": "allow", "reason_codes": ["default_allow"], "violations": []}
    doc["response"] = {"jsonrpc": "2.0", "id": 7, "result": {"content": []}}
    return doc


def _mcp_invalid() -> list[dict[str, Any]]:
    out_of_range = copy.deepcopy(MCP_BLOCKED)
    out_of_range["response"]["error"]["code"] = -1
    wrong_method = copy.deepcopy(MCP_BLOCKED)
    wrong_method["call"]["method"] = "tools/list"
    both = copy.deepcopy(MCP_BLOCKED)
    both["response"]["result"] = {}
    allow_as_error = copy.deepcopy(MCP_BLOCKED)
    allow_as_error["response"]["error"]["data"]["verdict"] = "allow"
    no_intent = copy.deepcopy(MCP_BLOCKED)
    del no_intent["intent"]
    return [out_of_range, wrong_method, both, allow_as_error, no_intent]


def _sample(conformance: Path, name: str) -> dict[str, Any]:
    return json.loads((conformance / "schema-samples" / name).read_text())


@pytest.mark.parametrize(
    "prefix", ["scout_inventory_snapshot", "guard_pack_manifest", "registry_pack"]
)
def test_reference_samples(conformance_dir: Path, prefix: str) -> None:
    valid = _sample(conformance_dir, f"{prefix}_valid.json")
    invalid = _sample(conformance_dir, f"{prefix}_invalid.json")
    assert valid["schema_id"] in reserved.RESERVED_SCHEMA_IDS
    assert schema.errors(valid["schema_id"], valid) == []
    assert schema.errors(invalid["schema_id"], invalid) != []


def test_mcp_contract_samples() -> None:
    assert schema.errors(mcp.SCHEMA_ID, MCP_BLOCKED) == []
    assert schema.errors(mcp.SCHEMA_ID, _mcp_allowed()) == []
    for bad in _mcp_invalid():
        assert schema.errors(mcp.SCHEMA_ID, bad) != []
    assert all(-32099 <= code <= -32000 for code in mcp.ERROR_CODES.values())


def test_mcp_contract_halves_are_v1_artifacts() -> None:
    """The contract's intent and decision are a v1 IntentRequest and GateResult as they are."""
    intent = {"schema_id": "gait.gate.intent_request", **ENVELOPE, **MCP_BLOCKED["intent"]}
    assert schema.errors("gait.gate.intent_request", intent) == []
    decision = {k: v for k, v in MCP_BLOCKED["decision"].items() if k != "trace_id"}
    result = {"schema_id": "gait.gate.result", **ENVELOPE, **decision}
    assert schema.errors("gait.gate.result", result) == []


def test_own_samples_for_scout_and_guard() -> None:
    snapshot = {
        "schema_id": scout.SCHEMA_ID,
        **ENVELOPE,
        "snapshot_id": "snap_1",
        "workspace": "/srv/agents",
        "items": [
            {"id": "tool:fs.delete", "kind": "tool", "name": "fs.delete", "locator": "mcp://files"}
        ],
    }
    assert schema.errors(scout.SCHEMA_ID, snapshot) == []
    assert schema.errors(scout.SCHEMA_ID, {**snapshot, "items": [{"id": "x"}]}) != []
    manifest = {
        "schema_id": guard.SCHEMA_ID,
        **ENVELOPE,
        "pack_id": "pack_1",
        "run_id": "run_demo",
        "generated_at": "2026-02-05T00:00:00Z",
        "contents": [{"path": "runpack_run_demo.zip", "sha256": "a" * 64}],
    }
    assert schema.errors(guard.SCHEMA_ID, manifest) == []
    bad = {**manifest, "contents": [{"path": "x", "sha256": "sha256:" + "a" * 64}]}
    assert schema.errors(guard.SCHEMA_ID, bad) != []


class _Provider:
    name = "static"

    def snapshot(self, workspace: str) -> Mapping[str, Any]:
        return {"workspace": workspace}


class _Coverage:
    def diff(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> Mapping[str, Any]:
        return {}

    def coverage(self, snapshot: Mapping[str, Any], traces: Sequence[Mapping[str, Any]]):  # noqa: ANN201
        return {}


class _Builder:
    name = "zip"

    def build(self, runpacks, traces, out_dir, *, case_id="", template_id=""):  # noqa: ANN001, ANN201
        return {}


class _Adapter:
    def to_intent(self, call, *, server, context):  # noqa: ANN001, ANN201
        return {}

    def to_response(self, call, decision, tool_result=None):  # noqa: ANN001, ANN201
        return {}


class _Remote:
    name = "remote"

    def handles(self, ref: str) -> bool:
        return ref.startswith("https://")

    def fetch(self, ref: str) -> reserved_registry.PackSource:
        return reserved_registry.PackSource(ref, b"{}")


def test_protocols_can_be_implemented() -> None:
    assert isinstance(_Provider(), reserved.InventoryProvider)
    assert isinstance(_Coverage(), scout.CoverageAnalyzer)
    assert isinstance(_Builder(), reserved.EvidencePackBuilder)
    assert isinstance(_Adapter(), reserved.MCPAdapter)
    assert isinstance(_Remote(), reserved.RegistryBackend)
    assert isinstance(reserved_registry.LocalBackend(), reserved.RegistryBackend)
    assert not isinstance(object(), reserved.InventoryProvider)


def test_a_remote_backend_plugs_in_without_schema_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    from gait.registry import backend

    monkeypatch.setattr(backend, "BACKENDS", [_Remote(), *backend.BACKENDS])
    assert isinstance(backend.backend_for("https://packs.example/x.zip"), _Remote)
    assert isinstance(backend.backend_for("./x.zip"), backend.LocalBackend)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_reserved_and_v1_schemas_do_not_reference_each_other() -> None:
    """Reserved artifacts point at v1 artifacts by id and digest only: a v1.1 change to them
    cannot ripple into a runpack or trace schema, and the reverse."""
    for schema_id in schema.schema_ids():
        for ref in _refs(schema.load_schema(schema_id)):
            assert ref.startswith("#"), (schema_id, ref)
    for schema_id in ("gait.runpack.manifest", "gait.gate.trace"):
        text = json.dumps(schema.load_schema(schema_id))
        for reserved_id in reserved.RESERVED_SCHEMA_IDS:
            assert reserved_id not in text
