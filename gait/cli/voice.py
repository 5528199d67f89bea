"""``gait voice token mint|verify`` and ``gait voice pack build|verify|inspect|diff``.

The token commands gate a spoken commitment and mint or check its SayToken
(gait.gate.voice); the pack commands are the ``gait pack`` commands, with ``build`` making a
call pack (``--type call``) from a ``gait.voice.call_record`` file.
"""

from __future__ import annotations

import argparse
from typing import Any

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome
from gait.errors import ExitCode

MINT_EXPLAIN = (
    "gait voice token mint turns a gait.voice.commitment_intent into a gate intent (tool "
    "voice.commitment.<class>), evaluates it against --policy, writes a signed trace "
    "(--trace-out, default trace_<trace_id>.json) and, on allow, a signed SayToken bound to "
    "the intent digest, policy digest and call coordinates (--out, default "
    "say_token_<token_id>.json), valid for --ttl (default 2m). Exit 0 allow, 3 block, "
    "4 require_approval (no token then)."
)
VERIFY_EXPLAIN = (
    "gait voice token verify checks a SayToken's signature (--public-key, or derived from "
    "--private-key), the bindings you pass (--intent-digest, --policy-digest, --call-id, "
    "--turn-index, --call-seq, --commitment-class) and its expiry. Exit 0 valid, 2 not "
    "(reason_code names why), 6 bad input."
)
TOKEN_USAGE = (
    "gait voice token mint --intent <commitment_intent.json> --policy <policy.yaml> "
    "[--ttl 2m] [--out say_token.json] [--trace-out trace.json]"
)


VOICE_EXPLAIN = (
    "gait voice gates what a voice agent says: token mint/verify gate a spoken commitment and "
    "bind it to a signed SayToken; pack build/verify/inspect/diff handle call packs."
)
TOKEN_EXPLAIN = (
    "gait voice token mints SayTokens for commitment intents the policy allows and verifies "
    "them (signature, intent/policy digests, call coordinates, expiry) before speech."
)
PACK_EXPLAIN = (
    "gait voice pack builds call packs (gait pack build --type call) from a "
    "gait.voice.call_record and verifies, inspects and diffs them like gait pack."
)


def _group_explain(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument("--explain", action="store_const", const=text, default=None)


def register(parser: argparse.ArgumentParser) -> None:
    _group_explain(parser, VOICE_EXPLAIN)
    groups = add_group(parser)
    token = groups.add_parser("token", help="mint and verify SayTokens for spoken commitments")
    pack = groups.add_parser("pack", help="build, verify, inspect and diff call packs")
    _group_explain(token, TOKEN_EXPLAIN)
    _group_explain(pack, PACK_EXPLAIN)

    tokens = add_group(token)
    mint = tokens.add_parser("mint", help="gate a commitment intent and mint its SayToken")
    mint.add_argument("--intent", help="gait.voice.commitment_intent JSON file")
    mint.add_argument("--policy", help="policy YAML file")
    mint.add_argument("--ttl", default="2m", help="SayToken time to live (default 2m)")
    mint.add_argument("--out", metavar="PATH", help="token file (default say_token_<id>.json)")
    mint.add_argument(
        "--trace-out", metavar="PATH", help="trace file (default trace_<trace_id>.json)"
    )
    mint.add_argument("--key-mode", choices=("dev", "prod"), default=None, help="dev (default)")
    mint.add_argument("--private-key", metavar="PATH", help="private signing key file (base64)")
    mint.add_argument("--private-key-env", metavar="VAR", help="variable holding the key")
    mint.add_argument("--now", metavar="RFC3339", help="mint time (default: the clock)")
    add_common(mint, MINT_EXPLAIN)
    mint.set_defaults(handler=run_mint)

    ver = tokens.add_parser("verify", help="check a SayToken's signature, bindings and expiry")
    ver.add_argument("--token", help="SayToken JSON file")
    ver.add_argument("--public-key", metavar="PATH", help="public key file (base64)")
    ver.add_argument("--public-key-env", metavar="VAR", help="variable holding the public key")
    ver.add_argument("--private-key", metavar="PATH", help="derive the verify key from this")
    ver.add_argument("--private-key-env", metavar="VAR", help="variable holding a private key")
    ver.add_argument("--intent-digest", default="", help="expected intent digest")
    ver.add_argument("--policy-digest", default="", help="expected policy digest")
    ver.add_argument("--call-id", default="", help="expected call_id")
    ver.add_argument("--turn-index", type=int, default=-1, help="expected turn_index (>= 0)")
    ver.add_argument("--call-seq", type=int, default=0, help="expected call_seq (> 0)")
    ver.add_argument("--commitment-class", default="", help="expected commitment class")
    ver.add_argument("--now", metavar="RFC3339", help="check expiry at this time")
    add_common(ver, VERIFY_EXPLAIN)
    ver.set_defaults(handler=run_verify)

    from gait.cli import pack as pack_cli

    pack_cli.register(pack)
    packs = next(
        a
        for a in pack._actions
        if isinstance(a, argparse._SubParsersAction)  # noqa: SLF001
    )
    packs.choices["build"].set_defaults(pack_type="call")
    packs.choices["build"].description = "build a call pack from a gait.voice.call_record"


def _present(payload: dict[str, Any]) -> dict[str, Any]:
    """The output fields that are set, as the reference leaves out empty ones."""
    return {k: v for k, v in payload.items() if k == "ok" or v not in ("", 0, None, [], False)}


def _read_json(path: str, what: str, code: str) -> Any:
    from gait.canon import loads_strict
    from gait.fsutil import read_input

    return loads_strict(read_input(path, code, what), what=f"{what} {path}", code=code)


def run_mint(args: argparse.Namespace) -> Outcome:
    from pathlib import Path

    from gait import __version__, timefmt
    from gait.canon import dumps_pretty_struct
    from gait.errors import InvalidInput
    from gait.fsutil import atomic_write
    from gait.gate import voice
    from gait.gate.approval import parse_ttl
    from gait.gate.evaluate import evaluate_normalized
    from gait.gate.intent import IntentInvalid, normalize_intent
    from gait.gate.policy import load_policy
    from gait.gate.trace import TraceInput, build_trace, now_observed, write_json
    from gait.sign.keyring import resolve_signing_key

    if not (args.intent or "").strip() or not (args.policy or "").strip():
        raise InvalidInput(
            "both --intent and --policy are required", code="E_USAGE", hint=TOKEN_USAGE
        )
    try:
        ttl_ns = parse_ttl(args.ttl.strip())
    except InvalidInput:
        raise InvalidInput(
            f"invalid --ttl {args.ttl!r}, expected a positive duration such as 2m or 30s",
            code="E_USAGE",
            hint=TOKEN_USAGE,
        ) from None
    now = timefmt.canonical(args.now) if args.now else timefmt.now()
    raw = _read_json(args.intent, "voice intent", voice.INTENT_CODE)
    commitment = voice.normalize_commitment_intent(raw)
    try:
        intent = normalize_intent(voice.intent_request(commitment)).stripped()
    except IntentInvalid as exc:
        raise InvalidInput(
            f"commitment intent: {exc.message}", code=voice.INTENT_CODE, hint=voice.INTENT_HINT
        ) from exc
    policy = load_policy(args.policy)
    decision = evaluate_normalized(policy, intent)
    key, _, warnings = resolve_signing_key(args)
    trace = build_trace(
        TraceInput(
            intent_doc=intent.doc,
            intent_digest=intent.digest,
            args_digest=intent.args_digest,
            policy_digest=policy.digest,
            policy_id=policy.schema_id,
            policy_version=policy.schema_version,
            verdict=decision.verdict,
            violations=list(decision.violations),
            created_at=decision.created_at,
            producer_version=__version__,
            correlation_id=args.correlation_id,
            step_verdicts=decision.step_verdicts,
        ),
        key,
        now_observed(),
    )
    trace_path = Path(
        args.trace_out.strip() if args.trace_out else f"trace_{trace['trace_id']}.json"
    )
    write_json(trace_path, trace)
    payload: dict[str, Any] = {
        "ok": False,
        "operation": "mint",
        "verdict": decision.verdict,
        "reason_codes": list(decision.reason_codes),
        "violations": list(decision.violations),
        "token_id": "",
        "token_path": "",
        "call_id": commitment["call_id"],
        "turn_index": commitment["turn_index"],
        "call_seq": commitment["call_seq"],
        "commitment_class": commitment["commitment_class"],
        "trace_id": trace["trace_id"],
        "trace_path": str(trace_path),
        "policy_digest": policy.digest,
        "intent_digest": intent.digest,
    }
    if decision.verdict != "allow":
        payload["error"] = "commitment intent was not allowed by policy"
        code = (
            ExitCode.APPROVAL_REQUIRED
            if decision.verdict == "require_approval"
            else ExitCode.POLICY_BLOCKED
        )
        reasons = ",".join(decision.reason_codes) or "none"
        lines = [
            f"voice token mint {decision.verdict}: no SayToken (reason_codes={reasons})",
            f"trace={trace_path}",
            "next: do not speak this commitment; change the offer or get it approved",
        ]
        return Outcome(_present(payload), code, lines, warnings)
    token = voice.mint_say_token(
        key=key,
        commitment=commitment,
        intent_digest=intent.digest,
        policy_digest=policy.digest,
        ttl_ns=ttl_ns,
        now=now,
        producer_version=__version__,
    )
    token_path = Path(args.out.strip() if args.out else f"say_token_{token['token_id']}.json")
    atomic_write(token_path, dumps_pretty_struct(token), mode=0o600)
    payload.update(ok=True, token_id=token["token_id"], token_path=str(token_path))
    payload["warnings"] = warnings
    lines = [
        f"voice token mint ok: {token_path}",
        f"token_id={token['token_id']} expires_at={token['expires_at']} trace={trace_path}",
        f"next: gait voice token verify --token {token_path} --intent-digest {intent.digest}",
    ]
    return Outcome(_present(payload), ExitCode.OK, lines, warnings)


def run_verify(args: argparse.Namespace) -> Outcome:
    from gait import timefmt
    from gait.errors import InvalidInput
    from gait.gate import voice
    from gait.sign.keyring import verify_key_from

    token_path = (args.token or "").strip()
    if not token_path:
        raise InvalidInput(
            "--token is required",
            code="E_USAGE",
            hint="gait voice token verify --token say_token.json --public-key PATH",
        )
    key = verify_key_from(args.public_key, args.public_key_env, "public key")
    if key is not None and (args.private_key or args.private_key_env):
        raise InvalidInput(
            "give a --public-key source or a --private-key source, not both", code="E_USAGE"
        )
    if key is None:  # a private key source verifies too (its public half)
        key = verify_key_from(args.private_key, args.private_key_env, "private key")
    if key is None:
        raise InvalidInput(
            "a verify key is required",
            code="E_USAGE",
            hint="pass --public-key PATH (or --private-key PATH to derive it)",
        )
    fields = voice.decode_token(_read_json(token_path, "say token", voice.READ_CODE))
    reported = {
        "operation": "verify",
        "token_id": fields["token_id"],
        "token_path": token_path,
        "call_id": fields["call_id"],
        "turn_index": fields["turn_index"],
        "call_seq": fields["call_seq"],
        "commitment_class": fields["commitment_class"],
    }
    expect = voice.Expectation(
        now=timefmt.canonical(args.now) if args.now else timefmt.now(),
        intent_digest=args.intent_digest.strip().lower(),
        policy_digest=args.policy_digest.strip().lower(),
        call_id=args.call_id.strip(),
        turn_index=args.turn_index,
        call_seq=args.call_seq,
        commitment_class=args.commitment_class.strip().lower(),
    )
    try:
        token = voice.read_token(fields)
        voice.check_token(token, key, expect)
    except voice.SayTokenError as exc:
        exc.details = {**_present(reported), "reason_code": exc.reason_code}
        exc.hint = "do not speak: mint a fresh SayToken with gait voice token mint"
        raise
    payload = _present(
        {
            "ok": True,
            **reported,
            "policy_digest": fields["policy_digest"],
            "intent_digest": fields["intent_digest"],
        }
    )
    return Outcome(payload, ExitCode.OK, [f"voice token verify ok: {token_path}"])
