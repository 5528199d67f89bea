"""``registry_pack.json``: build, sign and verify a pack's metadata and files.

The metadata is signed as every Gait artifact is (FORMATS.md section 2): Ed25519 over the raw
bytes of ``H(metadata minus "signatures")``, so several publishers can co-sign one pack and a
signature never depends on key order or whitespace. Verification refuses, each with its own
code and exit 2: a path that escapes the pack, no signature, a signature that does not verify,
a signer outside the trust store or publisher allowlist, a file whose SHA-256 differs.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gait import __version__, timefmt
from gait.canon import digest, dumps_pretty, loads_strict
from gait.errors import InvalidInput, VerificationFailed
from gait.registry.backend import METADATA, PackSource, escape_error, path_problem
from gait.sign.keys import SigningKey, VerifyKey
from gait.sign.signature import check_signature, sign_digest

SCHEMA_ID = "gait.registry.pack"
SCHEMA_VERSION = "1.0.0"
MEDIA_TYPES = {
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".json": "application/json",
    ".jsonl": "application/jsonl",
    ".zip": "application/zip",
    ".md": "text/markdown",
    ".txt": "text/plain",
}


@dataclass
class TrustPolicy:
    """Who may publish: keys (trust store or explicit), mode, optional publisher allowlist."""

    keys: Sequence[VerifyKey] = ()
    key_modes: Mapping[str, str] = field(default_factory=dict)
    explicit: bool = False
    mode: str = "dev"
    publishers: frozenset[str] = frozenset()
    # key id -> publishers the trust store binds it to (``gait keys trust --publisher``)
    key_publishers: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass
class Verified:
    metadata: dict[str, Any]
    pack_digest: str
    signer_key_id: str
    signer_mode: str


def parse_metadata(raw: bytes, origin: str) -> dict[str, Any]:
    """Strict JSON, right schema id and version, then the schema (invalid input, exit 6)."""
    from gait import schema

    doc = loads_strict(raw, what=f"{origin} {METADATA}", code="E_REGISTRY_PACK_INVALID")
    if not isinstance(doc, dict) or doc.get("schema_id") != SCHEMA_ID:
        raise InvalidInput(
            f"{origin}: {METADATA} is not a {SCHEMA_ID} document", code="E_REGISTRY_PACK_INVALID"
        )
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise InvalidInput(
            f"{origin}: {METADATA} schema_version {doc.get('schema_version')!r} is not supported "
            f"(this gait reads {SCHEMA_VERSION})",
            code="E_REGISTRY_PACK_INVALID",
        )
    problems = schema.errors(SCHEMA_ID, doc)
    if problems:
        raise InvalidInput(
            f"{origin}: {METADATA} does not match {SCHEMA_ID}: " + "; ".join(problems[:3]),
            code="E_REGISTRY_PACK_INVALID",
            details={"errors": problems},
        )
    return doc


def pack_digest(metadata: Mapping[str, Any]) -> str:
    """What signatures cover: the metadata without its ``signatures``."""
    return digest({k: v for k, v in metadata.items() if k != "signatures"})


def check_paths(metadata: Mapping[str, Any], origin: str) -> None:
    seen: set[str] = set()
    for artifact in metadata["artifacts"]:
        path = artifact["path"]
        reason = path_problem(path)
        if not reason and path == METADATA:
            reason = f"an artifact cannot be named {METADATA}"
        if reason:
            raise escape_error(path, reason, origin)
        folded = path.casefold()
        if folded in seen:
            raise InvalidInput(
                f"{origin}: artifact {path!r} listed twice (paths compare case-insensitively)",
                code="E_REGISTRY_PACK_INVALID",
            )
        seen.add(folded)


def check_signatures(
    metadata: Mapping[str, Any], policy: TrustPolicy, origin: str
) -> tuple[str, str, str]:
    """(pack digest, signer key id, signer mode) of the first valid trusted signature."""
    sigs = metadata.get("signatures") or []
    if not sigs:
        raise VerificationFailed(
            f"pack {origin} is unsigned",
            code="E_REGISTRY_UNSIGNED",
            hint="the publisher signs it with gait registry sign",
        )
    want = pack_digest(metadata)
    errors: list[str] = []
    untrusted: list[str] = []
    for sig in sigs:
        result = check_signature(sig, want, policy.keys, explicit=policy.explicit)
        if result.ok:
            signer_mode = policy.key_modes.get(result.key_id, "prod" if policy.explicit else "")
            if policy.mode == "prod" and signer_mode == "dev":
                untrusted.append(f"{result.key_id[:16]} is a dev key (production mode)")
                continue
            unbound = _publisher_unbound(metadata, policy, result.key_id)
            if unbound:
                untrusted.append(unbound)
                continue
            return want, result.key_id, signer_mode
        if result.skipped or result.error == "key id mismatch":
            untrusted.append(f"{result.key_id[:16] or 'no key id'}: {result.error}")
        else:
            errors.append(f"{result.key_id[:16] or 'no key id'}: {result.error}")
    if errors:
        raise VerificationFailed(
            f"pack {origin}: signature invalid ({'; '.join(errors)})",
            code="E_REGISTRY_SIGNATURE_INVALID",
            hint="the pack or its metadata was changed after signing; get it again",
        )
    publisher = metadata.get("publisher", "")
    raise VerificationFailed(
        f"pack {origin}: no signature by a trusted publisher key ({'; '.join(untrusted)})",
        code="E_REGISTRY_UNTRUSTED_PUBLISHER",
        hint="if you trust this publisher: gait keys trust PUBLISHER_PUBLIC.key "
        f"--publisher {publisher}" + (" --key-mode prod" if policy.mode == "prod" else ""),
    )


def _publisher_unbound(metadata: Mapping[str, Any], policy: TrustPolicy, key_id: str) -> str:
    """Why ``key_id`` may not sign for the pack's declared publisher ("" when it may).

    A key bound to publishers signs only for them. An unbound key is accepted only in dev mode
    without an allowlist (a local convenience); once publishers matter (``--allow-publisher``
    or production) the key must be trusted for the declared publisher, so a trusted partner
    key cannot publish as someone else. A key named by ``--public-key`` is the user's choice.
    """
    if policy.explicit:
        return ""
    publisher = metadata["publisher"]
    bound = policy.key_publishers.get(key_id, frozenset())
    if publisher in bound:
        return ""
    if bound:
        return (
            f"{key_id[:16]} is trusted for publisher(s) {', '.join(sorted(bound))}, "
            f"not {publisher!r}"
        )
    if policy.publishers or policy.mode == "prod":
        return f"{key_id[:16]} is not trusted for publisher {publisher!r}"
    return ""


def check_publisher(metadata: Mapping[str, Any], policy: TrustPolicy, origin: str) -> None:
    if policy.publishers and metadata["publisher"] not in policy.publishers:
        allowed = ", ".join(sorted(policy.publishers))
        raise VerificationFailed(
            f"pack {origin}: publisher {metadata['publisher']!r} is not in the allowlist "
            f"({allowed})",
            code="E_REGISTRY_UNTRUSTED_PUBLISHER",
        )


def digest_problems(
    metadata: Mapping[str, Any], files: Mapping[str, bytes]
) -> list[dict[str, Any]]:
    """Every listed file that is missing or differs (all of them, for the report)."""
    problems = []
    for artifact in metadata["artifacts"]:
        path, expected = artifact["path"], artifact["sha256"].lower()
        data = files.get(path)
        if data is None:
            problems.append({"path": path, "expected": expected, "actual": ""})
            continue
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            problems.append({"path": path, "expected": expected, "actual": actual})
    return problems


def check_digests(metadata: Mapping[str, Any], files: Mapping[str, bytes], origin: str) -> None:
    problems = digest_problems(metadata, files)
    if problems:
        first = problems[0]
        state = "missing" if not first["actual"] else "SHA-256 differs"
        raise VerificationFailed(
            f"pack {origin}: {first['path']} {state} ({len(problems)} file(s) differ)",
            code="E_REGISTRY_DIGEST_MISMATCH",
            details={"mismatches": problems},
        )


def verify_source(source: PackSource, policy: TrustPolicy) -> Verified:
    """Everything but the downgrade check, which needs the installed state."""
    metadata = parse_metadata(source.metadata, source.origin)
    check_paths(metadata, source.origin)
    want, key_id, mode = check_signatures(metadata, policy, source.origin)
    check_publisher(metadata, policy, source.origin)
    check_digests(metadata, source.files, source.origin)
    return Verified(metadata, want, key_id, mode)


def media_type(path: str) -> str:
    _, ext = os.path.splitext(path.lower())
    return MEDIA_TYPES.get(ext, "application/octet-stream")


def created_at() -> str:
    """SOURCE_DATE_EPOCH when set, so a pack rebuilt from the same files is the same bytes."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        from datetime import UTC, datetime

        try:
            return timefmt.from_datetime(datetime.fromtimestamp(int(epoch), UTC))
        except (ValueError, OverflowError, OSError) as exc:
            raise InvalidInput(
                f"SOURCE_DATE_EPOCH is not a Unix time: {epoch!r}", code="E_USAGE"
            ) from exc
    return timefmt.now()


def build_metadata(
    files: Mapping[str, bytes],
    *,
    name: str,
    version: str,
    publisher: str,
    source: str = "local",
    pack_type: str = "",
    description: str = "",
) -> dict[str, Any]:
    """Unsigned metadata listing ``files`` (sorted by path), validated before it is returned."""
    from gait import schema

    doc: dict[str, Any] = {
        "schema_id": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "created_at": created_at(),
        "producer_version": __version__,
        "pack_name": name,
        "pack_version": version,
        "publisher": publisher,
        "source": source,
        "artifacts": [
            {"path": p, "sha256": hashlib.sha256(files[p]).hexdigest(), "media_type": media_type(p)}
            for p in sorted(files)
        ],
    }
    if pack_type:
        doc["pack_type"] = pack_type
    if description:
        doc["description"] = description
    schema.validate(SCHEMA_ID, doc, what=METADATA)
    for path in files:
        reason = path_problem(path)
        if reason:
            raise escape_error(path, reason, "being built")
    return doc


def add_signature(metadata: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """Sign, replacing an earlier signature by the same key and keeping co-signers'."""
    signature = sign_digest(key, pack_digest(metadata))
    others = [s for s in metadata.get("signatures") or [] if s.get("key_id") != key.key_id]
    signed = dict(metadata)
    signed["signatures"] = sorted([*others, signature], key=lambda s: s.get("key_id", ""))
    return signed


def metadata_bytes(metadata: Mapping[str, Any]) -> bytes:
    return dumps_pretty(dict(metadata))


def zip_members(metadata: Mapping[str, Any], files: Mapping[str, bytes]) -> list[tuple[str, bytes]]:
    """Metadata first, then listed files by path: the zip is the same bytes every build."""
    listed = [a["path"] for a in metadata["artifacts"]]
    return [(METADATA, metadata_bytes(metadata)), *((p, files[p]) for p in listed)]


def unlisted(metadata: Mapping[str, Any], files: Iterable[str]) -> list[str]:
    listed = {a["path"] for a in metadata["artifacts"]}
    return sorted(p for p in files if p not in listed)
