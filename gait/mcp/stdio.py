"""``gait mcp proxy --stdio -- SERVER_CMD ...``: the gate between an MCP client and server.

Both sides are the official MCP SDK's stdio transports: ``stdio_server`` faces the client on
this process's stdin/stdout, ``stdio_client`` starts the real server and talks to it. Every
message is forwarded unchanged except ``tools/call`` requests, which the gate decides first:

- ``allow``: forwarded; the server's answer goes back as it came;
- ``block`` / ``require_approval``: answered here with the JSON-RPC error the reserved contract
  fixes (``gait.reserved.mcp``: -32001 / -32002), ``data`` carrying verdict, reason codes,
  violations and the trace id; the approval error names the ``gait approve`` command;
- ``dry_run``: answered with a result saying the tool did not run.

The server never sees a call the gate did not allow. The session is recorded as a runpack:
one intent per ``tools/call``, its result (the server's, or the gate's refusal).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from gait.errors import GaitError
from gait.reserved.mcp import ERROR_CODES


@dataclass
class SessionRecord:
    """What the session runpack gets: intents and results, keyed by JSON-RPC id."""

    recorder: Any
    open_calls: dict[str, str] = field(default_factory=dict)
    calls: int = 0
    blocked: int = 0
    written: Any = None

    def close(self) -> Any:
        """Write the runpack once (when the client hangs up: it may stop us soon after)."""
        if self.written is None:
            self.written = self.recorder.close()
        return self.written

    def intent(self, request_id: Any, name: str, args: Any) -> None:
        self.calls += 1
        intent_id = self.recorder.intent(name or "unknown", args if isinstance(args, dict) else {})
        self.open_calls[json.dumps(request_id)] = intent_id

    def result(self, request_id: Any, value: Any, *, error: bool) -> None:
        intent_id = self.open_calls.pop(json.dumps(request_id), None)
        if intent_id is not None and self.written is None:
            payload = value if isinstance(value, dict) else {"value": value}
            self.recorder.result(intent_id, payload, status="error" if error else "ok")


def approve_hint(payload: dict[str, Any]) -> str:
    return (
        f"gait approve --intent-digest {payload.get('intent_digest', '')} "
        f"--policy-digest {payload.get('policy_digest', '')} --approver YOU --reason-code CODE"
    )


def present_tokens(paths: list[str]) -> list[Any]:
    """The approval tokens in ``paths`` now: read at each call, so a token minted while the
    proxy runs counts; a file not (yet) there is no token, one that is not JSON an invalid one."""
    from gait.gate.sdk import read_approval_token

    tokens = []
    for path in paths:
        try:
            tokens.append(read_approval_token(path))
        except GaitError:
            continue
    return tokens


def refusal(answer: Any, token_out: str = "") -> tuple[int, str, dict[str, Any]]:
    """(code, message, data) of the JSON-RPC error for a refused call."""
    payload = answer.payload
    verdict = payload["verdict"]
    data = {
        "verdict": verdict,
        "reason_codes": payload.get("reason_codes", []),
        "violations": payload.get("violations", []),
        "trace_id": payload.get("trace_id", ""),
        "intent_digest": payload.get("intent_digest", ""),
        "policy_digest": payload.get("policy_digest", ""),
    }
    if verdict == "require_approval":
        outcome = getattr(answer, "outcome", None)
        if outcome is not None:
            import shlex

            from gait.gate.sdk import approve_command

            # The command that mints a token this decision accepts: with the scope it needs
            # (``gait approve`` refuses to mint without one), written where this proxy reads
            # its tokens (--approval-token), when it does.
            out = shlex.quote(token_out) if token_out else "approval_token.json"
            data["approve_command"] = approve_command(outcome, out=out)
        else:
            data["approve_command"] = approve_hint(payload)
        message = "gait: approval required; " + data["approve_command"]
    else:
        message = "gait: blocked by policy: " + ",".join(data["reason_codes"])
    return ERROR_CODES[verdict], message, data


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def to_call(params: Any, server: dict[str, Any] | None) -> Any:
    """A ``tools/call``'s params as a gate ToolCall; ``_meta`` may carry gait targets/context."""
    from gait.mcp.calls import CallInvalid, ToolCall, _target

    params = params if isinstance(params, dict) else {}
    meta = _dict(params.get("_meta"))
    gait_meta = _dict(meta.get("gait"))
    targets = gait_meta.get("targets")
    context = _dict(gait_meta.get("context"))
    args = params.get("arguments")
    # What the call declares is read as strictly as ``gait mcp proxy --call`` reads it: a
    # target list the gate cannot read is refused, never dropped (a dropped target is one the
    # policy's path or domain rules never see, and the call would reach the server), and the
    # gate decides on the arguments the server would get, not on ``{}`` in their place.
    if targets is not None and not isinstance(targets, list):
        raise CallInvalid(
            "params._meta.gait.targets must be a list of target objects",
            hint='declare targets as [{"kind": "path", "value": "/repo/a.txt"}]',
        )
    if args is not None and not isinstance(args, dict):
        raise CallInvalid("params.arguments must be a JSON object", hint="pass an object")
    return ToolCall(
        name=str(params.get("name") or ""),
        args=dict(args or {}),
        targets=[
            _target(t, f"params._meta.gait.targets[{i}]") for i, t in enumerate(targets or [])
        ],
        server=server,
        context=dict(context),
    )


async def run_session(
    gate: Any,
    trust: Any,
    command: list[str],
    options: Any,
    session: SessionRecord,
    defaults: dict[str, str],
    env: dict[str, str] | None = None,
    token_paths: list[str] | None = None,
) -> None:
    import anyio
    import mcp_types as types
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp.server.stdio import stdio_server
    from mcp.shared.message import SessionMessage

    from gait.mcp.proxy import decide_call

    server_info: dict[str, Any] = {}
    pending_init: set[str] = set()
    params = StdioServerParameters(command=command[0], args=command[1:], env=env)

    async with stdio_client(params) as (srv_read, srv_write):
        async with stdio_server() as (cli_read, cli_write):

            async def client_to_server() -> None:
                async for item in cli_read:
                    if isinstance(item, Exception):
                        error = types.JSONRPCError(
                            jsonrpc="2.0",
                            id=None,
                            error=types.ErrorData(code=-32700, message=f"parse error: {item}"),
                        )
                        await cli_write.send(SessionMessage(error))
                        continue
                    message = item.message
                    if isinstance(message, types.JSONRPCRequest):
                        if message.method == "initialize":
                            pending_init.add(json.dumps(message.id))
                        if message.method == "tools/call":
                            answered = await gate_call(message)
                            if answered:
                                continue
                    await srv_write.send(item)
                # The client hung up: record the session now, then stop the server (leaving
                # stdio_client closes its stdin and, after a grace period, terminates it).
                session.close()
                tg.cancel_scope.cancel()

            async def gate_call(message: Any) -> bool:
                raw = message.params or {}
                try:
                    call = to_call(raw, dict(server_info) or None)
                    for key, value in defaults.items():
                        call.context.setdefault(key, value)
                    tokens = present_tokens(token_paths or [])
                    answer = decide_call(
                        gate,
                        call,
                        trust,
                        dataclasses.replace(options, approval_tokens=tokens) if tokens else options,
                    )
                except GaitError as exc:
                    name = raw.get("name") if isinstance(raw, dict) else None
                    args = raw.get("arguments") if isinstance(raw, dict) else None
                    session.intent(message.id, str(name or ""), args)
                    error = types.ErrorData(code=-32602, message=f"gait: {exc.code}: {exc.message}")
                    session.result(message.id, {"error": exc.code}, error=True)
                    await cli_write.send(
                        SessionMessage(
                            types.JSONRPCError(jsonrpc="2.0", id=message.id, error=error)
                        )
                    )
                    return True
                session.intent(message.id, call.name, call.args)
                verdict = answer.payload["verdict"]
                if verdict == "allow":
                    return False
                if verdict == "dry_run":
                    result = {
                        "content": [
                            {"type": "text", "text": "gait: dry run; the tool did not run"}
                        ],
                        "isError": False,
                        "_meta": {
                            "gait": {
                                "verdict": "dry_run",
                                "trace_id": answer.payload.get("trace_id", ""),
                            }
                        },
                    }
                    session.result(message.id, {"verdict": "dry_run"}, error=False)
                    reply = types.JSONRPCResponse(jsonrpc="2.0", id=message.id, result=result)
                    await cli_write.send(SessionMessage(reply))
                    return True
                code, text, data = refusal(answer, (token_paths or [""])[0])
                session.blocked += 1
                session.result(message.id, data, error=True)
                error = types.ErrorData(code=code, message=text, data=data)
                await cli_write.send(
                    SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=message.id, error=error))
                )
                return True

            async def server_to_client() -> None:
                async for item in srv_read:
                    if isinstance(item, Exception):
                        continue
                    message = item.message
                    key = json.dumps(getattr(message, "id", None))
                    if isinstance(message, types.JSONRPCResponse):
                        if key in pending_init:
                            pending_init.discard(key)
                            info = (message.result or {}).get("serverInfo") or {}
                            if isinstance(info, dict) and info.get("name"):
                                server_info["server_name"] = str(info["name"])
                        session.result(message.id, message.result, error=False)
                    elif isinstance(message, types.JSONRPCError):
                        session.result(
                            message.id, message.error.model_dump(exclude_none=True), error=True
                        )
                    await cli_write.send(item)
                # The server is gone. The client may still hold our stdin open (a blocked read
                # that cannot be cancelled), so record the session and exit at once: the client
                # sees end of file on our stdout, as if it had talked to the server directly.
                written = session.close()
                print(
                    f"gait mcp proxy: the MCP server exited; session runpack "
                    f"{written.path if written else ''}",
                    file=sys.stderr,
                    flush=True,
                )
                sys.stdout.flush()
                os._exit(1 if session.calls == 0 and not server_info else 0)

            async with anyio.create_task_group() as tg:
                tg.start_soon(client_to_server)
                tg.start_soon(server_to_client)
            # Both transports run writer tasks until their write streams close.
            await cli_write.aclose()
            await srv_write.aclose()


def server_environment(args: argparse.Namespace) -> dict[str, str]:
    """The environment the proxied server starts with: the proxy's own, as if the MCP client
    had started the server itself (its config's ``env``, e.g. the server's API token, is given
    to the proxy). The SDK's client would pass only HOME, PATH, SHELL, TERM and the user's
    name. The variable holding the proxy's signing key (``--private-key-env``) is withheld: the
    server the gate stands in front of never receives the key that signs its traces."""
    withheld = {name for name in (getattr(args, "private_key_env", None),) if name}
    return {k: v for k, v in os.environ.items() if k not in withheld}


def run_stdio_proxy(args: argparse.Namespace) -> Any:
    from gait.errors import DependencyMissing, InvalidInput

    command = list(args.server_command or [])
    if command and command[0] == "--":
        command = command[1:]
    if not args.policy or not command:
        raise InvalidInput(
            "expected --policy <policy.yaml> and the server command after --",
            code="E_USAGE",
            hint="gait mcp proxy --stdio --policy policy.yaml -- python my_server.py",
        )
    try:
        import anyio
        import mcp  # noqa: F401
    except ImportError as exc:
        raise DependencyMissing(
            f"the stdio proxy needs the official MCP SDK: {exc}",
            hint="pip install 'pytest-gait[mcp]'",
        ) from exc
    from gait.cli.mcp import boundary_envelope, open_boundary_gate
    from gait.mcp.proxy import ProxyOptions, normalize_run_id
    from gait.runpack.recorder import Recorder, new_run_id

    envelope = boundary_envelope(args)
    gate, trust = open_boundary_gate(args, trace_dir=args.trace_dir)
    run_id = normalize_run_id(args.run_id) or new_run_id()
    out = args.session_runpack or f"gait-out/runpacks/{run_id}.zip"
    recorder = Recorder(run_id, out=out, signing_key=gate.signing_key, env={})
    session = SessionRecord(recorder)
    options = ProxyOptions(
        adapter="mcp",
        profile=args.profile.strip().lower(),
        run_id=run_id,
        log_out=args.export_log_out,
        otel_out=args.export_otel_out,
        context_envelope=envelope,
        job_root=args.job_root,
    )
    defaults = {"session_id": run_id}
    try:
        anyio.run(
            run_session,
            gate,
            trust,
            command,
            options,
            session,
            defaults,
            server_environment(args),
            list(getattr(args, "approval_token", None) or []),
        )
    except OSError as exc:
        raise InvalidInput(
            f"cannot start the MCP server {command[0]!r}: {exc.strerror or exc}",
            code="E_MCP_SERVER_START",
            hint="check the command after --",
        ) from exc
    finally:
        written = session.close()
    print(
        f"gait mcp proxy: session {run_id}: {session.calls} tool calls, "
        f"{session.blocked} refused; runpack {written.path if written else out}",
        file=sys.stderr,
    )
    raise SystemExit(0)
