"""At-rest encryption of artifacts: AES-256-GCM, the reference's ``gait.guard.encrypted_artifact``.

The key (32 bytes, base64) comes from an environment variable or a command's output (a secret
manager's CLI), never from a flag's value, so it stays out of shell history and process lists.
GCM authenticates: a wrong key or an edited file fails to decrypt, and nothing is written then.
"""

from __future__ import annotations

import base64
import binascii
import os
import subprocess
from pathlib import Path
from typing import Any

from gait import __version__, timefmt
from gait.canon import canonical_bytes, loads_strict, sha256_hex
from gait.errors import InvalidInput, VerificationFailed
from gait.fsutil import atomic_write, read_input

SCHEMA_ID = "gait.guard.encrypted_artifact"
_KEYS = {
    "schema_id", "schema_version", "created_at", "producer_version", "algorithm", "key_source",
    "nonce", "ciphertext", "plain_sha256", "plain_size",
}  # fmt: skip


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(
            f"encryption key from {where} is not base64", code="E_GUARD_KEY_INVALID"
        ) from exc
    if len(key) != 32:
        raise InvalidInput(
            f"encryption key from {where} must be 32 bytes, got {len(key)}",
            code="E_GUARD_KEY_INVALID",
            hint="generate one: openssl rand -base64 32",
        )
    return key


def resolve_key(
    env: str | None, command: str | None, args: list[str]
) -> tuple[bytes, dict[str, str]]:
    if env:
        value = os.environ.get(env, "").strip()
        if not value:
            raise InvalidInput(
                f"encryption key variable {env} is empty",
                code="E_GUARD_KEY_MISSING",
                hint=f"export {env}=$(openssl rand -base64 32), or use --key-command",
            )
        return _decode_key(value, f"${env}"), {"mode": "env", "ref": env}
    if command:
        try:
            done = subprocess.run(
                [command, *[a.strip() for a in args if a.strip()]],
                capture_output=True,
                check=True,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise InvalidInput(
                f"key command {command} failed: {exc}", code="E_GUARD_KEY_COMMAND_FAILED"
            ) from exc
        return _decode_key(done.stdout.decode(errors="replace"), f"command {command}"), {
            "mode": "command",
            "command": command,
        }
    raise InvalidInput(
        "missing key source: provide --key-env or --key-command",
        code="E_GUARD_KEY_MISSING",
        hint="gait guard decrypt --in FILE --key-env VAR (32 bytes, base64)",
    )


def encrypt(
    path: Path, out: Path | None, key: bytes, source: dict[str, str]
) -> tuple[Path, dict[str, Any]]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    plain = read_input(path, "E_GUARD_INPUT_MISSING")
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plain, None)
    artifact: dict[str, Any] = {
        "schema_id": SCHEMA_ID,
        "schema_version": "1.0.0",
        "created_at": timefmt.now(),
        "producer_version": __version__,
        "algorithm": "aes-256-gcm",
        "key_source": source,
        "nonce": base64.b64encode(nonce).decode(),
        "ciphertext": base64.b64encode(sealed).decode(),
        "plain_sha256": sha256_hex(plain),
        "plain_size": len(plain),
    }
    target = out or path.with_name(path.name + ".gaitenc")
    atomic_write(target, canonical_bytes(artifact), mode=0o600)
    return target, artifact


def decrypt(path: Path, out: Path | None, key: bytes) -> tuple[Path, dict[str, Any]]:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    raw = read_input(path, "E_GUARD_INPUT_MISSING")
    doc = loads_strict(raw, what=str(path), code="E_GUARD_ENCRYPTED_INVALID")
    if not isinstance(doc, dict) or doc.get("schema_id") != SCHEMA_ID or set(doc) - _KEYS:
        raise InvalidInput(
            f"{path} is not a gait encrypted artifact", code="E_GUARD_ENCRYPTED_INVALID"
        )
    if doc.get("algorithm") != "aes-256-gcm":
        raise InvalidInput(
            f"unsupported algorithm {doc.get('algorithm')!r}", code="E_GUARD_ENCRYPTED_INVALID"
        )
    try:
        nonce = base64.b64decode(str(doc.get("nonce", "")), validate=True)
        sealed = base64.b64decode(str(doc.get("ciphertext", "")), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(
            f"{path}: nonce or ciphertext is not base64", code="E_GUARD_ENCRYPTED_INVALID"
        ) from exc
    try:
        plain = AESGCM(key).decrypt(nonce, sealed, None)
    except (InvalidTag, ValueError) as exc:
        raise VerificationFailed(
            f"cannot decrypt {path}: wrong key, or the ciphertext was changed",
            code="E_GUARD_DECRYPT_FAILED",
            hint="check the key source (--key-env / --key-command) used to encrypt it",
        ) from exc
    if sha256_hex(plain) != doc.get("plain_sha256") or len(plain) != doc.get("plain_size"):
        raise VerificationFailed(
            f"{path}: decrypted bytes do not match plain_sha256", code="E_GUARD_DECRYPT_FAILED"
        )
    target = out or (
        path.with_name(path.name[: -len(".gaitenc")])
        if path.name.endswith(".gaitenc")
        else path.with_name(path.name + ".dec")
    )
    atomic_write(target, plain, mode=0o600)
    return target, doc
