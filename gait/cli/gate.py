"""``gait gate eval``: evaluate one intent, enforce, and write a signed trace."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome

EVAL_EXPLAIN = (
    "gait gate eval evaluates one IntentRequest against a policy, applies rate limits and "
    "destructive budgets (state in GAIT_HOME), checks approval tokens when approval is "
    "required, and writes a signed trace plus a line in the signed decision log. Exit 0 "
    "allow/dry_run, 3 block, 4 require_approval. --simulate records but never enforces."
)


def register(parser: argparse.ArgumentParser) -> None:
    from gait.sign.keyring import add_key_options

    sub = add_group(parser)
    ev = sub.add_parser("eval", help="evaluate an intent against a policy and enforce it")
    ev.add_argument("--policy", required=True, help="policy YAML file")
    ev.add_argument("--intent", required=True, help="IntentRequest JSON file")
    ev.add_argument(
        "--approval-token",
        action="append",
        default=[],
        metavar="PATH",
        help="signed approval token (repeat, or comma-separate, for several)",
    )
    ev.add_argument(
        "--approval-token-chain",
        default="",
        metavar="PATHS",
        help="comma-separated additional approval tokens",
    )
    ev.add_argument(
        "--approval-public-key",
        metavar="PATH",
        help="key that verifies approval tokens (default: this gate's key, trust store)",
    )
    ev.add_argument(
        "--approval-public-key-env", metavar="VAR", help="variable holding the approval verify key"
    )
    ev.add_argument(
        "--evaluation-time",
        metavar="RFC3339",
        help="the time used as 'now' for token expiry and rate-limit windows",
    )
    ev.add_argument("--trace-out", metavar="PATH", help="write the trace here")
    ev.add_argument(
        "--trace-dir",
        default="gait-out/traces",
        help="directory for traces and the decision log (default gait-out/traces)",
    )
    ev.add_argument("--approval-audit-out", metavar="PATH", help="write the approval audit here")
    ev.add_argument(
        "--state", metavar="PATH", help="gate state database (default GAIT_HOME/gate/state.sqlite3)"
    )
    ev.add_argument(
        "--simulate", action="store_true", help="evaluate and record, never enforce (exit 0)"
    )
    add_key_options(ev)
    add_common(ev, EVAL_EXPLAIN)
    ev.set_defaults(handler=run_eval)


def _read_json(path: str, what: str, code: str) -> Any:
    from gait.canon import loads_strict
    from gait.errors import InvalidInput

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror or exc}", code=code) from exc
    return loads_strict(data, what=f"{what} {path}", code=code)


def _risk_of(intent: Any) -> str:
    if isinstance(intent, dict) and isinstance(intent.get("context"), dict):
        risk = intent["context"].get("risk_class")
        if isinstance(risk, str):
            return risk.strip().lower()
    return ""


def _token_paths(args: argparse.Namespace) -> list[str]:
    paths: set[str] = set()
    for item in [*args.approval_token, args.approval_token_chain]:
        for part in (item or "").split(","):
            if part.strip():
                paths.add(part.strip())
    return sorted(paths)


def _read_tokens(paths: list[str]) -> list[Any]:
    """Decoded tokens; an unreadable one becomes ``None`` (an invalid token, never an allow)."""
    from gait.errors import InvalidInput

    out = []
    for path in paths:
        try:
            out.append(_read_json(path, "approval token", "E_APPROVAL_TOKEN_READ"))
        except InvalidInput:
            out.append(None)
    return out


def _approval_keys(args: argparse.Namespace) -> list[Any] | None:
    from gait.errors import InvalidInput
    from gait.sign.keyring import read_env_text, read_key_text
    from gait.sign.keys import VerifyKey

    if args.approval_public_key and args.approval_public_key_env:
        raise InvalidInput(
            "give --approval-public-key or --approval-public-key-env, not both", code="E_USAGE"
        )
    if args.approval_public_key:
        text = read_key_text(args.approval_public_key, "approval public key")
        return [VerifyKey.from_text(text, "approval public key")]
    if args.approval_public_key_env:
        text = read_env_text(args.approval_public_key_env, "approval public key")
        return [VerifyKey.from_text(text, "approval public key")]
    return None


def _unreadable_policy(policy_path: str) -> Any:
    """A block-everything stand-in whose digest is the SHA-256 of the unreadable file."""
    import dataclasses
    import hashlib

    from gait.gate.policy import load_policy_text

    try:
        raw = Path(policy_path).read_bytes()
    except OSError:
        raw = b""
    stand_in = load_policy_text("default_verdict: block\n")
    return dataclasses.replace(stand_in, digest=hashlib.sha256(raw).hexdigest())


def run_eval(args: argparse.Namespace) -> Outcome:
    from gait import schema, timefmt
    from gait.errors import GaitError
    from gait.gate.engine import DEFAULT_FAIL_CLOSED, Gate
    from gait.gate.intent import IntentInvalid
    from gait.gate.policy import PolicyInvalid, load_policy
    from gait.sign.keyring import key_mode, resolve_signing_key

    mode = key_mode(args)
    intent = _read_json(args.intent, "intent", "E_INTENT_INVALID")
    risk = _risk_of(intent)
    now = timefmt.canonical(args.evaluation_time) if args.evaluation_time else None
    approval_keys = _approval_keys(args)

    try:
        policy = load_policy(args.policy)
        policy_error = ""
    except PolicyInvalid as exc:
        if mode != "prod" or risk not in DEFAULT_FAIL_CLOSED:
            raise
        policy, policy_error = _unreadable_policy(args.policy), exc.message

    warnings: list[str] = []
    try:
        key, _, warnings = resolve_signing_key(args)
    except GaitError as exc:
        if exc.code != "E_SIGN_KEY_REQUIRED":
            raise
        gate = Gate(policy, signing_key=None, mode=mode)
        if not gate._fails_closed(risk):
            raise
        outcome = gate.blocked(
            intent, "fail_closed_signing_key_missing", error="no signing key: no trace was written"
        )
        return _render(outcome)

    gate = Gate(
        policy,
        signing_key=key,
        mode=mode,
        state_path=args.state,
        approval_keys=approval_keys,
        trace_dir=args.trace_dir,
        warnings=warnings,
    )
    if policy_error:
        outcome = gate.blocked(
            intent,
            "fail_closed_policy_invalid",
            error=policy_error,
            trace_out=args.trace_out,
            correlation_id=args.correlation_id,
        )
        return _render(outcome)

    problems = schema.errors("gait.gate.intent_request", intent)
    if problems:
        invalid_risk = policy.fail_closed_for(risk) or gate._fails_closed(risk)
        if not invalid_risk:
            raise IntentInvalid(
                f"intent does not match schema gait.gate.intent_request: {'; '.join(problems[:3])}",
                code="E_INTENT_INVALID",
            )
        outcome = gate.blocked(
            intent,
            "fail_closed_intent_invalid",
            error="; ".join(problems[:3]),
            trace_out=args.trace_out,
            correlation_id=args.correlation_id,
        )
        return _render(outcome)

    outcome = gate.decide(
        intent,
        approval_tokens=_read_tokens(_token_paths(args)),
        now=now,
        simulate=args.simulate,
        trace_out=args.trace_out,
        audit_out=args.approval_audit_out,
        correlation_id=args.correlation_id,
    )
    return _render(outcome)


def _render(outcome: Any) -> Outcome:
    payload = outcome.payload()
    reasons = ",".join(outcome.reason_codes) or "none"
    lines = [f"gate verdict={outcome.verdict} reasons={reasons}"]
    if outcome.matched_rule:
        lines.append(f"matched_rule={outcome.matched_rule}")
    if outcome.trace_path:
        lines.append(f"trace={outcome.trace_path}")
    elif outcome.trace is None:
        lines.append(f"trace=none ({outcome.trace_error or 'not written'})")
    if outcome.approval_audit_path:
        lines.append(f"approval_audit={outcome.approval_audit_path}")
    warnings = [w for w in outcome.warnings]
    return Outcome(payload, outcome.exit_code, lines, warnings)
