"""``gait gate eval``: evaluate one intent, enforce, and write a signed trace."""

from __future__ import annotations

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

EVAL_EXPLAIN = (
    "gait gate eval evaluates one IntentRequest against a policy, applies rate limits and "
    "destructive budgets (state in GAIT_HOME), checks approval tokens when approval is "
    "required, and writes a signed trace plus a line in the signed decision log. Exit 0 "
    "allow/dry_run, 3 block, 4 require_approval. --simulate records but never enforces."
)


DEFAULT_CONFIG = ".gait/config.yaml"  # projectconfig.DEFAULT_PATH, without importing it
STATE_HELP = "show or reset the gate state (limits, spent tokens)"


def register(parser: argparse.ArgumentParser) -> None:
    from gait.sign.keyring import add_key_options

    sub = add_group(parser)
    ev = sub.add_parser("eval", help="evaluate an intent against a policy and enforce it")
    ev.add_argument("--policy", help="policy YAML file (default: gate.policy of the config)")
    ev.add_argument("--intent", help="IntentRequest JSON file")
    _token_options(ev, "approval", "this gate's key, trust store")
    _token_options(ev, "delegation", "the approval key")
    ev.add_argument(
        "--delegation-audit-out", metavar="PATH", help="write the delegation audit here"
    )
    ev.add_argument(
        "--approved-script-registry",
        metavar="PATH",
        help="signed approved-script registry (gait approve-script): matching scripts pass",
    )
    ev.add_argument(
        "--approved-script-public-key",
        metavar="PATH",
        help="key that verifies registry entries (default: the approval key)",
    )
    ev.add_argument(
        "--approved-script-public-key-env",
        metavar="VAR",
        help="variable holding the registry verify key",
    )
    ev.add_argument(
        "--context-envelope",
        metavar="PATH",
        help="verified context evidence envelope (gait.context.envelope) bound to the intent: "
        "what require_context_evidence rules see",
    )
    ev.add_argument(
        "--wrkr-inventory",
        metavar="PATH",
        help="tool inventory JSON whose context rules can match (high risk fails closed "
        "when it cannot be read)",
    )
    ev.add_argument(
        "--profile",
        default=None,
        help="standard (default) or oss-prod (production checks before any decision)",
    )
    ev.add_argument(
        "--credential-broker",
        default=None,
        metavar="off|stub|env|command",
        help="broker for require_broker_credential rules (default off: such an allow blocks)",
    )
    ev.add_argument(
        "--credential-env-prefix",
        default=None,
        metavar="PREFIX",
        help="env broker: variable prefix (default GAIT_BROKER_TOKEN_)",
    )
    ev.add_argument("--credential-ref", default=None, help="broker reference to request")
    ev.add_argument("--credential-scopes", default=None, help="extra broker scopes (csv)")
    ev.add_argument(
        "--credential-command",
        default=None,
        metavar="PATH",
        help="command broker: the program that mints the credential (no shell)",
    )
    ev.add_argument(
        "--credential-command-args",
        default=None,
        metavar="CSV",
        help="command broker: comma-separated arguments for --credential-command",
    )
    ev.add_argument(
        "--credential-evidence-out", metavar="PATH", help="write the credential record here"
    )
    ev.add_argument(
        "--evaluation-time",
        metavar="RFC3339",
        help="the time used as 'now' for token expiry and rate-limit windows",
    )
    add_trace_options(ev)
    ev.add_argument("--approval-audit-out", metavar="PATH", help="write the approval audit here")
    ev.add_argument(
        "--state",
        metavar="PATH|URL",
        help="gate state: SQLite file or postgresql:// URL (default GAIT_GATE_STATE, "
        "else GAIT_HOME/gate/state.sqlite3)",
    )
    ev.add_argument(
        "--simulate", action="store_true", help="evaluate and record, never enforce (exit 0)"
    )
    ev.add_argument(
        "--kill-switch-state", metavar="PATH", help="kill-switch state JSON, honoured first"
    )
    add_key_options(ev)
    ev.add_argument(
        "--config",
        default=None,
        metavar="PATH",
        help="project defaults (default .gait/config.yaml, skipped when absent)",
    )
    ev.add_argument("--no-config", action="store_true", help="ignore the project defaults file")
    add_common(ev, EVAL_EXPLAIN)
    # --explain --json evaluates and prints the decision's explanation (gait.gate.explain)
    ev.set_defaults(handler=run_eval, explain_json_runs=True)
    # ``gait gate state ...`` is routed to gait.cli.gate_state (main.SUBROUTES), which builds
    # its parsers; here it is only listed, so a decision does not build them.
    sub.add_parser("state", help=STATE_HELP)


def add_trace_options(p: argparse.ArgumentParser) -> None:
    """--trace-out and --trace-dir, alike for every command deciding one call (gate eval,
    mcp proxy)."""
    p.add_argument("--trace-out", metavar="PATH", help="write the trace here")
    p.add_argument(
        "--trace-dir",
        default="gait-out/traces",
        help="directory for traces and the decision log (default gait-out/traces)",
    )


def _token_options(ev: argparse.ArgumentParser, kind: str, default_key: str) -> None:
    """--KIND-token (repeatable), --KIND-token-chain, and the four ways to name the key that
    verifies them: approval and delegation tokens are given and checked alike."""
    ev.add_argument(
        f"--{kind}-token",
        action="append",
        default=[],
        metavar="PATH",
        help=f"signed {kind} token (repeat, or comma-separate, for several)",
    )
    ev.add_argument(
        f"--{kind}-token-chain",
        default="",
        metavar="PATHS",
        help=f"comma-separated additional {kind} tokens",
    )
    ev.add_argument(
        f"--{kind}-public-key",
        metavar="PATH",
        help=f"key that verifies {kind} tokens (default: {default_key})",
    )
    ev.add_argument(
        f"--{kind}-public-key-env", metavar="VAR", help=f"variable holding the {kind} verify key"
    )
    ev.add_argument(
        f"--{kind}-private-key",
        metavar="PATH",
        help=f"derive the {kind} verify key from this private key",
    )
    ev.add_argument(
        f"--{kind}-private-key-env",
        metavar="VAR",
        help=f"variable holding the private key the {kind} verify key is derived from",
    )


def _read_json(path: str, what: str, code: str) -> Any:
    from gait.canon import loads_strict
    from gait.fsutil import read_input

    return loads_strict(read_input(path, code, what), what=f"{what} {path}", code=code)


def _token_paths(args: argparse.Namespace) -> list[str]:
    paths: set[str] = set()
    for item in [*args.approval_token, args.approval_token_chain]:
        for part in (item or "").split(","):
            if part.strip():
                paths.add(part.strip())
    return sorted(paths)


def _read_tokens(paths: list[str]) -> list[Any]:
    """Decoded tokens; a missing file is an input error naming it (exit 6, as the reference),
    an unreadable one becomes ``None`` (an invalid token, never an allow)."""
    if not paths:
        return []
    from gait.gate.sdk import read_approval_token

    return [read_approval_token(path) for path in paths]


def _approval_next(outcome: Any, args: argparse.Namespace, payload: dict[str, Any]) -> list[str]:
    """The exact commands that get this call approved: mint a token, then present it."""
    import shlex

    from gait.gate.sdk import APPROVAL_TOKEN_OUT, approval_scope, approve_command

    needed = max(outcome.required_approvals, 1)
    # One token file per approver: a second approver running the same command would replace
    # the first one's token (``gait approve --out`` overwrites), and the call would never get
    # its two distinct approvals.
    outs = (
        [APPROVAL_TOKEN_OUT]
        if needed == 1
        else [f"approval_token_{n}.json" for n in range(1, needed + 1)]
    )
    prod = getattr(args, "key_mode", None) == "prod" or getattr(args, "private_key", None)
    approves = [
        approve_command(outcome, out=out)
        + (" --key-mode prod --private-key PRIVATE_KEY" if prod else "")
        for out in outs
    ]
    again = (
        f"gait gate eval --policy {shlex.quote(args.policy)} --intent {shlex.quote(args.intent)} "
        + " ".join(f"--approval-token {out}" for out in outs)
    )
    payload["required_scope"] = approval_scope(outcome)
    payload["next_commands"] = [*approves, again]
    lines = [f"next: {approve}" for approve in approves] + [f"then: {again}"]
    if needed > 1:
        lines.insert(0, f"needs {needed} tokens from distinct approvers: each runs one command")
    return lines


def _approval_keys(args: argparse.Namespace) -> list[Any] | None:
    from gait.sign.keyring import verify_key_of

    key = verify_key_of(
        args.approval_public_key,
        args.approval_public_key_env,
        getattr(args, "approval_private_key", None),
        getattr(args, "approval_private_key_env", None),
        "approval",
    )
    return [key] if key is not None else None


def run_eval(args: argparse.Namespace) -> Outcome:
    from gait import timefmt
    from gait.gate.engine import open_gate
    from gait.sign.keyring import key_mode, resolve_signing_key

    _apply_config(args)
    intent = _read_json(args.intent, "intent", "E_INTENT_INVALID")
    now = timefmt.canonical(args.evaluation_time) if args.evaluation_time else None

    def resolve_key() -> tuple[Any, list[str]]:
        key, _, warnings = resolve_signing_key(args)
        return key, warnings

    from gait.gate.profiles import parse_profile

    args.profile = parse_profile(args.profile)
    gate = open_gate(
        args.policy,
        mode=key_mode(args),
        resolve_key=resolve_key,
        state_path=args.state,
        approval_keys=_approval_keys(args),
        trace_dir=args.trace_dir,
    )
    if args.profile == "oss-prod":
        from gait.gate.profiles import check_oss_prod

        check_oss_prod(
            gate.policy,
            simulate=args.simulate,
            key_mode=key_mode(args),
            explicit_key=bool(args.private_key or args.private_key_env),
            broker=args.credential_broker,
        )
    if args.kill_switch_state:
        from gait.cli.mcp import add_kill_switch

        add_kill_switch(gate, args.kill_switch_state, args, source="gate_eval")
    outcome = gate.decide(
        intent,
        approval_tokens=_read_tokens(_token_paths(args)),
        now=now,
        simulate=args.simulate,
        trace_out=args.trace_out,
        audit_out=args.approval_audit_out,
        correlation_id=args.correlation_id,
        validate_schema=True,
        inputs=_gate_inputs(args, intent, now),
    )
    if args.profile != "standard":
        outcome.extra_fields["profile"] = args.profile
    if args.explain and args.json:
        from gait import __version__
        from gait.gate.explain import policy_explain

        doc = policy_explain(gate.policy, outcome, __version__)
        return Outcome(doc, outcome.exit_code, [], list(outcome.warnings))
    return _render(outcome, args)


def _apply_config(args: argparse.Namespace) -> None:
    """Flag > ``.gait/config.yaml`` (``--config``; ``--no-config`` skips it) > default."""
    from gait.errors import InvalidInput

    if args.no_config and args.config:
        raise InvalidInput("give --config or --no-config, not both", code="E_USAGE")
    if not args.no_config and not (args.config is None and _no_default_config()):
        from gait.projectconfig import DEFAULT_PATH, apply_gate_defaults, load

        apply_gate_defaults(args, load(args.config or DEFAULT_PATH))
    args.profile = args.profile or "standard"
    args.credential_broker = args.credential_broker or "off"
    args.credential_env_prefix = args.credential_env_prefix or "GAIT_BROKER_TOKEN_"
    args.credential_ref = args.credential_ref or ""
    args.credential_scopes = args.credential_scopes or ""
    args.credential_command = args.credential_command or ""
    args.credential_command_args = args.credential_command_args or ""
    if not args.policy or not args.intent:
        raise InvalidInput(
            "both --policy and --intent are required",
            code="E_USAGE",
            hint="gait gate eval --policy POLICY --intent INTENT (or set gate.policy in "
            ".gait/config.yaml)",
        )


def _no_default_config() -> bool:
    """True when ``.gait/config.yaml`` does not exist, which ``projectconfig.load`` reads as
    no defaults: then its module (and dataclasses) need not load. Any other answer (it exists,
    or cannot be looked at) goes to ``load``, which decides as before."""
    import os

    try:
        os.stat(DEFAULT_CONFIG)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def _gate_inputs(args: argparse.Namespace, intent: Any, now: str | None) -> Any:
    """Delegation evidence, approved scripts and inventory; None when no flag asks for them.

    An inventory or registry that cannot be read or verified blocks a high or critical intent
    (exit 3, as the reference); for lower risk the feature is skipped with a warning.
    """
    from gait import timefmt
    from gait.errors import PolicyBlocked

    delegation = _delegation(args)
    settings = _broker(args)
    oss_prod = args.profile == "oss-prod"
    envelope = None
    if args.context_envelope is not None:
        from gait.contextproof import read_envelope

        envelope = read_envelope(args.context_envelope)
    wanted = args.approved_script_registry or args.wrkr_inventory or envelope is not None
    if not (delegation or settings or wanted or oss_prod):
        return None
    from gait.gate.gate_inputs import GateInputs

    inputs = GateInputs(
        delegation=delegation,
        broker=settings,
        explicit_verify_keys=oss_prod,
        context_envelope=envelope,
    )
    risk = ""
    if isinstance(intent, dict) and isinstance(intent.get("context"), dict):
        risk = str(intent["context"].get("risk_class") or "").strip().lower()
    fail_closed = risk in ("high", "critical") or args.profile == "oss-prod"
    warnings: list[str] = []
    if args.wrkr_inventory:
        from gait.gate.context import InventoryUnavailable, load_inventory

        try:
            inputs.inventory, inputs.inventory_source = load_inventory(args.wrkr_inventory)
        except InventoryUnavailable as exc:
            if fail_closed:
                raise PolicyBlocked(
                    f"wrkr inventory unavailable in fail-closed mode: {exc}; "
                    "next: fix or regenerate the inventory file",
                    code="E_WRKR_INVENTORY_UNAVAILABLE",
                ) from exc
            warnings.append("wrkr inventory unavailable; continuing without context enrichment")
    if args.approved_script_registry:
        inputs.approved_scripts = _approved_entries(
            args, fail_closed, warnings, now or timefmt.now()
        )
    inputs.warnings = warnings
    return inputs


def _approved_entries(
    args: argparse.Namespace, fail_closed: bool, warnings: list[str], now: str
) -> list[Any]:
    from gait.errors import PolicyBlocked
    from gait.gate.approved_scripts import RegistryError, read_registry, verify_entry
    from gait.sign.keyring import verify_key_from

    def refuse(message: str) -> PolicyBlocked:
        return PolicyBlocked(
            f"{message}; next: re-sign the registry with gait approve-script",
            code="E_APPROVED_SCRIPT_REGISTRY",
        )

    try:
        entries = read_registry(args.approved_script_registry)
    except RegistryError as exc:
        if fail_closed:
            raise refuse(
                f"approved script registry unavailable in fail-closed mode: {exc}"
            ) from exc
        warnings.append("approved script registry unavailable; continuing without fast-path")
        return []
    key = verify_key_from(
        args.approved_script_public_key,
        args.approved_script_public_key_env,
        "approved script public key",
    )
    keys = [key] if key is not None else _approval_keys(args)
    if not keys:
        if fail_closed:
            raise refuse(
                "approved script registry verification unavailable in fail-closed mode: "
                "verify key required"
            )
        warnings.append(
            "approved script fast-path disabled because registry verify key is not configured"
        )
        return []
    for index, entry in enumerate(entries):
        try:
            verify_entry(entry, keys, now)
        except RegistryError as exc:
            if fail_closed:
                raise refuse(
                    f"approved script registry verification failed at entry {index}: {exc}"
                ) from exc
            warnings.append(
                "approved script registry entry failed verification; fast-path disabled"
            )
            return []
    return entries


def _broker(args: argparse.Namespace) -> Any:
    """The credential broker flags; None when the broker is off and nothing else is set."""
    off = (args.credential_broker or "off").strip().lower() in ("", "off", "none")
    if off and not args.credential_evidence_out:
        return None  # nothing asks for a broker: not even its module is loaded
    from gait.gate.broker import BrokerSettings, resolve

    broker = resolve(
        args.credential_broker,
        args.credential_env_prefix,
        args.credential_command,
        args.credential_command_args.split(","),
    )
    if broker is None and not args.credential_evidence_out:
        return None
    return BrokerSettings(
        broker=broker,
        credential_ref=args.credential_ref,
        scopes=tuple(s.strip().lower() for s in args.credential_scopes.split(",") if s.strip()),
        evidence_out=args.credential_evidence_out,
    )


def _delegation(args: argparse.Namespace) -> Any:
    """The delegation evidence flags; tokens are read only if a matched rule needs them."""
    from gait.sign.keyring import verify_key_of

    paths: list[str] = []
    for item in [*args.delegation_token, args.delegation_token_chain]:
        paths.extend(part.strip() for part in (item or "").split(",") if part.strip())
    key = verify_key_of(
        args.delegation_public_key,
        args.delegation_public_key_env,
        args.delegation_private_key,
        args.delegation_private_key_env,
        "delegation",
    )
    if not paths and key is None and not args.delegation_audit_out:
        return None
    from gait.gate.delegation_tokens import DelegationEvidence

    return DelegationEvidence(
        paths=list(dict.fromkeys(paths)),
        keys=[key] if key is not None else None,
        audit_out=args.delegation_audit_out,
    )


def _render(outcome: Any, args: argparse.Namespace | None = None) -> Outcome:
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
    if outcome.verdict == "require_approval" and args is not None:
        lines += _approval_next(outcome, args, payload)
    elif "fail_closed_signing_key_missing" in outcome.reason_codes:
        # The same next step a low-risk call gets with E_SIGN_KEY_REQUIRED: the block alone
        # did not say what to give.
        lines.append(
            "next: pass --private-key PATH or --private-key-env VAR "
            "(gait keys init --key-mode prod)"
        )
    warnings = [w for w in outcome.warnings]
    return Outcome(payload, outcome.exit_code, lines, warnings)
