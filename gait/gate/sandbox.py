"""Sandbox requirements on a rule (issue 15, item 6): ``sandbox``.

A matched intent must declare the sandbox it runs in (``context.sandbox``) with evidence, and
its network, environment exposure, timeout, filesystem isolation, user mode, writable paths and
read-only roots must be within the rule's allowances; otherwise the rule blocks. A valid
sandbox lets a ``proc.exec``-only intent skip the destructive-apply escalation.
"""

from __future__ import annotations

import re
from typing import Any

from gait.gate.vocabulary import SANDBOX_ENUMS
from gait.gocompat import clean_path

_RAW_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_ENUM_KEYS = (
    ("allowed_network_modes", "network_mode", "AllowedNetworkModes"),
    ("allowed_env_exposure_modes", "env_exposure_mode", "AllowedEnvExposureModes"),
    ("allowed_filesystem_isolations", "filesystem_isolation", "AllowedFilesystemIsolations"),
    ("allowed_user_modes", "user_mode", "AllowedUserModes"),
)


def _paths(values: list[str] | None, where: str) -> list[str] | None:
    from gait.gate.policy_keys import err

    out: set[str] = set()
    for index, raw in enumerate(values or ()):
        value = clean_path(raw.strip())
        if value in ("", "."):
            continue
        if _RAW_ENV.match(value):
            raise err(f"{where}[{index}] must not contain raw environment variable assignments")
        out.add(value)
    return sorted(out) or None


def compile_rule(raw: dict[str, Any], payload: dict[str, Any], name: str) -> Any:
    from gait.gate.policy_keys import err, norm

    cfg = raw.get("sandbox") or {}
    allowed: dict[str, list[str]] = {}
    for key, field_name, _ in _ENUM_KEYS:
        values = norm(cfg.get(key), lower=True)
        for value in values:
            if value not in SANDBOX_ENUMS[field_name]:
                raise err(f"unsupported sandbox.{key[:-1]} {value!r} for {name}")
        allowed[field_name] = values
    writable = _paths(
        cfg.get("allowed_writable_path_prefixes"), "sandbox.allowed_writable_path_prefixes"
    )
    read_only = _paths(cfg.get("required_read_only_roots"), "sandbox.required_read_only_roots")
    max_timeout = cfg.get("max_timeout_seconds") or 0
    if max_timeout < 0:
        raise err(f"sandbox.max_timeout_seconds must be >= 0 for {name}")
    configured = (
        cfg.get("enabled") or any(allowed.values()) or writable or read_only or max_timeout > 0
    )
    if not configured:
        return None
    payload["Sandbox"] = {
        "Enabled": True,
        "AllowedNetworkModes": allowed["network_mode"],
        "AllowedWritablePathPrefixes": writable,
        "RequiredReadOnlyRoots": read_only,
        "AllowedEnvExposureModes": allowed["env_exposure_mode"],
        "MaxTimeoutSeconds": max_timeout,
        "AllowedFilesystemIsolations": allowed["filesystem_isolation"],
        "AllowedUserModes": allowed["user_mode"],
    }
    allowed_sets = {key: frozenset(values) for key, values in allowed.items()}

    def constraint(intent: Any, now: Any) -> Any:
        box = intent.context.get("sandbox")
        if box is None:
            codes = {"sandbox_metadata_missing"}
            missing = {"status": "missing", "reason_codes": ["sandbox_metadata_missing"]}
            return "block", codes, set(codes), "missing", ("sandbox", missing)
        reasons: set[str] = set()

        if not box.get("evidence_ref") or not box.get("evidence_digest"):
            reasons.add("sandbox_evidence_missing")
        for field_name, label in (
            ("network_mode", "network_mode"),
            ("env_exposure_mode", "env_exposure_mode"),
        ):
            value = box.get(field_name, "")
            if not value:
                reasons.add(f"sandbox_{label}_missing")
            elif allowed_sets[field_name] and value not in allowed_sets[field_name]:
                reasons.add(f"sandbox_{label}_disallowed")
        timeout = box.get("timeout_seconds", 0)
        if timeout <= 0:
            reasons.add("sandbox_timeout_missing")
        elif max_timeout > 0 and timeout > max_timeout:
            reasons.add("sandbox_timeout_exceeded")
        for field_name in ("filesystem_isolation", "user_mode"):
            value = box.get(field_name, "")
            if not value:
                reasons.add(f"sandbox_{field_name}_missing")
            elif allowed_sets[field_name] and value not in allowed_sets[field_name]:
                reasons.add(f"sandbox_{field_name}_disallowed")
        if writable and any(
            not any(_under(path, prefix) for prefix in writable)
            for path in box.get("writable_paths", [])
        ):
            reasons.add("sandbox_writable_path_disallowed")
        if read_only:
            have = box.get("read_only_roots", [])
            if not have or any(root not in have for root in read_only):
                reasons.add("sandbox_read_only_root_missing")
        if not reasons:
            return "", set(), set(), "valid", ("sandbox", decision(box, "valid", reasons))
        status = _status(reasons)
        return "block", reasons, set(reasons), status, ("sandbox", decision(box, status, reasons))

    return constraint


def decision(box: dict[str, Any], status: str, reasons: set[str]) -> dict[str, Any]:
    """The trace's ``sandbox`` record, as the reference writes it (empty fields omitted)."""
    out: dict[str, Any] = {"status": status}
    for name in (
        "network_mode",
        "env_exposure_mode",
        "timeout_seconds",
        "filesystem_isolation",
        "user_mode",
        "evidence_ref",
        "evidence_digest",
    ):
        if box.get(name):
            out[name] = box[name]
    if reasons:
        out["reason_codes"] = sorted(reasons)
    return out


_SANDBOX_RANK = {"missing": 4, "disallowed": 3, "invalid": 2, "valid": 1}


def pick(current: dict[str, Any] | None, candidate: dict[str, Any] | None) -> Any:
    """Of two rules' (or steps') sandbox records, the one the reference reports: the worse
    status, then the smaller evidence digest."""
    if candidate is None:
        return current
    if current is None:
        return candidate
    a = _SANDBOX_RANK.get(current.get("status", ""), 0)
    b = _SANDBOX_RANK.get(candidate.get("status", ""), 0)
    if b != a:
        return candidate if b > a else current
    if candidate.get("evidence_digest", "") < current.get("evidence_digest", ""):
        return candidate
    return current


def _under(path: str, prefix: str) -> bool:
    path, prefix = path.strip(), prefix.strip()
    return path == prefix or prefix == "/" or path.startswith(prefix + "/")


def _status(reasons: set[str]) -> str:
    if any(r.endswith("_missing") for r in reasons):
        return "missing"
    if any(r.endswith(("_disallowed", "_exceeded")) for r in reasons):
        return "disallowed"
    return "invalid"
