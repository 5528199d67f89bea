# ruff: noqa: E501  (the code table keeps one code per line)
"""Every stable ``E_*`` error code, with its exit code, category and meaning.

A plain data module: nothing here runs at import beyond building the tables, and the CLI entry
does not import it (``gait --version`` stays fast). tests/test_error_codes.py scans the source
and fails when a code is used without an entry here, when an entry is never used, when a raise
site's exception class exits differently from the entry, or when docs/error-codes.md (rendered
from these tables by ``render_markdown_tables``) is out of date.

Codes that are only reported (inside a verify report, a gate result, a regress result) carry the
exit code of the command that reports them. Codes built from a prefix at run time (one per
grader) are registered once, as a family.
"""

from __future__ import annotations

from dataclasses import dataclass

from gait.errors import ExitCode

_E = ExitCode


@dataclass(frozen=True, slots=True)
class Code:
    area: str
    exit: ExitCode
    category: str
    meaning: str
    also_exits: tuple[ExitCode, ...] = ()
    why_multi: str = ""
    suffix_name: str = ""


# Categories as FORMATS.md section 7 names them (and gait/errors.py uses them).
_IN = "invalid_input"
_VF = "verification_failed"
_PB = "policy_blocked"
_AR = "approval_required"
_DM = "dependency_missing"
_IO = "io_failure"
_SC = "state_contention"
_INT = "internal_failure"

# (code, exit, category, meaning), grouped by area; the order is the documentation's order.
# fmt: off
_TABLE: dict[str, list[tuple[str, ExitCode, str, str]]] = {
    "General": [
        ("E_INTERNAL", _E.INTERNAL, _INT, "An unexpected failure inside gait (a bug): the message names the exception; please report it."),
        ("E_INVALID_INPUT", _E.INVALID_INPUT, _IN, "Input was refused and no more specific code applied."),
        ("E_USAGE", _E.INVALID_INPUT, _IN, "The command line is wrong: a missing or conflicting flag, a bad flag value or a malformed argument."),
        ("E_INVALID_JSON", _E.INVALID_INPUT, _IN, "A JSON document is not strict JSON: bad UTF-8, a duplicate key, NaN/Infinity or a syntax error."),
        ("E_CANONICAL_JSON", _E.INVALID_INPUT, _IN, "A value cannot be written as canonical JSON (RFC 8785), e.g. a non-finite float or a non-string key."),
        ("E_INVALID_TIME", _E.INVALID_INPUT, _IN, "A timestamp is not an RFC 3339 time, names an impossible date, or is out of range."),
        ("E_SCHEMA_INVALID", _E.INVALID_INPUT, _IN, "A document does not match its JSON Schema; the message names the first failing path."),
        ("E_SCHEMA_UNKNOWN", _E.INVALID_INPUT, _IN, "A schema id was asked for that gait does not ship."),
        ("E_OUTPUT_EXISTS", _E.INVALID_INPUT, _IN, "The output file already exists and --force was not given."),
        ("E_IO", _E.INTERNAL, _IO, "A file or directory could not be read or written (the message names it and the OS error)."),
        ("E_IO_WRITE", _E.INTERNAL, _IO, "Writing a file or creating a directory failed (permissions, disk full, read-only file system)."),
        ("E_DEPENDENCY_MISSING", _E.DEPENDENCY_MISSING, _DM, "An optional package this command needs is not installed (e.g. pytest-xdist for -n, psycopg for PostgreSQL state)."),
        ("E_UNSAFE_OPERATION", _E.UNSAFE_OPERATION, _IN, "The command would do something unsafe and was refused without an explicit opt-in."),
        ("E_INTERRUPTED", _E.INTERRUPTED, _INT, "SIGINT or SIGTERM stopped the command; what it was writing was left as it was."),
        ("E_STATE_CONTENTION", _E.INTERNAL, _SC, "Shared state is locked by another process; retrying later can succeed."),
    ],
    "Keys, signing and trust": [
        ("E_KEY_EXISTS", _E.INVALID_INPUT, _IN, "keys init refused to overwrite an existing private key file."),
        ("E_KEY_INVALID", _E.INVALID_INPUT, _IN, "Key material is not base64 Ed25519 of the right length, a public key is one libsodium verifies nothing with (small order, non-canonical, off the curve), or a key file has unsafe permissions or form."),
        ("E_KEY_MISMATCH", _E.INVALID_INPUT, _IN, "A public key given alongside a private key (or the stored dev pair) does not belong to it."),
        ("E_KEY_NOT_FOUND", _E.INVALID_INPUT, _IN, "A key file, key environment variable or trust-store key id does not exist or is empty."),
        ("E_SIGN_KEY_REQUIRED", _E.INVALID_INPUT, _IN, "Production signing (or a production trace) needs a signing key and none was configured."),
        ("E_SIGN_DEV_KEY_IN_PROD", _E.INVALID_INPUT, _IN, "Production mode was asked to sign with the local dev key, which it refuses."),
        ("E_TRUST_DEV_KEY_AS_PROD", _E.INVALID_INPUT, _IN, "The local dev key was offered to the trust store as a production key; anything that runs gait could sign with it."),
        ("E_TRUST_STORE_INVALID", _E.INVALID_INPUT, _IN, "The trust store file is unreadable, not strict JSON, not a trust store, or holds a key that is not a usable public key."),
    ],
    "Runpacks: record, verify, replay, diff, reduce": [
        ("E_RECORD_INPUT_INVALID", _E.INVALID_INPUT, _IN, "A run record input (or an imported log) is unreadable or fails its schema, so no runpack was written."),
        ("E_RECORD_TOO_LARGE", _E.INVALID_INPUT, _IN, "A runpack member grew past the per-member size limit while recording."),
        ("E_REDACTION_RULE_INVALID", _E.INVALID_INPUT, _IN, "A redaction rule is not a valid JSON path (it must start with $)."),
        ("E_TOOL_ARGS_UNREADABLE", _E.OK, _IN, "Recorded, not raised: an imported tool call whose arguments could not be read gets this as its result error_code."),
        ("E_ADAPTER_INPUT_INVALID", _E.INVALID_INPUT, _IN, "An SDK adapter was handed a tool call or result that is not JSON-representable."),
        ("E_RUNPACK_NOT_FOUND", _E.INVALID_INPUT, _IN, "No runpack at the given path, and no run with that id under ./gait-out or GAIT_HOME."),
        ("E_VERIFY_INPUT_INVALID", _E.INVALID_INPUT, _IN, "The file given to verify is a directory, empty, unreadable or not a zip."),
        ("E_VERIFY_FAILED", _E.VERIFY_FAILED, _VF, "A runpack failed verification; the report lists the specific E_VERIFY_* codes."),
        ("E_VERIFY_ARCHIVE", _E.VERIFY_FAILED, _VF, "The zip's structure is unsafe or inconsistent (bad headers, overlaps, zip bombs, duplicate names)."),
        ("E_VERIFY_UNSAFE_MEMBER", _E.VERIFY_FAILED, _VF, "A member path is absolute, climbs out with .., or is a link."),
        ("E_VERIFY_MISSING_MEMBER", _E.VERIFY_FAILED, _VF, "A member the manifest lists is absent from the zip."),
        ("E_VERIFY_UNLISTED_MEMBER", _E.VERIFY_FAILED, _VF, "The zip holds a member the manifest does not list."),
        ("E_VERIFY_HASH_MISMATCH", _E.VERIFY_FAILED, _VF, "A member's bytes do not hash to the digest the manifest records: it was changed."),
        ("E_VERIFY_MANIFEST_DIGEST", _E.VERIFY_FAILED, _VF, "The manifest's own digest does not match its content."),
        ("E_VERIFY_SIGNATURE_INVALID", _E.VERIFY_FAILED, _VF, "A manifest signature does not verify with the key it names."),
        ("E_VERIFY_SIGNATURE_MISSING", _E.VERIFY_FAILED, _VF, "A signature was required (production or --require-signature) and the runpack has none."),
        ("E_VERIFY_UNTRUSTED_SIGNER", _E.VERIFY_FAILED, _VF, "The runpack is signed, but by a key the trust store does not hold."),
        ("E_VERIFY_DUPLICATE_ID", _E.VERIFY_FAILED, _VF, "Two records in one member share an id (e.g. the same intent_id twice)."),
        ("E_REPLAY_MISS", _E.VERIFY_FAILED, _VF, "During replay a tool call was made that the runpack did not record; the message names the closest recorded call."),
        ("E_REPLAY_NO_SOURCE", _E.INVALID_INPUT, _IN, "Replay was asked for with no runpack: no run id or path and no replay environment variable."),
        ("E_REPLAY_REAL_REQUIRES_RAW", _E.INVALID_INPUT, _IN, "Real-tool replay needs a raw-capture runpack; a reference-capture runpack kept no tool arguments."),
        ("E_REPLAY_REAL_TOOL_DISABLED", _E.UNSAFE_OPERATION, _IN, "Real-tool replay would run real tools and was not fully opted into (flags, allow-list or registered implementations missing)."),
        ("E_REPLAY_TOOL_REGISTRY", _E.INVALID_INPUT, _IN, "The --tool-registry module cannot be imported or is not a mapping of tool name to callable."),
        ("E_DIFF_NONDETERMINISTIC_INPUT", _E.INVALID_INPUT, _IN, "A runpack member given to diff is not canonical JSON, so the diff would depend on formatting."),
        ("E_REDUCE_PREDICATE_INVALID", _E.INVALID_INPUT, _IN, "run reduce got an unknown predicate or one missing the flags it needs (--verdict, --against, --grader), or a --grader/--fixture that gait.yaml does not have."),
        ("E_REDUCE_PREDICATE_NOT_TRIGGERED", _E.INVALID_INPUT, _IN, "The predicate does not hold for the run, so there is nothing to reduce."),
        ("E_CAPTURE_RECEIPT_INVALID", _E.INVALID_INPUT, _IN, "A capture receipt is unreadable, not a receipt, or names an artifact type that cannot become a fixture."),
    ],
    "Sessions": [
        ("E_SESSION_NOT_FOUND", _E.INVALID_INPUT, _IN, "The session journal or session chain file does not exist or cannot be opened."),
        ("E_SESSION_IO", _E.INVALID_INPUT, _IN, "The session journal exists but could not be read."),
        ("E_SESSION_EXISTS", _E.INVALID_INPUT, _IN, "The journal path already holds another session."),
        ("E_SESSION_INPUT_INVALID", _E.INVALID_INPUT, _IN, "A session argument is wrong: a run id that cannot become a runpack id, an unknown verdict, or not a journal."),
        ("E_SESSION_NOTHING_TO_CHECKPOINT", _E.INVALID_INPUT, _IN, "A checkpoint was asked for but no events arrived since the last one."),
        ("E_SESSION_CHECKPOINT_MISSING", _E.INVALID_INPUT, _IN, "The checkpoint named is not in the session chain."),
        ("E_SESSION_CHAIN_INVALID", _E.INVALID_INPUT, _IN, "The session chain file is not strict JSON or not a session chain of a supported version."),
        ("E_SESSION_JOURNAL_CORRUPT", _E.VERIFY_FAILED, _VF, "A session journal line is not valid (bad JSON, no header, wrong session) so the journal cannot be trusted."),
        ("E_SESSION_SEQUENCE_GAP", _E.VERIFY_FAILED, _VF, "Session journal sequence numbers skip or repeat: events were lost or inserted."),
        ("E_SESSION_CHAIN_BROKEN", _E.VERIFY_FAILED, _VF, "A checkpoint does not link to the previous one (prev digest or sequence does not follow)."),
        ("E_SESSION_CHECKPOINT_INVALID", _E.VERIFY_FAILED, _VF, "A checkpoint runpack in the chain fails verification although the links hold."),
    ],
    "Gate and policy": [
        ("E_POLICY_BLOCKED", _E.POLICY_BLOCKED, _PB, "The gate blocked the intent; the result's reason_codes say which rule."),
        ("E_POLICY_PARSE", _E.INVALID_INPUT, _IN, "The policy file cannot be read or is not a valid policy (YAML, unknown keys, bad rule)."),
        ("E_POLICY_NOT_FOUND", _E.INVALID_INPUT, _IN, "gait check found no policy file at the path given."),
        ("E_POLICY_FMT", _E.INVALID_INPUT, _IN, "policy fmt refused to write: formatting would change the policy's digest."),
        ("E_POLICY_NOT_FORMATTED", _E.VERIFY_FAILED, _VF, "policy fmt --check found the file is not in canonical format."),
        ("E_POLICY_TEST_FAIL", _E.REGRESS_FAILED, _VF, "policy test: one or more intents did not get the verdict their expectations name."),
        ("E_EXPECT_INVALID", _E.INVALID_INPUT, _IN, "A policy test expectations file has a line that is not JSON or lacks a verdict."),
        ("E_INTENT_INVALID", _E.INVALID_INPUT, _IN, "An intent document is not strict JSON or breaks the intent format (missing tool, bad targets, bad context)."),
        ("E_INTENT_READ", _E.INVALID_INPUT, _IN, "An intent file could not be read."),
        ("E_FIXTURES", _E.INVALID_INPUT, _IN, "gate simulate --fixtures points at nothing usable: no such path, not .json, or no intents found."),
        ("E_PROFILE_OSS_PROD", _E.INVALID_INPUT, _IN, "gate eval --profile oss-prod refused the setup: simulate, a dev or implicit key, a default allow, a high-risk rule without a brokered credential, or an approval/delegation without an explicit verify key."),
        ("E_CREDENTIAL_COMMAND", _E.INVALID_INPUT, _IN, "--credential-broker command without --credential-command, or a command outside GAIT_CREDENTIAL_COMMAND_ALLOWLIST."),
        ("E_PROJECT_CONFIG_READ", _E.INVALID_INPUT, _IN, "The project config named by --config (.gait/config.yaml) is missing or unreadable."),
        ("E_PROJECT_CONFIG_INVALID", _E.INVALID_INPUT, _IN, "The project config is not YAML, not a mapping, or holds a key or value gait does not know (refused by name)."),
        ("E_GATE_EVALUATION_TIME_SKEW", _E.INVALID_INPUT, _IN, "In production mode, the evaluation time given is too far from the clock."),
        ("E_WRKR_INVENTORY_UNAVAILABLE", _E.POLICY_BLOCKED, _PB, "The policy needs the wrkr inventory, it cannot be read, and the policy fails closed: the intent is blocked."),
        ("E_CONTEXT_ENVELOPE_INVALID", _E.INVALID_INPUT, _IN, "A context envelope (--context-envelope) cannot be read, is not strict JSON, has an unknown field, breaks the envelope format, or its context_set_digest does not match its records."),
        ("E_CONTEXT_ENVELOPE_MISMATCH", _E.INVALID_INPUT, _IN, "The intent claims a context_set_digest or context_evidence_mode the verified envelope does not have (a fail-closed risk class blocks instead)."),
        ("E_RECORD_CONTEXT_EVIDENCE", _E.INVALID_INPUT, _IN, "run record: context evidence mode required but no context_set_digest, or raw context receipts without --unsafe-context-raw."),
        ("E_APPROVED_SCRIPT_REGISTRY", _E.INVALID_INPUT, _IN, "The approved-script registry is unreadable, malformed or has a bad signature."),
        ("E_REGISTRY", _E.INVALID_INPUT, _IN, "The approved-script registry file is not strict JSON."),
        ("E_STATE_IO", _E.INTERNAL, _IO, "The gate state store (rate limits, spent tokens) could not be read or written."),
        ("E_STATE_CORRUPT", _E.INTERNAL, _IO, "The gate state database is unreadable or damaged."),
        ("E_STATE_UNAVAILABLE", _E.INTERNAL, _IO, "The PostgreSQL gate state is unreachable; a fail-closed gate refuses to decide without it."),
        ("E_STATE_RESET_CONFIRM", _E.UNSAFE_OPERATION, _IN, "Resetting PostgreSQL gate state clears rate limits and spent tokens for every gate; it needs explicit confirmation."),
        ("E_KILL_SWITCH_INVALID", _E.INVALID_INPUT, _IN, "The kill switch state file is missing, unreadable or malformed, or an entry is invalid."),
        ("E_KILL_SWITCH_ENTRY_NOT_FOUND", _E.INVALID_INPUT, _IN, "The kill switch entry id to clear does not exist."),
        ("E_TRACE_UNWRITABLE", _E.INTERNAL, _IO, "The decision log or trace directory could not be locked, read or written, so the decision cannot be traced."),
        ("E_TRACE_INVALID", _E.INVALID_INPUT, _IN, "A gate trace file is not strict JSON."),
        ("E_TRACE_LOG_CORRUPT", _E.INVALID_INPUT, _IN, "The decision log (or its head file) holds a line that is not strict JSON."),
    ],
    "Approvals and delegation": [
        ("E_APPROVAL_REQUIRED", _E.APPROVAL_REQUIRED, _AR, "The intent needs approval and no valid approval token covered it."),
        ("E_APPROVAL_INVALID", _E.APPROVAL_REQUIRED, _AR, "An approval token is malformed (not an object, wrong field types, unsupported schema)."),
        ("E_APPROVAL_SIGNATURE_MISSING", _E.APPROVAL_REQUIRED, _AR, "An approval token carries no signature."),
        ("E_APPROVAL_SIGNATURE_INVALID", _E.APPROVAL_REQUIRED, _AR, "An approval token's signature does not verify with any trusted key."),
        ("E_APPROVAL_EXPIRED", _E.APPROVAL_REQUIRED, _AR, "An approval token's expiry has passed."),
        ("E_APPROVAL_NOT_YET_VALID", _E.APPROVAL_REQUIRED, _AR, "An approval token is dated in the future."),
        ("E_APPROVAL_INTENT_MISMATCH", _E.APPROVAL_REQUIRED, _AR, "An approval token was issued for a different intent digest."),
        ("E_APPROVAL_POLICY_MISMATCH", _E.APPROVAL_REQUIRED, _AR, "An approval token was issued under a different policy digest."),
        ("E_APPROVAL_DELEGATION_MISMATCH", _E.APPROVAL_REQUIRED, _AR, "An approval token is bound to a delegation chain other than the intent's."),
        ("E_APPROVAL_SCOPE_MISMATCH", _E.APPROVAL_REQUIRED, _AR, "An approval token's scope does not cover the intent's tool."),
        ("E_APPROVAL_MAX_TARGETS_EXCEEDED", _E.APPROVAL_REQUIRED, _AR, "The intent touches more targets than the approval token allows."),
        ("E_APPROVAL_MAX_OPS_EXCEEDED", _E.APPROVAL_REQUIRED, _AR, "The intent performs more operations than the approval token allows."),
        ("E_APPROVAL_REPLAYED", _E.APPROVAL_REQUIRED, _AR, "An approval token was already spent on an earlier decision (single use per gate state)."),
        ("E_APPROVAL_TOKEN_NOT_FOUND", _E.INVALID_INPUT, _IN, "An approval token file passed to the gate does not exist."),
        ("E_APPROVAL_TOKEN_READ", _E.INVALID_INPUT, _IN, "An approval token file is not strict JSON."),
        ("E_DELEGATION_TOKEN_READ", _E.INVALID_INPUT, _IN, "A delegation token file cannot be read or is not strict JSON."),
        ("E_DELEGATION_INVALID", _E.VERIFY_FAILED, _VF, "delegate verify: the delegation token is malformed (fields, times, scope)."),
        ("E_DELEGATION_SIGNATURE_MISSING", _E.VERIFY_FAILED, _VF, "delegate verify: the delegation token carries no signature."),
        ("E_DELEGATION_SIGNATURE_INVALID", _E.VERIFY_FAILED, _VF, "delegate verify: no verification key, or the signature does not verify."),
        ("E_DELEGATION_EXPIRED", _E.VERIFY_FAILED, _VF, "delegate verify: the delegation token's expiry has passed."),
        ("E_DELEGATION_DELEGATOR_MISMATCH", _E.VERIFY_FAILED, _VF, "delegate verify: the token was issued by a different delegator than expected."),
        ("E_DELEGATION_DELEGATE_MISMATCH", _E.VERIFY_FAILED, _VF, "delegate verify: the token delegates to a different identity than expected."),
        ("E_DELEGATION_INTENT_MISMATCH", _E.VERIFY_FAILED, _VF, "delegate verify: the token is bound to a different intent digest."),
        ("E_DELEGATION_POLICY_MISMATCH", _E.VERIFY_FAILED, _VF, "delegate verify: the token is bound to a different policy digest."),
        ("E_DELEGATION_SCOPE_MISMATCH", _E.VERIFY_FAILED, _VF, "delegate verify: the token's scope does not cover what was asked."),
        ("E_DELEGATION_CHAIN_MISMATCH", _E.VERIFY_FAILED, _VF, "delegate verify: the token does not continue the delegation chain it claims."),
    ],
    "MCP proxy and server": [
        ("E_MCP_CALL_INVALID", _E.INVALID_INPUT, _IN, "An MCP tool call payload cannot be read or is not a tool call gait understands."),
        ("E_MCP_SERVER_INVALID", _E.INVALID_INPUT, _IN, "The MCP server description file is unreadable, not strict JSON, or has no server id or name."),
        ("E_MCP_SERVER_START", _E.INVALID_INPUT, _IN, "The MCP server command could not be started (not found, not executable)."),
        ("E_MCP_REQUEST_INVALID", _E.INVALID_INPUT, _IN, "mcp serve answered HTTP 400: the request body is not a JSON call it accepts (unknown field, bad JSON)."),
        ("E_AUTH_REQUIRED", _E.INVALID_INPUT, _IN, "mcp serve answered HTTP 401: the request has no bearer token and one is required."),
        ("E_AUTH_INVALID", _E.INVALID_INPUT, _IN, "mcp serve answered HTTP 401: the bearer token does not match."),
        ("E_REQUEST_TOO_LARGE", _E.INVALID_INPUT, _IN, "mcp serve answered HTTP 413: the request body exceeds --max-request-bytes."),
    ],
    "Evidence packs and verify chain": [
        ("E_PACK_NOT_FOUND", _E.INVALID_INPUT, _IN, "The pack (or authorization bundle) path does not exist."),
        ("E_PACK_TYPE_UNSUPPORTED", _E.INVALID_INPUT, _IN, "pack build --type job: job packs need the reference's durable job runtime, which this project does not have."),
        ("E_PACK_BUILD_INVALID", _E.INVALID_INPUT, _IN, "pack build inputs conflict, e.g. two members with the same name."),
        ("E_PACK_CALL_RECORD_INVALID", _E.INVALID_INPUT, _IN, "pack build --type call: the gait.voice.call_record is malformed or breaks a voice rule (event coverage, speech without an allow decision)."),
        ("E_PACK_SOURCE_INVALID", _E.INVALID_INPUT, _IN, "A pack source (runpack, context receipt, trace) is not what it must be."),
        ("E_PACK_AUTH_BUNDLE_INVALID", _E.INVALID_INPUT, _IN, "The authorization bundle is not a JSON object of the expected shape."),
        ("E_PACK_EVIDENCE_INVALID", _E.INVALID_INPUT, _IN, "The authorization bundle file is not strict JSON."),
        ("E_PACK_EVIDENCE_MISSING", _E.INVALID_INPUT, _IN, "Evidence the authorization bundle lists cannot be read."),
        ("E_PACK_EVIDENCE_DIGEST_MISMATCH", _E.INVALID_INPUT, _IN, "Evidence bytes do not match the digest the authorization bundle records."),
        ("E_PACK_CONTEXT_DIGEST_MISMATCH", _E.INVALID_INPUT, _IN, "The refs' context_set_digest does not match the context receipts it claims to cover."),
        ("E_PACK_MANIFEST_MISSING", _E.INVALID_INPUT, _IN, "The zip has no pack manifest: it is neither a pack nor a runpack."),
        ("E_PACK_MANIFEST_INVALID", _E.VERIFY_FAILED, _VF, "The pack manifest is not strict JSON or breaks the manifest format."),
        ("E_PACK_ID_MISMATCH", _E.VERIFY_FAILED, _VF, "The manifest's pack_id is not the digest of the pack's contents."),
        ("E_PACK_PAYLOAD_INVALID", _E.VERIFY_FAILED, _VF, "A pack payload member is not a JSON object of the expected shape."),
        ("E_PACK_PAYLOAD_MISMATCH", _E.VERIFY_FAILED, _VF, "The pack's payload and its embedded runpack disagree (run id or manifest)."),
        ("E_PACK_MEMBER_MISSING", _E.VERIFY_FAILED, _VF, "A member the pack manifest lists is absent."),
        ("E_PACK_HASH_MISMATCH", _E.VERIFY_FAILED, _VF, "A pack member's bytes do not match the manifest's digest: it was changed."),
        ("E_PACK_UNDECLARED_MEMBER", _E.VERIFY_FAILED, _VF, "The pack holds a member its manifest does not list."),
        ("E_PACK_SIGNATURE_INVALID", _E.VERIFY_FAILED, _VF, "A pack signature does not verify."),
        ("E_PACK_SIGNATURE_REQUIRED", _E.VERIFY_FAILED, _VF, "A signature was required and the pack has none (or none trusted)."),
        ("E_PACK_MEMBER_CORRUPT", _E.VERIFY_FAILED, _VF, "A zip member cannot be decompressed (CRC error, bad compression)."),
        ("E_PACK_UNSAFE_MEMBER", _E.VERIFY_FAILED, _VF, "A zip member path is unsafe (absolute, .., link) or the archive structure is hostile."),
        ("E_PACK_PROOF_CHAIN_BROKEN", _E.VERIFY_FAILED, _VF, "A proof_records.jsonl line does not chain to the one before it."),
        ("E_CHAIN_RUN_INVALID", _E.VERIFY_FAILED, _VF, "verify chain: the runpack fails verification."),
        ("E_CHAIN_TRACE_INVALID", _E.VERIFY_FAILED, _VF, "verify chain: a gate trace fails its signature or format check."),
        ("E_CHAIN_TRACE_MISMATCH", _E.VERIFY_FAILED, _VF, "verify chain: a trace belongs to a different run than the runpack."),
        ("E_CHAIN_PACK_MISMATCH", _E.VERIFY_FAILED, _VF, "verify chain: the evidence pack does not hold the run being checked."),
    ],
    "Guard (encrypted evidence, retention, PDF)": [
        ("E_GUARD_INPUT_MISSING", _E.INVALID_INPUT, _IN, "A guard input file (runpack, trace, artifact) cannot be read."),
        ("E_GUARD_INPUT_INVALID", _E.INVALID_INPUT, _IN, "A guard input is not strict JSON or not the artifact it should be (e.g. not a runpack)."),
        ("E_GUARD_KEY_MISSING", _E.INVALID_INPUT, _IN, "No encryption key source was given, or the key variable is empty."),
        ("E_GUARD_KEY_INVALID", _E.INVALID_INPUT, _IN, "The encryption key is not base64 or is not 32 bytes."),
        ("E_GUARD_KEY_COMMAND_FAILED", _E.INVALID_INPUT, _IN, "The --key-command could not run or failed."),
        ("E_GUARD_ENCRYPTED_INVALID", _E.INVALID_INPUT, _IN, "A file to decrypt is not a gait encrypted artifact (format, algorithm, base64)."),
        ("E_GUARD_DECRYPT_FAILED", _E.VERIFY_FAILED, _VF, "Decryption failed: wrong key, changed ciphertext, or plaintext not matching its recorded hash."),
        ("E_GUARD_MANIFEST_INVALID", _E.VERIFY_FAILED, _VF, "A guard pack manifest is not an object or lists no contents."),
        ("E_GUARD_PACK_ID_MISMATCH", _E.VERIFY_FAILED, _VF, "A guard pack's pack_id does not match its contents."),
        ("E_GUARD_MEMBER_MISSING", _E.VERIFY_FAILED, _VF, "guard verify: a member the manifest lists is absent."),
        ("E_GUARD_HASH_MISMATCH", _E.VERIFY_FAILED, _VF, "guard verify: a member was changed after the pack was built."),
        ("E_GUARD_UNDECLARED_MEMBER", _E.VERIFY_FAILED, _VF, "guard verify: the pack holds a member its manifest does not list."),
        ("E_GUARD_SIGNATURE_INVALID", _E.VERIFY_FAILED, _VF, "guard verify: a signature does not verify."),
        ("E_GUARD_SIGNATURE_REQUIRED", _E.VERIFY_FAILED, _VF, "guard verify: a signature was required and none (trusted) is present."),
        ("E_GUARD_RETAIN_ROOT", _E.INVALID_INPUT, _IN, "The retention root is not a directory."),
        ("E_GUARD_RETAIN_DELETE_FAILED", _E.INTERNAL, _IO, "Retention could not delete an expired file."),
        ("E_PDF_DEPENDENCY_MISSING", _E.DEPENDENCY_MISSING, _DM, "--render-pdf needs the fpdf2 package."),
        ("E_PDF_FONT_MISSING", _E.INVALID_INPUT, _IN, "The PDF font file does not exist."),
        ("E_PDF_FONT_INVALID", _E.INVALID_INPUT, _IN, "The PDF font file cannot be loaded."),
    ],
    "Pack registry": [
        ("E_REGISTRY_PACK_NOT_FOUND", _E.INVALID_INPUT, _IN, "No registry pack at the path or reference given."),
        ("E_REGISTRY_PACK_INVALID", _E.INVALID_INPUT, _IN, "A registry pack is not a directory or readable zip, lacks its metadata, or its metadata is malformed."),
        ("E_REGISTRY_BACKEND_UNSUPPORTED", _E.INVALID_INPUT, _IN, "The pack reference uses a scheme with no backend (only local packs install)."),
        ("E_REGISTRY_NOT_INSTALLED", _E.INVALID_INPUT, _IN, "The pack named is not installed."),
        ("E_REGISTRY_STATE", _E.INVALID_INPUT, _IN, "A registry install record is unreadable, not strict JSON, or names no valid version."),
        ("E_REGISTRY_UNSIGNED", _E.VERIFY_FAILED, _VF, "The registry pack carries no signature."),
        ("E_REGISTRY_SIGNATURE_INVALID", _E.VERIFY_FAILED, _VF, "A registry pack signature does not verify."),
        ("E_REGISTRY_UNTRUSTED_PUBLISHER", _E.VERIFY_FAILED, _VF, "The pack is not signed by a trusted publisher key, or the publisher is not allow-listed."),
        ("E_REGISTRY_DIGEST_MISMATCH", _E.VERIFY_FAILED, _VF, "Installed or shipped pack files do not match the digests in the pack's metadata."),
        ("E_REGISTRY_PATH_ESCAPE", _E.VERIFY_FAILED, _VF, "A path inside the registry pack escapes the pack directory."),
        ("E_REGISTRY_DOWNGRADE", _E.VERIFY_FAILED, _VF, "Installing would replace an installed pack with an older version."),
        ("E_REGISTRY_VERSION_CONFLICT", _E.VERIFY_FAILED, _VF, "The same pack version is already installed with different contents."),
    ],
    "Regress": [
        ("E_REGRESS_FAILED", _E.REGRESS_FAILED, _VF, "At least one fixture failed a grader."),
        ("E_REGRESS_CONFIG_MISSING", _E.INVALID_INPUT, _IN, "No gait.yaml was found (or the named config or file does not exist)."),
        ("E_REGRESS_CONFIG_INVALID", _E.INVALID_INPUT, _IN, "gait.yaml breaks its format, or combines options that conflict (command and candidate, bad record mode)."),
        ("E_REGRESS_FIXTURE_INVALID", _E.INVALID_INPUT, _IN, "A fixture's files break the fixture format."),
        ("E_REGRESS_FIXTURE_NAME", _E.INVALID_INPUT, _IN, "A fixture name does not match the allowed pattern."),
        ("E_REGRESS_FIXTURE_EXISTS", _E.INVALID_INPUT, _IN, "regress init/add would replace an existing fixture; --force does that."),
        ("E_REGRESS_NO_FIXTURES", _E.INVALID_INPUT, _IN, "gait.yaml lists no fixtures, or no grader was selected to run."),
        ("E_REGRESS_GRADER_UNKNOWN", _E.INVALID_INPUT, _IN, "A fixture names a grader no installed plugin provides."),
        ("E_REGRESS_GRADER_PLUGIN", _E.INVALID_INPUT, _IN, "A grader plugin failed to load or to register, returned something other than a Grader, or clashes with another plugin's name."),
        ("E_REGRESS_GRADER_UNPINNED", _E.INVALID_INPUT, _IN, "A non-deterministic grader has no pin in gait.yaml, or its pinned config_digest does not match its options."),
        ("E_REGRESS_REPLAY_NEEDS_RESULTS", _E.INVALID_INPUT, _IN, "Serving a command its tool results needs a raw-capture runpack; this one keeps digests only."),
        ("E_REGRESS_COMMAND_NOT_FOUND", _E.INVALID_INPUT, _IN, "The agent command in gait.yaml is not on PATH."),
        ("E_REGRESS_COMMAND_FAILED", _E.REGRESS_FAILED, _VF, "The agent command ran but failed (or could not start), so the fixture has no candidate."),
        ("E_REGRESS_COMMAND_TIMEOUT", _E.REGRESS_FAILED, _VF, "The agent command did not finish within its timeout."),
        ("E_REGRESS_NO_CANDIDATE", _E.REGRESS_FAILED, _VF, "The candidate runpack is missing or does not verify."),
        ("E_REGRESS_REPLAY_MISS", _E.REGRESS_FAILED, _VF, "The agent made a tool call during replay that the fixture did not record."),
        ("E_REGRESS_GRADE_INPUT", _E.REGRESS_FAILED, _VF, "A grader could not get its input (fixture or candidate runpack unusable); in regress the fixture fails with the grader's code and this reason."),
        ("E_REGRESS_GRADER_ERROR", _E.REGRESS_FAILED, _VF, "A grader raised instead of returning a result; the fixture counts as failed."),
        ("E_REGRESS_UPDATE_REFUSED", _E.REGRESS_FAILED, _VF, "regress run --update refused to rewrite one or more fixtures (the result lists why)."),
        ("E_REGRESS_RESULT_MISSING", _E.INVALID_INPUT, _IN, "No regress_result.json where one was expected: no regress run wrote it."),
        ("E_REGRESS_RESULT_INVALID", _E.INVALID_INPUT, _IN, "regress_result.json is unreadable, not strict JSON, or not a regress result."),
        ("E_REGRESS_INTERRUPTED", _E.INTERRUPTED, _INT, "regress run was interrupted; the agents it started were killed."),
    ],
    "Export, migrate and SDK compatibility": [
        ("E_EXPORT_INPUT_INVALID", _E.INVALID_INPUT, _IN, "The export input holds no trace records, or one is not strict JSON or not a gate trace."),
        ("E_EXPORT_FAILED", _E.INTERNAL, _IO, "Writing or sending the export failed."),
        ("E_EXPORT_OTEL_MISSING", _E.DEPENDENCY_MISSING, _DM, "The OpenTelemetry exporter needs opentelemetry-sdk (and the OTLP exporter package for the protocol chosen)."),
        ("E_EXPORT_OTEL_PROTOCOL", _E.INVALID_INPUT, _IN, "The OTLP protocol asked for is neither http/protobuf nor grpc."),
        ("E_MIGRATE_INPUT_INVALID", _E.INVALID_INPUT, _IN, "A migrate input is unreadable, not strict JSON, or holds no artifacts."),
        ("E_MIGRATE_UNKNOWN_SCHEMA", _E.INVALID_INPUT, _IN, "A migrate input has no schema_id or one gait does not know."),
        ("E_MIGRATE_UNSUPPORTED_VERSION", _E.INVALID_INPUT, _IN, "The artifact's schema version (or the --target) has no migration path."),
    ],
    "Voice (SayTokens)": [
        ("E_VOICE_INTENT_INVALID", _E.INVALID_INPUT, _IN, "voice token mint: the gait.voice.commitment_intent is unreadable, not strict JSON, or breaks its format (class, call coordinates, context, bounds)."),
        ("E_VOICE_TOKEN_READ", _E.INVALID_INPUT, _IN, "voice token verify: the SayToken file is unreadable, not strict JSON, or a field has the wrong type."),
        ("E_VOICE_TOKEN_INVALID", _E.VERIFY_FAILED, _VF, "A SayToken breaks its format (say_token_invalid): schema, class, digests, call coordinates, bounds or times."),
        ("E_VOICE_TOKEN_SIGNATURE_MISSING", _E.VERIFY_FAILED, _VF, "A SayToken carries no signature (say_token_signature_missing)."),
        ("E_VOICE_TOKEN_SIGNATURE_INVALID", _E.VERIFY_FAILED, _VF, "A SayToken's signature does not verify with the key given (say_token_signature_invalid)."),
        ("E_VOICE_TOKEN_EXPIRED", _E.VERIFY_FAILED, _VF, "A SayToken's expiry has passed (say_token_expired): mint a fresh one."),
        ("E_VOICE_TOKEN_INTENT_MISMATCH", _E.VERIFY_FAILED, _VF, "A SayToken was minted for another commitment intent digest (say_token_intent_mismatch)."),
        ("E_VOICE_TOKEN_POLICY_MISMATCH", _E.VERIFY_FAILED, _VF, "A SayToken was minted under another policy digest (say_token_policy_mismatch)."),
        ("E_VOICE_TOKEN_CALL_MISMATCH", _E.VERIFY_FAILED, _VF, "A SayToken is bound to another call_id, turn_index or call_seq (say_token_call_binding_mismatch)."),
        ("E_VOICE_TOKEN_CLASS_MISMATCH", _E.VERIFY_FAILED, _VF, "A SayToken is bound to another commitment class (say_token_class_mismatch)."),
    ],
}
# fmt: on

_MULTI: dict[str, tuple[tuple[ExitCode, ...], str]] = {
    "E_TRACE_UNWRITABLE": (
        (_E.INVALID_INPUT,),
        "the trace writer raises it as an I/O failure, exit 1 (a production gate then fails "
        "closed and blocks); gate eval in dev mode reports it as invalid input, exit 6, as the "
        "reference does",
    ),
    "E_APPROVED_SCRIPT_REGISTRY": (
        (_E.POLICY_BLOCKED,),
        "managing the registry (approve-script, list-scripts) is bad input, exit 6; gate eval "
        "fails closed on a bad registry and blocks the intent, exit 3",
    ),
}

FAMILIES: dict[str, Code] = {
    "E_REGRESS_GRADER_FAIL_": Code(
        "Regress",
        _E.REGRESS_FAILED,
        _VF,
        "A fixture failed the named grader; built-in suffixes: SCHEMA, EXIT_CODE, TRAJECTORY, "
        "DIFF; a plugin grader uses its name (or its code_suffix) in upper case.",
        suffix_name="GRADER",
    ),
}


def _build() -> dict[str, Code]:
    codes: dict[str, Code] = {}
    for area, rows in _TABLE.items():
        for code, exit_code, category, meaning in rows:
            assert code not in codes, code
            also, why = _MULTI.get(code, ((), ""))
            codes[code] = Code(area, exit_code, category, meaning, also, why)
    return codes


CODES: dict[str, Code] = _build()


def lookup(code: str) -> Code | None:
    """The registry entry of a code (a family entry for a prefix-built code), or None."""
    entry = CODES.get(code)
    if entry is not None:
        return entry
    for prefix, family in FAMILIES.items():
        if code.startswith(prefix) and len(code) > len(prefix):
            return family
    return None


def render_markdown_tables() -> str:
    """docs/error-codes.md's tables, one per area, in the registry's order."""
    out: list[str] = []
    rows_by_area: dict[str, list[tuple[str, Code]]] = {}
    for code, entry in CODES.items():
        rows_by_area.setdefault(entry.area, []).append((code, entry))
    for prefix, entry in FAMILIES.items():
        rows_by_area.setdefault(entry.area, []).append((f"{prefix}<{entry.suffix_name}>", entry))
    for area, rows in rows_by_area.items():
        out += [f"### {area}", "", "| code | exit | category | meaning |", "|---|---|---|---|"]
        for code, entry in rows:
            meaning = entry.meaning
            if entry.also_exits:
                others = ", ".join(str(int(e)) for e in entry.also_exits)
                meaning += f" Also exits {others}: {entry.why_multi}."
            out.append(f"| `{code}` | {int(entry.exit)} | {entry.category} | {meaning} |")
        out.append("")
    return "\n".join(out)
