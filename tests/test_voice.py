"""``gait voice``: gate a spoken commitment, mint and check its SayToken, pack the call.

What the reference's voice quickstart (examples/integrations/voice_reference) does, through our
CLI as subprocesses with real keys, policies, traces and zips: keys init, demo, token mint under
an allow, a block and a require-approval policy, token verify with the right and wrong bindings,
keys and times, then a call pack built from the call record, verified, inspected and diffed.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CREATED_AT = "2026-02-15T00:00:00Z"
MINT_AT = "2026-02-15T00:00:10Z"


def _intent(call_id: str = "call_voice", **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema_id": "gait.voice.commitment_intent",
        "schema_version": "1.0.0",
        "created_at": CREATED_AT,
        "producer_version": "0.0.0-test",
        "call_id": call_id,
        "turn_index": 2,
        "call_seq": 2,
        "commitment_class": "quote",
        "currency": "usd",
        "quote_min_cents": 1200,
        "quote_max_cents": 1800,
        "context": {"identity": "voice.agent", "workspace": "/srv/voice", "risk_class": "high"},
    }
    doc.update(over)
    return doc


def _json(proc: Any) -> dict[str, Any]:
    assert proc.stdout.strip(), proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


@pytest.fixture
def voice_dir(tmp_path: Path, run_gait: Any) -> Path:
    """A working directory with a production key pair, three policies and an intent."""
    keys = _json(
        run_gait(
            "keys",
            "init",
            "--key-mode",
            "prod",
            "--out-dir",
            "keys",
            "--prefix",
            "voice",
            "--json",
            cwd=tmp_path,
        )
    )
    assert (
        Path(keys["private_key_path"]).is_absolute()
        or (tmp_path / keys["private_key_path"]).exists()
    )
    for verdict in ("allow", "block", "require_approval"):
        (tmp_path / f"policy_{verdict}.yaml").write_text(
            f"schema_id: gait.gate.policy\nschema_version: 1.0.0\ndefault_verdict: {verdict}\n"
        )
    (tmp_path / "intent.json").write_text(json.dumps(_intent(), indent=2))
    return tmp_path


def _mint(run_gait: Any, cwd: Path, policy: str, *extra: str) -> Any:
    return run_gait(
        "voice",
        "token",
        "mint",
        "--intent",
        "intent.json",
        "--policy",
        policy,
        "--key-mode",
        "prod",
        "--private-key",
        "keys/voice_private.key",
        *extra,
        "--json",
        cwd=cwd,
    )


def _verify(run_gait: Any, cwd: Path, *extra: str) -> Any:
    return run_gait(
        "voice", "token", "verify", "--token", "say_token.json", *extra, "--json", cwd=cwd
    )


def test_allow_mints_a_token_block_and_approval_do_not(run_gait: Any, voice_dir: Path) -> None:
    allow = _mint(
        run_gait,
        voice_dir,
        "policy_allow.yaml",
        "--out",
        "say_token.json",
        "--trace-out",
        "trace_allow.json",
    )
    assert allow.returncode == 0, allow.stderr
    out = _json(allow)
    assert out["ok"] is True and out["verdict"] == "allow"
    assert out["reason_codes"] == ["default_allow"]
    assert out["token_path"] == "say_token.json" and out["trace_path"] == "trace_allow.json"
    assert (out["call_id"], out["turn_index"], out["call_seq"], out["commitment_class"]) == (
        "call_voice",
        2,
        2,
        "quote",
    )
    token = json.loads((voice_dir / "say_token.json").read_text())
    assert token["token_id"] == out["token_id"]
    assert token["intent_digest"] == out["intent_digest"]
    assert token["policy_digest"] == out["policy_digest"]
    assert token["currency"] == "USD"  # normalised before it is bound
    # the reference's ttl default: two minutes
    created, expires = (
        datetime.fromisoformat(token[k].replace("Z", "+00:00"))
        for k in ("created_at", "expires_at")
    )
    assert expires - created == timedelta(minutes=2)
    assert (voice_dir / "say_token.json").stat().st_mode & 0o077 == 0

    # the policy digest is the one the gate itself reports for this policy
    validated = run_gait("policy", "validate", "policy_allow.yaml", "--json", cwd=voice_dir)
    assert _json(validated)["policy_digest"] == out["policy_digest"]

    # the trace is an ordinary signed gate trace for tool voice.commitment.quote
    trace = json.loads((voice_dir / "trace_allow.json").read_text())
    assert trace["tool_name"] == "voice.commitment.quote" and trace["verdict"] == "allow"
    assert trace["trace_id"] == out["trace_id"] and trace["intent_digest"] == out["intent_digest"]
    checked = run_gait(
        "trace",
        "verify",
        "trace_allow.json",
        "--public-key",
        "keys/voice_public.key",
        "--json",
        cwd=voice_dir,
    )
    assert checked.returncode == 0 and _json(checked)["signature_status"] == "verified"

    for verdict, code in (("block", 3), ("require_approval", 4)):
        proc = _mint(
            run_gait,
            voice_dir,
            f"policy_{verdict}.yaml",
            "--out",
            f"tok_{verdict}.json",
            "--trace-out",
            f"trace_{verdict}.json",
        )
        assert proc.returncode == code, proc.stderr
        doc = _json(proc)
        assert doc["ok"] is False and doc["verdict"] == verdict
        assert "token_path" not in doc and "token_id" not in doc
        assert len(doc["intent_digest"]) == 64 and doc["intent_digest"] == out["intent_digest"]
        assert doc["policy_digest"] != out["policy_digest"]
        assert not (voice_dir / f"tok_{verdict}.json").exists()
        assert json.loads((voice_dir / f"trace_{verdict}.json").read_text())["verdict"] == verdict


def _minted(run_gait: Any, cwd: Path) -> dict[str, Any]:
    proc = _mint(
        run_gait,
        cwd,
        "policy_allow.yaml",
        "--out",
        "say_token.json",
        "--trace-out",
        "trace.json",
        "--now",
        MINT_AT,
        "--ttl",
        "90s",
    )
    assert proc.returncode == 0, proc.stderr
    return _json(proc)


def test_verify_checks_key_bindings_and_expiry(run_gait: Any, voice_dir: Path) -> None:
    out = _minted(run_gait, voice_dir)
    token = json.loads((voice_dir / "say_token.json").read_text())
    assert token["created_at"] == MINT_AT and token["expires_at"] == "2026-02-15T00:01:40Z"
    key = ("--public-key", "keys/voice_public.key")
    inside = ("--now", "2026-02-15T00:01:00Z")
    good = _verify(
        run_gait,
        voice_dir,
        *key,
        *inside,
        "--intent-digest",
        out["intent_digest"],
        "--policy-digest",
        out["policy_digest"],
        "--call-id",
        "call_voice",
        "--turn-index",
        "2",
        "--call-seq",
        "2",
        "--commitment-class",
        "QUOTE",
    )
    assert good.returncode == 0, good.stderr
    assert _json(good)["ok"] is True and _json(good)["token_id"] == out["token_id"]
    # a private key source verifies too (its public half), as in the quickstart
    derived = _verify(run_gait, voice_dir, "--private-key", "keys/voice_private.key", *inside)
    assert derived.returncode == 0, derived.stderr

    other = "f" * 64
    cases = [
        (("--intent-digest", other), "say_token_intent_mismatch", "E_VOICE_TOKEN_INTENT_MISMATCH"),
        (("--policy-digest", other), "say_token_policy_mismatch", "E_VOICE_TOKEN_POLICY_MISMATCH"),
        (
            ("--call-id", "call_other"),
            "say_token_call_binding_mismatch",
            "E_VOICE_TOKEN_CALL_MISMATCH",
        ),
        (("--turn-index", "0"), "say_token_call_binding_mismatch", "E_VOICE_TOKEN_CALL_MISMATCH"),
        (("--call-seq", "3"), "say_token_call_binding_mismatch", "E_VOICE_TOKEN_CALL_MISMATCH"),
        (
            ("--commitment-class", "refund"),
            "say_token_class_mismatch",
            "E_VOICE_TOKEN_CLASS_MISMATCH",
        ),
    ]
    for flags, reason, code in cases:
        proc = _verify(run_gait, voice_dir, *key, *inside, *flags)
        assert proc.returncode == 2, (flags, proc.stdout, proc.stderr)
        doc = _json(proc)
        assert (doc["ok"], doc["reason_code"], doc["error_code"]) == (False, reason, code), flags
        assert doc["token_id"] == out["token_id"] and doc["operation"] == "verify"
    # expiry: at expires_at the token is dead (now must be strictly before it)
    for moment in ("2026-02-15T00:01:40Z", "2026-02-15T03:00:00Z"):
        proc = _verify(run_gait, voice_dir, *key, "--now", moment)
        assert proc.returncode == 2 and _json(proc)["reason_code"] == "say_token_expired"
    # and without --now the wall clock (2026-02-15 is in the past or the future: either way
    # the answer is the clock's, never a crash)
    assert _verify(run_gait, voice_dir, *key).returncode in (0, 2)

    # another key: the signature does not verify
    run_gait(
        "keys",
        "init",
        "--key-mode",
        "prod",
        "--out-dir",
        "other",
        "--prefix",
        "x",
        "--json",
        cwd=voice_dir,
    )
    wrong = _verify(run_gait, voice_dir, "--public-key", "other/x_public.key", *inside)
    assert wrong.returncode == 2
    assert _json(wrong)["error_code"] == "E_VOICE_TOKEN_SIGNATURE_INVALID"


def test_signature_covers_the_token_as_the_reference_rereads_it(
    run_gait: Any, voice_dir: Path
) -> None:
    """The signature is Ed25519 over the raw SHA-256 of the RFC 8785 bytes of the token
    without ``signature`` (the proof library's SignJSON), checked here with rfc8785 and
    cryptography, not with gait's own code; the checker ignores unknown keys and re-reads
    digests and classes normalised, and refuses any change to a bound field."""
    _minted(run_gait, voice_dir)
    path = voice_dir / "say_token.json"
    token = json.loads(path.read_text())
    signable = {k: v for k, v in token.items() if k != "signature"}
    message = hashlib.sha256(rfc8785.dumps(signable)).digest()
    assert token["signature"]["signed_digest"] == message.hex()
    raw_key = base64.b64decode((voice_dir / "keys/voice_public.key").read_text().strip())
    Ed25519PublicKey.from_public_bytes(raw_key).verify(
        base64.b64decode(token["signature"]["sig"]), message
    )  # raises if not signed over exactly that
    assert token["signature"]["key_id"] == hashlib.sha256(raw_key).hexdigest()
    # the fields in the reference's struct order (Go writes them so; bytes of the file)
    assert list(token) == [
        "schema_id",
        "schema_version",
        "created_at",
        "producer_version",
        "token_id",
        "commitment_class",
        "intent_digest",
        "policy_digest",
        "call_id",
        "turn_index",
        "call_seq",
        "currency",
        "quote_min_cents",
        "quote_max_cents",
        "expires_at",
        "signature",
    ]
    # token_id: first 12 bytes of H(intent:policy:call:turn:seq:class:expires_at)
    seed = (
        f"{token['intent_digest']}:{token['policy_digest']}:call_voice:2:2:quote:"
        f"{token['expires_at']}"
    )
    assert token["token_id"] == hashlib.sha256(seed.encode()).hexdigest()[:24]

    args = ("--public-key", "keys/voice_public.key", "--now", "2026-02-15T00:01:00Z")

    def verdict(doc: dict[str, Any]) -> tuple[int, str]:
        path.write_text(json.dumps(doc))
        proc = _verify(run_gait, voice_dir, *args)
        return proc.returncode, _json(proc).get("reason_code", "")

    harmless = copy.deepcopy(token)
    harmless["note"] = "an unknown key is dropped, as a Go struct decode drops it"
    harmless["intent_digest"] = token["intent_digest"].upper()
    harmless["commitment_class"] = " Quote "
    assert verdict(harmless) == (0, "")
    for name, value in (
        ("quote_max_cents", 9900),
        ("call_seq", 3),
        ("currency", "EUR"),
        ("expires_at", "2026-02-15T09:00:00Z"),
    ):
        tampered = copy.deepcopy(token)
        tampered[name] = value
        assert verdict(tampered) == (2, "say_token_signature_invalid"), name
    unsigned = {k: v for k, v in token.items() if k != "signature"}
    assert verdict(unsigned) == (2, "say_token_signature_missing")
    broken = dict(token, commitment_class="discount")
    assert verdict(broken) == (2, "say_token_invalid")


def _call_record(call_id: str, runpack: str, verdict: str, out: dict[str, Any]) -> dict[str, Any]:
    def event(seq: int, kind: str, **more: Any) -> dict[str, Any]:
        return {
            "schema_id": "gait.voice.call_event",
            "schema_version": "1.0.0",
            "created_at": f"2026-02-15T00:00:0{seq}Z",
            "call_id": call_id,
            "call_seq": seq,
            "turn_index": 2,
            "event_type": kind,
            **more,
        }

    spoken = verdict == "allow"
    emitted = event(5, "tts.emitted")
    if spoken:
        emitted.update(commitment_class="quote", say_token_id=out["token_id"])
    return {
        "schema_id": "gait.voice.call_record",
        "schema_version": "1.0.0",
        "created_at": CREATED_AT,
        "producer_version": "0.0.0-test",
        "call_id": call_id,
        "runpack_path": runpack,
        "privacy_mode": "hash_only",
        "events": [
            event(1, "asr.final", payload_digest="1" * 64),
            event(2, "commitment.declared", commitment_class="quote"),
            event(
                3,
                "gate.decision",
                commitment_class="quote",
                intent_digest=out["intent_digest"],
                policy_digest=out["policy_digest"],
            ),
            event(4, "tts.request", commitment_class="quote"),
            emitted,
            event(6, "tool.intent"),
            event(7, "tool.result"),
        ],
        "commitments": [_intent(call_id)],
        "gate_decisions": [
            {
                "call_id": call_id,
                "call_seq": 3,
                "turn_index": 2,
                "commitment_class": "quote",
                "verdict": verdict,
                "reason_codes": out["reason_codes"],
                "intent_digest": out["intent_digest"],
                "policy_digest": out["policy_digest"],
            }
        ],
        "speak_receipts": [
            {
                "call_id": call_id,
                "call_seq": 5,
                "turn_index": 2,
                "commitment_class": "quote",
                "say_token_id": out["token_id"],
                "spoken_digest": "2" * 64,
                "emitted_at": "2026-02-15T00:00:05Z",
            }
        ]
        if spoken
        else [],
        "reference_digests": [{"ref_id": "kb.quote", "sha256": "3" * 64}],
    }


def test_voice_pack_build_verify_inspect_diff(run_gait: Any, voice_dir: Path) -> None:
    demo = run_gait("demo", "--json", cwd=voice_dir)
    assert demo.returncode == 0, demo.stderr
    runpack = str(voice_dir / _json(demo)["bundle"])
    allowed = _minted(run_gait, voice_dir)
    blocked = _json(_mint(run_gait, voice_dir, "policy_block.yaml", "--trace-out", "tb.json"))
    for name, verdict, out in (("allow", "allow", allowed), ("block", "block", blocked)):
        record = _call_record("call_voice", runpack, verdict, out)
        (voice_dir / f"call_{name}.json").write_text(json.dumps(record, indent=2))
        built = run_gait(
            "voice",
            "pack",
            "build",
            "--from",
            f"call_{name}.json",
            "--out",
            f"cp_{name}.zip",
            "--json",
            cwd=voice_dir,
        )
        assert built.returncode == 0, built.stderr
        doc = _json(built)
        assert doc["ok"] is True and doc["pack_type"] == "call"  # --type call by default
        verified = run_gait("voice", "pack", "verify", f"cp_{name}.zip", "--json", cwd=voice_dir)
        assert verified.returncode == 0 and _json(verified)["ok"] is True, verified.stdout
        # the alias is the pack command: the same pack bytes as gait pack build --type call
        plain = run_gait(
            "pack",
            "build",
            "--type",
            "call",
            "--from",
            f"call_{name}.json",
            "--out",
            f"plain_{name}.zip",
            "--json",
            cwd=voice_dir,
        )
        assert _json(plain)["pack_id"] == doc["pack_id"]
    inspected = run_gait("voice", "pack", "inspect", "cp_allow.zip", "--json", cwd=voice_dir)
    assert inspected.returncode == 0, inspected.stderr
    assert "speak_receipts.jsonl" in inspected.stdout
    same = run_gait(
        "voice", "pack", "diff", "cp_allow.zip", "plain_allow.zip", "--json", cwd=voice_dir
    )
    assert same.returncode == 0, same.stdout
    changed = run_gait(
        "voice", "pack", "diff", "cp_allow.zip", "cp_block.zip", "--json", cwd=voice_dir
    )
    assert changed.returncode == 2, changed.stdout
    assert "gate_decisions.jsonl" in changed.stdout

    # a call becomes a regression in one command: the runpack the call pack carries
    scratch = voice_dir / "tmp"
    scratch.mkdir()
    fixture = run_gait(
        "regress", "init", "--from", "cp_allow.zip", "--name", "voice_call", "--json",
        cwd=voice_dir, env={"TMPDIR": str(scratch)},
    )  # fmt: skip
    assert fixture.returncode == 0, fixture.stderr
    copied = voice_dir / _json(fixture)["runpack_path"]
    assert copied.read_bytes() == Path(runpack).read_bytes()
    assert not list(scratch.iterdir())  # the extracted copy is gone

    # speech without an allow is refused by the pack rules (voice pack build exit 6)
    lying = _call_record("call_voice", runpack, "block", allowed)
    lying["events"][4].update(commitment_class="quote", say_token_id=allowed["token_id"])
    lying["speak_receipts"] = _call_record("call_voice", runpack, "allow", allowed)[
        "speak_receipts"
    ]
    (voice_dir / "lying.json").write_text(json.dumps(lying))
    refused = run_gait("voice", "pack", "build", "--from", "lying.json", "--json", cwd=voice_dir)
    assert refused.returncode == 6 and _json(refused)["error_code"] == "E_PACK_CALL_RECORD_INVALID"


BAD_INPUT = [
    (None, ("voice", "token", "mint", "--policy", "policy_allow.yaml"), "E_USAGE"),
    (
        None,
        (
            "voice",
            "token",
            "mint",
            "--intent",
            "intent.json",
            "--policy",
            "policy_allow.yaml",
            "--ttl",
            "soon",
        ),
        "E_USAGE",
    ),
    (
        None,
        (
            "voice",
            "token",
            "mint",
            "--intent",
            "intent.json",
            "--policy",
            "policy_allow.yaml",
            "--ttl",
            "-2m",
        ),
        "E_USAGE",
    ),
    (
        "{not json",
        ("voice", "token", "mint", "--intent", "bad.json", "--policy", "policy_allow.yaml"),
        "E_VOICE_INTENT_INVALID",
    ),
    (
        _intent(commitment_class="discount"),
        ("voice", "token", "mint", "--intent", "bad.json", "--policy", "policy_allow.yaml"),
        "E_VOICE_INTENT_INVALID",
    ),
    (
        _intent(call_seq=0),
        ("voice", "token", "mint", "--intent", "bad.json", "--policy", "policy_allow.yaml"),
        "E_VOICE_INTENT_INVALID",
    ),
    (
        _intent(quote_min_cents=5000),
        ("voice", "token", "mint", "--intent", "bad.json", "--policy", "policy_allow.yaml"),
        "E_VOICE_INTENT_INVALID",
    ),
    (
        _intent(turn_index="2"),
        ("voice", "token", "mint", "--intent", "bad.json", "--policy", "policy_allow.yaml"),
        "E_VOICE_INTENT_INVALID",
    ),
    (
        None,
        ("voice", "token", "mint", "--intent", "missing.json", "--policy", "policy_allow.yaml"),
        "E_VOICE_INTENT_INVALID",
    ),
    (
        None,
        ("voice", "token", "mint", "--intent", "intent.json", "--policy", "nope.yaml"),
        "E_POLICY_PARSE",
    ),
    (
        None,
        (
            "voice",
            "token",
            "mint",
            "--intent",
            "intent.json",
            "--policy",
            "policy_allow.yaml",
            "--key-mode",
            "prod",
        ),
        "E_SIGN_KEY_REQUIRED",
    ),
    (None, ("voice", "token", "verify", "--public-key", "keys/voice_public.key"), "E_USAGE"),
    (
        "[1, 2]",
        (
            "voice",
            "token",
            "verify",
            "--token",
            "bad.json",
            "--public-key",
            "keys/voice_public.key",
        ),
        "E_VOICE_TOKEN_READ",
    ),
    ("{}", ("voice", "token", "verify", "--token", "bad.json"), "E_USAGE"),
    (
        '{"call_seq": "2"}',
        (
            "voice",
            "token",
            "verify",
            "--token",
            "bad.json",
            "--public-key",
            "keys/voice_public.key",
        ),
        "E_VOICE_TOKEN_READ",
    ),
    (None, ("voice",), "E_USAGE"),
    (None, ("voice", "token", "speak"), "E_USAGE"),
]


def test_bad_input_is_one_line_with_a_code(run_gait: Any, voice_dir: Path) -> None:
    for setup, argv, code in BAD_INPUT:
        if setup is not None:
            text = setup if isinstance(setup, str) else json.dumps(setup)
            (voice_dir / "bad.json").write_text(text)
        proc = run_gait(*argv, cwd=voice_dir)
        assert proc.returncode == 6, (argv, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert lines[0].startswith(f"gait: {code}: "), (argv, proc.stderr)
        assert len(lines) <= 2 and (len(lines) == 1 or lines[1].startswith("next: "))
        as_json = run_gait(*argv, "--json", cwd=voice_dir)
        assert as_json.returncode == 6 and _json(as_json)["error_code"] == code, argv


def test_json_outputs_are_byte_identical(run_gait: Any, voice_dir: Path, tmp_path: Path) -> None:
    """Same inputs, same --now: the same mint and verify documents and the same token bytes,
    whatever the directory (paths are the relative ones given)."""
    twin = tmp_path / "twin"
    twin.mkdir()
    for name in ("intent.json", "policy_allow.yaml", "policy_block.yaml"):
        (twin / name).write_bytes((voice_dir / name).read_bytes())
    (twin / "keys").mkdir()
    for name in ("voice_private.key", "voice_public.key"):
        (twin / "keys" / name).write_bytes((voice_dir / "keys" / name).read_bytes())
    runs = []
    for where in (voice_dir, twin, voice_dir):
        mint = _mint(
            run_gait,
            where,
            "policy_allow.yaml",
            "--out",
            "say_token.json",
            "--trace-out",
            "trace.json",
            "--now",
            MINT_AT,
        )
        block = _mint(run_gait, where, "policy_block.yaml", "--trace-out", "tb.json")
        verify = _verify(
            run_gait,
            where,
            "--public-key",
            "keys/voice_public.key",
            "--now",
            "2026-02-15T00:01:00Z",
            "--call-seq",
            "2",
        )
        runs.append(
            (mint.stdout, block.stdout, verify.stdout, (where / "say_token.json").read_bytes())
        )
    assert runs[0] == runs[1] == runs[2]
    assert json.loads(runs[0][0])["ok"] is True and json.loads(runs[0][2])["ok"] is True


def _signed_as_the_reference_signs(doc: dict[str, Any], public_key: bytes) -> None:
    """The reference's SignJSON: Ed25519 over SHA-256 of the RFC 8785 bytes of the document
    without ``signature``; ``signed_digest`` is that digest, ``key_id`` H(public key)."""
    message = hashlib.sha256(rfc8785.dumps({k: v for k, v in doc.items() if k != "signature"}))
    assert doc["signature"]["signed_digest"] == message.hexdigest()
    assert doc["signature"]["key_id"] == hashlib.sha256(public_key).hexdigest()
    Ed25519PublicKey.from_public_bytes(public_key).verify(
        base64.b64decode(doc["signature"]["sig"]), message.digest()
    )


def test_say_token_is_signed_the_way_the_reference_signs_its_tokens(
    run_gait: Any, conformance_dir: Path, tmp_path: Path
) -> None:
    """The rule is the reference's own: its approval token (signed by its binary) satisfies it,
    and a SayToken minted here with the reference's key satisfies it too, so the reference's
    ValidateSayToken (the same SignJSON check) accepts it."""
    keys = conformance_dir / "reference" / "keys"
    public = base64.b64decode((keys / "gait_public.key").read_text().strip())
    reference_token = conformance_dir / "reference" / "approval" / "approval_token.json"
    _signed_as_the_reference_signs(json.loads(reference_token.read_text()), public)

    (tmp_path / "intent.json").write_text(json.dumps(_intent(turn_index=0)))
    (tmp_path / "p.yaml").write_text("default_verdict: allow\n")
    minted = run_gait(
        "voice", "token", "mint", "--intent", "intent.json", "--policy", "p.yaml",
        "--out", "tok.json", "--trace-out", "tr.json", "--key-mode", "prod",
        "--private-key", str(keys / "gait_private.key"), "--json", cwd=tmp_path,
    )  # fmt: skip
    assert minted.returncode == 0, minted.stderr
    token = json.loads((tmp_path / "tok.json").read_text())
    assert token["turn_index"] == 0  # written even when zero, as the reference's struct does
    _signed_as_the_reference_signs(token, public)
