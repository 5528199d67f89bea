"""PackSpec v1 packs through the CLI: the reference scenario, tamper cases each with its own
code, signatures, authorization packs, export; and our packs checked against the reference's
verification rules re-stated here independently (rfc8785, not our canonicalizer)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import rfc8785
import yaml

from gait.sign.keys import SigningKey


@pytest.fixture
def shared(request: pytest.FixtureRequest) -> Path:
    """../shared/conformance, or a skip saying why (it holds the reference's artifacts)."""
    try:
        return request.getfixturevalue("conformance_dir")
    except RuntimeError:
        pytest.skip("../shared/conformance not present (reference artifacts needed)")


def _json(proc) -> dict:  # noqa: ANN001
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {i.filename: archive.read(i) for i in archive.infolist()}


def _rezip(path: Path, members: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    return path


def reference_rules(path: Path) -> dict:
    """The reference's pack verifier (core/pack/pack.go Verify) as rules, independently coded."""
    members = _members(path)
    raw = json.loads(members["pack_manifest.json"])
    allowed = {"schema_id", "schema_version", "created_at", "producer_version", "pack_id"}
    allowed |= {"pack_type", "source_ref", "contents", "signatures"}
    assert set(raw) <= allowed, "strict decoder: unknown manifest keys"
    assert raw["schema_id"] == "gait.pack.manifest" and raw["schema_version"] == "1.0.0"
    assert raw["pack_type"] in ("run", "job", "call", "authorization")
    assert raw["source_ref"].strip() and raw["producer_version"].strip()
    for entry in raw["contents"]:
        assert set(entry) == {"path", "sha256", "type"}
    body = {k: v for k, v in raw.items() if k != "signatures"}
    body["pack_id"] = ""
    assert hashlib.sha256(rfc8785.dumps(body)).hexdigest() == raw["pack_id"], "pack_id"
    for entry in raw["contents"]:
        assert hashlib.sha256(members[entry["path"]]).hexdigest() == entry["sha256"]
    declared = {e["path"] for e in raw["contents"]} | {"pack_manifest.json"}
    assert set(members) == declared, "undeclared files"
    if raw["pack_type"] == "call":
        payload = json.loads(members["call_payload.json"])
        assert payload["call_id"] == raw["source_ref"]
        assert payload["privacy_mode"] in ("hash_only", "dispute_encrypted")
    if raw["pack_type"] == "run":
        payload = json.loads(members["run_payload.json"])
        assert payload["run_id"] == raw["source_ref"]
        assert payload["capture_mode"] in ("reference", "raw")
        assert "source/runpack.zip" in members
    return raw


@pytest.fixture
def demo_pack(tmp_path: Path, run_gait) -> Path:  # noqa: ANN001
    assert run_gait("demo", cwd=tmp_path).returncode == 0
    proc = run_gait("pack", "build", "--type", "run", "--from", "run_demo", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return tmp_path / _json(proc)["path"]


def test_pack_integrity_round_trip_scenario(shared: Path, demo_pack: Path, run_gait) -> None:  # noqa: ANN001
    expected = yaml.safe_load(
        (shared / "reference-scenarios" / "pack-integrity-round-trip" / "expected.yaml").read_text()
    )
    proc = run_gait("pack", "verify", str(demo_pack), "--json")
    doc = _json(proc)
    assert proc.returncode == expected["exit_code"]
    assert doc["verify"]["signature_status"] == expected["verify_signature_status"]
    assert doc["source_ref"] == expected["source_ref"]
    assert doc["pack_type"] == "run" and doc["ok"] is True


def test_our_pack_meets_reference_rules_and_is_reproducible(
    tmp_path: Path, demo_pack: Path, run_gait
) -> None:  # noqa: ANN001
    raw = reference_rules(demo_pack)
    assert {e["path"] for e in raw["contents"]} == {
        "context_envelope.json",
        "proof_records.jsonl",
        "run_payload.json",
        "source/runpack.zip",
    }
    members = _members(demo_pack)
    payload = {k: v for k, v in members.items() if k not in ("pack_manifest.json", _PROOF)}
    assert members[_PROOF] == _reference_proof_records(payload, "run", "run_demo")
    envelope = json.loads(_members(demo_pack)["context_envelope.json"])
    assert envelope["context_set_id"] == "run_demo" and len(envelope["records"]) == 3
    first = demo_pack.read_bytes()
    again = run_gait(
        "pack", "build", "--from", "run_demo", "--out", "again.zip", "--json", cwd=tmp_path
    )
    assert _json(again)["pack_id"] == raw["pack_id"]
    assert (tmp_path / "again.zip").read_bytes() == first


def test_plain_runpack_verifies_as_a_pack(tmp_path: Path, demo_pack: Path, run_gait) -> None:  # noqa: ANN001
    doc = _json(run_gait("pack", "verify", "gait-out/runpack_run_demo.zip", "--json", cwd=tmp_path))
    assert doc["ok"] is True and doc["verify"]["legacy_type"] == "runpack"
    assert doc["source_ref"] == "run_demo"


def _swap(tmp_path: Path, target: Path, name: str, data: bytes) -> Path:
    members = _members(target)
    members[name] = data
    return _rezip(tmp_path / f"swapped_{name.replace('/', '_')}.zip", members)


def test_member_swapped_from_another_pack_names_the_member(
    tmp_path: Path, shared: Path, demo_pack: Path, run_gait
) -> None:  # noqa: ANN001
    other_run = tmp_path / "runpack_run_ref.zip"
    shutil.copy(shared / "reference" / "runpacks" / "runpack_run_ref.zip", other_run)
    other = _json(run_gait("pack", "build", "--from", str(other_run), "--json", cwd=tmp_path))
    other_payload = _members(tmp_path / other["path"])["run_payload.json"]
    bad = _swap(tmp_path, demo_pack, "run_payload.json", other_payload)
    proc = run_gait("pack", "verify", str(bad), "--json")
    doc = _json(proc)
    assert proc.returncode == 2 and doc["ok"] is False
    assert doc["error_code"] == "E_PACK_HASH_MISMATCH"
    assert "run_payload.json" in doc["failing_link"]
    human = run_gait("pack", "verify", str(bad))
    assert "E_PACK_HASH_MISMATCH" in human.stdout and "Traceback" not in human.stderr


def test_undeclared_member_and_forged_pack_id(tmp_path: Path, demo_pack: Path, run_gait) -> None:  # noqa: ANN001
    extra = _swap(tmp_path, demo_pack, "extra.txt", b"smuggled")
    doc = _json(run_gait("pack", "verify", str(extra), "--json"))
    assert doc["error_code"] == "E_PACK_UNDECLARED_MEMBER"

    members = _members(demo_pack)
    manifest = json.loads(members["pack_manifest.json"])
    manifest["source_ref"] = "run_other"
    forged = _swap(tmp_path, demo_pack, "pack_manifest.json", json.dumps(manifest).encode())
    proc = run_gait("pack", "verify", str(forged), "--json")
    assert proc.returncode == 2 and _json(proc)["error_code"] == "E_PACK_ID_MISMATCH"

    inner_missing = dict(members)
    del inner_missing["source/runpack.zip"]
    gone = _rezip(tmp_path / "gone.zip", inner_missing)
    doc = _json(run_gait("pack", "verify", str(gone), "--json"))
    assert (
        doc["error_code"] == "E_PACK_MEMBER_MISSING" and "source/runpack.zip" in doc["failing_link"]
    )


def test_signed_pack_verifies_with_its_key_only(tmp_path: Path, run_gait) -> None:  # noqa: ANN001
    assert run_gait("demo", cwd=tmp_path).returncode == 0
    key, other = SigningKey.generate(), SigningKey.generate()
    (tmp_path / "k").write_text(key.to_text())
    (tmp_path / "pub").write_text(key.public().to_text())
    (tmp_path / "other").write_text(other.public().to_text())
    built = _json(
        run_gait(
            "pack", "build", "--from", "run_demo", "--private-key", "k", "--json", cwd=tmp_path
        )
    )
    assert built["signature_key_id"] == key.key_id and built["signing_mode"] == "prod"
    pack = tmp_path / built["path"]
    raw = reference_rules(pack)
    signable = {k: v for k, v in raw.items() if k != "signatures"}
    digest = hashlib.sha256(rfc8785.dumps(signable)).hexdigest()
    assert raw["signatures"][0]["signed_digest"] == digest
    good = run_gait(
        "pack",
        "verify",
        str(pack),
        "--profile",
        "strict",
        "--public-key",
        "pub",
        "--json",
        cwd=tmp_path,
    )
    assert good.returncode == 0 and _json(good)["verify"]["signature_status"] == "verified"
    bad = run_gait("pack", "verify", str(pack), "--public-key", "other", "--json", cwd=tmp_path)
    assert bad.returncode == 2 and _json(bad)["error_code"] == "E_PACK_SIGNATURE_INVALID"
    unsigned = run_gait("pack", "build", "--from", "run_demo", "--out", "u.zip", cwd=tmp_path)
    assert unsigned.returncode == 0
    strict = run_gait(
        "pack",
        "verify",
        "u.zip",
        "--require-signature",
        "--public-key",
        "pub",
        "--json",
        cwd=tmp_path,
    )
    assert strict.returncode == 2 and _json(strict)["error_code"] == "E_PACK_SIGNATURE_REQUIRED"


def test_job_and_unknown_types_are_refused(tmp_path: Path, run_gait) -> None:  # noqa: ANN001
    proc = run_gait("pack", "build", "--type", "job", "--from", "job_1", "--json", cwd=tmp_path)
    assert proc.returncode == 6 and _json(proc)["error_code"] == "E_PACK_TYPE_UNSUPPORTED"
    proc = run_gait("pack", "build", "--type", "job", "--from", "job_1", cwd=tmp_path)
    assert "next:" in proc.stderr and "Traceback" not in proc.stderr
    assert "job runtime" in proc.stderr


def test_authorization_pack_from_a_gate_decision(tmp_path: Path, shared: Path, run_gait) -> None:  # noqa: ANN001
    scenario = shared / "reference-scenarios" / "approval-token-valid"
    proc = run_gait(
        "gate",
        "eval",
        "--policy",
        str(scenario / "policy.yaml"),
        "--intent",
        str(scenario / "intent.json"),
        "--json",
        cwd=tmp_path,
    )
    decision = _json(proc)
    bundle = {
        "trace_id": decision["trace_id"],
        "policy_digest": decision["policy_digest"],
        "intent_digest": decision["intent_digest"],
        "trace_path": decision["trace_path"],
        "approval_audit_path": decision["approval_audit_path"],
    }
    (tmp_path / "authorization_bundle.json").write_text(json.dumps(bundle))
    built = run_gait(
        "pack",
        "build",
        "--type",
        "authorization",
        "--from",
        "authorization_bundle.json",
        "--json",
        cwd=tmp_path,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    pack = tmp_path / _json(built)["path"]
    raw = reference_rules(pack)
    assert raw["source_ref"] == decision["trace_id"]
    members = _members(pack)
    assert f"evidence/{decision['trace_path']}" in members
    doc = _json(run_gait("pack", "verify", str(pack), "--json"))
    assert doc["ok"] is True and doc["pack_type"] == "authorization"
    inspect = _json(run_gait("pack", "inspect", str(pack), "--json"))["inspect"]
    assert inspect["authorization_payload"]["linked_evidence_count"] == 2
    stored = json.loads(members["authorization_bundle.json"])
    trace = json.loads(members[f"evidence/{decision['trace_path']}"])
    assert stored["trace_digest"] == hashlib.sha256(rfc8785.dumps(trace)).hexdigest()


def test_export_otel_and_postgres(tmp_path: Path, demo_pack: Path, run_gait) -> None:  # noqa: ANN001
    proc = run_gait(
        "pack",
        "export",
        str(demo_pack),
        "--otel-out",
        "o.jsonl",
        "--postgres-sql-out",
        "p.sql",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert [r["record_type"] for r in lines] == ["span", "event"] + ["metric"] * 6
    assert lines[0]["name"] == "gait.pack.verify" and lines[0]["status"] == {"code": "ok"}
    assert lines[0]["trace_id"] == _json(proc)["pack_id"][:32]
    rate = next(r for r in lines if r.get("name") == "gait.pack.tool_calls_success_rate")
    assert rate["value_double"] == 1
    sql = (tmp_path / "p.sql").read_text()
    assert 'CREATE TABLE IF NOT EXISTS "gait_pack_index"' in sql
    assert f"  '{_json(proc)['pack_id']}',\n" in sql and "  1.000000,\n" in sql
    assert sql.endswith("  created_at = EXCLUDED.created_at;\n")
    no_out = run_gait("pack", "export", str(demo_pack), "--json")
    assert no_out.returncode == 6


def test_diff_same_and_changed(tmp_path: Path, shared: Path, demo_pack: Path, run_gait) -> None:  # noqa: ANN001
    same = run_gait("pack", "diff", str(demo_pack), str(demo_pack), "--json")
    assert same.returncode == 0 and _json(same)["diff"]["Result"]["summary"]["changed"] is False
    for name in ("runpack_run_ref.zip", "runpack_run_changed.zip"):
        shutil.copy(shared / "reference" / "runpacks" / name, tmp_path / name)
    left = _json(run_gait("pack", "build", "--from", "runpack_run_ref.zip", "--json", cwd=tmp_path))
    right = _json(
        run_gait("pack", "build", "--from", "runpack_run_changed.zip", "--json", cwd=tmp_path)
    )
    proc = run_gait(
        "pack", "diff", left["path"], right["path"], "--output", "d.json", "--json", cwd=tmp_path
    )
    assert proc.returncode == 2
    summary = json.loads((tmp_path / "d.json").read_text())["summary"]
    assert summary["changed"] is True and "source/runpack.zip" in summary["changed_files"]


_PROOF = "proof_records.jsonl"


def _reference_proof_records(
    members: dict[str, bytes], pack_type: str, source_ref: str, key: SigningKey | None = None
) -> bytes:
    """proof_records.jsonl as the reference's pack builder writes it, re-stated here with
    rfc8785 (core/pack/proof.go buildProofRecordsJSONL: one tool_invocation record per member in
    path order, mode 0644 = 420; Clyra-AI/proof core/record/record.go New: record_id is
    "prf-<RFC3339 timestamp>-" + 8 hex of the JCS digest of timestamp, source, source_product,
    agent_id, record_type and event; ComputeHash: "sha256:" + JCS digest of the record with
    only previous_record_hash under integrity; signing/sign.go SignBytes signs the hash text)."""
    lines, previous = [], ""
    for path in sorted(members):
        event = {
            "pack_type": pack_type, "source_ref": source_ref, "producer_version": "0.1.0",
            "entry_path": path, "entry_type": path.rsplit(".", 1)[-1],
            "entry_sha256": hashlib.sha256(members[path]).hexdigest(),
            "entry_size_bytes": len(members[path]), "entry_permissions": 420,
        }  # fmt: skip
        record = {
            "timestamp": "1980-01-01T00:00:00Z", "source": "gait.pack", "source_product": "gait",
            "agent_id": "gait", "record_type": "tool_invocation", "event": event,
        }  # fmt: skip
        ident = hashlib.sha256(rfc8785.dumps(record)).hexdigest()[:8]
        record["record_id"] = f"prf-1980-01-01T00:00:00Z-{ident}"
        record["record_version"] = "1.0"
        record["controls"] = {"permissions_enforced": False}
        record["metadata"] = {"artifact_kind": "gait.pack.entry"}
        hashed = {**record, "integrity": {"previous_record_hash": previous}}
        digest = "sha256:" + hashlib.sha256(rfc8785.dumps(hashed)).hexdigest()
        record["integrity"] = {"record_hash": digest}
        if previous:
            record["integrity"]["previous_record_hash"] = previous
        if key is not None:
            sig = base64.b64encode(key.sign(digest.encode())).decode()
            record["integrity"].update(signing_key_id=key.key_id, signature="base64:" + sig)
        lines.append(rfc8785.dumps(record))
        previous = digest
    return b"\n".join(lines)


def _with_member(tmp_path: Path, pack: Path, name: str, data: bytes) -> Path:
    """The pack with one member set to ``data``, its manifest and pack_id updated as a producer
    would (so only the member's own checks can catch it)."""
    members = _members(pack)
    members[name] = data
    manifest = json.loads(members["pack_manifest.json"])
    manifest["contents"] = [e for e in manifest["contents"] if e["path"] != name]
    manifest["contents"].append(
        {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "type": "jsonl"}
    )
    manifest["contents"].sort(key=lambda e: e["path"])
    manifest.pop("signatures", None)
    body = dict(manifest)
    body["pack_id"] = ""
    manifest["pack_id"] = hashlib.sha256(rfc8785.dumps(body)).hexdigest()
    members["pack_manifest.json"] = rfc8785.dumps(manifest)
    return _rezip(tmp_path / f"with_{name}.zip", members)


def test_proof_records_chain_is_checked(tmp_path: Path, demo_pack: Path, run_gait) -> None:  # noqa: ANN001
    records = _members(demo_pack)[_PROOF]
    doc = _json(run_gait("pack", "verify", str(demo_pack), "--json"))
    assert doc["ok"] is True and doc["verify"]["proof_records_verified"] == 3
    lines = records.split(b"\n")
    swapped = b"\n".join([lines[1], lines[0], *lines[2:]])
    bad = _with_member(tmp_path, demo_pack, _PROOF, swapped)
    proc = run_gait("pack", "verify", str(bad), "--json")
    assert proc.returncode == 2 and _json(proc)["error_code"] == "E_PACK_PROOF_CHAIN_BROKEN"
    assert "line 1" in _json(proc)["error"]
    edited = json.loads(lines[2])
    edited["event"]["entry_size_bytes"] += 1
    forged = _with_member(
        tmp_path, demo_pack, _PROOF, b"\n".join([*lines[:2], rfc8785.dumps(edited)])
    )
    proc = run_gait("pack", "verify", str(forged), "--json")
    assert _json(proc)["error_code"] == "E_PACK_PROOF_CHAIN_BROKEN"
    assert "line 3: record_hash" in _json(proc)["error"]


def test_signed_proof_records_are_required_when_a_signature_is(tmp_path: Path, run_gait) -> None:  # noqa: ANN001
    assert run_gait("demo", cwd=tmp_path).returncode == 0
    key = SigningKey.generate()
    (tmp_path / "k").write_text(key.to_text())
    (tmp_path / "pub").write_text(key.public().to_text())
    built = _json(
        run_gait(
            "pack", "build", "--from", "run_demo", "--private-key", "k", "--json", cwd=tmp_path
        )
    )
    pack = tmp_path / built["path"]
    members = _members(pack)
    payload = {k: v for k, v in members.items() if k not in ("pack_manifest.json", _PROOF)}
    assert members[_PROOF] == _reference_proof_records(payload, "run", "run_demo", key)
    strict = ("--require-signature", "--public-key", "pub", "--json")
    good = run_gait("pack", "verify", str(pack), *strict, cwd=tmp_path)
    assert good.returncode == 0, good.stdout
    # Records signed by no one, re-manifested and re-signed with the right key: the manifest
    # verifies, the records do not (the reference fails the signature on them too).
    unsigned = _reference_proof_records(payload, "run", "run_demo")
    bad = _with_member(tmp_path, pack, _PROOF, unsigned)
    proc = run_gait("pack", "verify", str(bad), *strict, cwd=tmp_path)
    doc = _json(proc)
    assert proc.returncode == 2 and doc["error_code"] in (
        "E_PACK_SIGNATURE_INVALID",
        "E_PACK_SIGNATURE_REQUIRED",
    )
    relaxed = run_gait("pack", "verify", str(bad), "--json", cwd=tmp_path)
    assert relaxed.returncode == 0, "without --require-signature records need no signature"


# ---------------------------------------------------------------------------------------------
# Call packs (core/pack/callpack.go BuildCallPack / verifyCallPayloadContracts)

_CALL = "call_voice_case"
_CALL_MEMBERS = {
    "call_payload.json", "callpack_manifest.json", "call_events.jsonl", "commitments.jsonl",
    "gate_decisions.jsonl", "speak_receipts.jsonl", "reference_digests.json",
    "source/runpack.zip", _PROOF,
}  # fmt: skip


def _call_record(runpack: str) -> dict:
    """The reference's own call-record fixture (core/pack/callpack_test.go
    writeCallRecordFixture), events given out of order to exercise the sort."""

    def ev(seq: int, turn: int, kind: str, **extra: str) -> dict:
        stamp = f"2026-02-15T00:00:0{seq - 1}Z"
        head = {"schema_id": "gait.voice.call_event", "schema_version": "1.0.0"}
        return {**head, "created_at": stamp, "call_id": _CALL, "call_seq": seq,
                "turn_index": turn, "event_type": kind, **extra}  # fmt: skip

    quote = {"commitment_class": "quote"}
    digests = {"intent_digest": "b" * 64, "policy_digest": "c" * 64}
    return {
        "schema_id": "gait.voice.call_record", "schema_version": "1.0.0",
        "created_at": "2026-02-15T00:00:00Z", "producer_version": "test", "call_id": _CALL,
        "runpack_path": runpack, "privacy_mode": "hash_only",
        "events": [
            ev(2, 2, "commitment.declared", **quote),
            ev(1, 1, "asr.final", payload_digest="a" * 64),
            ev(3, 2, "gate.decision", **quote, **digests), ev(4, 2, "tts.request", **quote),
            ev(5, 2, "tts.emitted", **quote, say_token_id="say_demo"), ev(6, 2, "tool.intent"),
            ev(7, 2, "tool.result"), ev(8, 2, "approval.granted", **quote),
        ],
        "commitments": [{
            "schema_id": "gait.voice.commitment_intent", "schema_version": "1.0.0",
            "created_at": "2026-02-15T00:00:01Z", "producer_version": "test", "call_id": _CALL,
            "turn_index": 2, "call_seq": 2, "commitment_class": "quote",
            "context": {"identity": "agent.voice", "workspace": "/srv/voice", "risk_class": "high"},
            "quote_min_cents": 1000, "quote_max_cents": 1200,
        }],
        "gate_decisions": [{
            "call_id": _CALL, "call_seq": 3, "turn_index": 2, "commitment_class": "quote",
            "verdict": "allow", **digests, "reason_codes": ["allow_rule"],
        }],
        "speak_receipts": [{
            "call_id": _CALL, "call_seq": 5, "turn_index": 2, "commitment_class": "quote",
            "say_token_id": "say_demo", "spoken_digest": "a" * 64,
            "emitted_at": "2026-02-15T00:00:04Z",
        }],
        "reference_digests": [
            {"ref_id": "ref_1", "sha256": "D" * 64}, {"ref_id": "ref_1", "sha256": "d" * 64},
            {"ref_id": "", "sha256": "e" * 64},
        ],
    }  # fmt: skip


def reference_call_rules(members: dict[str, bytes]) -> None:
    """The reference's call-pack contract (core/pack/callpack.go verifyCallPayloadContracts,
    validateCallPayload, ensureCallEventCoverage, ensureGatedTTSEventsHaveSpeakReceipt,
    ensureSpeakReceiptsHaveAllowDecision), re-stated here independently of gait.pack.callpack."""

    def jsonl(name: str) -> list[dict]:
        return [json.loads(line) for line in members[name].splitlines() if line.strip()]

    payload = json.loads(members["call_payload.json"])
    manifest = json.loads(members["callpack_manifest.json"])
    events, commitments = jsonl("call_events.jsonl"), jsonl("commitments.jsonl")
    decisions, receipts = jsonl("gate_decisions.jsonl"), jsonl("speak_receipts.jsonl")
    references = json.loads(members["reference_digests.json"]) or []
    assert (payload["schema_id"], payload["schema_version"]) == ("gait.pack.call", "1.0.0")
    assert manifest["schema_id"] == "gait.voice.callpack_manifest" and manifest["producer_version"]
    assert manifest["call_id"] == payload["call_id"]
    seqs = [e["call_seq"] for e in events]
    assert seqs == sorted(seqs) and all(e["call_id"] == payload["call_id"] for e in events)
    required = {"asr.final", "commitment.declared", "gate.decision", "tts.request"}
    assert required | {"tts.emitted", "tool.intent", "tool.result"} <= {
        e["event_type"] for e in events
    }
    by_key = {(r["call_seq"], r["turn_index"], r["commitment_class"]): r for r in receipts}
    for e in events:
        if e["event_type"] == "tts.emitted" and e.get("commitment_class"):
            key = (e["call_seq"], e["turn_index"], e["commitment_class"])
            assert by_key[key]["say_token_id"] == e["say_token_id"]
    for r in receipts:
        prior = [
            d for d in decisions
            if (d["commitment_class"], d["turn_index"]) == (r["commitment_class"], r["turn_index"])
            and d["call_seq"] <= r["call_seq"]
        ]  # fmt: skip
        assert max(prior, key=lambda d: d["call_seq"])["verdict"] == "allow"
    counts = {"event_count": events, "commitment_count": commitments,
              "decision_count": decisions, "speak_receipt_count": receipts,
              "reference_digest_count": references}  # fmt: skip
    for key, items in counts.items():
        assert payload[key] == manifest[key] == len(items), key
    for key in ("privacy_mode", "created_at"):
        assert manifest[key] == payload[key]


@pytest.fixture
def call_dir(tmp_path: Path, run_gait) -> Path:  # noqa: ANN001
    assert run_gait("demo", cwd=tmp_path).returncode == 0
    record = _call_record("gait-out/runpack_run_demo.zip")
    (tmp_path / "call_record.json").write_text(json.dumps(record, indent=2))
    return tmp_path


def test_call_pack_builds_to_the_reference_layout_and_verifies(call_dir: Path, run_gait) -> None:  # noqa: ANN001
    proc = run_gait(
        "pack", "build", "--type", "call", "--from", "call_record.json", "--json", cwd=call_dir
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    built = _json(proc)
    pack = call_dir / built["path"]
    assert pack.parent == call_dir, "written beside the call record, as the reference does"
    raw = reference_rules(pack)
    assert raw["pack_type"] == "call" and raw["source_ref"] == _CALL
    members = _members(pack)
    assert set(members) - {"pack_manifest.json"} == _CALL_MEMBERS
    reference_call_rules(members)
    runpack = (call_dir / "gait-out" / "runpack_run_demo.zip").read_bytes()
    assert members["source/runpack.zip"] == runpack, "the source runpack rides along unchanged"
    # The payload as the reference's encoder writes schemapack.CallPayload (omitempty fields
    # environment_fingerprint absent, run_id from the runpack), re-stated with rfc8785.
    counts = {"event_count": 8, "commitment_count": 1, "decision_count": 1,
              "speak_receipt_count": 1, "reference_digest_count": 1}  # fmt: skip
    common = {"created_at": "2026-02-15T00:00:00Z", "call_id": _CALL, "privacy_mode": "hash_only"}
    assert members["call_payload.json"] == rfc8785.dumps(
        {
            "schema_id": "gait.pack.call",
            "schema_version": "1.0.0",
            "run_id": "run_demo",
            **common,
            **counts,
        }  # fmt: skip
    )
    assert json.loads(members["callpack_manifest.json"])["producer_version"] == "test"
    seqs = [json.loads(line)["call_seq"] for line in members["call_events.jsonl"].splitlines()]
    assert seqs == list(range(1, 9)), "events sorted by call_seq"
    assert members["reference_digests.json"] == rfc8785.dumps(
        [{"ref_id": "ref_1", "sha256": "d" * 64}]
    )
    body = {k: v for k, v in members.items() if k not in ("pack_manifest.json", _PROOF)}
    assert members[_PROOF] == _reference_proof_records(body, "call", _CALL)
    doc = _json(run_gait("pack", "verify", str(pack), "--json"))
    assert doc["ok"] is True and doc["pack_type"] == "call"
    assert doc["verify"]["proof_records_verified"] == 8
    inspect = _json(run_gait("pack", "inspect", str(pack), "--json"))["inspect"]
    assert inspect["call_payload"]["call_id"] == _CALL
    again = run_gait(
        "pack", "build", "--type", "call", "--from", "call_record.json", "--out", "again.zip",
        cwd=call_dir,
    )  # fmt: skip
    assert again.returncode == 0 and (call_dir / "again.zip").read_bytes() == pack.read_bytes()


def _mutate_record(directory: Path, change) -> None:  # noqa: ANN001
    path = directory / "call_record.json"
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


@pytest.mark.parametrize(
    ("how", "named"),
    [
        ("decision_after_speech", "speak receipt missing prior gate decision"),
        ("latest_block", "latest prior gate verdict is block"),
        ("no_tool_result", "missing required type: tool.result"),
        ("unknown_field", "unknown field 'surprise'"),
        ("token_mismatch", "say_token_id mismatch"),
    ],
)
def test_call_record_breaking_a_voice_rule_is_refused(
    call_dir: Path,
    run_gait,
    how: str,
    named: str,  # noqa: ANN001
) -> None:
    def change(record: dict) -> None:
        if how == "decision_after_speech":
            record["gate_decisions"][0]["call_seq"] = 9
        elif how == "latest_block":
            later = {**record["gate_decisions"][0], "call_seq": 4, "verdict": "block"}
            record["gate_decisions"].append(later)
        elif how == "no_tool_result":
            record["events"] = [e for e in record["events"] if e["event_type"] != "tool.result"]
        elif how == "unknown_field":
            record["speak_receipts"][0]["surprise"] = 1
        else:
            record["speak_receipts"][0]["say_token_id"] = "say_other"

    _mutate_record(call_dir, change)
    proc = run_gait(
        "pack", "build", "--type", "call", "--from", "call_record.json", "--json", cwd=call_dir
    )
    doc = _json(proc)
    assert proc.returncode == 6 and doc["error_code"] == "E_PACK_CALL_RECORD_INVALID"
    assert named in doc["error"]
    assert not list(call_dir.glob("pack_*.zip"))


def test_call_pack_members_are_cross_checked_on_verify(call_dir: Path, run_gait) -> None:  # noqa: ANN001
    built = _json(
        run_gait(
            "pack", "build", "--type", "call", "--from", "call_record.json", "--json", cwd=call_dir
        )
    )
    pack = call_dir / built["path"]
    members = _members(pack)
    # A speak receipt without its say token, re-manifested so only the contract can catch it
    # (the reference's TestVerifyRejectsCallPackSpeakWithoutToken).
    receipt = json.loads(members["speak_receipts.jsonl"])
    receipt["say_token_id"] = ""
    bad = _with_member(call_dir, pack, "speak_receipts.jsonl", rfc8785.dumps(receipt) + b"\n")
    proc = run_gait("pack", "verify", str(bad), "--json")
    doc = _json(proc)
    assert proc.returncode == 2 and doc["error_code"] == "E_PACK_PAYLOAD_INVALID"
    assert "say_token_id is required" in doc["error"]
    payload = json.loads(members["call_payload.json"])
    payload["event_count"] = 9
    bad = _with_member(call_dir, pack, "call_payload.json", rfc8785.dumps(payload))
    proc = run_gait("pack", "verify", str(bad), "--json")
    doc = _json(proc)
    assert proc.returncode == 2 and doc["error_code"] == "E_PACK_PAYLOAD_MISMATCH"
    assert "event_count" in doc["error"]
    with pytest.raises(AssertionError, match="event_count"):
        reference_call_rules(_members(bad))  # the re-stated rules reject it too
