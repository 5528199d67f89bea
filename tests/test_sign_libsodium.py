"""Ed25519 through libsodium (gait.sign.keys) against cryptography's OpenSSL binding, which it
replaced (issues 14 and 16 item 6): the same keys, the same signature bytes (Ed25519 is
deterministic), the same verdicts, except for the inputs libsodium refuses on purpose."""

from __future__ import annotations

import binascii
import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gait.canon import canonical_bytes
from gait.runpack.archive import write_zip
from gait.runpack.writer import write_record_input
from gait.sign.keys import SigningKey, VerifyKey, read_key_text

ORDER = 2**252 + 27742317777372353535851937790883648493  # the prime order of the base point
IDENTITY = b"\x01" + bytes(31)  # the neutral point's encoding: a point of order 1


def _openssl_accepts(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def test_same_keys_signatures_and_verdicts_as_openssl(tmp_path: Path) -> None:
    """Each seed gives cryptography's public key and key id, each message cryptography's exact
    signature; libsodium and OpenSSL agree on every good, altered and misattributed signature.
    A key file holding cryptography's raw bytes reads back as the same key."""
    messages = [b"", b"\x00", hashlib.sha256(b"gait").digest(), os.urandom(1000)]
    for _ in range(25):
        seed = os.urandom(32)
        theirs = Ed25519PrivateKey.from_private_bytes(seed)
        their_public = theirs.public_key().public_bytes_raw()
        key_file = tmp_path / "key"
        key_file.write_text(binascii.b2a_base64(theirs.private_bytes_raw() + their_public).decode())
        ours = SigningKey.from_text(read_key_text(key_file, "private key"))
        assert ours.seed == seed and ours.public_raw == their_public
        assert ours.key_id == hashlib.sha256(their_public).hexdigest()
        other = SigningKey.generate().public()
        for message in messages:
            signature = ours.sign(message)
            assert signature == theirs.sign(message)
            altered = [
                signature[:i] + bytes([signature[i] ^ 1 << (i % 8)]) + signature[i + 1 :]
                for i in (0, 17, 31, 32, 45, 63)
            ]
            for sig, msg, public in [
                (signature, message, ours.public()),
                (signature, message + b"x", ours.public()),
                (signature, message, other),
                (signature[:63], message, ours.public()),
                *[(bad, message, ours.public()) for bad in altered],
            ]:
                assert public.verify(sig, msg) is _openssl_accepts(public.raw, sig, msg)
            assert ours.public().verify(signature, message)


def _scalar(seed: bytes) -> int:
    """The secret scalar Ed25519 derives from a seed (RFC 8032 section 5.1.5)."""
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little")


def _small_order_r(seed: bytes, public: bytes, message: bytes) -> bytes:
    """A signature whose R is the neutral point: S = h·a, so S·B - h·A = R holds, as OpenSSL
    checks it (cofactorless, no small-order test)."""
    h = int.from_bytes(hashlib.sha512(IDENTITY + public + message).digest(), "little") % ORDER
    return IDENTITY + (h * _scalar(seed) % ORDER).to_bytes(32, "little")


@pytest.mark.parametrize("case", ["neutral_public_key", "neutral_r_by_a_real_key"])
def test_signatures_openssl_accepted_and_libsodium_refuses(run_gait, tmp_path: Path, case) -> None:  # noqa: ANN001
    """libsodium refuses a small-order public key (the neutral point's key verifies R = neutral,
    S = 0 over every message: OpenSSL accepted that forgery) and a small-order R: a runpack
    signed so is refused by ``gait verify`` as any bad signature is (docs/formats.md section 2)."""
    key = SigningKey.generate()
    doc = {
        "run": {"run_id": "run_strict", "created_at": "2026-01-01T00:00:00Z"},
        "intents": [{"intent_id": "intent_1", "tool_name": "tool.read", "args": {"p": "/a"}}],
        "results": [{"intent_id": "intent_1", "status": "ok", "result": {"n": 1}}],
    }
    pack = write_record_input(doc, tmp_path / "signed.zip", signing_keys=[key]).path
    with zipfile.ZipFile(pack) as archive:
        members = [(i.filename, archive.read(i)) for i in archive.infolist()]
    manifest = json.loads(dict(members)["manifest.json"])
    [signature] = manifest["signatures"]
    message = bytes.fromhex(signature["signed_digest"])
    if case == "neutral_public_key":
        public, forged = IDENTITY, IDENTITY + bytes(32)
    else:
        public, forged = key.public_raw, _small_order_r(key.seed, key.public_raw, message)
    assert _openssl_accepts(public, forged, message)  # what cryptography's verify said
    assert _openssl_accepts(public, forged, b"another message") is (case == "neutral_public_key")
    signature["key_id"] = hashlib.sha256(public).hexdigest()
    signature["sig"] = binascii.b2a_base64(forged, newline=False).decode()
    manifest_bytes = canonical_bytes(manifest)
    path = write_zip(
        tmp_path / "forged.zip",
        [(n, manifest_bytes if n == "manifest.json" else data) for n, data in members],
    )
    key_file = tmp_path / "public.key"
    key_file.write_text(binascii.b2a_base64(public).decode())
    proc = run_gait("verify", str(path), "--public-key", str(key_file), "--json", cwd=tmp_path)
    report = json.loads(proc.stdout)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert report["signature_status"] == "failed"
    assert report["error_codes"] == ["E_VERIFY_SIGNATURE_INVALID"]
    assert report["signature_errors"] == ["signature verification failed"]
    assert not VerifyKey.from_raw(public).verify(forged, message)


def _signatures(value: object) -> list[dict[str, str]]:
    if isinstance(value, dict):
        found = [value] if {"sig", "signed_digest", "key_id"} <= value.keys() else []
        return found + [s for v in value.values() for s in _signatures(v)]
    if isinstance(value, list):
        return [s for v in value for s in _signatures(v)]
    return []


def test_reference_signatures_are_reproduced_and_verified(conformance_dir: Path) -> None:
    """The reference implementation's signatures (runpack manifest, traces, approval and
    delegation tokens): its own key signs each digest to the very same bytes through libsodium,
    and libsodium's verdict on each is OpenSSL's."""
    documents: list[tuple[Path, object]] = []
    for path in sorted(conformance_dir.rglob("*.json")):
        try:
            documents.append((path, json.loads(path.read_text(encoding="utf-8"))))
        except (UnicodeDecodeError, ValueError):
            continue
    for path in sorted(conformance_dir.rglob("*.zip")):
        with zipfile.ZipFile(path) as archive:
            if "manifest.json" in archive.namelist():
                documents.append((path, json.loads(archive.read("manifest.json"))))
    keys_dir = conformance_dir / "reference" / "keys"
    reference = SigningKey.from_text(read_key_text(keys_dir / "gait_private.key", "private key"))
    public_keys = {reference.key_id: reference.public()}
    for key_file in sorted(conformance_dir.rglob("*_public.key")):
        public = VerifyKey.from_text(read_key_text(key_file, "public key"))
        public_keys[public.key_id] = public
    reproduced, verified = set(), set()
    for path, document in documents:
        for signature in _signatures(document):
            public = public_keys.get(signature["key_id"])
            if public is None:
                continue
            message = bytes.fromhex(signature["signed_digest"])
            sig = binascii.a2b_base64(signature["sig"])
            ok = public.verify(sig, message)
            assert ok is _openssl_accepts(public.raw, sig, message), path
            if ok:
                verified.add(path.name)
            if public.key_id == reference.key_id:
                assert reference.sign(message) == sig, path
                reproduced.add(path.name)
    assert {"runpack_run_signed.zip", "trace_after.json", "approval_token.json"} <= reproduced
    assert {"delegation-token-1.json", "approval-token.json"} <= verified


def test_fallback_through_nacl_bindings_gives_the_same_results() -> None:
    """Should PyNaCl move its private ``nacl._sodium``, gait.sign.keys falls back to the public
    ``nacl.bindings``: the same key pairs, signatures and verdicts (a short signature or key,
    a small-order key, included)."""
    from nacl._sodium import ffi, lib

    from gait.sign import keys

    direct, fallback = keys._cffi_functions(ffi, lib), keys._binding_functions()
    for size in (0, 32, 300):
        seed, message = os.urandom(32), os.urandom(size)
        public, secret = direct.seed_keypair(seed)
        assert fallback.seed_keypair(seed) == (public, secret)
        signature = direct.sign(secret, message)
        assert fallback.sign(secret, message) == signature
        for args in [
            (signature, message, public),
            (signature, message + b"x", public),
            (signature[:63], message, public),
            (signature, message, public[:31]),
            (IDENTITY + bytes(32), message, IDENTITY),
        ]:
            assert fallback.verify(*args) is direct.verify(*args)
        assert direct.verify(signature, message, public)
    for functions in (direct, fallback):
        with pytest.raises(ValueError):
            functions.seed_keypair(bytes(31))
        with pytest.raises(ValueError):
            functions.sign(bytes(63), b"")
