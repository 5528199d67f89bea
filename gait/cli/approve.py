"""``gait approve``: sign an approval token bound to one intent digest and one policy digest."""

from __future__ import annotations

import argparse
from pathlib import Path

from gait.cli.main import add_common
from gait.cli.output import Outcome
from gait.errors import ExitCode

EXPLAIN = (
    "gait approve signs an approval token (docs/formats.md section 6.1) binding an approver's "
    "decision to an intent digest and a policy digest, for a scope and a time to live. Give "
    "the digests (--intent-digest/--policy-digest) or the files (--intent/--policy) to compute "
    "them."
)


def register(parser: argparse.ArgumentParser) -> None:
    from gait.sign.keyring import add_key_options

    parser.add_argument("--intent-digest", help="intent digest the token approves")
    parser.add_argument("--policy-digest", help="policy digest the token is bound to")
    parser.add_argument("--intent", help="IntentRequest JSON (computes --intent-digest)")
    parser.add_argument("--policy", help="policy YAML (computes --policy-digest)")
    parser.add_argument(
        "--scope",
        default="",
        help="comma-separated scope, e.g. tool:tool.write (default: what the "
        "intent requires, when --intent is given)",
    )
    parser.add_argument("--ttl", default="1h", help="time to live, e.g. 15m, 1h, 8760h")
    parser.add_argument("--approver", required=True, help="approver identity")
    parser.add_argument("--reason-code", required=True, help="why (ticket, change id...)")
    parser.add_argument("--max-targets", type=int, default=0, help="0 = unbounded")
    parser.add_argument("--max-ops", type=int, default=0, help="0 = unbounded")
    parser.add_argument(
        "--delegation-binding-digest",
        default="",
        help="H(the intent's delegation) the token is bound to (default from --intent)",
    )
    parser.add_argument("--now", metavar="RFC3339", help="mint time (default: the clock)")
    parser.add_argument("--out", help="token file (default approval_<token_id>.json)")
    add_key_options(parser)
    add_common(parser, EXPLAIN)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Outcome:
    from gait import __version__, timefmt
    from gait.errors import InvalidInput
    from gait.fsutil import atomic_write
    from gait.gate.approval import mint_token, parse_ttl, required_scope
    from gait.sign.keyring import resolve_signing_key

    intent_digest = args.intent_digest or ""
    policy_digest = args.policy_digest or ""
    scope = [part for part in args.scope.split(",") if part.strip()]
    if args.intent:
        from gait.cli.gate import _read_json
        from gait.gate.intent import normalize_intent
        from gait.gate.policytest import check_intent_schema

        raw = _read_json(args.intent, "intent", "E_INTENT_INVALID")
        check_intent_schema(raw, "intent")
        normalized = normalize_intent(raw).stripped()
        if intent_digest and intent_digest.lower() != normalized.digest:
            raise InvalidInput("--intent-digest does not match --intent", code="E_USAGE")
        intent_digest = normalized.digest
        from gait.gate.engine import delegation_binding

        # the gate expects a call made under a delegation to be approved for that delegation
        binding = delegation_binding(normalized)
        given = (args.delegation_binding_digest or "").strip().lower()
        if given and binding and given != binding:
            raise InvalidInput(
                "--delegation-binding-digest does not match the delegation of --intent",
                code="E_USAGE",
            )
        args.delegation_binding_digest = given or binding
        if not scope:
            scope = required_scope(normalized.tool_name, normalized.phase, normalized.destructive)
    if args.policy:
        from gait.gate.policy import load_policy

        digest = load_policy(args.policy).digest
        if policy_digest and policy_digest.lower() != digest:
            raise InvalidInput("--policy-digest does not match --policy", code="E_USAGE")
        policy_digest = digest
    if not intent_digest or not policy_digest:
        raise InvalidInput(
            "need --intent-digest (or --intent) and --policy-digest (or --policy)",
            code="E_USAGE",
        )
    key, _, warnings = resolve_signing_key(args)
    token = mint_token(
        key=key,
        intent_digest=intent_digest,
        policy_digest=policy_digest,
        approver=args.approver,
        reason_code=args.reason_code,
        scope=scope,
        ttl_ns=parse_ttl(args.ttl),
        now=timefmt.canonical(args.now) if args.now else timefmt.now(),
        producer_version=__version__,
        delegation_binding_digest=args.delegation_binding_digest,
        max_targets=args.max_targets,
        max_ops=args.max_ops,
    )
    from gait.canon import dumps_pretty

    out = Path(args.out or f"approval_{token['token_id']}.json")
    atomic_write(out, dumps_pretty(token), mode=0o600)
    moment, _ = timefmt.parse(token["expires_at"])
    payload = {
        "ok": True,
        "description": "signed approval token created",
        "expires_at": timefmt.format_utc(moment),
        "key_id": key.key_id,
        "reason_code": token["reason_code"],
        "scope": token["scope"],
        "token_id": token["token_id"],
        "token_path": str(out),
    }
    lines = [
        f"approval token {token['token_id']} written to {out}",
        f"scope={','.join(token['scope'])} expires_at={token['expires_at']}",
    ]
    return Outcome(payload, ExitCode.OK, lines, warnings)
