"""``gait delegate mint|verify``: signed delegation tokens for ``require_delegation`` rules."""

from __future__ import annotations

import argparse
from pathlib import Path

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome
from gait.errors import ExitCode

MINT_EXPLAIN = (
    "gait delegate mint signs a delegation token: --delegator hands --delegate the right to act "
    "within --scope (e.g. tool:tool.write) and --scope-class until --ttl runs out, optionally "
    "bound to one intent and one policy digest. gait gate eval --delegation-token checks it "
    "when a matched rule sets require_delegation."
)
VERIFY_EXPLAIN = (
    "gait delegate verify checks a delegation token's signature, expiry, identities, scope and "
    "digest bindings. Exit 0 verified, 2 not verified (error_code names why), 6 bad input."
)


def register(parser: argparse.ArgumentParser) -> None:
    from gait.sign.keyring import add_key_options

    sub = add_group(parser)
    mint = sub.add_parser("mint", help="sign a delegation token")
    mint.add_argument("--delegator", required=True, help="delegator identity")
    mint.add_argument("--delegate", required=True, help="delegate identity")
    mint.add_argument("--scope", required=True, help="comma-separated scope values")
    mint.add_argument("--scope-class", default="", help="delegation scope class (e.g. write)")
    mint.add_argument("--ttl", required=True, help="time to live, e.g. 30m, 1h")
    mint.add_argument("--intent-digest", default="", help="optional intent digest binding")
    mint.add_argument("--policy-digest", default="", help="optional policy digest binding")
    mint.add_argument("--now", metavar="RFC3339", help="mint time (default: the clock)")
    mint.add_argument("--out", help="token file (default delegation_<token_id>.json)")
    add_key_options(mint)
    add_common(mint, MINT_EXPLAIN)
    mint.set_defaults(handler=run_mint)

    verify = sub.add_parser("verify", help="verify a delegation token")
    verify.add_argument("--token", required=True, help="delegation token JSON")
    verify.add_argument("--delegator", default="", help="expected delegator identity")
    verify.add_argument("--delegate", default="", help="expected delegate identity")
    verify.add_argument("--scope", default="", help="required scope (comma-separated, any)")
    verify.add_argument("--intent-digest", default="", help="expected intent digest")
    verify.add_argument("--policy-digest", default="", help="expected policy digest")
    verify.add_argument("--now", metavar="RFC3339", help="check time (default: the clock)")
    add_key_options(verify)
    add_common(verify, VERIFY_EXPLAIN)
    verify.set_defaults(handler=run_verify)


def run_mint(args: argparse.Namespace) -> Outcome:
    from gait import __version__, timefmt
    from gait.canon import dumps_pretty
    from gait.fsutil import atomic_write
    from gait.gate.approval import parse_ttl
    from gait.gate.delegation_tokens import mint_token
    from gait.sign.keyring import resolve_signing_key

    key, _, warnings = resolve_signing_key(args)
    token = mint_token(
        key=key,
        delegator=args.delegator,
        delegate=args.delegate,
        scope=args.scope.split(","),
        scope_class=args.scope_class,
        ttl_ns=parse_ttl(args.ttl),
        now=timefmt.canonical(args.now) if args.now else timefmt.now(),
        producer_version=__version__,
        intent_digest=args.intent_digest,
        policy_digest=args.policy_digest,
    )
    out = Path(args.out or f"delegation_{token['token_id']}.json")
    atomic_write(out, dumps_pretty(token), mode=0o600)
    payload = _describe(token, str(out), key.key_id)
    payload["description"] = "signed delegation token created"
    lines = [
        f"delegation token {token['token_id']} written to {out}",
        f"{token['delegator_identity']} -> {token['delegate_identity']} "
        f"scope={','.join(token['scope'])} expires_at={token['expires_at']}",
    ]
    return Outcome(payload, ExitCode.OK, lines, warnings)


def run_verify(args: argparse.Namespace) -> Outcome:
    from gait import timefmt
    from gait.cli.gate import _read_json
    from gait.errors import InvalidInput, VerificationFailed
    from gait.gate import delegation_tokens as dt
    from gait.sign.keyring import verify_key_from

    key = verify_key_from(args.public_key, getattr(args, "public_key_env", None), "public key")
    keys = [key] if key is not None else []
    if not keys and (getattr(args, "private_key", None) or getattr(args, "private_key_env", None)):
        from gait.sign.keyring import resolve_signing_key

        keys = [resolve_signing_key(args)[0].public()]
    if not keys:
        raise InvalidInput(
            "a verify key is required: --public-key PATH (or --private-key to derive it)",
            code="E_USAGE",
        )
    raw = _read_json(args.token, "delegation token", "E_DELEGATION_TOKEN_READ")
    expect = dt.Expectation(
        now=timefmt.canonical(args.now) if args.now else timefmt.now(),
        delegator=args.delegator.strip(),
        delegate=args.delegate.strip(),
        scope=tuple(s.strip().lower() for s in args.scope.split(",") if s.strip()),
        intent_digest=args.intent_digest.strip().lower(),
        policy_digest=args.policy_digest.strip().lower(),
    )
    try:
        token = dt.read_token(raw)
        dt.check_token(token, keys, expect)
    except dt.DelegationTokenError as exc:
        raise VerificationFailed(
            f"delegation token not verified ({exc.reason_code}): {exc.message}; "
            "next: mint a fresh token with gait delegate mint",
            code=exc.code,
        ) from exc
    payload = _describe(raw, args.token, (raw.get("signature") or {}).get("key_id", ""))
    payload["description"] = "delegation token verified"
    return Outcome(payload, ExitCode.OK, [f"delegation token {token.token_id} verified"])


def _describe(token: dict, path: str, key_id: str) -> dict:
    from gait import timefmt

    moment, _ = timefmt.parse(timefmt.canonical(token["expires_at"]))
    out = {
        "ok": True,
        "token_id": token.get("token_id", ""),
        "token_path": path,
        "delegator_identity": token.get("delegator_identity", ""),
        "delegate_identity": token.get("delegate_identity", ""),
        "scope": sorted({s.strip().lower() for s in token.get("scope", []) if s.strip()}),
        "expires_at": timefmt.format_utc(moment),
        "key_id": key_id,
    }
    if token.get("scope_class"):
        out["scope_class"] = token["scope_class"].strip().lower()
    return out
