"""Signature objects over digests (FORMATS.md section 2).

The signed message is the raw 32 digest bytes, never the hex text or the JSON, so that any
implementation that agrees on the digest agrees on the signature.
"""

from __future__ import annotations

import binascii  # not base64: its import loads re and struct for what binascii does here
from collections.abc import Mapping, Sequence

from gait.plain import Frozen
from gait.sign.keys import SigningKey, VerifyKey

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def sign_digest(key: SigningKey, digest_hex: str) -> dict[str, str]:
    signature = key.sign(bytes.fromhex(digest_hex))
    return {
        "alg": "ed25519",
        "key_id": key.key_id,
        "sig": binascii.b2a_base64(signature, newline=False).decode(),
        "signed_digest": digest_hex,
    }


class SignatureCheck(Frozen):
    """A signature's verdict as data: callers report a bad or skipped check, never raise.

    Not a dataclass (gait.plain: the same constructor, equality, hash, repr, immutability and
    pickling): a gate decision imports this module to sign its trace."""

    __slots__ = _fields = ("ok", "key_id", "error", "skipped")
    ok: bool
    key_id: str
    error: str
    skipped: bool

    def __init__(self, ok: bool, key_id: str, error: str = "", skipped: bool = False) -> None:
        _set = object.__setattr__
        _set(self, "ok", ok)
        _set(self, "key_id", key_id)
        _set(self, "error", error)
        _set(self, "skipped", skipped)


def check_signature(
    sig: Mapping[str, Any] | Any,
    digest_hex: str,
    keys: Sequence[VerifyKey],
    *,
    explicit: bool = True,
) -> SignatureCheck:
    """Check one signature object against the recomputed digest, as the reference does.

    ``explicit`` keys were named by the user: a signature by another key is then a failure
    ("key id mismatch"). Keys from the trust store that do not include the signer leave the
    check ``skipped``: nothing says the signature is bad, only that no known key covers it.
    """
    if not isinstance(sig, Mapping):
        return SignatureCheck(False, "", "signature is not an object")
    raw_key_id = sig.get("key_id")
    key_id = raw_key_id if isinstance(raw_key_id, str) else ""
    if sig.get("alg") != "ed25519":
        return SignatureCheck(False, key_id, "unsupported signature algorithm")
    signed = sig.get("signed_digest")
    if not isinstance(signed, str) or not signed:
        return SignatureCheck(False, key_id, "signed digest missing")
    if signed != digest_hex:
        return SignatureCheck(False, key_id, "signed digest mismatch")
    raw_sig = sig.get("sig")
    try:
        signature = b""
        if isinstance(raw_sig, str):
            signature = binascii.a2b_base64(raw_sig, strict_mode=True)
    except (binascii.Error, ValueError):
        signature = b""
    if len(signature) != 64:
        return SignatureCheck(False, key_id, "signature encoding invalid")
    if not keys:
        return SignatureCheck(False, key_id, "public key not configured", skipped=True)
    candidates = [k for k in keys if not key_id or k.key_id == key_id]
    if not candidates:
        if explicit:
            return SignatureCheck(False, key_id, "key id mismatch")
        return SignatureCheck(False, key_id, "signer key not in trust store", skipped=True)
    message = bytes.fromhex(digest_hex)
    for key in candidates:
        if key.verify(signature, message):
            return SignatureCheck(True, key.key_id)
    return SignatureCheck(False, key_id, "signature verification failed")
