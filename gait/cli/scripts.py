"""``gait approve-script`` and ``gait list-scripts``: the signed approved-script registry."""

from __future__ import annotations

import argparse

from gait.cli.main import add_common
from gait.cli.output import Outcome
from gait.errors import ExitCode

APPROVE_EXPLAIN = (
    "gait approve-script signs a registry entry pre-approving one script intent (its script "
    "hash and tool sequence) under one policy digest, for --ttl (default 168h), and writes it "
    "into --registry (replacing an entry with the same pattern id). gait gate eval "
    "--approved-script-registry then lets that script through without evaluation."
)
LIST_EXPLAIN = "gait list-scripts prints the entries of an approved-script registry."


def register_approve(parser: argparse.ArgumentParser) -> None:
    from gait.sign.keyring import add_key_options

    parser.add_argument("--policy", required=True, help="policy YAML the approval is bound to")
    parser.add_argument("--intent", required=True, help="script IntentRequest JSON")
    parser.add_argument("--registry", required=True, help="approved-script registry JSON")
    parser.add_argument("--approver", required=True, help="approver identity")
    parser.add_argument("--pattern-id", default="", help="entry id (default pattern_<hash12>)")
    parser.add_argument("--ttl", default="168h", help="validity, e.g. 24h (default 168h)")
    parser.add_argument(
        "--scope", default="", help="comma-separated risk:/tool:/workspace_prefix:/endpoint:"
    )
    parser.add_argument("--now", metavar="RFC3339", help="signing time (default: the clock)")
    add_key_options(parser)
    add_common(parser, APPROVE_EXPLAIN)
    parser.set_defaults(handler=run_approve)


def register_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry", required=True, help="approved-script registry JSON")
    parser.add_argument("--now", metavar="RFC3339", help="time for 'expired' (default: clock)")
    add_common(parser, LIST_EXPLAIN)
    parser.set_defaults(handler=run_list)


def _registry_error(exc: Exception) -> Exception:
    from gait.errors import InvalidInput

    return InvalidInput(
        f"{exc}; next: fix the registry file or start a new one with gait approve-script",
        code="E_APPROVED_SCRIPT_REGISTRY",
    )


def run_approve(args: argparse.Namespace) -> Outcome:
    from gait import __version__, timefmt
    from gait.cli.gate import _read_json
    from gait.errors import InvalidInput
    from gait.gate.approval import _ns_of, _time_of_ns, parse_ttl
    from gait.gate.approved_scripts import (
        RegistryError,
        normalize_entry,
        read_registry,
        sign_entry,
        write_registry,
    )
    from gait.gate.intent import normalize_intent
    from gait.gate.policy import load_policy
    from gait.sign.keyring import resolve_signing_key

    policy = load_policy(args.policy)
    intent = normalize_intent(_read_json(args.intent, "intent", "E_INTENT_INVALID"))
    if intent.script is None:
        raise InvalidInput(
            "intent must include script.steps; next: give a script intent", code="E_USAGE"
        )
    script_hash = intent.doc["script_hash"]
    now = timefmt.canonical(args.now) if args.now else timefmt.now()
    key, _, warnings = resolve_signing_key(args)
    try:
        entry = sign_entry(
            {
                "schema_id": "gait.gate.approved_script_entry",
                "schema_version": "1.0.0",
                "created_at": now,
                "producer_version": __version__,
                "pattern_id": args.pattern_id.strip() or f"pattern_{script_hash[:12]}",
                "policy_digest": policy.digest,
                "script_hash": script_hash,
                "tool_sequence": [s["tool_name"] for s in intent.script["steps"]],
                "scope": [s for s in args.scope.split(",") if s.strip()],
                "approver_identity": args.approver.strip(),
                "expires_at": _time_of_ns(_ns_of(now) + parse_ttl(args.ttl)),
            },
            key,
        )
        existing = [normalize_entry(e) for e in read_registry(args.registry)]
    except RegistryError as exc:
        raise _registry_error(exc) from exc
    updated = [entry if e["pattern_id"] == entry["pattern_id"] else e for e in existing]
    if all(e["pattern_id"] != entry["pattern_id"] for e in existing):
        updated.append(entry)
    write_registry(args.registry, updated)
    payload = {
        "ok": True,
        "pattern_id": entry["pattern_id"],
        "policy_digest": entry["policy_digest"],
        "script_hash": entry["script_hash"],
        "tool_sequence": entry["tool_sequence"],
        "registry_path": args.registry.strip(),
        "expires_at": entry["expires_at"],
    }
    lines = [
        f"approve-script: pattern={entry['pattern_id']} registry={args.registry}",
        f"policy_digest={entry['policy_digest']} script_hash={entry['script_hash']}",
    ]
    return Outcome(payload, ExitCode.OK, lines, warnings)


def run_list(args: argparse.Namespace) -> Outcome:
    from gait import timefmt
    from gait.gate.approval import _ns_of
    from gait.gate.approved_scripts import RegistryError, normalize_entry, read_registry

    now = timefmt.canonical(args.now) if args.now else timefmt.now()
    try:
        entries = [normalize_entry(e) for e in read_registry(args.registry)]
    except RegistryError as exc:
        raise _registry_error(exc) from exc
    listed = []
    for entry in entries:
        item = {
            "pattern_id": entry["pattern_id"],
            "approver_identity": entry["approver_identity"],
            "policy_digest": entry["policy_digest"],
            "script_hash": entry["script_hash"],
            "tool_sequence": entry["tool_sequence"],
        }
        if entry.get("scope"):
            item["scope"] = entry["scope"]
        item["expires_at"] = entry["expires_at"]
        item["expired"] = not _ns_of(entry["expires_at"]) > _ns_of(now)
        listed.append(item)
    payload = {"ok": True, "registry": args.registry.strip(), "count": len(listed)}
    payload["entries"] = listed
    lines = [f"list-scripts: {len(listed)} entries in {args.registry}"]
    for item in listed:
        state = " (expired)" if item["expired"] else ""
        lines.append(f"- {item['pattern_id']} approver={item['approver_identity']}{state}")
    return Outcome(payload, ExitCode.OK, lines)
