"""Ed25519 keys in the reference's file format.

A key file is one line of padded standard base64 of the raw bytes: 64 bytes (seed then public
key) for a private key, 32 for a public one. No PEM, so keys move between implementations.
"""

from __future__ import annotations

import binascii  # not base64: its import loads re and struct for what binascii does here
import os
from pathlib import Path

from gait.errors import InvalidInput
from gait.plain import Frozen
from gait.sha import sha256

# libsodium (PyNaCl's own cffi module) is loaded by the functions that sign, verify or derive a
# key (issue 14 item 6): reading key text, key ids and an unsigned runpack's verify need none of
# it. It replaced cryptography's OpenSSL binding (issue 16 item 6): loading that binding cost a
# ``gait gate eval`` process 16 M instructions against 5 M, and OpenSSL's verify of one small
# signature took twice libsodium's time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_SODIUM: list[Any] = []
_SEED, _PUBLIC, _SECRET, _SIGNATURE = 32, 32, 64, 64


def _sodium() -> Any:
    """Ed25519 from libsodium, as three functions: ``seed_keypair(seed) -> (public, secret)``,
    ``sign(secret, message) -> signature`` and ``verify(signature, message, public) -> bool``.

    They call PyNaCl's compiled cffi module ``nacl._sodium`` directly: ``import nacl.bindings``
    (its public wrappers) runs 68 M instructions, most of a one-shot process, where ``ffi`` and
    ``lib`` alone take 5 M. ``nacl._sodium`` is private, so a PyNaCl without it (or without these
    functions) gets the same three through ``nacl.bindings``. PyNaCl's ``lib`` has no
    ``crypto_sign_detached``/``crypto_sign_verify_detached``: ``crypto_sign`` is that detached
    signature written in front of a copy of the message, and ``crypto_sign_open`` runs the same
    verification on signature then message (with NULL outputs it copies nothing).
    """
    if not _SODIUM:
        try:
            from nacl._sodium import ffi, lib  # type: ignore[import-not-found]

            for name in ("crypto_sign_seed_keypair", "crypto_sign", "crypto_sign_open"):
                getattr(lib, name)
            if lib.sodium_init() < 0:  # pragma: no cover - libsodium could not start
                raise RuntimeError("libsodium failed to initialise")
            _SODIUM.append(_cffi_functions(ffi, lib))
        except (ImportError, AttributeError):  # pragma: no cover - another PyNaCl
            _SODIUM.append(_binding_functions())
    return _SODIUM[0]


def _cffi_functions(ffi: Any, lib: Any) -> Any:
    from types import SimpleNamespace

    null = ffi.NULL

    def seed_keypair(seed: bytes) -> tuple[bytes, bytes]:
        if len(seed) != _SEED:  # cffi passes a pointer: libsodium reads exactly 32 bytes
            raise ValueError("an Ed25519 seed is 32 bytes")
        public = ffi.new("unsigned char[32]")
        secret = ffi.new("unsigned char[64]")
        if lib.crypto_sign_seed_keypair(public, secret, bytes(seed)) != 0:
            raise RuntimeError("libsodium could not derive the key pair")  # pragma: no cover
        return ffi.buffer(public)[:], ffi.buffer(secret)[:]

    def sign(secret: bytes, message: bytes) -> bytes:
        if len(secret) != _SECRET:
            raise ValueError("an Ed25519 secret key is 64 bytes")
        signed = ffi.new("unsigned char[]", _SIGNATURE + len(message))
        if lib.crypto_sign(signed, null, bytes(message), len(message), bytes(secret)) != 0:
            raise RuntimeError("libsodium could not sign")  # pragma: no cover
        return ffi.buffer(signed, _SIGNATURE)[:]  # type: ignore[no-any-return]

    def verify(signature: bytes, message: bytes, public: bytes) -> bool:
        if len(signature) != _SIGNATURE or len(public) != _PUBLIC:
            return False
        signed = bytes(signature) + bytes(message)
        return lib.crypto_sign_open(null, null, signed, len(signed), bytes(public)) == 0  # type: ignore[no-any-return]

    return SimpleNamespace(seed_keypair=seed_keypair, sign=sign, verify=verify)


def _binding_functions() -> Any:
    """The same three through PyNaCl's public ``nacl.bindings`` (slower to import)."""
    from types import SimpleNamespace

    from nacl import bindings
    from nacl.exceptions import BadSignatureError

    def seed_keypair(seed: bytes) -> tuple[bytes, bytes]:
        if len(seed) != _SEED:
            raise ValueError("an Ed25519 seed is 32 bytes")
        return bindings.crypto_sign_seed_keypair(bytes(seed))

    def sign(secret: bytes, message: bytes) -> bytes:
        if len(secret) != _SECRET:
            raise ValueError("an Ed25519 secret key is 64 bytes")
        return bindings.crypto_sign(bytes(message), bytes(secret))[:_SIGNATURE]

    def verify(signature: bytes, message: bytes, public: bytes) -> bool:
        if len(signature) != _SIGNATURE or len(public) != _PUBLIC:
            return False
        try:
            bindings.crypto_sign_open(bytes(signature) + bytes(message), bytes(public))
        except BadSignatureError:
            return False
        return True

    return SimpleNamespace(seed_keypair=seed_keypair, sign=sign, verify=verify)


def key_id_of(public_raw: bytes) -> str:
    return sha256(public_raw).hexdigest()


_P = 2**255 - 19  # the field's prime
_D = 37095705934669439343138083508754565189542113879843219016388785533085940283555  # -121665/121666
# The y coordinates of the 8 points of small order (libsodium's blocklist, ge25519_has_small_order):
# 1 (the neutral point), p - 1 (order 2), 0 (order 4) and the pair of order 8.
_Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
_SMALL_ORDER_Y = frozenset((0, 1, _P - 1, _Y8, _P - _Y8))


def public_key_problem(raw: bytes) -> str:
    """Why libsodium's verification refuses every signature under the 32-byte key ``raw``, or "".

    ``crypto_sign_verify_detached`` refuses such a key before any arithmetic: an encoding that is
    not canonical, a point of small order (under OpenSSL the neutral point's key accepted one
    fixed signature for every message) or no curve point at all (half of all 32-byte strings).
    A key file or trust-store entry holding one is refused when read, not after failing every
    signature. Pure Python, so reading a key loads no libsodium: x² = u/v has a root exactly when
    the Jacobi symbol of u·v is not -1 (v is never 0), about 0.3 M instructions against 1.4 M
    for Euler's ``pow``. A key with a small-order part added (never derived from a seed) is
    still a point libsodium verifies with, and is accepted, as libsodium accepts it. Each key
    is checked once a process: a gate eval reads the dev key's three times (its file, the trust
    store, the dev key id)."""
    raw = bytes(raw)
    found = _CHECKED.get(raw)
    if found is None:
        if len(_CHECKED) >= 256:
            _CHECKED.clear()
        found = _CHECKED[raw] = _point_problem(raw)
    return found


_CHECKED: dict[bytes, str] = {}


def _point_problem(raw: bytes) -> str:
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)  # the top bit is x's sign
    if y >= _P:
        return "is not canonically encoded (its y coordinate is 2^255-19 or more)"
    if y in _SMALL_ORDER_Y:
        return "is a point of small order (such as the neutral point)"
    y2 = y * y
    a, n, t = (y2 - 1) * (_D * y2 + 1) % _P, _P, 1
    while a:  # the Jacobi symbol (a/n) by quadratic reciprocity, n odd
        z = (a & -a).bit_length() - 1
        if z:
            a >>= z
            if z & 1 and n & 7 in (3, 5):
                t = -t
        if a & n & 2:
            t = -t
        a, n = n % a, a
    if t < 0:  # u/v is no square mod p
        return "is not a point on the Ed25519 curve"
    return ""


def _decode(text: str, what: str) -> bytes:
    try:
        return binascii.a2b_base64(text.strip(), strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"{what} is not base64 key text", code="E_KEY_INVALID") from exc


# Not dataclasses (gait.plain: the same constructor, equality, hash, repr, immutability and
# pickling): a gate decision signs its trace, and building these at import made every such
# process import dataclasses (issue 16 item 6).
class VerifyKey(Frozen):
    """An Ed25519 public key by its raw bytes; the key id is derived from them, never trusted."""

    __slots__ = _fields = ("raw", "key_id")
    raw: bytes
    key_id: str

    def __init__(self, raw: bytes, key_id: str) -> None:
        object.__setattr__(self, "raw", raw)
        object.__setattr__(self, "key_id", key_id)

    @classmethod
    def from_raw(cls, raw: bytes, what: str = "public key") -> VerifyKey:
        if len(raw) != 32:
            raise InvalidInput(f"{what} must be 32 bytes", code="E_KEY_INVALID")
        problem = public_key_problem(raw)
        if problem:
            raise InvalidInput(
                f"{what} {problem}: libsodium would refuse every signature under it",
                code="E_KEY_INVALID",
                hint="use the signer's public key as gait keys init wrote it "
                "(gait keys init --key-mode prod --out DIR makes a new pair)",
            )
        return cls(raw=raw, key_id=key_id_of(raw))

    @classmethod
    def from_text(cls, text: str, what: str = "public key") -> VerifyKey:
        """Public key text, or private key text (a private source can verify)."""
        raw = _decode(text, what)
        if len(raw) == 64:
            return SigningKey.from_raw(raw, what).public()
        if len(raw) != 32:
            raise InvalidInput(
                f"{what} must decode to 32 (public) or 64 (private) bytes, got {len(raw)}",
                code="E_KEY_INVALID",
            )
        return cls.from_raw(raw, what)

    def to_text(self) -> str:
        return binascii.b2a_base64(self.raw, newline=False).decode() + "\n"

    def verify(self, signature: bytes, message: bytes) -> bool:
        """libsodium's verification, which refuses some signatures OpenSSL accepted (a
        small-order key or R, a non-canonical key encoding: docs/formats.md section 2)."""
        return _sodium().verify(signature, message, self.raw)  # type: ignore[no-any-return]


class SigningKey(Frozen):
    """An Ed25519 private key kept as its 32-byte seed, so it can be written and read back raw."""

    # ``_secret`` is derived (see sign()), outside ``_fields``: never compared, shown or pickled
    __slots__ = ("seed", "public_raw", "key_id", "_secret")
    _fields = ("seed", "public_raw", "key_id")
    seed: bytes
    public_raw: bytes
    key_id: str
    _secret: bytes | None

    def __init__(self, seed: bytes, public_raw: bytes, key_id: str) -> None:
        _set = object.__setattr__
        _set(self, "seed", seed)
        _set(self, "public_raw", public_raw)
        _set(self, "key_id", key_id)
        _set(self, "_secret", None)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls._from_seed(os.urandom(_SEED))

    @classmethod
    def from_raw(cls, raw: bytes, what: str = "private key") -> SigningKey:
        if len(raw) not in (_SEED, _SEED + _PUBLIC):
            raise InvalidInput(
                f"{what} must be 64 bytes (seed then public key)", code="E_KEY_INVALID"
            )
        key = cls._from_seed(bytes(raw[:_SEED]))
        if len(raw) > _SEED and raw[_SEED:] != key.public_raw:
            raise InvalidInput(f"{what}: public half does not match the seed", code="E_KEY_INVALID")
        return key

    @classmethod
    def _from_seed(cls, seed: bytes) -> SigningKey:
        public, secret = _sodium().seed_keypair(seed)
        key = cls(seed=seed, public_raw=public, key_id=key_id_of(public))
        object.__setattr__(key, "_secret", secret)
        return key

    @classmethod
    def from_text(cls, text: str, what: str = "private key") -> SigningKey:
        return cls.from_raw(_decode(text, what), what)

    def to_text(self) -> str:
        return binascii.b2a_base64(self.seed + self.public_raw, newline=False).decode() + "\n"

    def public(self) -> VerifyKey:
        return VerifyKey(raw=self.public_raw, key_id=self.key_id)

    def sign(self, message: bytes) -> bytes:
        """Ed25519 over ``message`` with libsodium's 64-byte secret key, which
        ``crypto_sign_seed_keypair`` derives from the seed (seed then public key, recomputed
        from the seed: a SigningKey built field by field with a wrong ``public_raw`` still signs
        with its seed's own key). Kept in a slot outside ``_fields`` (so equality, repr and
        pickling are unchanged; ``object.__setattr__`` because the class is frozen); deriving
        it again would cost a third of a signature."""
        secret = self._secret
        if secret is None:
            secret = _sodium().seed_keypair(self.seed)[1]
            object.__setattr__(self, "_secret", secret)
        return _sodium().sign(secret, message)  # type: ignore[no-any-return]


def read_key_text(path: str | os.PathLike[str], what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidInput(f"{what} file not found: {path}", code="E_KEY_NOT_FOUND") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{what} file unreadable: {path}", code="E_KEY_INVALID") from exc


def read_env_text(var: str, what: str) -> str:
    value = os.environ.get(var, "")
    if not value.strip():
        raise InvalidInput(f"{what} variable {var} is empty or unset", code="E_KEY_NOT_FOUND")
    return value
