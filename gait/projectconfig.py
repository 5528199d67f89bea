"""Project configuration: ``.gait/config.yaml``, the reference's project defaults file.

Three sections, the reference's keys exactly:

- ``gate``: defaults for ``gait gate eval`` flags (``policy``, ``profile``, ``key_mode``,
  ``private_key[_env]``, ``approval_public_key[_env]``, ``approval_private_key[_env]``,
  ``kill_switch_state``, ``rate_limit_state``, ``credential_broker``, ``credential_env_prefix``,
  ``credential_ref``, ``credential_scopes``, ``credential_command``,
  ``credential_command_args``, ``credential_evidence_path``, ``trace_path``,
  ``wrkr_inventory_path``). A flag given on the command line wins over the file, the file over
  the built-in default.
- ``mcp_serve`` and ``retention``: the service boundary and retention TTLs that
  ``gait doctor --production-readiness`` checks.

Unlike the reference (whose YAML decoder drops unknown keys), a key this file does not know is
refused by name: a misspelt ``key_mode`` silently falling back to dev keys is the kind of
configuration error a production gate must not have. The default path may be absent; a path
given with ``--config`` must exist.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gait.errors import InvalidInput

DEFAULT_PATH = ".gait/config.yaml"

# config key -> the ``gait gate eval`` argparse destination it defaults
GATE_KEYS: dict[str, str] = {
    "policy": "policy",
    "profile": "profile",
    "key_mode": "key_mode",
    "private_key": "private_key",
    "private_key_env": "private_key_env",
    "approval_public_key": "approval_public_key",
    "approval_public_key_env": "approval_public_key_env",
    "approval_private_key": "approval_private_key",
    "approval_private_key_env": "approval_private_key_env",
    "kill_switch_state": "kill_switch_state",
    "rate_limit_state": "state",  # this gate's state store (SQLite file or postgresql:// URL)
    "credential_broker": "credential_broker",
    "credential_env_prefix": "credential_env_prefix",
    "credential_ref": "credential_ref",
    "credential_scopes": "credential_scopes",
    "credential_command": "credential_command",
    "credential_command_args": "credential_command_args",
    "credential_evidence_path": "credential_evidence_out",
    "trace_path": "trace_out",
    "wrkr_inventory_path": "wrkr_inventory",
}
MCP_SERVE_KEYS: dict[str, type] = {
    "enabled": bool,
    "listen": str,
    "auth_mode": str,
    "auth_token_env": str,
    "max_request_bytes": int,
    "http_verdict_status": str,
    "allow_client_artifact_paths": bool,
}
RETENTION_KEYS = ("trace_ttl", "session_ttl", "export_ttl")
SECTIONS = ("gate", "mcp_serve", "retention")


@dataclass
class ProjectConfig:
    """``.gait/config.yaml``'s defaults; ``present`` is False when there is no file."""

    path: str = ""
    present: bool = False
    gate: dict[str, str] = field(default_factory=dict)
    mcp_serve: dict[str, Any] = field(default_factory=dict)
    retention: dict[str, str] = field(default_factory=dict)


def _invalid(path: str, message: str) -> InvalidInput:
    return InvalidInput(
        f"project config {path}: {message}",
        code="E_PROJECT_CONFIG_INVALID",
        hint=f"fix {path} (keys: docs/policy-language.md, project configuration) or pass "
        "--no-config",
    )


def is_default_path(path: str) -> bool:
    return os.path.normpath(path.strip()) == os.path.normpath(DEFAULT_PATH)


def load(path: str = DEFAULT_PATH, *, allow_missing: bool | None = None) -> ProjectConfig:
    """Read and check a project config; missing is empty only for the default path."""
    where = path.strip()
    if not where:
        raise InvalidInput("project config path is required", code="E_USAGE")
    if allow_missing is None:
        allow_missing = is_default_path(where)
    try:
        data = Path(where).read_bytes()
    except FileNotFoundError as exc:
        if allow_missing:
            return ProjectConfig(path=where)
        raise InvalidInput(
            f"project config not found: {where}",
            code="E_PROJECT_CONFIG_READ",
            hint="gait init writes .gait/config.yaml; or pass --no-config",
        ) from exc
    except OSError as exc:
        raise InvalidInput(
            f"cannot read project config {where}: {exc.strerror or exc}",
            code="E_PROJECT_CONFIG_READ",
        ) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(where, "not UTF-8") from exc
    config = ProjectConfig(path=where, present=True)
    if not text.strip():
        return config

    def fail(message: str, line: int | None) -> Exception:
        return _invalid(where, f"{message}" + (f" (line {line})" if line else ""))

    from gait import yamlload  # only for a config that exists: gate eval without one stays light

    doc = yamlload.load(text, fail)
    if doc is None:
        return config
    if not isinstance(doc, dict):
        raise _invalid(where, "must be a mapping of gate, mcp_serve and retention")
    for section in doc:
        if section not in SECTIONS:
            raise _invalid(where, f"unknown key {section!r} (known: {', '.join(SECTIONS)})")
    for section in SECTIONS:
        value = doc.get(section)
        if value is not None and not isinstance(value, dict):
            raise _invalid(where, f"{section} must be a mapping")
    gate = doc.get("gate") or {}
    for key, value in gate.items():
        if key not in GATE_KEYS:
            raise _invalid(where, f"unknown key 'gate.{key}'")
        config.gate[key] = _string(where, f"gate.{key}", value)
    for key, value in (doc.get("mcp_serve") or {}).items():
        kind = MCP_SERVE_KEYS.get(key)
        if kind is None:
            raise _invalid(where, f"unknown key 'mcp_serve.{key}'")
        if value is None:
            continue
        if kind is str:
            value = _string(where, f"mcp_serve.{key}", value)
            if key in ("auth_mode", "http_verdict_status"):
                value = value.lower()
        elif type(value) is not kind:
            raise _invalid(
                where, f"mcp_serve.{key} must be {'a boolean' if kind is bool else 'an integer'}"
            )
        config.mcp_serve[key] = value
    for key, value in (doc.get("retention") or {}).items():
        if key not in RETENTION_KEYS:
            raise _invalid(where, f"unknown key 'retention.{key}'")
        config.retention[key] = _string(where, f"retention.{key}", value)
    return config


def _string(where: str, key: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(where, f"{key} must be a string")
    return value.strip()


def apply_gate_defaults(args: Any, config: ProjectConfig) -> None:
    """Fill each ``gate eval`` flag the command line left empty from ``config.gate``."""
    for key, dest in GATE_KEYS.items():
        value = config.gate.get(key, "")
        if value and not (getattr(args, dest, None) or "").strip():
            setattr(args, dest, value)


TEMPLATE = """\
# Project defaults for gait (docs/policy-language.md, "Project configuration"). A flag on the
# command line wins over this file, this file over the built-in defaults; unknown keys are
# refused by name. gait doctor --production-readiness checks it. Uncomment what you need.

gate:
  policy: {policy}
  # profile: oss-prod               # production: also key_mode prod and a private key
  # key_mode: prod
  # private_key_env: GAIT_PRIVATE_KEY
  # approval_public_key: keys/approver_public.key
  # credential_broker: command      # off | stub | env | command
  # credential_command: /usr/local/bin/mint-credential
  # credential_command_args: --audience,gait
  # kill_switch_state: gait-out/kill_switch.json
  # wrkr_inventory_path: wrkr-inventory.json

# mcp_serve:                        # the service boundary gait doctor checks
#   enabled: true
#   listen: 127.0.0.1:8787
#   auth_mode: token
#   auth_token_env: GAIT_MCP_TOKEN
#   max_request_bytes: 1048576
#   http_verdict_status: strict
#   allow_client_artifact_paths: false

# retention:
#   trace_ttl: 168h
#   session_ttl: 336h
#   export_ttl: 168h
"""


def render_template(policy: str) -> str:
    import json

    return TEMPLATE.format(policy=json.dumps(policy))
