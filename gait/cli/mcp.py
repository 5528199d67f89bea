"""``gait mcp proxy|bridge|verify|serve``: the gate where tool calls travel."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome
from gait.errors import ExitCode

PROXY_EXPLAIN = (
    "gait mcp proxy decodes one tool call in an adapter's shape (mcp, openai, anthropic, "
    "langchain, claude_code), evaluates it against the policy (kill switch and MCP server trust "
    "first), writes a signed trace and, on request, a runpack and log/OTEL lines. It never runs "
    "the tool. Exit 0 allow/dry_run, 3 block, 4 require_approval, 6 bad input. With --stdio it "
    "sits between an MCP client and server and gates every tools/call."
)
VERIFY_EXPLAIN = (
    "gait mcp verify checks an MCP server description against the policy's mcp_trust block "
    "and its local trust snapshot, without running a tool or calling a registry. Exit 0 "
    "trusted (or not required), 3 block, 4 require_approval."
)
ADAPTERS = ["mcp", "openai", "anthropic", "langchain", "claude_code"]
JOB_ROOT_HELP = (
    "job runtime root: a call naming context.job_id is blocked while that job is "
    "emergency-stopped or its state unreadable (default ./gait-out/jobs)"
)


def register(parser: argparse.ArgumentParser) -> None:
    from gait.cli.gate import add_trace_options
    from gait.sign.keyring import add_key_options

    sub = add_group(parser)
    for name in ("proxy", "bridge"):
        p = sub.add_parser(
            name,
            help="gate one tool call (or, with --stdio, an MCP server's stream)",
            description=PROXY_EXPLAIN,
        )
        p.add_argument("--policy", help="policy YAML file")
        p.add_argument("--call", metavar="FILE|-", help="tool call JSON file, or - for stdin")
        p.add_argument("--adapter", default="mcp", help="|".join(ADAPTERS) + " (default mcp)")
        add_boundary_options(p, "this boundary")
        add_trace_options(p)
        p.add_argument("--run-id", default="", help="run id for the proxy's artifacts")
        p.add_argument("--runpack-out", metavar="PATH", help="write a runpack of this decision")
        p.add_argument("--pack-out", metavar="PATH", help="write a PackSpec run pack of it")
        add_export_options(p, "")
        p.add_argument(
            "--evaluation-time", metavar="RFC3339", help="the time used as 'now' for the decision"
        )
        p.add_argument(
            "--stdio",
            action="store_true",
            help="proxy an MCP server over stdio: gait mcp proxy --stdio --policy P -- CMD ...",
        )
        p.add_argument(
            "--session-runpack",
            metavar="PATH",
            help="with --stdio: record the session as a runpack here",
        )
        p.add_argument(
            "--approval-token",
            action="append",
            metavar="PATH",
            help="approval token file (repeatable); with --stdio read at each tools/call, so a "
            "token minted while the proxy runs counts",
        )
        p.add_argument("server_command", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        add_key_options(p)
        add_common(p, PROXY_EXPLAIN)
        p.set_defaults(handler=run_proxy)
    v = sub.add_parser("verify", help="check an MCP server against the trust snapshot")
    v.add_argument("--policy", required=True, help="policy YAML with an mcp_trust block")
    v.add_argument("--server", required=True, help="MCP server description JSON")
    v.add_argument("--risk-class", default="", help="risk class to check (default: strictest)")
    add_common(v, VERIFY_EXPLAIN)
    v.set_defaults(handler=run_verify)
    try:
        from gait.cli import mcp_serve
    except ImportError:  # pragma: no cover - the module ships with the package
        return
    mcp_serve.register(sub)


def add_boundary_options(p: argparse.ArgumentParser, where: str) -> None:
    """What every MCP boundary (proxy, bridge, serve) checks before a call's rules."""
    p.add_argument("--profile", default="standard", help="standard (default) or oss-prod")
    p.add_argument("--kill-switch-state", metavar="PATH", help="kill-switch state JSON")
    p.add_argument("--job-root", default="./gait-out/jobs", help=JOB_ROOT_HELP)
    p.add_argument(
        "--context-envelope",
        metavar="PATH",
        help=f"verified context evidence envelope bound to every call at {where}",
    )


def add_export_options(p: argparse.ArgumentParser, per: str) -> None:
    """Where an MCP boundary appends its log and OTEL events, and its gate state."""
    p.add_argument("--export-log-out", metavar="PATH", help=f"append a JSONL log event{per}")
    p.add_argument("--export-otel-out", metavar="PATH", help="append an OTEL-style JSONL event")
    p.add_argument("--state", metavar="PATH|URL", help="gate state (SQLite path or PG URL)")


def open_boundary_gate(args: argparse.Namespace, *, trace_dir: str | None) -> tuple[Any, Any]:
    """The gate and the policy's mcp_trust block, with the kill switch wired in."""
    from gait.gate.engine import open_gate
    from gait.sign.keyring import key_mode, resolve_signing_key

    def resolve_key() -> tuple[Any, list[str]]:
        key, _, warnings = resolve_signing_key(args)
        return key, warnings

    gate = open_gate(
        args.policy,
        mode=key_mode(args),
        resolve_key=resolve_key,
        state_path=getattr(args, "state", None),
        trace_dir=trace_dir,
    )
    add_kill_switch(gate, getattr(args, "kill_switch_state", None), args, source="mcp_proxy")
    return gate, gate.policy.mcp_trust


def add_kill_switch(gate: Any, path: str | None, args: argparse.Namespace, *, source: str) -> None:
    """Honour the kill-switch state at ``path`` before any rule (journal signed by the gate)."""
    if not path:
        return
    from gait.gate.killswitch import state_check

    profile = (getattr(args, "profile", "") or "standard").strip().lower()
    gate.checks.append(
        state_check(path, profile=profile, journal_key=gate.signing_key, source=source)
    )


def _read_call(path: str) -> bytes:
    from gait.errors import InvalidInput

    if path.strip() == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise InvalidInput(
            f"read call payload: {exc.strerror or exc}: {path}",
            code="E_MCP_CALL_INVALID",
            hint="--call FILE (or - for stdin)",
        ) from exc


def boundary_envelope(args: argparse.Namespace) -> Any:
    """The verified ``--context-envelope``, read once at the boundary (None when not given)."""
    path = getattr(args, "context_envelope", None)
    if path is None:
        return None
    from gait.contextproof import read_envelope

    return read_envelope(path)


def run_proxy(args: argparse.Namespace) -> Any:
    from gait.errors import InvalidInput

    if args.stdio:
        from gait.mcp.stdio import run_stdio_proxy

        return run_stdio_proxy(args)
    if args.server_command:
        extra = " ".join(args.server_command)
        raise InvalidInput(
            f"unexpected arguments: {extra}", code="E_USAGE", hint="gait mcp proxy --help"
        )
    if not args.policy or not args.call:
        raise InvalidInput(
            "expected --policy <policy.yaml> and --call <tool_call.json|->",
            code="E_USAGE",
            hint="gait mcp proxy --policy policy.yaml --call call.json --json",
        )
    from gait import timefmt
    from gait.mcp.calls import decode
    from gait.mcp.proxy import ProxyOptions, decide_call

    call = decode(args.adapter, _read_call(args.call))
    tokens = []
    if args.approval_token:
        from gait.gate.sdk import read_approval_token

        tokens = [read_approval_token(path) for path in args.approval_token]
    gate, trust = open_boundary_gate(args, trace_dir=args.trace_dir)
    options = ProxyOptions(
        adapter=args.adapter,
        profile=args.profile.strip().lower(),
        run_id=args.run_id,
        trace_out=args.trace_out,
        runpack_out=args.runpack_out,
        pack_out=args.pack_out,
        log_out=args.export_log_out,
        otel_out=args.export_otel_out,
        correlation_id=args.correlation_id,
        now=timefmt.canonical(args.evaluation_time) if args.evaluation_time else None,
        context_envelope=boundary_envelope(args),
        job_root=args.job_root,
        approval_tokens=tokens,
    )
    answer = decide_call(gate, call, trust, options)
    payload = answer.payload
    lines = [f"mcp proxy: verdict={payload['verdict']}"]
    if payload.get("reason_codes"):
        lines.append("reasons: " + ",".join(payload["reason_codes"]))
    lines.append(f"trace: {payload.get('trace_path') or 'none'}")
    if payload.get("runpack_path"):
        lines.append(f"runpack: {payload['runpack_path']}")
    if payload.get("pack_path"):
        lines.append(f"pack: {payload['pack_path']}")
    if payload["verdict"] == "require_approval":
        import shlex

        from gait.gate.sdk import approve_command

        again = ["gait", "mcp", "proxy", "--policy", args.policy, "--call", args.call]
        again += ["--adapter", args.adapter, "--approval-token", "approval_token.json"]
        lines.append(f"next: {approve_command(answer.outcome)}")
        lines.append(f"then: {shlex.join(again)}")
    return Outcome(payload, answer.exit_code, lines)


def run_verify(args: argparse.Namespace) -> Outcome:
    from gait import timefmt
    from gait.canon import loads_strict
    from gait.errors import InvalidInput
    from gait.gate.mcp_trust import evaluate_server_trust, verify_risk_class
    from gait.gate.policy import load_policy

    trust = load_policy(args.policy).mcp_trust
    try:
        with open(args.server, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise InvalidInput(
            f"read server description: {exc.strerror or exc}: {args.server}",
            code="E_MCP_SERVER_INVALID",
            hint="--server server.json",
        ) from exc
    server = loads_strict(
        raw, what=f"server description {args.server}", code="E_MCP_SERVER_INVALID"
    )
    if not isinstance(server, dict):
        raise InvalidInput(
            "server description must be a JSON object",
            code="E_MCP_SERVER_INVALID",
            hint='{"server_id": "...", "publisher": "..."}',
        )
    for name in ("server_id", "server_name", "publisher", "source", "endpoint"):
        if server.get(name) is not None and not isinstance(server[name], str):
            raise InvalidInput(
                f"parse server description: {name} must be a string",
                code="E_MCP_SERVER_INVALID",
                hint="give the server's server_id as in the trust snapshot",
            )
    if not (
        str(server.get("server_id") or "").strip() or str(server.get("server_name") or "").strip()
    ):
        raise InvalidInput(
            "server description requires server_id or server_name",
            code="E_MCP_SERVER_INVALID",
            hint="give the server's server_id as in the trust snapshot",
        )
    ident = {
        "server_id": str(server.get("server_id") or "").strip(),
        "server_name": str(server.get("server_name") or "").strip(),
    }
    if trust is None:
        allowed = {"ok": True, **{k: v for k, v in ident.items() if v}, "verdict": "allow"}
        return Outcome(
            allowed, ExitCode.OK, ["mcp verify: verdict=allow (policy has no mcp_trust)"]
        )
    decision = evaluate_server_trust(
        trust, server, verify_risk_class(trust, args.risk_class), timefmt.now()
    )
    assert decision is not None  # the policy has an mcp_trust block
    verdict, exit_code, violations = "allow", ExitCode.OK, []
    if decision.enforced:
        verdict = trust.action
        violations = ["mcp_trust_policy"]
        exit_code = ExitCode.POLICY_BLOCKED if verdict == "block" else ExitCode.APPROVAL_REQUIRED
    payload: dict[str, Any] = {
        "ok": exit_code == 0,
        "server_id": decision.server_id,
        "server_name": decision.server_name,
        "trust_model": "local_snapshot",
        "snapshot_path": trust.snapshot,
        "verdict": verdict,
        "reason_codes": list(decision.reason_codes),
        "violations": violations,
        "mcp_trust": decision.record(),
    }
    payload = {k: v for k, v in payload.items() if v or k == "ok"}
    lines = [f"mcp verify: verdict={verdict} status={decision.status}"]
    lines.append("reasons: " + ",".join(decision.reason_codes))
    return Outcome(payload, exit_code, lines)
