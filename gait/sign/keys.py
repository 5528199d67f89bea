"""Ed25519 keys in the reference's file format.

A key file is one line of padded standard base64 of the raw bytes: 64 bytes (seed then public
key) for a private key, 32 for a public one. No PEM, so keys move between implementations.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gait.errors import InvalidInput

# cryptography is imported by the functions that sign, verify or derive a key (issue 14 item 6):
# reading key text, key ids and an unsigned runpack's verify need none of it, and its import was
# a tenth of a ``gait verify`` process.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )


def _raw_formats() -> tuple[type[Encoding], type[PrivateFormat], type[PublicFormat]]:
    try:  # the enums alone: the public module also imports the SSH/PKCS12 code (20 ms per process)
        from cryptography.hazmat.primitives._serialization import (
            Encoding,
            PrivateFormat,
            PublicFormat,
        )
    except ImportError:  # pragma: no cover - a cryptography without the private module
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            PrivateFormat,
            PublicFormat,
        )
    return Encoding, PrivateFormat, PublicFormat


def key_id_of(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()


def _decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"{what} is not base64 key text", code="E_KEY_INVALID") from exc


@dataclass(frozen=True)
class VerifyKey:
    """An Ed25519 public key by its raw bytes; the key id is derived from them, never trusted."""

    raw: bytes
    key_id: str

    @classmethod
    def from_raw(cls, raw: bytes) -> VerifyKey:
        if len(raw) != 32:
            raise InvalidInput("public key must be 32 bytes", code="E_KEY_INVALID")
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
        return cls.from_raw(raw)

    def to_text(self) -> str:
        return base64.b64encode(self.raw).decode() + "\n"

    def verify(self, signature: bytes, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            _public_key(self.raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key kept as its 32-byte seed, so it can be written and read back raw."""

    seed: bytes
    public_raw: bytes
    key_id: str

    @classmethod
    def generate(cls) -> SigningKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        Encoding, PrivateFormat, PublicFormat = _raw_formats()
        private = Ed25519PrivateKey.generate()
        seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, _no_encryption())
        return cls.from_raw(
            seed + private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        )

    @classmethod
    def from_raw(cls, raw: bytes, what: str = "private key") -> SigningKey:
        if len(raw) == 32:
            raw = raw + _public_of(raw)
        if len(raw) != 64:
            raise InvalidInput(
                f"{what} must be 64 bytes (seed then public key)", code="E_KEY_INVALID"
            )
        seed, public_raw = raw[:32], raw[32:]
        if _public_of(seed) != public_raw:
            raise InvalidInput(f"{what}: public half does not match the seed", code="E_KEY_INVALID")
        return cls(seed=seed, public_raw=public_raw, key_id=key_id_of(public_raw))

    @classmethod
    def from_text(cls, text: str, what: str = "private key") -> SigningKey:
        return cls.from_raw(_decode(text, what), what)

    def to_text(self) -> str:
        return base64.b64encode(self.seed + self.public_raw).decode() + "\n"

    def public(self) -> VerifyKey:
        return VerifyKey(raw=self.public_raw, key_id=self.key_id)

    def sign(self, message: bytes) -> bytes:
        return self._private_key().sign(message)

    def _private_key(self) -> Ed25519PrivateKey:
        """The cryptography key object, built once per SigningKey.

        Rebuilding it from the seed costs as much as the signature itself. It is cached in the
        instance ``__dict__`` (not a dataclass field, so equality, repr and ``asdict`` are
        unchanged; ``object.__setattr__`` because the dataclass is frozen).
        """
        private = self.__dict__.get("_private")
        if private is None:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

            private = Ed25519PrivateKey.from_private_bytes(self.seed)
            object.__setattr__(self, "_private", private)
        return private

    def __getstate__(self) -> dict[str, object]:
        # The cached key object cannot be pickled; a copy rebuilds it on first use.
        state = dict(self.__dict__)
        state.pop("_private", None)
        return state


def _no_encryption() -> NoEncryption:
    try:  # as for the enums: the public module loads the SSH code (and inspect) for one class
        from cryptography.hazmat.primitives._serialization import NoEncryption
    except ImportError:  # pragma: no cover - a cryptography without the private module
        from cryptography.hazmat.primitives.serialization import NoEncryption

    return NoEncryption()


def _public_of(seed: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    Encoding, _, PublicFormat = _raw_formats()
    return (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )


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


@functools.lru_cache(maxsize=64)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    """The key object for these 32 bytes, built once: building it is a tenth of checking one
    small signature. Keyed by the bytes themselves, so a changed or removed key never reuses
    another's object (and bad bytes raise ValueError every time: exceptions are not cached)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(raw)
