"""PackSpec v1: ``pack_<pack_id>.zip`` with ``pack_manifest.json`` (the reference's contract).

What the reference checks is what this module writes and checks, so a pack crosses between the
two implementations: the manifest holds exactly the reference's keys, ``pack_id`` is the JCS
digest of the manifest with an empty ``pack_id`` and no signatures, and a signature signs the
raw digest of the manifest without its signatures. Zip bytes may differ between the two
(deflate streams differ); only member bytes are hashed.

Every pack carries ``proof_records.jsonl`` as the reference's do (one hash-chained record per
member, gait.pack.proof); verify re-hashes its chain whenever it is present.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from gait import __version__, timefmt
from gait.canon import canonical_bytes, digest, loads_strict, sha256_hex
from gait.errors import DependencyMissing, GaitError, InvalidInput, VerificationFailed
from gait.fsutil import atomic_write
from gait.pack.proof import build_proof_records, entry_type, verify_proof_records
from gait.pack.zipread import read_zip, read_zip_bytes
from gait.runpack.archive import Members, zip_bytes
from gait.sign.keys import SigningKey, VerifyKey
from gait.sign.signature import check_signature, sign_digest

MANIFEST_NAME = "pack_manifest.json"
MANIFEST_SCHEMA_ID = "gait.pack.manifest"
SCHEMA_VERSION = "1.0.0"
DIFF_SCHEMA_ID = "gait.pack.diff"
PACK_TYPES = ("run", "job", "call", "authorization")
PROOF_RECORDS = "proof_records.jsonl"
RUN_PAYLOAD = "run_payload.json"
SOURCE_RUNPACK = "source/runpack.zip"
AUTH_BUNDLE = "authorization_bundle.json"
EPOCH = timefmt.EPOCH_1980
GUARD_SCHEMA_ID = "gait.guard.pack_manifest"
_MANIFEST_KEYS = frozenset(
    {
        "schema_id",
        "schema_version",
        "created_at",
        "producer_version",
        "pack_id",
        "pack_type",
        "source_ref",
        "contents",
        "signatures",
    }
)
_ENTRY_KEYS = frozenset({"path", "sha256", "type"})
_SIG_KEYS = frozenset({"alg", "key_id", "sig", "signed_digest"})
_RUN_PAYLOAD_KEYS = (
    "schema_id",
    "schema_version",
    "created_at",
    "run_id",
    "capture_mode",
    "manifest_digest",
    "intents_count",
    "results_count",
    "refs_count",
)
_RUN_PAYLOAD_OPTIONAL = (
    "context_set_digest",
    "context_ref_count",
    "context_evidence_mode",
    "context_privacy_mode",
)
AUTH_LINKS = (
    ("trace_path", "trace_digest"),
    ("approval_audit_path", "approval_audit_digest"),
    ("credential_evidence_path", "credential_evidence_digest"),
    ("delegation_audit_path", "delegation_audit_digest"),
    ("context_evidence_path", "context_evidence_digest"),
    ("outcome_path", "outcome_digest"),
)
_AUTH_KEYS = frozenset(
    {"schema_id", "schema_version", "created_at", "producer_version", "trace_id"}
    | {"policy_digest", "intent_digest", "outcome_status", "freeze_window", "kill_switch"}
    | {"sandbox"}
    | {name for pair in AUTH_LINKS for name in pair}
)
VERDICTS = ("allow", "block", "dry_run", "require_approval")


def _guard_hook(name: str) -> Any:
    """Guard evidence packs are verified by gait.guard when it is installed alongside."""
    try:
        from gait.guard import pack as guard_pack
    except ImportError as exc:
        raise DependencyMissing(
            "guard evidence packs need gait.guard", code="E_DEPENDENCY_MISSING"
        ) from exc
    return getattr(guard_pack, f"{name}_guard_pack")


def _bad(message: str, code: str, hint: str = "") -> VerificationFailed:
    return VerificationFailed(message, code=code, hint=hint or "gait pack verify <pack.zip> --json")


def is_hex64(value: Any) -> bool:
    if not isinstance(value, str) or len(value.strip()) != 64:
        return False
    try:
        bytes.fromhex(value.strip())
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Manifest


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad(f"pack manifest: {what} is not a string", "E_PACK_MANIFEST_INVALID")
    return value


def _go_time(value: Any, what: str) -> str:
    """A time as the reference re-prints it after parsing (UTC, shortest fraction)."""
    text = _text(value, what)
    try:
        return timefmt.canonical(text)
    except InvalidInput as exc:
        raise _bad(f"{what}: {exc.message}", "E_PACK_MANIFEST_INVALID") from exc


def normalize_manifest(raw: Any) -> dict[str, Any]:
    """The manifest as the reference's strict decoder sees it: unknown keys refused, known keys
    re-printed exactly as its encoder writes them (so the ``pack_id`` recomputes the same)."""
    if not isinstance(raw, dict):
        raise _bad("pack manifest is not a JSON object", "E_PACK_MANIFEST_INVALID")
    unknown = sorted(set(raw) - _MANIFEST_KEYS)
    if unknown:
        raise _bad(
            f"pack manifest has unknown keys: {', '.join(unknown)}", "E_PACK_MANIFEST_INVALID"
        )
    out: dict[str, Any] = {
        "schema_id": _text(raw.get("schema_id"), "schema_id"),
        "schema_version": _text(raw.get("schema_version"), "schema_version"),
        "created_at": _go_time(raw.get("created_at", timefmt.ZERO_TIME), "created_at"),
        "producer_version": _text(raw.get("producer_version"), "producer_version"),
        "pack_id": _text(raw.get("pack_id"), "pack_id"),
        "pack_type": _text(raw.get("pack_type"), "pack_type"),
        "source_ref": _text(raw.get("source_ref"), "source_ref"),
    }
    contents = raw.get("contents")
    if contents is None:
        raise _bad("pack manifest has no contents", "E_PACK_MANIFEST_INVALID")
    if not isinstance(contents, list):
        raise _bad("pack manifest contents is not a list", "E_PACK_MANIFEST_INVALID")
    entries = []
    for item in contents:
        if not isinstance(item, dict) or set(item) - _ENTRY_KEYS:
            raise _bad("pack manifest has a malformed contents entry", "E_PACK_MANIFEST_INVALID")
        entries.append({k: _text(item.get(k), f"contents.{k}") for k in ("path", "sha256", "type")})
    out["contents"] = entries
    signatures = raw.get("signatures")
    if signatures:
        if not isinstance(signatures, list):
            raise _bad("pack manifest signatures is not a list", "E_PACK_MANIFEST_INVALID")
        sigs = []
        for item in signatures:
            if not isinstance(item, dict) or set(item) - _SIG_KEYS:
                raise _bad("pack manifest has a malformed signature", "E_PACK_MANIFEST_INVALID")
            sig = {k: _text(item.get(k), f"signatures.{k}") for k in ("alg", "key_id", "sig")}
            if item.get("signed_digest"):
                sig["signed_digest"] = _text(item.get("signed_digest"), "signed_digest")
            sigs.append(sig)
        out["signatures"] = sigs
    _validate_manifest(out)
    return out


def _validate_manifest(manifest: dict[str, Any]) -> None:
    def fail(message: str) -> VerificationFailed:
        return _bad(f"pack manifest: {message}", "E_PACK_MANIFEST_INVALID")

    if manifest["schema_id"] != MANIFEST_SCHEMA_ID:
        raise fail(f"unsupported schema_id {manifest['schema_id']!r}")
    if manifest["schema_version"] != SCHEMA_VERSION:
        raise fail(f"unsupported schema_version {manifest['schema_version']!r}")
    if manifest["pack_type"] not in PACK_TYPES:
        raise fail(f"invalid pack_type {manifest['pack_type']!r}")
    if not manifest["source_ref"].strip():
        raise fail("missing source_ref")
    if manifest["created_at"] == timefmt.ZERO_TIME:
        raise fail("missing created_at")
    if not manifest["producer_version"].strip():
        raise fail("missing producer_version")
    if not is_hex64(manifest["pack_id"]):
        raise fail("pack_id must be sha256 hex")
    for entry in manifest["contents"]:
        if not entry["path"].strip():
            raise fail("a contents entry has no path")
        if not is_hex64(entry["sha256"]):
            raise fail(f"contents entry {entry['path']}: sha256 must be sha256 hex")
        if not entry["type"].strip():
            raise fail(f"contents entry {entry['path']}: type is required")
    for sig in manifest.get("signatures", []):
        if not (sig["alg"].strip() and sig["key_id"].strip() and sig["sig"].strip()):
            raise fail("signature fields alg, key_id and sig are required")
        if sig.get("signed_digest") and not is_hex64(sig["signed_digest"]):
            raise fail("signature signed_digest must be sha256 hex")


def compute_pack_id(manifest: Mapping[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "signatures"}
    body["pack_id"] = ""
    return digest(body)


def signable_digest(manifest: Mapping[str, Any]) -> str:
    return digest({k: v for k, v in manifest.items() if k != "signatures"})


# ---------------------------------------------------------------------------------------------
# Build


@dataclass
class Built:
    path: Path
    manifest: dict[str, Any]
    members: list[tuple[str, bytes]]


def build_pack(
    pack_type: str,
    source_ref: str,
    files: Sequence[tuple[str, bytes]],
    *,
    key: SigningKey | None = None,
    producer_version: str = __version__,
) -> tuple[bytes, dict[str, Any]]:
    """Zip bytes and manifest of a pack holding ``files``, byte-for-byte reproducible."""
    if pack_type not in PACK_TYPES:
        raise InvalidInput(f"unsupported pack type {pack_type!r}", code="E_PACK_TYPE_UNSUPPORTED")
    names = [name for name, _ in files]
    if len(set(names)) != len(names) or MANIFEST_NAME in names or PROOF_RECORDS in names:
        raise InvalidInput("pack members must have distinct names", code="E_PACK_BUILD_INVALID")
    producer = producer_version.strip() or "0.0.0-dev"
    source = source_ref.strip()
    records = build_proof_records(pack_type, source, producer, EPOCH, files, key)
    files = [*files, (PROOF_RECORDS, records)]
    contents = sorted(
        (
            {"path": name, "sha256": sha256_hex(data), "type": entry_type(name)}
            for name, data in files
        ),
        key=lambda e: e["path"],
    )
    manifest: dict[str, Any] = {
        "schema_id": MANIFEST_SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "created_at": EPOCH,
        "producer_version": producer,
        "pack_id": "",
        "pack_type": pack_type,
        "source_ref": source,
        "contents": contents,
    }
    manifest["pack_id"] = compute_pack_id(manifest)
    if key is not None:
        manifest["signatures"] = [sign_digest(key, signable_digest(manifest))]
    members = sorted([*files, (MANIFEST_NAME, canonical_bytes(manifest))])
    return zip_bytes(members), manifest


def write_pack(
    data: bytes, manifest: Mapping[str, Any], out: str | Path | None, fallback_dir: Path
) -> Path:
    target = Path(out) if out else fallback_dir / f"pack_{manifest['pack_id']}.zip"
    return atomic_write(target, data, mode=0o600)


def _runpack_members(path: Path) -> tuple[Members, Any]:
    from gait.runpack.reader import runpack_from_members

    members = read_zip(path, what="runpack")
    if "manifest.json" not in members.data:
        raise InvalidInput(
            f"{path} is not a runpack (no manifest.json)", code="E_PACK_SOURCE_INVALID"
        )
    try:
        return members, runpack_from_members(members)
    except GaitError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(
            f"runpack {path} cannot be read: {exc}", code="E_PACK_SOURCE_INVALID"
        ) from exc


def privacy_mode(receipts: Sequence[Mapping[str, Any]]) -> str:
    if not receipts:
        return ""
    modes = {str(r.get("redaction_mode", "")).strip() or "unknown" for r in receipts}
    return modes.pop() if len(modes) == 1 else "mixed"


def run_payload(pack: Any) -> dict[str, Any]:
    refs = pack.refs if isinstance(pack.refs, dict) else {}
    receipts = [r for r in refs.get("receipts") or [] if isinstance(r, dict)]
    created = pack.run.get("created_at") if isinstance(pack.run, dict) else None
    payload: dict[str, Any] = {
        "schema_id": "gait.pack.run",
        "schema_version": SCHEMA_VERSION,
        "created_at": timefmt.canonical(created) if isinstance(created, str) and created else EPOCH,
        "run_id": pack.run.get("run_id", "") if isinstance(pack.run, dict) else "",
        "capture_mode": pack.manifest.get("capture_mode", ""),
        "manifest_digest": pack.manifest.get("manifest_digest", ""),
        "intents_count": len(pack.intents),
        "results_count": len(pack.results),
        "refs_count": len(receipts),
    }
    optional = {
        "context_set_digest": refs.get("context_set_digest") or "",
        "context_ref_count": len(receipts),
        "context_evidence_mode": refs.get("context_evidence_mode") or "",
        "context_privacy_mode": privacy_mode(receipts),
    }
    payload.update({k: v for k, v in optional.items() if v})
    if payload["created_at"] == timefmt.ZERO_TIME:
        payload["created_at"] = EPOCH
    return payload


def _context_record(receipt: Mapping[str, Any]) -> dict[str, Any]:
    def text(key: str) -> str:
        value = receipt.get(key)
        return value.strip() if isinstance(value, str) else ""

    record: dict[str, Any] = {
        "ref_id": text("ref_id"),
        "source_type": text("source_type"),
        "source_locator": text("source_locator"),
        "query_digest": text("query_digest").lower(),
        "content_digest": text("content_digest").lower(),
        "retrieved_at": EPOCH,
        "redaction_mode": text("redaction_mode"),
        "immutability": text("immutability").lower() or "unknown",
    }
    retrieved = receipt.get("retrieved_at")
    if isinstance(retrieved, str) and retrieved:
        stamp = timefmt.canonical(retrieved)
        record["retrieved_at"] = EPOCH if stamp == timefmt.ZERO_TIME else stamp
    if not all(record[k] for k in ("ref_id", "source_type", "source_locator", "redaction_mode")):
        raise InvalidInput(
            "a context receipt lacks ref_id/source_type/source_locator/redaction_mode",
            code="E_PACK_SOURCE_INVALID",
        )
    if not (is_hex64(record["query_digest"]) and is_hex64(record["content_digest"])):
        raise InvalidInput(
            "a context receipt digest is not sha256 hex", code="E_PACK_SOURCE_INVALID"
        )
    if record["immutability"] not in ("unknown", "mutable", "immutable"):
        raise InvalidInput(
            "a context receipt immutability is invalid", code="E_PACK_SOURCE_INVALID"
        )
    if text("sensitivity_label"):
        record["sensitivity_label"] = text("sensitivity_label")
    sla = receipt.get("freshness_sla_seconds")
    if isinstance(sla, int) and not isinstance(sla, bool) and sla:
        if sla < 0:
            raise InvalidInput("freshness_sla_seconds must be >= 0", code="E_PACK_SOURCE_INVALID")
        record["freshness_sla_seconds"] = sla
    params = receipt.get("retrieval_params")
    if isinstance(params, dict) and params:
        record["retrieval_params"] = params
    return record


def context_envelope(refs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The reference's ``context_envelope.json`` for a run with context receipts."""
    receipts = [r for r in refs.get("receipts") or [] if isinstance(r, dict)]
    if not receipts:
        return None
    records = sorted(
        (_context_record(r) for r in receipts),
        key=lambda r: (r["ref_id"], r["source_type"], r["source_locator"], r["content_digest"]),
    )
    computed = digest(records)
    given = str(refs.get("context_set_digest") or "").strip().lower()
    if given and given != computed:
        raise InvalidInput(
            "refs context_set_digest does not match its receipts",
            code="E_PACK_CONTEXT_DIGEST_MISMATCH",
            hint="re-record the run; its refs.json was edited",
        )
    mode = str(refs.get("context_evidence_mode") or "").strip().lower() or "best_effort"
    if mode not in ("best_effort", "required"):
        raise InvalidInput("context evidence mode is invalid", code="E_PACK_SOURCE_INVALID")
    created = refs.get("created_at")
    stamp = timefmt.canonical(created) if isinstance(created, str) and created else EPOCH
    run_id = str(refs.get("run_id") or "").strip()
    if not run_id:
        raise InvalidInput("refs.json has no run_id", code="E_PACK_SOURCE_INVALID")
    return {
        "schema_id": "gait.context.envelope",
        "schema_version": SCHEMA_VERSION,
        "created_at": EPOCH if stamp == timefmt.ZERO_TIME else stamp,
        "producer_version": str(refs.get("producer_version") or "").strip() or "0.0.0-dev",
        "context_set_id": run_id,
        "context_set_digest": computed,
        "evidence_mode": mode,
        "records": records,
    }


def normalized_runpack_zip(members: Members) -> bytes:
    """The runpack re-zipped deterministically (the pack hashes these bytes, not the input's)."""
    return zip_bytes(sorted(members.data.items()))


def build_run_pack(
    runpack_path: Path, *, out: str | None = None, key: SigningKey | None = None
) -> Built:
    members, pack = _runpack_members(runpack_path)
    payload = run_payload(pack)
    files: list[tuple[str, bytes]] = [
        (RUN_PAYLOAD, canonical_bytes(payload)),
        (SOURCE_RUNPACK, normalized_runpack_zip(members)),
    ]
    envelope = context_envelope(pack.refs) if isinstance(pack.refs, dict) else None
    if envelope is not None:
        files.append(("context_envelope.json", canonical_bytes(envelope)))
    data, manifest = build_pack("run", str(payload["run_id"]), files, key=key)
    path = write_pack(data, manifest, out, runpack_path.parent)
    return Built(path, manifest, files)


def build_call_pack(
    record_path: Path, *, out: str | None = None, key: SigningKey | None = None
) -> Built:
    """A call pack from a ``gait.voice.call_record`` file (core/pack/callpack.go BuildCallPack)."""
    from gait.pack.callpack import call_members

    call_id, files = call_members(record_path)
    data, manifest = build_pack("call", call_id, files, key=key)
    path = write_pack(data, manifest, out, record_path.parent)
    return Built(path, manifest, files)


# ---------------------------------------------------------------------------------------------
# Authorization packs


def _archive_rel(name: str) -> str:
    cleaned = name.strip().replace("\\", "/")
    if not cleaned:
        return ""
    parts: list[str] = []
    for part in cleaned.split("/"):
        if part in ("", "."):
            continue
        if part == ".." and parts and parts[-1] != "..":
            parts.pop()
        else:
            parts.append(part)
    joined = "/".join(parts)
    return ("/" + joined) if cleaned.startswith("/") else (joined or ".")


def evidence_digest(name: str, data: bytes) -> str:
    """A linked file's digest: JCS digest for ``.json`` evidence, raw SHA-256 otherwise."""
    if PurePosixPath(name.strip()).suffix.lower() == ".json":
        return digest(loads_strict(data, what=name, code="E_PACK_EVIDENCE_INVALID"))
    return sha256_hex(data)


def _auth_bundle(raw: Any, base: Path) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    def fail(message: str) -> InvalidInput:
        return InvalidInput(f"authorization bundle: {message}", code="E_PACK_AUTH_BUNDLE_INVALID")

    if not isinstance(raw, dict):
        raise fail("not a JSON object")
    unknown = sorted(set(raw) - _AUTH_KEYS)
    if unknown:
        raise fail(f"unknown keys: {', '.join(unknown)}")
    bundle = dict(raw)
    bundle["schema_id"] = bundle.get("schema_id") or "gait.gate.authorization_bundle"
    if bundle["schema_id"] != "gait.gate.authorization_bundle":
        raise fail("schema_id must be gait.gate.authorization_bundle")
    bundle["schema_version"] = bundle.get("schema_version") or SCHEMA_VERSION
    if bundle["schema_version"] != SCHEMA_VERSION:
        raise fail("schema_version must be 1.0.0")
    created = bundle.get("created_at")
    stamp = timefmt.canonical(created) if isinstance(created, str) and created else EPOCH
    bundle["created_at"] = EPOCH if stamp == timefmt.ZERO_TIME else stamp
    bundle["producer_version"] = str(bundle.get("producer_version") or "").strip() or __version__
    bundle["trace_id"] = str(bundle.get("trace_id") or "").strip()
    for key in ("policy_digest", "intent_digest"):
        bundle[key] = str(bundle.get(key) or "").strip().lower()
    if (
        not bundle["trace_id"]
        or not is_hex64(bundle["policy_digest"])
        or not is_hex64(bundle["intent_digest"])
    ):
        raise fail("trace_id, policy_digest and intent_digest are required")
    status = bundle.get("outcome_status") or ""
    if status and status not in VERDICTS:
        raise fail("outcome_status must be allow|block|dry_run|require_approval")
    files: list[tuple[str, bytes]] = []
    for path_key, digest_key in AUTH_LINKS:
        rel = str(bundle.get(path_key) or "").strip()
        given = str(bundle.get(digest_key) or "").strip().lower()
        bundle.pop(path_key, None)
        bundle.pop(digest_key, None)
        if not rel:
            if given:
                raise fail(f"{digest_key} given without {path_key}")
            continue
        cleaned = _archive_rel(rel)
        if cleaned in ("", ".", "..") or cleaned.startswith(("/", "../")):
            raise fail(f"evidence path must be local and relative: {rel}")
        try:
            data = (base / cleaned).read_bytes()
        except OSError as exc:
            raise InvalidInput(
                f"cannot read authorization evidence {rel}: {exc.strerror}",
                code="E_PACK_EVIDENCE_MISSING",
            ) from exc
        computed = evidence_digest(cleaned, data)
        if given and given != computed:
            raise InvalidInput(
                f"authorization evidence {rel}: digest mismatch",
                code="E_PACK_EVIDENCE_DIGEST_MISMATCH",
            )
        bundle[path_key] = cleaned
        bundle[digest_key] = computed
        member = f"evidence/{cleaned}"
        if member not in {name for name, _ in files}:
            files.append((member, data))
    return bundle, files


def build_authorization_pack(
    bundle_path: Path, *, out: str | None = None, key: SigningKey | None = None
) -> Built:
    try:
        raw = loads_strict(bundle_path.read_bytes(), what=str(bundle_path))
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {bundle_path}: {exc.strerror}", code="E_PACK_SOURCE_INVALID"
        ) from exc
    bundle, files = _auth_bundle(raw, bundle_path.parent)
    files.append((AUTH_BUNDLE, canonical_bytes(bundle)))
    data, manifest = build_pack(
        "authorization",
        bundle["trace_id"],
        files,
        key=key,
        producer_version=bundle["producer_version"],
    )
    path = write_pack(data, manifest, out, bundle_path.parent)
    return Built(path, manifest, files)


# ---------------------------------------------------------------------------------------------
# Verify


@dataclass
class PackVerifyOptions:
    keys: tuple[VerifyKey, ...] = ()
    explicit_keys: bool = False
    require_signature: bool = False


@dataclass
class PackVerifyResult:
    pack_id: str = ""
    pack_type: str = ""
    source_ref: str = ""
    files_checked: int = 0
    proof_records_verified: int = 0
    missing_files: list[str] = field(default_factory=list)
    hash_mismatches: list[dict[str, str]] = field(default_factory=list)
    undeclared_files: list[str] = field(default_factory=list)
    signature_status: str = "missing"
    signature_errors: list[str] = field(default_factory=list)
    signatures_total: int = 0
    signatures_valid: int = 0
    legacy_type: str = ""
    signer_key_id: str = ""

    def integrity_ok(self) -> bool:
        return not (self.missing_files or self.hash_mismatches or self.undeclared_files)

    def ok(self, require_signature: bool) -> bool:
        if not self.integrity_ok():
            return False
        if require_signature:
            return self.signature_status == "verified"
        return self.signature_status != "failed"

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"files_checked": self.files_checked}
        optional = {
            "pack_id": self.pack_id,
            "pack_type": self.pack_type,
            "source_ref": self.source_ref,
            "proof_records_verified": self.proof_records_verified,
            "missing_files": sorted(self.missing_files),
            "hash_mismatches": sorted(self.hash_mismatches, key=lambda m: m["path"]),
            "undeclared_files": sorted(self.undeclared_files),
            "signature_status": self.signature_status,
            "signature_errors": sorted(self.signature_errors),
            "signatures_total": self.signatures_total,
            "signatures_valid": self.signatures_valid,
            "legacy_type": self.legacy_type,
            "signer_key_id": self.signer_key_id,
        }
        doc.update({k: v for k, v in optional.items() if v})
        return doc

    def failing_link(self) -> str:
        """The first thing that failed, named for a one-line message."""
        if self.missing_files:
            return f"member {sorted(self.missing_files)[0]} is missing"
        if self.hash_mismatches:
            return f"member {sorted(m['path'] for m in self.hash_mismatches)[0]} was changed"
        if self.undeclared_files:
            return f"member {sorted(self.undeclared_files)[0]} is not in the manifest"
        if self.signature_errors:
            return f"signature: {sorted(self.signature_errors)[0]}"
        return f"signature {self.signature_status}"

    def error_code(self) -> str:
        if self.missing_files:
            return "E_PACK_MEMBER_MISSING"
        if self.hash_mismatches:
            return "E_PACK_HASH_MISMATCH"
        if self.undeclared_files:
            return "E_PACK_UNDECLARED_MEMBER"
        if self.signature_status == "failed" and self.signatures_total:
            return "E_PACK_SIGNATURE_INVALID"
        return "E_PACK_SIGNATURE_REQUIRED"


def _doc(members: Members, name: str, code: str) -> Any:
    try:
        return loads_strict(members.data[name], what=name, code=code)
    except GaitError as exc:
        raise _bad(f"{name}: {exc.message}", code) from exc


def check_signatures(
    result: PackVerifyResult,
    signatures: list[dict[str, Any]],
    digest_hex: str,
    opts: PackVerifyOptions,
) -> None:
    result.signatures_total = len(signatures)
    if not signatures:
        result.signature_status = "missing"
        if opts.require_signature:
            result.signature_errors.append("manifest has no signatures")
        return
    checks = [
        check_signature(s, digest_hex, opts.keys, explicit=opts.explicit_keys) for s in signatures
    ]
    result.signatures_valid = sum(1 for c in checks if c.ok)
    if result.signatures_valid:
        result.signature_status = "verified"
        result.signer_key_id = next(c.key_id for c in checks if c.ok)
    elif all(c.skipped for c in checks):
        result.signature_status = "skipped"
        result.signature_errors.append("public key not configured")
    else:
        result.signature_status = "failed"
    result.signature_errors.extend(
        c.error for c in checks if c.error and not c.ok and not c.skipped
    )


def verify_pack(path: str | Path, opts: PackVerifyOptions | None = None) -> PackVerifyResult:
    """Verify a PackSpec pack, a plain runpack, or a guard evidence pack (by what it holds)."""
    opts = opts or PackVerifyOptions()
    members = read_zip(path)
    if MANIFEST_NAME not in members.data:
        if "manifest.json" in members.data:
            return _verify_legacy_runpack(path, opts)
        raise InvalidInput(
            f"{path} is neither a pack nor a runpack (no {MANIFEST_NAME})",
            code="E_PACK_MANIFEST_MISSING",
            hint="gait pack build --type run --from <run_id>",
        )
    raw = _doc(members, MANIFEST_NAME, "E_PACK_MANIFEST_INVALID")
    if isinstance(raw, dict) and raw.get("schema_id") == GUARD_SCHEMA_ID:
        guard_result: PackVerifyResult = _guard_hook("verify")(path, members, raw, opts)
        return guard_result
    manifest = normalize_manifest(raw)
    expected = compute_pack_id(manifest)
    if expected.lower() != manifest["pack_id"].lower():
        raise _bad(
            f"pack_id mismatch: the manifest says {manifest['pack_id'][:16]}..., its contents "
            f"hash to {expected[:16]}...",
            "E_PACK_ID_MISMATCH",
        )
    result = PackVerifyResult(
        pack_id=manifest["pack_id"],
        pack_type=manifest["pack_type"],
        source_ref=manifest["source_ref"],
        files_checked=len(manifest["contents"]),
    )
    declared = set()
    for entry in manifest["contents"]:
        declared.add(entry["path"])
        actual = members.sha256.get(entry["path"])
        if actual is None:
            result.missing_files.append(entry["path"])
        elif actual.lower() != entry["sha256"].lower():
            result.hash_mismatches.append(
                {"path": entry["path"], "expected": entry["sha256"], "actual": actual}
            )
    result.undeclared_files = [n for n in members.data if n != MANIFEST_NAME and n not in declared]
    mismatched = {m["path"] for m in result.hash_mismatches}
    proof_errors: list[str] = []
    if PROOF_RECORDS in members.data and PROOF_RECORDS not in mismatched:
        proof = verify_proof_records(
            members.data[PROOF_RECORDS],
            keys=opts.keys,
            explicit_keys=opts.explicit_keys,
            require_signature=opts.require_signature,
        )
        result.proof_records_verified = proof.verified
        proof_errors = proof.signature_errors
    if result.integrity_ok():
        check_payload_contracts(members, manifest)
    check_signatures(result, manifest.get("signatures", []), signable_digest(manifest), opts)
    if opts.require_signature and proof_errors:
        # core/pack/pack.go Verify: a required signature fails on any unsigned or badly signed
        # proof record, whatever the manifest's own signature says.
        result.signature_status = "failed"
        result.signature_errors.extend(proof_errors)
    return result


def _verify_legacy_runpack(path: str | Path, opts: PackVerifyOptions) -> PackVerifyResult:
    from gait.runpack.verify import VerifyOptions, verify_runpack
    from gait.sign.keyring import load_keyring

    keyring = load_keyring()
    report = verify_runpack(
        path,
        VerifyOptions(
            keys=opts.keys if opts.explicit_keys else tuple(keyring.trusted_keys()),
            explicit_keys=opts.explicit_keys,
            require_signature=opts.require_signature,
            keyring=keyring,
        ),
    )
    result = PackVerifyResult(
        pack_id=report.manifest_digest,
        pack_type="run",
        source_ref=report.run_id,
        files_checked=report.files_checked,
        missing_files=list(report.missing_files),
        hash_mismatches=[dict(m) for m in report.hash_mismatches],
        signature_status=report.signature_status,
        signature_errors=list(report.signature_errors),
        signatures_total=report.signatures_total,
        signatures_valid=report.signatures_valid,
        legacy_type="runpack",
        signer_key_id=report.signer_key_id,
    )
    if not report.ok and result.integrity_ok() and result.signature_status != "failed":
        codes = ", ".join(report.error_codes)
        raise _bad(f"runpack {path} fails verification ({codes})", report.error_codes[0])
    return result


def _strict_keys(doc: Any, allowed: Sequence[str], name: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise _bad(f"{name} is not a JSON object", "E_PACK_PAYLOAD_INVALID")
    unknown = sorted(set(doc) - set(allowed))
    if unknown:
        raise _bad(f"{name} has unknown keys: {', '.join(unknown)}", "E_PACK_PAYLOAD_INVALID")
    return doc


def check_payload_contracts(members: Members, manifest: Mapping[str, Any]) -> None:
    kind = manifest["pack_type"]
    if kind == "run":
        _check_run_payload(members, manifest)
    elif kind == "authorization":
        _check_authorization_payload(members)
    elif kind == "call":
        from gait.pack.callpack import verify_call_payload

        verify_call_payload(members, manifest["source_ref"])
    # job payload contracts need the reference's job runtime; their members are still
    # hash-checked above.


def _check_run_payload(members: Members, manifest: Mapping[str, Any]) -> None:
    for name in (RUN_PAYLOAD, SOURCE_RUNPACK):
        if name not in members.data:
            raise _bad(f"run pack is missing {name}", "E_PACK_PAYLOAD_INVALID")
    payload = _strict_keys(
        _doc(members, RUN_PAYLOAD, "E_PACK_PAYLOAD_INVALID"),
        (*_RUN_PAYLOAD_KEYS, *_RUN_PAYLOAD_OPTIONAL),
        RUN_PAYLOAD,
    )

    def fail(message: str) -> VerificationFailed:
        return _bad(f"{RUN_PAYLOAD}: {message}", "E_PACK_PAYLOAD_INVALID")

    if (
        payload.get("schema_id") != "gait.pack.run"
        or payload.get("schema_version") != SCHEMA_VERSION
    ):
        raise fail("schema must be gait.pack.run 1.0.0")
    if not str(payload.get("run_id") or "").strip():
        raise fail("run_id is required")
    if payload.get("capture_mode") not in ("reference", "raw"):
        raise fail("capture_mode must be reference or raw")
    if not is_hex64(payload.get("manifest_digest")):
        raise fail("manifest_digest must be sha256 hex")
    for key in ("intents_count", "results_count", "refs_count", "context_ref_count"):
        value = payload.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise fail(f"{key} must be a count")
    csd = payload.get("context_set_digest")
    if csd and not is_hex64(csd):
        raise fail("context_set_digest must be sha256 hex")
    if payload.get("context_evidence_mode", "") not in ("", "best_effort", "required"):
        raise fail("context_evidence_mode must be best_effort or required")
    if payload["run_id"] != manifest["source_ref"].strip():
        raise _bad(
            f"{RUN_PAYLOAD}: run_id {payload['run_id']!r} is not the pack's source_ref "
            f"{manifest['source_ref']!r}",
            "E_PACK_PAYLOAD_MISMATCH",
        )
    # Ours, beyond the reference: the embedded runpack must be the one the payload describes.
    inner = read_zip_bytes(members.data[SOURCE_RUNPACK], what=SOURCE_RUNPACK)
    inner_manifest = (
        _doc(inner, "manifest.json", "E_PACK_PAYLOAD_MISMATCH")
        if ("manifest.json" in inner.data)
        else {}
    )
    if not isinstance(inner_manifest, dict) or (
        str(inner_manifest.get("manifest_digest", "")).lower() != payload["manifest_digest"].lower()
    ):
        raise _bad(
            f"{SOURCE_RUNPACK} is not the runpack {RUN_PAYLOAD} describes (manifest differs)",
            "E_PACK_PAYLOAD_MISMATCH",
        )


def _check_authorization_payload(members: Members) -> None:
    if AUTH_BUNDLE not in members.data:
        raise _bad(f"authorization pack is missing {AUTH_BUNDLE}", "E_PACK_PAYLOAD_INVALID")
    bundle = _strict_keys(
        _doc(members, AUTH_BUNDLE, "E_PACK_PAYLOAD_INVALID"), tuple(_AUTH_KEYS), AUTH_BUNDLE
    )

    def fail(message: str, code: str = "E_PACK_PAYLOAD_INVALID") -> VerificationFailed:
        return _bad(f"{AUTH_BUNDLE}: {message}", code)

    if bundle.get("schema_id") != "gait.gate.authorization_bundle":
        raise fail("schema_id must be gait.gate.authorization_bundle")
    if bundle.get("schema_version") != SCHEMA_VERSION:
        raise fail("schema_version must be 1.0.0")
    if not (
        bundle.get("created_at")
        and str(bundle.get("trace_id") or "").strip()
        and is_hex64(bundle.get("policy_digest"))
        and is_hex64(bundle.get("intent_digest"))
    ):
        raise fail("created_at, trace_id, policy_digest and intent_digest are required")
    status = bundle.get("outcome_status") or ""
    if status and status not in VERDICTS:
        raise fail("outcome_status must be allow|block|dry_run|require_approval")
    for path_key, digest_key in AUTH_LINKS:
        rel = str(bundle.get(path_key) or "").strip()
        if not rel:
            continue
        member = f"evidence/{_archive_rel(rel)}"
        if member not in members.data:
            raise fail(f"{member} is missing")
        actual = evidence_digest(rel, members.data[member])
        if actual != str(bundle.get(digest_key) or "").strip().lower():
            raise fail(f"{member} digest mismatch", "E_PACK_EVIDENCE_DIGEST_MISMATCH")
    if not (bundle.get("trace_path") and bundle.get("trace_digest")):
        raise fail("trace_path and trace_digest are required")
    if status and not (bundle.get("outcome_path") and bundle.get("outcome_digest")):
        raise fail("outcome_status needs outcome_path and outcome_digest")


# ---------------------------------------------------------------------------------------------
# Inspect and diff


def _runpack_of(data: bytes) -> Any:
    from gait.runpack.reader import runpack_from_members

    return runpack_from_members(read_zip_bytes(data, what=SOURCE_RUNPACK))


def run_lineage(pack: Any) -> dict[str, Any]:
    links: dict[str, dict[str, str]] = {}
    for intent in pack.intents:
        iid = str(intent.get("intent_id", ""))
        links[iid] = {"intent_id": iid, "tool_name": str(intent.get("tool_name", ""))}
    for res in pack.results:
        iid = str(res.get("intent_id", ""))
        link = links.setdefault(iid, {"intent_id": iid})
        link["status"] = str(res.get("status", ""))
    timeline = pack.run.get("timeline") if isinstance(pack.run, dict) else None
    receipts = pack.refs.get("receipts") if isinstance(pack.refs, dict) else None
    doc: dict[str, Any] = {
        "timeline_events": len(timeline or []),
        "receipt_count": len(receipts or []),
    }
    ordered = [{k: v for k, v in links[i].items() if v or k == "intent_id"} for i in sorted(links)]
    if ordered:
        doc["intent_results"] = ordered
    return doc


def _pack_or_runpack(path: str | Path) -> tuple[Members, Any]:
    """The zip's members, and the runpack it is when it is not a pack (a legacy input both
    inspect and diff accept); neither is ``E_PACK_MANIFEST_MISSING``."""
    members = read_zip(path)
    if MANIFEST_NAME in members.data:
        return members, None
    if "manifest.json" not in members.data:
        raise InvalidInput(
            f"{path} is neither a pack nor a runpack", code="E_PACK_MANIFEST_MISSING"
        )
    from gait.runpack.reader import runpack_from_members

    return members, runpack_from_members(members)


def inspect_pack(path: str | Path) -> dict[str, Any]:
    """The reference's inspect view: manifest, payload and lineage of what the pack holds."""
    members, pack = _pack_or_runpack(path)
    if pack is not None:
        return {
            "pack_id": pack.manifest.get("manifest_digest", ""),
            "pack_type": "run",
            "source_ref": pack.run_id,
            "run_payload": run_payload(pack),
            "run_lineage": run_lineage(pack),
            "legacy_type": "runpack",
        }
    raw = _doc(members, MANIFEST_NAME, "E_PACK_MANIFEST_INVALID")
    if isinstance(raw, dict) and raw.get("schema_id") == GUARD_SCHEMA_ID:
        guard_doc: dict[str, Any] = _guard_hook("inspect")(members, raw)
        return guard_doc
    manifest = normalize_manifest(raw)
    doc: dict[str, Any] = {
        "pack_id": manifest["pack_id"],
        "pack_type": manifest["pack_type"],
        "source_ref": manifest["source_ref"],
        "manifest": manifest,
    }
    kind = manifest["pack_type"]
    payload_name = {"run": RUN_PAYLOAD, "job": "job_payload.json", "call": "call_payload.json"}
    if kind in payload_name and payload_name[kind] in members.data:
        try:
            doc[f"{kind}_payload"] = loads_strict(members.data[payload_name[kind]])
        except GaitError:
            pass
    if kind == "run" and SOURCE_RUNPACK in members.data:
        try:
            doc["run_lineage"] = run_lineage(_runpack_of(members.data[SOURCE_RUNPACK]))
        except GaitError:
            pass
    if kind == "authorization" and AUTH_BUNDLE in members.data:
        try:
            bundle = loads_strict(members.data[AUTH_BUNDLE])
        except GaitError:
            bundle = None
        if isinstance(bundle, dict):
            doc["authorization_bundle"] = bundle
            linked = sum(1 for p, _ in AUTH_LINKS if str(bundle.get(p) or "").strip())
            required = sum(
                1
                for p, d in (AUTH_LINKS[0], AUTH_LINKS[-1])
                if str(bundle.get(p) or "").strip() and str(bundle.get(d) or "").strip()
            )
            meta = {
                "schema_id": "gait.pack.authorization",
                "schema_version": SCHEMA_VERSION,
                "created_at": bundle.get("created_at", EPOCH),
                "trace_id": bundle.get("trace_id", ""),
                "policy_digest": bundle.get("policy_digest", ""),
                "intent_digest": bundle.get("intent_digest", ""),
                "linked_evidence_count": linked,
                "required_evidence_count": required,
            }
            if str(bundle.get("outcome_status") or "").strip():
                meta["outcome_status"] = str(bundle["outcome_status"]).strip()
            doc["authorization_payload"] = meta
    return doc


@dataclass
class _Info:
    pack_id: str
    pack_type: str
    manifest_digest: str
    files: dict[str, str]
    refs: dict[str, Any] | None = None


def _info(path: str | Path) -> _Info:
    members, pack = _pack_or_runpack(path)
    if pack is not None:
        files = {
            str(e.get("path")): str(e.get("sha256"))
            for e in pack.manifest.get("files") or []
            if isinstance(e, dict)
        }
        md = str(pack.manifest.get("manifest_digest", ""))
        return _Info(md, "run", md, files, pack.refs if isinstance(pack.refs, dict) else None)
    raw = _doc(members, MANIFEST_NAME, "E_PACK_MANIFEST_INVALID")
    if isinstance(raw, dict) and raw.get("schema_id") == GUARD_SCHEMA_ID:
        guard = _guard_hook("inspect")(members, raw)["manifest"]
        files = {
            str(e.get("path")): str(e.get("sha256"))
            for e in guard.get("contents") or []
            if isinstance(e, dict)
        }
        return _Info(str(guard.get("pack_id", "")), "guard", digest(raw), files)
    manifest = normalize_manifest(raw)
    info = _Info(
        manifest["pack_id"],
        manifest["pack_type"],
        digest(raw),
        {e["path"]: e["sha256"] for e in manifest["contents"]},
    )
    if info.pack_type == "run" and SOURCE_RUNPACK in members.data:
        try:
            refs = _runpack_of(members.data[SOURCE_RUNPACK]).refs
            info.refs = refs if isinstance(refs, dict) else None
        except GaitError:
            info.refs = None
    return info


def _refs_norm(refs: dict[str, Any], *, runtime: bool) -> bytes:
    out = dict(refs)
    out["context_evidence_mode"] = str(out.get("context_evidence_mode") or "").strip().lower()
    receipts = [dict(r) for r in out.get("receipts") or [] if isinstance(r, dict)]
    for r in receipts:
        r["immutability"] = str(r.get("immutability") or "").strip().lower() or "unknown"
        r["retrieved_at"] = EPOCH if runtime else timefmt.canonical(r.get("retrieved_at") or EPOCH)
    out["receipts"] = sorted(receipts, key=lambda r: str(r.get("ref_id", "")))
    if not out.get("context_ref_count"):
        out["context_ref_count"] = len(receipts)
    if runtime:
        out.pop("context_set_digest", None)
    return canonical_bytes(out)


def context_drift(left: dict[str, Any], right: dict[str, Any]) -> tuple[str, bool, bool]:
    """(classification, changed, runtime-only) of two runs' refs, as the reference grades it."""
    if _refs_norm(left, runtime=False) == _refs_norm(right, runtime=False):
        return "none", False, False
    if _refs_norm(left, runtime=True) == _refs_norm(right, runtime=True):
        return "runtime_only", True, True
    return "semantic", True, False


def diff_packs(left_path: str | Path, right_path: str | Path) -> dict[str, Any]:
    left, right = _info(left_path), _info(right_path)
    added = sorted(set(right.files) - set(left.files))
    removed = sorted(set(left.files) - set(right.files))
    changed = sorted(
        k for k in set(left.files) & set(right.files) if left.files[k] != right.files[k]
    )
    manifest_delta = (
        left.manifest_digest != right.manifest_digest or left.pack_type != right.pack_type
    )
    drift, ctx_changed, runtime_only = "none", False, False
    if (
        left.pack_type == right.pack_type == "run"
        and left.refs is not None
        and right.refs is not None
    ):
        drift, ctx_changed, runtime_only = context_drift(left.refs, right.refs)
    summary: dict[str, Any] = {
        "changed": bool(manifest_delta or added or removed or changed or ctx_changed),
        "manifest_delta": manifest_delta,
        "context_drift_classification": drift,
    }
    optional = {
        "added_files": added,
        "removed_files": removed,
        "changed_files": changed,
        "context_changed": ctx_changed,
        "context_runtime_only_changes": runtime_only,
    }
    summary.update({k: v for k, v in optional.items() if v})
    return {
        "schema_id": DIFF_SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "created_at": EPOCH,
        "left_pack_id": left.pack_id,
        "right_pack_id": right.pack_id,
        "left_pack_type": left.pack_type,
        "right_pack_type": right.pack_type,
        "summary": summary,
    }


def extract_runpack(path: str | Path) -> bytes:
    """The runpack a run pack (or a plain runpack) holds."""
    members = read_zip(path)
    if "manifest.json" in members.data and MANIFEST_NAME not in members.data:
        return Path(path).read_bytes()
    if SOURCE_RUNPACK not in members.data:
        raise InvalidInput(f"{path} holds no runpack", code="E_PACK_SOURCE_INVALID")
    return members.data[SOURCE_RUNPACK]


def is_zip(path: Path) -> bool:
    return zipfile.is_zipfile(path)
