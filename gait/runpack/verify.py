"""Offline verification of a runpack: container, member hashes, manifest digest, signatures,
signer trust and member schemas, each reported as a named check with its own failure code.
"""

from __future__ import annotations

from itertools import repeat
from pathlib import Path
from types import ModuleType

from gait.canon import is_plain
from gait.errors import InvalidInput
from gait.plain import Frozen, Plain
from gait.runpack import model
from gait.runpack.archive import (
    MAX_JSON_VALUES,
    MAX_LINE_BYTES,
    LimitExceeded,
    Limits,
    Members,
    read_members,
)
from gait.runpack.lines import (
    RecordStream,
    collector_paused,
    json_values,
    member_document,
    member_strict_records,
    strict_document,
)
from gait.runpack.manifest import known_keys, manifest_digest, signed_manifest_digest

# BLAKE2b from CPython's own module: hashlib (OpenSSL, 14M instructions to load) is imported
# only for a member big enough to hash faster with it (archive._OPENSSL_FROM).
try:
    from _blake2 import blake2b as _blake2b  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - a build without it
    from hashlib import blake2b as _blake2b

TYPE_CHECKING = False
if TYPE_CHECKING:  # signing modules (and typing) load only when a runpack carries signatures
    from typing import Any

    from gait.sign.keyring import Keyring
    from gait.sign.keys import VerifyKey

INPUT_INVALID = "E_VERIFY_INPUT_INVALID"
NOTES = {
    "missing": "unsigned local/dev artifacts are expected by default; "
    "use --require-signature for strict verification",
    "missing_required": "signatures are required in this mode; "
    "provide signing keys and re-run verify",
    "skipped": "signature checks were skipped because no verify key was provided",
    "verified": "signatures verified",
    "failed": "signature verification failed; "
    "inspect signature_errors and re-run with the correct key",
}
# Failures that are integrity problems (exit 2); anything else failing is invalid input (exit 6).
INTEGRITY_CODES = {
    "E_VERIFY_ARCHIVE",
    "E_VERIFY_UNSAFE_MEMBER",
    "E_VERIFY_MISSING_MEMBER",
    "E_VERIFY_UNLISTED_MEMBER",
    "E_VERIFY_HASH_MISMATCH",
    "E_VERIFY_MANIFEST_DIGEST",
    "E_VERIFY_SIGNATURE_INVALID",
    "E_VERIFY_SIGNATURE_MISSING",
    "E_VERIFY_UNTRUSTED_SIGNER",
    "E_VERIFY_DUPLICATE_ID",
}


# Not dataclasses (gait.plain: the same constructor, equality and repr): every ``gait verify``
# process defines them, and a dataclass is built by running Python over its fields at import.
class VerifyOptions(Frozen):
    """How strict a verify is and which keys it trusts."""

    __slots__ = _fields = (
        "keys",
        "explicit_keys",
        "require_signature",
        "require_trusted",
        "production",
        "keyring",
        "check_schemas",
        "limits",
    )
    keys: tuple[VerifyKey, ...]
    explicit_keys: bool
    require_signature: bool
    require_trusted: bool
    production: bool
    keyring: Keyring | None
    check_schemas: bool
    limits: Limits

    def __init__(
        self,
        keys: tuple[VerifyKey, ...] = (),
        explicit_keys: bool = False,
        require_signature: bool = False,
        require_trusted: bool = False,
        production: bool = False,
        keyring: Keyring | None = None,
        check_schemas: bool = True,
        limits: Limits | None = None,
    ) -> None:
        put = object.__setattr__
        put(self, "keys", keys)
        put(self, "explicit_keys", explicit_keys)
        put(self, "require_signature", require_signature)
        put(self, "require_trusted", require_trusted)
        put(self, "production", production)
        put(self, "keyring", keyring)
        put(self, "check_schemas", check_schemas)
        put(self, "limits", Limits() if limits is None else limits)


class Check(Plain):
    """One named check of a verify and its outcome."""

    __slots__ = _fields = ("name", "status", "code", "detail")

    def __init__(self, name: str, status: str, code: str = "", detail: str = "") -> None:
        self.name = name
        self.status = status
        self.code = code
        self.detail = detail

    def to_json(self) -> dict[str, str]:
        out = {"name": self.name, "status": self.status}
        if self.code:
            out["code"] = self.code
        if self.detail:
            out["detail"] = self.detail
        return out


class VerifyReport(Plain):
    """Everything a verify found, as the CLI and SDK report it."""

    __slots__ = _fields = (
        "path",
        "run_id",
        "manifest_digest",
        "files_checked",
        "missing_files",
        "unlisted_files",
        "unsafe_members",
        "hash_mismatches",
        "schema_errors",
        "signature_status",
        "signature_errors",
        "signatures_total",
        "signatures_valid",
        "signature_note",
        "signer_key_id",
        "signer_trusted",
        "signing_mode",
        "checks",
        "unknown_signers",
    )

    def __init__(
        self,
        path: str,
        run_id: str = "",
        manifest_digest: str = "",
        files_checked: int = 0,
        missing_files: list[str] | None = None,
        unlisted_files: list[str] | None = None,
        unsafe_members: list[dict[str, str]] | None = None,
        hash_mismatches: list[dict[str, str]] | None = None,
        schema_errors: list[str] | None = None,
        signature_status: str = "missing",
        signature_errors: list[str] | None = None,
        signatures_total: int = 0,
        signatures_valid: int = 0,
        signature_note: str = "",
        signer_key_id: str = "",
        signer_trusted: bool = False,
        signing_mode: str = "",
        checks: list[Check] | None = None,
        unknown_signers: list[str] | None = None,
    ) -> None:
        self.path = path
        self.run_id = run_id
        self.manifest_digest = manifest_digest
        self.files_checked = files_checked
        self.missing_files: list[str] = [] if missing_files is None else missing_files
        self.unlisted_files: list[str] = [] if unlisted_files is None else unlisted_files
        self.unsafe_members: list[dict[str, str]] = [] if unsafe_members is None else unsafe_members
        self.hash_mismatches: list[dict[str, str]] = (
            [] if hash_mismatches is None else hash_mismatches
        )
        self.schema_errors: list[str] = [] if schema_errors is None else schema_errors
        self.signature_status = signature_status
        self.signature_errors: list[str] = [] if signature_errors is None else signature_errors
        self.signatures_total = signatures_total
        self.signatures_valid = signatures_valid
        self.signature_note = signature_note
        self.signer_key_id = signer_key_id
        self.signer_trusted = signer_trusted
        self.signing_mode = signing_mode
        self.checks: list[Check] = [] if checks is None else checks
        # key ids of signatures no configured key covers (human output only; not in --json)
        self.unknown_signers: list[str] = [] if unknown_signers is None else unknown_signers

    @property
    def error_codes(self) -> list[str]:
        return sorted({c.code for c in self.checks if c.status == "fail" and c.code})

    @property
    def ok(self) -> bool:
        return not self.error_codes

    @property
    def exit_code(self) -> int:
        codes = self.error_codes
        if not codes:
            return 0
        return 2 if INTEGRITY_CODES.intersection(codes) else 6

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "ok": self.ok,
            "path": self.path,
            "run_id": self.run_id,
            "manifest_digest": self.manifest_digest,
            "files_checked": self.files_checked,
            "signature_status": self.signature_status,
            "signature_note": self.signature_note,
            "checks": [c.to_json() for c in self.checks],
        }
        if self.signer_key_id:
            doc["signer_trusted"] = self.signer_trusted
        optional = {
            "missing_files": self.missing_files,
            "unlisted_files": self.unlisted_files,
            "unsafe_members": self.unsafe_members,
            "hash_mismatches": self.hash_mismatches,
            "schema_errors": self.schema_errors,
            "signature_errors": self.signature_errors,
            "signatures_total": self.signatures_total,
            "signatures_valid": self.signatures_valid,
            "signer_key_id": self.signer_key_id,
            "signing_mode": self.signing_mode,
            "error_codes": self.error_codes,
        }
        doc.update({k: v for k, v in optional.items() if v})
        if self.run_id:
            doc["next_commands"] = self.next_commands()
        return doc

    def next_commands(self) -> list[str]:
        if self.ok:
            return [
                f"gait run replay {self.run_id}",
                f"gait regress init --from {self.run_id}",
                f"gait run inspect {self.run_id}",
            ]
        commands = [f"gait verify {self.path} --json"]
        if {"E_VERIFY_SIGNATURE_INVALID", "E_VERIFY_UNTRUSTED_SIGNER"} & set(self.error_codes):
            commands += ["gait keys list", "gait keys trust <signer_public.key>"]
        return commands


_LAZY: dict[str, Any] = {}  # modules and functions imported by the first verify needing them


def _schema() -> ModuleType:
    """``gait.schema``, imported when first needed (a ``from gait import schema`` in each
    check would run importlib's Python fromlist handling on every small verify)."""
    found = _LAZY.get("schema")
    if found is None:
        from gait import schema

        found = _LAZY["schema"] = schema
    return found


def _check_signature() -> Any:
    """``gait.sign.signature.check_signature`` (libsodium loads at its first check): only a
    signed runpack's verify pays for it, and only the first one imports it."""
    found = _LAZY.get("check_signature")
    if found is None:
        from gait.sign.signature import check_signature

        found = _LAZY["check_signature"] = check_signature
    return found


def _fail_input(message: str) -> InvalidInput:
    return InvalidInput(message, code=INPUT_INVALID, hint="gait demo  # to see a valid runpack")


def _parse_manifest(members: Members) -> dict[str, Any]:
    if members.data.get(model.MANIFEST) is None:
        raise _fail_input("runpack has no readable manifest.json")
    manifest = member_document(members, model.MANIFEST, code=INPUT_INVALID)
    if not isinstance(manifest, dict):
        raise _fail_input("manifest.json is not a JSON object")
    if manifest.get("schema_id") != "gait.runpack.manifest":
        raise _fail_input(f"manifest.json schema_id is {manifest.get('schema_id')!r}")
    if manifest.get("schema_version") != model.SCHEMA_VERSION:
        raise _fail_input(
            f"manifest.json schema_version {manifest.get('schema_version')!r} is not supported "
            f"(this gait reads {model.SCHEMA_VERSION})"
        )
    if not isinstance(manifest.get("run_id"), str) or not manifest["run_id"]:
        raise _fail_input("manifest.json has an empty run_id")
    files = manifest.get("files")
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(f.get("sha256"), str)
        for f in files
    ):
        raise _fail_input("manifest.json files must be a list of {path, sha256}")
    return manifest


PROFILES = ("standard", "strict")
MIB = 1024 * 1024


def archive_limits(
    member_mib: int = 256,
    total_mib: int = 1024,
    ratio: int = 200,
    line_mib: int = MAX_LINE_BYTES // MIB,
    json_values: int = MAX_JSON_VALUES,
) -> Limits:
    """Hostile-zip limits (``gait verify --max-member-mib/--max-total-mib/--max-ratio/
    --max-line-mib/--max-json-values``); each at least 1, so a limit can tighten the check but
    never switch it off."""
    if min(member_mib, total_mib, ratio, line_mib, json_values) < 1:
        raise InvalidInput(
            "--max-member-mib, --max-total-mib, --max-ratio, --max-line-mib and "
            "--max-json-values must be >= 1",
            code="E_USAGE",
        )
    return Limits(
        member_bytes=member_mib * MIB,
        total_bytes=total_mib * MIB,
        ratio=ratio,
        line_bytes=line_mib * MIB,
        json_values=json_values,
    )


def verification_options(
    *,
    mode: str = "dev",
    profile: str = "standard",
    require_signature: bool = False,
    require_trusted: bool = False,
    key: VerifyKey | None = None,
    keyring: Keyring | None = None,
    limits: Limits | None = None,
) -> VerifyOptions:
    """What a verification demands, decided in one place for ``gait verify`` and SDK callers.

    Production (``mode="prod"``) and the strict profile both require a signature by a trusted
    signer; production also applies the production signer rules (no dev-key signatures). A
    ``key`` given explicitly is the only key verified against (the trust store is not read for
    keys, but still says whether that signer is trusted); otherwise the trust store's keys are.
    """
    if mode not in ("dev", "prod"):
        raise InvalidInput(f"key mode must be dev or prod, not {mode!r}", code="E_USAGE")
    if profile not in PROFILES:
        raise InvalidInput(
            f"verify profile must be standard or strict, not {profile!r}", code="E_USAGE"
        )
    if keyring is None:
        from gait.sign.keyring import load_keyring

        keyring = load_keyring()
    production = mode == "prod"
    strict = profile == "strict" or production
    return VerifyOptions(
        limits=limits or Limits(),
        keys=(key,) if key else tuple(keyring.trusted_keys()),
        explicit_keys=key is not None,
        require_signature=require_signature or strict,
        require_trusted=require_trusted or strict,
        production=production,
        keyring=keyring,
    )


def verify_runpack(path: str | Path, options: VerifyOptions | None = None) -> VerifyReport:
    """Verify one runpack; raises InvalidInput only when it cannot be read as a runpack at all.

    Every member is checked as it inflates and nothing of it is kept past its block (see
    ``_Streamed``): memory is bounded by the limits, whatever the zip holds."""
    opts = options or VerifyOptions()
    streamed = _Streamed(opts)
    with collector_paused():  # a block's records are freed by refcount, never by a collection
        members = read_members(
            path, opts.limits, keep=frozenset(), sinks=streamed.sink, first=model.MANIFEST
        )
    members.data.update(streamed.docs)
    members.parsed.update(streamed.parsed)
    for name, stream in streamed.streams.items():
        streamed.checks[name].error = stream.error
    return _verify(path, members, opts, streamed.checks)


def verify_members(
    path: str | Path, members: Members, options: VerifyOptions | None = None
) -> VerifyReport:
    """Verify members already read with ``read_members``, so a caller that goes on to parse
    them (regress, replay, diff) reads and inflates the zip only once."""
    opts = options or VerifyOptions()
    return _verify(path, members, opts, None)


def _verify(
    path: str | Path,
    members: Members,
    opts: VerifyOptions,
    checks: dict[str, _RecordCheck] | None,
) -> VerifyReport:
    report = VerifyReport(path=str(path))
    _check_archive(report, members)
    if model.MANIFEST not in members.data and any(
        p.path == model.MANIFEST for p in members.problems
    ):
        return report  # the manifest itself was refused (bomb, lying header): nothing to check
    manifest = _parse_manifest(members)
    report.run_id = manifest["run_id"]
    report.manifest_digest = str(manifest.get("manifest_digest", ""))
    _check_files(report, members, manifest)
    known = known_keys(manifest)  # both digests are taken over these, walked once
    plain = is_plain(known)
    _check_manifest_digest(report, manifest, known, plain)
    _check_signatures(report, manifest, opts, known, plain)
    if checks is None:
        checks = _parsed_checks(members, manifest["run_id"], opts)
    if opts.check_schemas:
        _check_schemas(report, members, manifest, checks)
    _check_unique_ids(report, members, checks)
    return report


RECORD_MEMBERS = (model.INTENTS, model.RESULTS)
_SHORT_ID = 48  # longer intent ids are remembered by a 128-bit digest (bounded memory)


class _RecordCheck:
    """What verify checks of one ``.jsonl`` member, record by record, in one pass: schema and
    run id (the first 50 problems, in record order) and duplicate ``intent_id``s (the first
    three). Keeps only the ids seen, so it can take a member a block of records at a time."""

    def __init__(self, name: str, run_id: str | None, *, schemas: bool) -> None:
        self.name = name
        self.schema_id = model.SCHEMA_IDS[name]
        self.run_id = run_id
        self.schemas = schemas
        self.errors: list[str] = []
        self.duplicates: list[str] = []
        self.seen: set[str | bytes] = set()
        self.error = ""  # the member does not parse: this message, instead of the above

    def __call__(self, first: int, records: list[Any]) -> None:
        if self.schemas and len(self.errors) < MAX_SCHEMA_ERRORS:
            self._schemas(first, records)
        self._ids(first, records)

    def _schemas(self, first: int, records: list[Any]) -> None:
        schema = _schema()
        if _records_pass(schema, self.schema_id, records, self.run_id):
            return
        for index, doc in enumerate(records, start=first):
            where = f"{self.name}:{index}"
            self.errors.extend(f"{where}: {e}" for e in schema.errors(self.schema_id, doc))
            if isinstance(doc, dict) and doc.get("run_id") not in (None, self.run_id):
                self.errors.append(f"{where}: run_id {doc.get('run_id')!r} is not the manifest's")
            if len(self.errors) >= MAX_SCHEMA_ERRORS:
                del self.errors[MAX_SCHEMA_ERRORS:]
                return

    def _ids(self, first: int, records: list[Any]) -> None:
        """Fast when the block's ids are short strings, distinct and new (one set each);
        otherwise record by record, naming each duplicate."""
        ids: list[Any]
        try:
            ids = list(map(dict.get, records, repeat("intent_id")))
        except TypeError:  # a record that is not an object
            ids = [r.get("intent_id") if isinstance(r, dict) else None for r in records]
        if ids and set(map(type, ids)) == {str} and max(map(len, ids)) <= _SHORT_ID:
            block: set[str] = set(ids)
            if len(block) == len(ids) and self.seen.isdisjoint(block):
                self.seen |= block
                return
        for index, ident in enumerate(ids, start=first):
            if not isinstance(ident, str):
                continue
            key = _id_key(ident)
            if key in self.seen:
                if len(self.duplicates) < 3:
                    self.duplicates.append(
                        f"{self.name}:{index}: intent_id {ident!r} appears twice"
                    )
            else:
                self.seen.add(key)


def _id_key(ident: str) -> str | bytes:
    if len(ident) <= _SHORT_ID:
        return ident
    return _blake2b(ident.encode("utf-8", "surrogatepass"), digest_size=16).digest()


MAX_SCHEMA_ERRORS = 50


class _DocSink:
    """A ``.json`` member's bytes, kept (to parse once read) up to the line limit, its JSON
    values counted as they come."""

    def __init__(self, name: str, limits: Limits, docs: dict[str, bytes]) -> None:
        self.name, self.limits, self.docs = name, limits, docs
        self.chunks: list[bytes] = []
        self.size = self.values = 0

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.values += json_values(chunk)
        if self.size > self.limits.line_bytes:
            raise LimitExceeded(
                f"over the {self.limits.line_bytes}-byte limit for one JSON document "
                "(--max-line-mib raises it)"
            )
        if self.values > self.limits.json_values:
            raise LimitExceeded(
                f"holds more than {self.limits.json_values} JSON values "
                "(--max-json-values raises the limit)"
            )
        self.chunks.append(chunk)

    def close(self) -> None:
        self.docs[self.name] = b"".join(self.chunks)
        self.chunks = []


class _Streamed:
    """``verify_runpack``'s sinks: each member checked while it inflates. The manifest is read
    first (its run id is what records are checked against); ``.json`` members are kept to be
    parsed whole (bounded by the line limit); ``.jsonl`` members go through a
    ``RecordStream`` into a ``_RecordCheck``, so no record outlives its block."""

    def __init__(self, opts: VerifyOptions) -> None:
        self.opts = opts
        self.docs: dict[str, bytes] = {}
        self.checks: dict[str, _RecordCheck] = {}
        self.streams: dict[str, RecordStream] = {}
        self.parsed: dict[str, Any] = {}

    def sink(self, name: str) -> _DocSink | RecordStream | None:
        if name in RECORD_MEMBERS:
            check = _RecordCheck(name, self._run_id(), schemas=self.opts.check_schemas)
            stream = RecordStream(
                name,
                check,
                line_bytes=self.opts.limits.line_bytes,
                values=self.opts.limits.json_values,
                code=INPUT_INVALID,
            )
            self.checks[name], self.streams[name] = check, stream
            return stream
        if name in model.SCHEMA_IDS:
            return _DocSink(name, self.opts.limits, self.docs)
        return None  # anything else is only hashed

    def _run_id(self) -> str | None:
        raw = self.docs.get(model.MANIFEST)
        if model.MANIFEST not in self.parsed and raw is not None:
            try:  # kept for verify's own parse (members.parsed): parsed once
                self.parsed[model.MANIFEST] = strict_document(
                    raw, what=model.MANIFEST, code=INPUT_INVALID
                )
            except InvalidInput:
                return None  # verify stops at the manifest, before any record check is read
        manifest = self.parsed.get(model.MANIFEST)
        run_id = manifest.get("run_id") if isinstance(manifest, dict) else None
        return run_id if isinstance(run_id, str) else None


def _parsed_checks(members: Members, run_id: str, opts: VerifyOptions) -> dict[str, _RecordCheck]:
    """``_RecordCheck``s of members already in memory: over the records parsed once for the
    reader (``member_strict_records``), else line by line for the first parse error."""
    checks: dict[str, _RecordCheck] = {}
    for name in RECORD_MEMBERS:
        raw = members.data.get(name)
        if raw is None:
            continue
        check = checks[name] = _RecordCheck(name, run_id, schemas=opts.check_schemas)
        records = member_strict_records(members, name)
        if records is not None:
            check(1, records)
            continue
        stream = RecordStream(
            name, check, line_bytes=len(raw) + 1, values=len(raw) + 1, code=INPUT_INVALID
        )
        stream.feed(raw)
        stream.close()
        check.error = stream.error
    return checks


def _check_unique_ids(
    report: VerifyReport, members: Members, checks: dict[str, _RecordCheck]
) -> None:
    """Records are keyed by ``intent_id`` (replay, diff, regress): a second record with the same
    id would be hidden behind the first, so a runpack holding one is refused."""
    tampered = {m["path"] for m in report.hash_mismatches}
    duplicates: list[str] = []
    for name in RECORD_MEMBERS:
        check = checks.get(name)
        if check is None or name not in members.sha256 or name in tampered or check.error:
            continue  # absent, refused, tampered, or not parsed (the schema check says so)
        duplicates += check.duplicates
    report.checks.append(
        Check("unique_ids", "fail", "E_VERIFY_DUPLICATE_ID", "; ".join(duplicates[:3]))
        if duplicates
        else Check("unique_ids", "pass")
    )


def _check_archive(report: VerifyReport, members: Members) -> None:
    report.unsafe_members = [{"path": p.path, "reason": p.message} for p in members.problems]
    codes = sorted({p.code for p in members.problems})
    for code in codes:
        first = next(p for p in members.problems if p.code == code)
        report.checks.append(Check("archive", "fail", code, f"{first.path}: {first.message}"))
    if not codes:
        report.checks.append(Check("archive", "pass"))


def _check_files(report: VerifyReport, members: Members, manifest: dict[str, Any]) -> None:
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    missing = [name for name in model.DATA_MEMBERS if name not in listed]
    mismatches = []
    for entry in manifest["files"]:
        name = entry["path"]
        if name in members.unreadable:
            mismatches.append({"path": name, "expected": entry["sha256"], "actual": ""})
        elif name not in members.sha256:
            if not any(p.path == name for p in members.problems):
                missing.append(name)
            continue
        else:
            report.files_checked += 1
            actual = members.sha256[name]
            if actual != entry["sha256"].lower():
                mismatches.append({"path": name, "expected": entry["sha256"], "actual": actual})
    known = set(listed) | {model.MANIFEST}
    report.unlisted_files = sorted({n for n in members.names if n not in known})
    report.missing_files = sorted(set(missing))
    report.hash_mismatches = sorted(mismatches, key=lambda m: m["path"])
    report.checks.append(
        Check("members_present", "fail", "E_VERIFY_MISSING_MEMBER", ", ".join(report.missing_files))
        if report.missing_files
        else Check("members_present", "pass")
    )
    report.checks.append(
        Check(
            "members_listed", "fail", "E_VERIFY_UNLISTED_MEMBER", ", ".join(report.unlisted_files)
        )
        if report.unlisted_files
        else Check("members_listed", "pass")
    )
    report.checks.append(
        Check(
            "member_hashes",
            "fail",
            "E_VERIFY_HASH_MISMATCH",
            ", ".join(m["path"] for m in report.hash_mismatches),
        )
        if report.hash_mismatches
        else Check("member_hashes", "pass")
    )


def _check_manifest_digest(
    report: VerifyReport, manifest: dict[str, Any], known: dict[str, Any], plain: bool
) -> None:
    recomputed = manifest_digest(manifest, known=known, plain=plain)
    stored = str(manifest.get("manifest_digest", ""))
    if recomputed == stored.lower():
        report.checks.append(Check("manifest_digest", "pass"))
        return
    report.hash_mismatches.append(
        {"path": model.MANIFEST, "expected": stored, "actual": recomputed}
    )
    report.hash_mismatches.sort(key=lambda m: m["path"])
    report.checks.append(
        Check("manifest_digest", "fail", "E_VERIFY_MANIFEST_DIGEST", "recomputed digest differs")
    )


def _check_signatures(
    report: VerifyReport,
    manifest: dict[str, Any],
    opts: VerifyOptions,
    known: dict[str, Any],
    plain: bool,
) -> None:
    sigs = manifest.get("signatures")
    sigs = sigs if isinstance(sigs, list) else ([] if sigs is None else [sigs])
    report.signatures_total = len(sigs)
    if not sigs:
        report.signature_status = "missing"
        if opts.require_signature:
            report.signature_errors = ["manifest has no signatures"]
            report.signature_note = NOTES["missing_required"]
            report.checks.append(
                Check("signature", "fail", "E_VERIFY_SIGNATURE_MISSING", "runpack is unsigned")
            )
        else:
            report.signature_note = NOTES["missing"]
            report.checks.append(Check("signature", "skip", detail="runpack is unsigned"))
        report.checks.append(Check("signer_trust", "skip"))
        return
    check_signature = _check_signature()
    signed = signed_manifest_digest(manifest, known=known, plain=plain)
    results = [check_signature(s, signed, opts.keys, explicit=opts.explicit_keys) for s in sigs]
    valid = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok and not r.skipped]
    report.signatures_valid = len(valid)
    report.unknown_signers = sorted({r.key_id or "no key id" for r in results if r.skipped})
    report.signature_errors = sorted(r.error for r in results if not r.ok)
    if valid:
        report.signature_status = "verified"
    elif failed:
        report.signature_status = "failed"
    else:
        report.signature_status = "skipped"
    report.signature_note = NOTES[report.signature_status]
    if report.signature_status == "failed":
        report.checks.append(
            Check("signature", "fail", "E_VERIFY_SIGNATURE_INVALID", failed[0].error)
        )
    elif report.signature_status == "skipped" and opts.require_signature:
        report.checks.append(
            Check("signature", "fail", "E_VERIFY_SIGNATURE_MISSING", "no trusted key covers it")
        )
    elif report.signature_status == "skipped":
        report.checks.append(Check("signature", "skip", detail="no verify key for the signer"))
    else:
        report.checks.append(Check("signature", "pass"))
    _check_trust(report, valid[0].key_id if valid else "", opts)


def _check_trust(report: VerifyReport, signer: str, opts: VerifyOptions) -> None:
    if not signer:
        status = "fail" if opts.require_trusted else "skip"
        code = "E_VERIFY_UNTRUSTED_SIGNER" if opts.require_trusted else ""
        report.checks.append(Check("signer_trust", status, code, "no verified signer"))
        return
    report.signer_key_id = signer
    entry = opts.keyring.find(signer) if opts.keyring else None
    report.signer_trusted = bool(entry and entry.trusted)
    report.signing_mode = entry.mode if entry else "unknown"
    if opts.production and report.signing_mode == "dev":
        report.checks.append(
            Check("signer_trust", "fail", "E_VERIFY_UNTRUSTED_SIGNER", "dev key in production mode")
        )
    elif report.signer_trusted or not opts.require_trusted:
        report.checks.append(
            Check(
                "signer_trust",
                "pass" if report.signer_trusted else "skip",
                detail="" if report.signer_trusted else "signer not in the trust store",
            )
        )
    else:
        report.checks.append(
            Check(
                "signer_trust", "fail", "E_VERIFY_UNTRUSTED_SIGNER", "signer not in the trust store"
            )
        )


def _check_schemas(
    report: VerifyReport,
    members: Members,
    manifest: dict[str, Any],
    checks: dict[str, _RecordCheck],
) -> None:
    schema = _schema()
    errors = [f"manifest.json: {e}" for e in schema.errors("gait.runpack.manifest", manifest)]
    run_id = manifest["run_id"]
    tampered = {m["path"] for m in report.hash_mismatches}
    for name in model.DATA_MEMBERS:
        if name in RECORD_MEMBERS:
            check = checks.get(name)
            if check is None or name not in members.sha256 or name in tampered:
                continue
            errors += [f"{name}: {check.error}"] if check.error else check.errors
            continue
        if name not in members.data or name in tampered:
            continue
        try:
            doc = member_document(members, name, code=INPUT_INVALID)
        except InvalidInput as exc:
            errors.append(f"{name}: {exc.message}")
            continue
        errors.extend(f"{name}: {e}" for e in schema.errors(model.SCHEMA_IDS[name], doc))
        if isinstance(doc, dict) and doc.get("run_id") not in (None, run_id):
            errors.append(f"{name}: run_id {doc.get('run_id')!r} is not the manifest's")
    report.schema_errors = errors[:MAX_SCHEMA_ERRORS]
    report.checks.append(
        Check("schemas", "fail", INPUT_INVALID, errors[0]) if errors else Check("schemas", "pass")
    )


def _records_pass(
    schema: ModuleType, schema_id: str, records: list[Any] | None, run_id: str | None
) -> bool:
    """A whole member's records valid and of this run, checked by column in one pass
    (``schema.all_valid``); False sends the member record by record, naming each problem."""
    if records is None or not schema.all_valid(schema_id, records, parsed=True):
        return False
    try:
        return set(map(dict.get, records, repeat("run_id"))) <= {None, run_id}
    except TypeError:
        return False
