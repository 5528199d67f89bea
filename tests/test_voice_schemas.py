"""The voice schemas (gait.voice.*) against what ``gait voice`` and call packs write, and
against documents that break each rule the reference's formats state.

The reference's own voice schema samples are not in the conformance data, so the samples here
are written from its format: one valid document per schema (a real token, intent and call pack
member where the CLI makes one) and invalid variants, each breaking one rule.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from gait import schema

DIGEST = "3" * 64


def _intent() -> dict[str, Any]:
    return {
        "schema_id": "gait.voice.commitment_intent",
        "schema_version": "1.0.0",
        "created_at": "2026-02-15T00:00:00Z",
        "producer_version": "0.0.0-test",
        "call_id": "call_demo",
        "turn_index": 0,
        "call_seq": 1,
        "commitment_class": "refund",
        "utterance_digest": DIGEST,
        "currency": "USD",
        "refund_ceiling_cents": 5000,
        "approval_required": True,
        "approval_artifact_refs": ["ticket-1"],
        "evidence_reference_digests": [DIGEST],
        "context": {
            "identity": "agent.voice",
            "workspace": "/srv/voice",
            "risk_class": "high",
            "session_id": "",
            "environment_fingerprint": "lab",
        },
    }


def _event() -> dict[str, Any]:
    return {
        "schema_id": "gait.voice.call_event",
        "schema_version": "1.0.0",
        "created_at": "2026-02-15T00:00:00Z",
        "call_id": "call_demo",
        "call_seq": 1,
        "turn_index": 0,
        "event_type": "approval.granted",
        "commitment_class": "cancel",
        "say_token_id": "tok",
        "payload_digest": DIGEST,
        "attributes": {"channel": "pstn", "n": 1},
    }


def _manifest() -> dict[str, Any]:
    return {
        "schema_id": "gait.voice.callpack_manifest",
        "schema_version": "1.0.0",
        "created_at": "2026-02-15T00:00:00Z",
        "producer_version": "0.0.0-test",
        "call_id": "call_demo",
        "privacy_mode": "dispute_encrypted",
        "event_count": 0,
        "commitment_count": 0,
        "decision_count": 0,
        "speak_receipt_count": 0,
        "reference_digest_count": 0,
    }


def _with(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    *parents, last = path.split(".")
    node = out
    for part in parents:
        node = node[part]
    if value is _DROP:
        del node[last]
    else:
        node[last] = value
    return out


_DROP = object()

INVALID: dict[str, list[tuple[str, Any]]] = {
    "gait.voice.commitment_intent": [
        ("turn_index", -1),
        ("call_seq", 0),
        ("commitment_class", "unknown"),
        ("context.workspace", ""),
        ("context.extra", "x"),
        ("utterance_digest", "not-a-digest"),
        ("quote_min_cents", -1),
        ("schema_version", "1.0.1"),
        ("created_at", "2026-02-30T00:00:00Z"),
        ("call_id", _DROP),
        ("context", _DROP),
        ("surprise", True),
    ],
    "gait.voice.call_event": [
        ("call_seq", 0),
        ("turn_index", -1),
        ("event_type", "unknown"),
        ("commitment_class", "discount"),
        ("say_token_id", ""),
        ("event_type", _DROP),
    ],
    "gait.voice.callpack_manifest": [
        ("privacy_mode", "raw"),
        ("event_count", -1),
        ("producer_version", ""),
        ("reference_digest_count", _DROP),
    ],
}


def test_voice_schemas_are_registered() -> None:
    ids = set(schema.schema_ids())
    assert {
        "gait.voice.say_token",
        "gait.voice.commitment_intent",
        "gait.voice.call_event",
        "gait.voice.callpack_manifest",
    } <= ids


def test_valid_and_invalid_samples() -> None:
    for schema_id, valid in (
        ("gait.voice.commitment_intent", _intent()),
        ("gait.voice.call_event", _event()),
        ("gait.voice.callpack_manifest", _manifest()),
    ):
        assert schema.errors(schema_id, valid) == [], schema_id
        for path, value in INVALID[schema_id]:
            assert schema.errors(schema_id, _with(valid, path, value)), (schema_id, path, value)


def test_what_gait_voice_writes_validates(run_gait: Any, tmp_path: Path) -> None:
    """A minted SayToken, and every voice member of a call pack built from a call record."""
    keys = run_gait("keys", "init", "--key-mode", "prod", "--out-dir", "k", "--json", cwd=tmp_path)
    assert keys.returncode == 0, keys.stderr
    (tmp_path / "p.yaml").write_text("default_verdict: allow\n")
    intent = _intent()
    (tmp_path / "i.json").write_text(json.dumps(intent))
    minted = run_gait(
        "voice",
        "token",
        "mint",
        "--intent",
        "i.json",
        "--policy",
        "p.yaml",
        "--out",
        "t.json",
        "--trace-out",
        "tr.json",
        "--private-key",
        "k/gait_private.key",
        "--json",
        cwd=tmp_path,
    )
    assert minted.returncode == 0, minted.stderr
    token = json.loads((tmp_path / "t.json").read_text())
    assert schema.errors("gait.voice.say_token", token) == []
    assert schema.errors("gait.gate.trace", json.loads((tmp_path / "tr.json").read_text())) == []
    for path, value in (
        ("token_id", ""),
        ("intent_digest", "x" * 64),
        ("turn_index", -1),
        ("call_seq", 0),
        ("expires_at", "not-a-time"),
        ("commitment_class", "discount"),
        ("signature.sig", ""),
        ("signature.extra", 1),
    ):
        assert schema.errors("gait.voice.say_token", _with(token, path, value)), path

    demo = run_gait("demo", "--json", cwd=tmp_path)
    runpack = str(tmp_path / json.loads(demo.stdout)["bundle"])
    kinds = [
        "asr.final",
        "commitment.declared",
        "gate.decision",
        "tts.request",
        "tts.emitted",
        "tool.intent",
        "tool.result",
    ]
    events = [{**_event(), "call_seq": n + 1, "event_type": kind} for n, kind in enumerate(kinds)]
    for event in events:
        del event["commitment_class"], event["say_token_id"]
    record = {
        "schema_id": "gait.voice.call_record",
        "schema_version": "1.0.0",
        "created_at": "2026-02-15T00:00:00Z",
        "producer_version": "0.0.0-test",
        "call_id": "call_demo",
        "runpack_path": runpack,
        "privacy_mode": "hash_only",
        "events": events,
        "commitments": [intent],
        "gate_decisions": [],
        "speak_receipts": [],
        "reference_digests": [],
    }
    (tmp_path / "rec.json").write_text(json.dumps(record))
    built = run_gait(
        "voice", "pack", "build", "--from", "rec.json", "--out", "cp.zip", "--json", cwd=tmp_path
    )
    assert built.returncode == 0, built.stderr
    with zipfile.ZipFile(tmp_path / "cp.zip") as zf:
        manifest = json.loads(zf.read("callpack_manifest.json"))
        lines = {
            name: [json.loads(x) for x in zf.read(name).splitlines() if x.strip()]
            for name in ("call_events.jsonl", "commitments.jsonl")
        }
    assert schema.errors("gait.voice.callpack_manifest", manifest) == []
    assert len(lines["call_events.jsonl"]) == 7
    for event in lines["call_events.jsonl"]:
        assert schema.errors("gait.voice.call_event", event) == []
    for commitment in lines["commitments.jsonl"]:
        assert schema.errors("gait.voice.commitment_intent", commitment) == []
