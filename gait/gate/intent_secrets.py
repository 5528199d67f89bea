"""Raw credential material in an intent: what looks like a secret, and refusing it.

The reference refuses an intent whose ``args`` (or ``context.auth_context``) carry a secret
under a key that names one (``token``, ``api_key``, ``password``...) rather than a reference to
it (``*_ref``, ``*_digest``, ``env:``, ``sha256:``...): a secret in an intent would end up in
traces and logs. These are its rules, exactly, since which intents are refused is part of the
interoperable behaviour.
"""

from __future__ import annotations

from gait.gate.intent_fields import HEX64, fail

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The reference's ``(token|secret|api[_-]?key|access[_-]?key|password|credential)``, searched in
# the lowered key: a search for an alternation of literals is a search for each literal.
_CREDENTIAL_WORDS = (
    "token",
    "secret",
    "apikey",
    "api_key",
    "api-key",
    "accesskey",
    "access_key",
    "access-key",
    "password",
    "credential",
)
_SAFE_KEY_SUFFIXES = (
    "_ref",
    "_refs",
    "_digest",
    "_digests",
    "_hash",
    "_issuer",
    "_source",
    "_type",
    "_ttl",
    "_ttl_seconds",
    "_id",
    "_ids",
    "_name",
    "_names",
    "_scope",
    "_scopes",
)
_SAFE_VALUE_PREFIXES = ("env:", "stub:", "cmd:", "ref:", "sha256:")
_SECRET_VALUE_PREFIXES = ("ghp_", "gho_", "github_pat_", "sk-", "AKIA", "ASIA")


# Each key's verdict, once per process (an SDK gates the same argument names call after call);
# bounded, as the functools.lru_cache it replaces (functools is not loaded for a decision).
_KEY_VERDICTS: dict[str, bool] = {}


def _key_suggests_credential(key: str) -> bool:
    found = _KEY_VERDICTS.get(key)
    if found is None:
        found = _key_verdict(key)
        if len(_KEY_VERDICTS) >= 8192:
            _KEY_VERDICTS.clear()
        _KEY_VERDICTS[key] = found
    return found


def _key_verdict(key: str) -> bool:
    lowered = key.strip().lower()
    if not lowered or lowered.endswith(_SAFE_KEY_SUFFIXES):
        return False
    for word in _CREDENTIAL_WORDS:
        if word in lowered:
            return True
    return False


def looks_like_secret(value: str) -> bool:
    trimmed = value.strip()
    if not trimmed:
        return False
    lowered = trimmed.lower()
    if lowered.startswith(_SAFE_VALUE_PREFIXES) or HEX64.match(lowered):
        return False
    if trimmed.startswith(_SECRET_VALUE_PREFIXES):
        return True
    if len(trimmed) < 16 or any(ch in trimmed for ch in " \t\r\n"):
        return False
    has_alpha = any(("a" <= ch <= "z") or ("A" <= ch <= "Z") for ch in trimmed)
    has_digit = any("0" <= ch <= "9" for ch in trimmed)
    return has_alpha and has_digit


def _has_credentials(value: Any) -> bool:
    if isinstance(value, dict):
        for key, nested in value.items():
            if (
                _key_suggests_credential(key)
                and isinstance(nested, str)
                and looks_like_secret(nested)
            ):
                return True
            if isinstance(nested, (dict, list)) and _has_credentials(nested):
                return True
    elif isinstance(value, list):
        return any(isinstance(v, (dict, list)) and _has_credentials(v) for v in value)
    return False


def refuse_credentials(path: str, value: Any) -> None:
    """Refuse raw credential material; the error names the first offender in key order."""
    if _has_credentials(value):
        _reject_credentials_sorted(path, value)


def _reject_credentials_sorted(path: str, value: Any) -> None:
    if isinstance(value, dict):
        for key in sorted(value):
            child = f"{path}.{key}"
            nested = value[key]
            if (
                _key_suggests_credential(key)
                and isinstance(nested, str)
                and looks_like_secret(nested)
            ):
                raise fail(
                    f"{child} must not contain raw credential material; "
                    "use credential references or digests instead"
                )
            _reject_credentials_sorted(child, nested)
    elif isinstance(value, list):
        for index, nested in enumerate(value):
            _reject_credentials_sorted(f"{path}[{index}]", nested)
