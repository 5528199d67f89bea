"""Ed25519 keys in the reference's file format.

A key file is one line of padded standard base64 of the raw bytes: 64 bytes (seed then public
key) for a private key, 32 for a public one. No PEM, so keys move between implementations.
"""

from __future__ import annotations

import binascii  # not base64: its import loads re and struct for what binascii does here
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from gait.errors import InvalidInput
from gait.sha import sha256

# cryptography is imported by the functions that sign, verify or derive a key (issue 14 item 6):
# reading key text, key ids and an unsigned runpack's verify need none of it, and its import was
# a tenth of a ``gait verify`` process.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

_ED25519: list[Any] = []


def _ed25519() -> Any:
    """Where Ed25519 key objects are made: cryptography's Rust binding ``openssl.ed25519``,
    which the public ``Ed25519PrivateKey.from_private_bytes`` / ``generate`` and
    ``Ed25519PublicKey.from_public_bytes`` call and whose objects they return. Imported alone it
    skips the public module's own imports (cryptography.utils, typing, the serialization enums,
    hashes): a twelfth of a ``gait gate eval`` process (issue 16 item 6). A cryptography without
    that binding gets the public classes' same-named constructors."""
    if not _ED25519:
        try:
            from cryptography.hazmat.bindings._rust import openssl

            binding: Any = openssl.ed25519
            for name in ("from_private_bytes", "from_public_bytes", "generate_key"):
                getattr(binding, name)
        except (ImportError, AttributeError):  # pragma: no cover - another cryptography
            from types import SimpleNamespace

            from cryptography.hazmat.primitives.asymmetric.ed25519 import (
                Ed25519PrivateKey,
                Ed25519PublicKey,
            )

            binding = SimpleNamespace(
                from_private_bytes=Ed25519PrivateKey.from_private_bytes,
                from_public_bytes=Ed25519PublicKey.from_public_bytes,
                generate_key=Ed25519PrivateKey.generate,
            )
        _ED25519.append(binding)
    return _ED25519[0]


def key_id_of(public_raw: bytes) -> str:
    return sha256(public_raw).hexdigest()


def _decode(text: str, what: str) -> bytes:
    try:
        return binascii.a2b_base64(text.strip(), strict_mode=True)
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
        return binascii.b2a_base64(self.raw, newline=False).decode() + "\n"

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            _public_key(self.raw).verify(signature, message)
        except (_invalid_signature(), ValueError):  # named only when something was raised
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
        private = _ed25519().generate_key()
        return cls.from_raw(private.private_bytes_raw() + private.public_key().public_bytes_raw())

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
        return binascii.b2a_base64(self.seed + self.public_raw, newline=False).decode() + "\n"

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
        private: Ed25519PrivateKey | None = self.__dict__.get("_private")
        if private is None:
            private = _ed25519().from_private_bytes(self.seed)
            object.__setattr__(self, "_private", private)
        return private

    def __getstate__(self) -> dict[str, object]:
        # The cached key object cannot be pickled; a copy rebuilds it on first use.
        state = dict(self.__dict__)
        state.pop("_private", None)
        return state


def _public_of(seed: bytes) -> bytes:
    return bytes(_ed25519().from_private_bytes(seed).public_key().public_bytes_raw())


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


def _invalid_signature() -> type[Exception]:
    """cryptography's InvalidSignature, imported when a check has raised: a good signature's
    check does not pay for the import statement."""
    from cryptography.exceptions import InvalidSignature

    return InvalidSignature


@functools.lru_cache(maxsize=64)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    """The key object for these 32 bytes, built once: building it is a tenth of checking one
    small signature. Keyed by the bytes themselves, so a changed or removed key never reuses
    another's object (and bad bytes raise ValueError every time: exceptions are not cached)."""
    return _ed25519().from_public_bytes(raw)  # type: ignore[no-any-return]
