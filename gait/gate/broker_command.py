"""The ``command`` credential broker (issue 15, item 4): a local program mints the credential.

``gait gate eval --credential-broker command --credential-command PATH
[--credential-command-args A,B]`` runs ``PATH A B`` (no shell) with the broker request on stdin
as the reference encodes it (its Go field names: ``{"ToolName":...,"TargetBinding":...}``) and
reads one JSON receipt from its output (stdout and stderr together, as the reference does):

- a provider receipt (``"provider": "aws_sts" | "github_oidc" | "vault_dynamic" | "gcp_sts" |
  "azure_federated" | "okta_cyberark" | "command" | "file"`` and aliases), normalised with the
  provider's default issuer and a credential reference derived from its identifiers, or
- a plain broker response (``credential_ref`` required; ``issued_by``, ``source``,
  ``access_type``, ``issuer``, ``subject``, ``owner``, ``scope``, ``target_binding``,
  ``run_binding``, ``job_binding``, ``request_digest``, ``issued_at``, ``expires_at``,
  ``ttl_seconds`` optional).

Fail closed: a command that exits non-zero, cannot start, runs past 5 s, writes more than 16 KiB,
writes nothing, writes something that is not such a receipt, returns a reference longer than 256
characters or containing control whitespace, or a receipt field holding what looks like raw
credential material (``ghp_``, ``sk-``, ``AKIA``...), blocks the call
(``broker_credential_missing``). ``GAIT_CREDENTIAL_COMMAND_ALLOWLIST`` (comma-separated paths or
base names), when set, limits which commands may run at all (``E_CREDENTIAL_COMMAND``, exit 6).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from typing import Any

from gait.errors import InvalidInput
from gait.gate.broker import Broker, CredentialUnavailable, Receipt, Request, _scope

TIMEOUT_SECONDS = 5.0
OUTPUT_MAX_BYTES = 16 * 1024
REF_MAX_LENGTH = 256
ALLOWLIST_ENV = "GAIT_CREDENTIAL_COMMAND_ALLOWLIST"

_PROVIDERS = {
    "aws": "aws_sts",
    "aws_sts": "aws_sts",
    "sts": "aws_sts",
    "github": "github_oidc",
    "github_oidc": "github_oidc",
    "oidc": "github_oidc",
    "vault": "vault_dynamic",
    "vault_dynamic": "vault_dynamic",
    "gcp": "gcp_sts",
    "gcp_sts": "gcp_sts",
    "azure": "azure_federated",
    "azure_federated": "azure_federated",
    "okta": "okta_cyberark",
    "cyberark": "okta_cyberark",
    "okta_cyberark": "okta_cyberark",
    "command": "command",
    "file": "file",
}
_ISSUERS = {
    "aws_sts": "sts.amazonaws.com",
    "github_oidc": "token.actions.githubusercontent.com",
    "vault_dynamic": "vault",
    "gcp_sts": "sts.googleapis.com",
    "azure_federated": "login.microsoftonline.com",
    "okta_cyberark": "okta-cyberark",
}
_REF_PREFIXES = (
    "ref:",
    "stub:",
    "cmd:",
    "env:",
    "aws_sts:",
    "github_oidc:",
    "vault_dynamic:",
    "gcp_sts:",
    "azure_federated:",
    "okta_cyberark:",
    "file:",
)
_SECRET_PREFIXES = ("ghp_", "gho_", "github_pat_", "sk-", "AKIA", "ASIA")
# receipt fields that must never carry a raw secret (those naming credential, session, lease)
_GUARDED = ("credential_ref", "session_arn", "lease_id", "broker_session_id")
# String fields both receipt shapes carry, in the order they are read.
_RECEIPT_STRINGS = (
    "source",
    "access_type",
    "issuer",
    "subject",
    "owner",
    "credential_ref",
    "target_binding",
    "run_binding",
    "job_binding",
    "request_digest",
)
_PROVIDER_STRINGS = (
    "provider",
    *_RECEIPT_STRINGS,
    "issued_at",
    "expires_at",
    "assumed_role_arn",
    "session_arn",
    "repository",
    "workflow_ref",
    "lease_id",
    "principal",
    "workload_identity_provider",
    "service_principal_id",
    "federated_credential_id",
    "broker_session_id",
)
_RESPONSE_STRINGS = ("issued_by", *_RECEIPT_STRINGS)


def check_allowlist(command: str) -> None:
    """Refuse a command outside ``GAIT_CREDENTIAL_COMMAND_ALLOWLIST`` (when it is set)."""
    raw = os.environ.get(ALLOWLIST_ENV, "")
    allowed = []
    for entry in raw.split(","):
        cleaned = os.path.normpath(entry.strip()) if entry.strip() else ""
        if cleaned and cleaned != "." and cleaned not in allowed:
            allowed.append(cleaned)
    if not allowed:
        return
    path = os.path.normpath(command.strip())
    if path in allowed or os.path.basename(path) in allowed:
        return
    raise InvalidInput(
        f"command broker command {command!r} is not in allowlist {ALLOWLIST_ENV}",
        code="E_CREDENTIAL_COMMAND",
        hint=f"add it to {ALLOWLIST_ENV} or use another --credential-command",
    )


def request_json(request: Request) -> bytes:
    """The request as the reference's ``json.Marshal`` writes it (field order, compact, HTML
    characters escaped)."""
    doc = {
        "ToolName": request.tool_name,
        "Identity": request.identity,
        "Workspace": request.workspace,
        "SessionID": request.session_id,
        "RequestID": request.request_id,
        "RunID": request.run_id,
        "JobID": request.job_id,
        "Reference": request.reference,
        "Scope": list(request.scope),
        "TargetBinding": request.target_binding,
    }
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text.encode("utf-8")


def _run(argv: list[str], payload: bytes, timeout: float) -> tuple[bytes, bool, bool, bool]:
    """(output, truncated, timed_out, failed): the command's stdout+stderr, at most
    ``OUTPUT_MAX_BYTES`` kept (the rest drained and dropped so the command never blocks)."""
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            close_fds=True,
        )
    except (OSError, ValueError):
        return b"", False, False, True
    kept = bytearray()
    truncated = False

    def drain() -> None:
        nonlocal truncated
        assert proc.stdout is not None
        stream = proc.stdout
        while True:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                return
            room = OUTPUT_MAX_BYTES - len(kept)
            if len(chunk) > room:
                truncated = True
                chunk = chunk[: max(room, 0)]
            kept.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    assert proc.stdin is not None
    try:
        proc.stdin.write(payload)
    except OSError:
        pass  # a command that does not read its request may close stdin early
    finally:
        try:
            proc.stdin.close()
        except OSError:
            pass
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        reader.join(timeout=1)
        return bytes(kept), truncated, True, True
    reader.join(timeout=timeout)
    return bytes(kept), truncated, False, code != 0


class CommandBroker(Broker):
    name = "command"

    def __init__(
        self, command: str, args: list[str] | None = None, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self.command = command
        self.args = list(args or [])
        self.timeout = timeout

    def issue(self, request: Request, now: str) -> Receipt:
        command = self.command.strip()
        if not command:
            raise CredentialUnavailable("command broker requires command")
        if any(c in command for c in " \t\r\n"):
            raise CredentialUnavailable("command broker command must not contain whitespace")
        output, truncated, timed_out, failed = _run(
            [command, *self.args], request_json(request), self.timeout
        )
        if timed_out:
            raise CredentialUnavailable("command broker timed out")
        if truncated:
            raise CredentialUnavailable(f"command broker output exceeded {OUTPUT_MAX_BYTES} bytes")
        if failed:
            raise CredentialUnavailable("command broker failed")
        text = output.decode("utf-8", errors="replace").strip()
        if not text:
            raise CredentialUnavailable("command broker returned empty output")
        if text.startswith("{"):
            try:
                doc = json.loads(text)
            except ValueError as exc:
                raise CredentialUnavailable(f"parse provider receipt: {exc}") from exc
            if isinstance(doc, dict):
                provider = _provider_of(doc)
                if provider:
                    return _provider_receipt(provider, doc, request, now)
        return _response(text, request, self.name)


def _provider_of(doc: dict[str, Any]) -> str:
    value = doc.get("provider")
    return _PROVIDERS.get(value.strip().lower(), "") if isinstance(value, str) else ""


def _fields(doc: dict[str, Any], names: tuple[str, ...], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in names:
        value = doc.get(name)
        if value is None:
            out[name] = ""
        elif isinstance(value, str):
            out[name] = value.strip()
        else:
            raise CredentialUnavailable(f"{what}: {name} must be a string")
    return out


def _ttl(doc: dict[str, Any], what: str) -> int:
    value = doc.get("ttl_seconds")
    if value is None:
        return 0
    if type(value) is not int:
        raise CredentialUnavailable(f"{what}: ttl_seconds must be an integer")
    return value


def _time(value: str, what: str) -> str:
    from gait import timefmt

    if not value:
        return ""
    try:
        return timefmt.canonical(value)
    except InvalidInput as exc:
        raise CredentialUnavailable(f"{what} timestamp must be RFC3339: {value!r}") from exc


def _looks_secret(value: str) -> bool:
    if value.lower().startswith(_REF_PREFIXES):
        return False
    return value.startswith(_SECRET_PREFIXES)


def _provider_receipt(provider: str, doc: dict[str, Any], request: Request, now: str) -> Receipt:
    from gait.gate.approval import _ns_of

    what = "provider receipt"
    f = _fields(doc, _PROVIDER_STRINGS, what)
    scope_raw = doc.get("scope")
    if scope_raw is not None and not (
        isinstance(scope_raw, list) and all(isinstance(s, str) for s in scope_raw)
    ):
        raise CredentialUnavailable(f"{what}: scope must be a list of strings")
    for name in _GUARDED:
        if f[name] and _looks_secret(f[name]):
            raise CredentialUnavailable(f"{name} must not contain raw credential material")
    issued = _time(f["issued_at"], what)
    expires = _time(f["expires_at"], what)
    ref = f["credential_ref"] or _derive_ref(provider, f)
    ttl = _ttl(doc, what)
    if not ttl and issued and expires and _ns_of(expires) > _ns_of(issued):
        ttl = (_ns_of(expires) - _ns_of(issued)) // 1_000_000_000
    scope = list(_scope(scope_raw or [])) or list(request.scope)
    return Receipt(
        issued_by=provider,
        credential_ref=ref,
        source=f["source"].lower() or provider,
        access_type=f["access_type"].lower() or "jit",
        issuer=f["issuer"] or _ISSUERS.get(provider, provider),
        subject=f["subject"] or request.identity.strip(),
        owner=f["owner"] or request.identity.strip(),
        scope=scope,
        target_binding=f["target_binding"] or request.target_binding,
        run_binding=f["run_binding"] or request.run_id,
        job_binding=f["job_binding"] or request.job_id,
        request_digest=f["request_digest"] or request.digest(),
        issued_at=issued,
        expires_at=expires,
        ttl_seconds=ttl,
    )


# The reference's credential reference for a provider receipt without ``credential_ref``:
# provider -> (identifier fields, the first one set is used; a field appended after ":" if set).
_DERIVED_REFS: dict[str, tuple[tuple[str, ...], str]] = {
    "aws_sts": (("assumed_role_arn", "session_arn"), ""),
    "github_oidc": (("repository",), "workflow_ref"),
    "vault_dynamic": (("lease_id",), ""),
    "gcp_sts": (("principal", "workload_identity_provider"), ""),
    "azure_federated": (("service_principal_id",), "federated_credential_id"),
    "okta_cyberark": (("broker_session_id",), ""),
}


def _derive_ref(provider: str, f: dict[str, str]) -> str:
    """``<provider>:<identifier>[:<suffix>]`` by ``_DERIVED_REFS``."""
    rule = _DERIVED_REFS.get(provider)
    if rule is None:
        raise CredentialUnavailable(f"{provider} provider receipt requires credential_ref")
    names, suffix = rule
    value = next((f[name] for name in names if f[name]), "")
    if not value:
        raise CredentialUnavailable(
            f"{provider} provider receipt requires {' or '.join(names)} "
            "when credential_ref is omitted"
        )
    tail = f":{f[suffix]}" if suffix and f[suffix] else ""
    return f"{provider}:{value}{tail}"


def _response(text: str, request: Request, name: str) -> Receipt:
    """A plain broker response; anything that does not decode as one is refused."""
    bad = CredentialUnavailable("command broker must return JSON response")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise bad from exc
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise bad
    try:
        f = _fields(doc, _RESPONSE_STRINGS, "response")
        issued = _time(_optional_time(doc, "issued_at"), "response")
        expires = _time(_optional_time(doc, "expires_at"), "response")
        ttl = _ttl(doc, "response")
    except CredentialUnavailable as exc:
        raise bad from exc
    scope_raw = doc.get("scope")
    if scope_raw is not None and not (
        isinstance(scope_raw, list) and all(isinstance(s, str) for s in scope_raw)
    ):
        raise bad
    ref = f["credential_ref"]
    if not ref:
        raise CredentialUnavailable("command broker returned empty credential_ref")
    if len(ref) > REF_MAX_LENGTH:
        raise CredentialUnavailable("command broker credential_ref too long")
    if any(c in ref for c in "\r\n\t"):
        raise CredentialUnavailable("command broker credential_ref contains invalid whitespace")
    return Receipt(
        issued_by=f["issued_by"] or name,
        credential_ref=ref,
        source=f["source"],
        access_type=f["access_type"],
        issuer=f["issuer"],
        subject=f["subject"],
        owner=f["owner"],
        scope=list(scope_raw or []) or list(request.scope),
        target_binding=f["target_binding"] or request.target_binding,
        run_binding=f["run_binding"] or request.run_id,
        job_binding=f["job_binding"] or request.job_id,
        request_digest=f["request_digest"],
        issued_at=issued,
        expires_at=expires,
        ttl_seconds=ttl,
    )


def _optional_time(doc: dict[str, Any], name: str) -> str:
    """A JSON time as Go decodes one: absent or null is unset, anything else must be a
    non-empty RFC 3339 string."""
    value = doc.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise CredentialUnavailable(f"{name} must be an RFC3339 time")
    return value
