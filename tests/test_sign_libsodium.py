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
from gait.errors import InvalidInput
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


def _signed_pack(tmp_path: Path, key: SigningKey) -> Path:
    doc = {
        "run": {"run_id": "run_strict", "created_at": "2026-01-01T00:00:00Z"},
        "intents": [{"intent_id": "intent_1", "tool_name": "tool.read", "args": {"p": "/a"}}],
        "results": [{"intent_id": "intent_1", "status": "ok", "result": {"n": 1}}],
    }
    return write_record_input(doc, tmp_path / "signed.zip", signing_keys=[key]).path


def test_signature_with_small_order_r_openssl_accepted_and_libsodium_refuses(
    run_gait,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    """libsodium refuses a small-order R even under a real key, which OpenSSL accepted for the
    message it was made for: a runpack signed so is refused by ``gait verify`` as any bad
    signature is (docs/formats.md section 2)."""
    key = SigningKey.generate()
    pack = _signed_pack(tmp_path, key)
    with zipfile.ZipFile(pack) as archive:
        members = [(i.filename, archive.read(i)) for i in archive.infolist()]
    manifest = json.loads(dict(members)["manifest.json"])
    [signature] = manifest["signatures"]
    message = bytes.fromhex(signature["signed_digest"])
    forged = _small_order_r(key.seed, key.public_raw, message)
    assert _openssl_accepts(key.public_raw, forged, message)  # what cryptography's verify said
    assert not _openssl_accepts(key.public_raw, forged, b"another message")
    signature["sig"] = binascii.b2a_base64(forged, newline=False).decode()
    manifest_bytes = canonical_bytes(manifest)
    path = write_zip(
        tmp_path / "forged.zip",
        [(n, manifest_bytes if n == "manifest.json" else data) for n, data in members],
    )
    key_file = tmp_path / "public.key"
    key_file.write_text(key.public().to_text())
    proc = run_gait("verify", str(path), "--public-key", str(key_file), "--json", cwd=tmp_path)
    report = json.loads(proc.stdout)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert report["signature_status"] == "failed"
    assert report["error_codes"] == ["E_VERIFY_SIGNATURE_INVALID"]
    assert report["signature_errors"] == ["signature verification failed"]
    assert not key.public().verify(forged, message)


def test_neutral_point_key_refused_at_the_door(run_gait, tmp_path: Path, gait_home: Path) -> None:  # noqa: ANN001
    """The neutral point's public key, under which OpenSSL accepted R = neutral, S = 0 for every
    message: ``gait keys trust``, ``--public-key`` and a trust store holding it refuse it when
    read (exit 6, one line and a next step), not after it has failed every signature; libsodium
    itself refuses the forgery too, should such a key ever reach it."""
    forged = IDENTITY + bytes(32)
    assert _openssl_accepts(IDENTITY, forged, b"any message") and _openssl_accepts(
        IDENTITY, forged, b"another message"
    )
    neutral_id = hashlib.sha256(IDENTITY).hexdigest()
    assert not VerifyKey(raw=IDENTITY, key_id=neutral_id).verify(forged, b"any message")
    key_file = tmp_path / "neutral.key"
    key_file.write_text(binascii.b2a_base64(IDENTITY).decode())
    what = "is a point of small order (such as the neutral point): libsodium would refuse every"

    proc = run_gait("keys", "trust", str(key_file), cwd=tmp_path)
    assert proc.returncode == 6 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"gait: E_KEY_INVALID: public key {what} signature under it",
        "next: use the signer's public key as gait keys init wrote it "
        "(gait keys init --key-mode prod --out DIR makes a new pair)",
    ]
    assert not (gait_home / "keyring.json").exists()  # nothing was trusted

    key = SigningKey.generate()
    pack = _signed_pack(tmp_path, key)
    proc = run_gait("verify", str(pack), "--public-key", str(key_file), "--json", cwd=tmp_path)
    error = json.loads(proc.stdout)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert error["error_code"] == "E_KEY_INVALID" and what in error["error"]

    # a trust store written before the door existed, or by hand: named, with the way out
    store = gait_home / "keyring.json"
    entry = {"key_id": neutral_id, "public_key": key_file.read_text().strip(), "mode": "prod"}
    store.write_text(json.dumps({"schema_id": "gait.keyring", "keys": [entry]}))
    proc = run_gait("verify", str(pack), cwd=tmp_path)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        f"gait: E_TRUST_STORE_INVALID: trust store {store}: entry {neutral_id}: public key "
        f"{what} signature under it",
        f"next: delete that entry from {store}, then gait keys trust the signer's public key file",
    ]
    store.unlink()  # the way out: the signer's real key is trusted and verifies
    (tmp_path / "signer.key").write_text(key.public().to_text())
    assert run_gait("keys", "trust", str(tmp_path / "signer.key"), cwd=tmp_path).returncode == 0
    proc = run_gait("verify", str(pack), "--json", cwd=tmp_path)
    assert proc.returncode == 0 and json.loads(proc.stdout)["signature_status"] == "verified"


def _times(bindings, k: int, point: bytes) -> bytes:  # noqa: ANN001
    """k·point by doubling and adding with libsodium's point addition (which, unlike its scalar
    multiplication, takes any curve point)."""
    result = IDENTITY
    for bit in bin(k)[2:]:
        result = bindings.crypto_core_ed25519_add(result, result)
        if bit == "1":
            result = bindings.crypto_core_ed25519_add(result, point)
    return result  # type: ignore[no-any-return]


def test_unusable_public_keys_are_libsodiums_own(tmp_path: Path) -> None:
    """``public_key_problem`` refuses exactly the keys libsodium's verification refuses before
    any arithmetic: random strings as libsodium decodes them (about half are no curve point),
    all 8 small-order points under both sign bits (libsodium doubles each to the neutral point
    within 3 doublings), every non-canonical encoding; never a key derived from a seed. A point
    with a small-order part added is accepted, as libsodium verifies with it."""
    from nacl import bindings

    from gait.sign.keys import public_key_problem

    def decodes(raw: bytes) -> bool:
        try:
            bindings.crypto_core_ed25519_add(raw, raw)
        except (RuntimeError, ValueError):
            return False
        return True

    refused = mixed = 0
    for _ in range(300):
        raw = os.urandom(32)
        problem = public_key_problem(raw)
        assert (problem == "") is decodes(raw), raw.hex()
        assert problem in ("", "is not a point on the Ed25519 curve")
        refused += problem != ""
        mixed += problem == "" and not bindings.crypto_core_ed25519_is_valid_point(raw)
    assert 90 < refused < 210 and mixed > 90  # most decodable strings have a small-order part
    # the torsion part of a decodable point outside the prime-order group is L times it: from
    # one of order 8, its 8 multiples are every point of small order
    for _ in range(64):
        raw = os.urandom(32)
        if decodes(raw) and not bindings.crypto_core_ed25519_is_valid_point(raw):
            torsion = _times(bindings, ORDER, raw)
            if _times(bindings, 4, torsion)[:31] != IDENTITY[:31]:
                break
    else:  # pragma: no cover - 64 misses in a row: about 2^-64
        raise AssertionError("no point with a part of order 8 found")
    small = [_times(bindings, k, torsion) for k in range(1, 9)]
    assert small[-1] == IDENTITY and len(set(small)) == 8
    assert len({int.from_bytes(r, "little") & ((1 << 255) - 1) for r in small}) == 5
    for raw in small:
        for signed in (raw, raw[:31] + bytes([raw[31] ^ 0x80])):
            problem = public_key_problem(signed)
            assert problem == "is a point of small order (such as the neutral point)"
    p = 2**255 - 19
    for y in [p, p + 1, p + 2, p + 18, 2**255 - 1]:
        for top in (0, 1 << 255):
            raw = (y | top).to_bytes(32, "little")
            assert public_key_problem(raw) == (
                "is not canonically encoded (its y coordinate is 2^255-19 or more)"
            )
    for _ in range(100):
        assert public_key_problem(SigningKey.generate().public_raw) == ""
    with pytest.raises(InvalidInput) as raised:
        VerifyKey.from_text(binascii.b2a_base64(bytes(31) + b"\x80").decode(), "signer key")
    assert raised.value.code == "E_KEY_INVALID"
    assert raised.value.message.startswith("signer key is a point of small order")


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
