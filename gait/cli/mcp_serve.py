"""``gait mcp serve``: run the local decision service (optional extra ``serve``)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from gait.cli.main import add_common

EXPLAIN = (
    "gait mcp serve runs a local decision service: POST /v1/evaluate (JSON), "
    "/v1/evaluate/sse and /v1/evaluate/stream gate one tool call each and write a signed trace; "
    "GET /healthz and /openapi.json describe it. It listens on loopback only unless --listen "
    "names another address, and then --auth-mode token is required. Needs the 'serve' extra."
)
RETAINED = ("trace", "runpack", "pack", "session")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    from gait.cli.mcp import add_boundary_options, add_export_options
    from gait.sign.keyring import add_key_options

    p = sub.add_parser("serve", help="run the local decision service (HTTP, loopback)")
    p.add_argument("--policy", required=True, help="policy YAML file")
    p.add_argument(
        "--listen", default="127.0.0.1:8787", help="address:port (default 127.0.0.1:8787)"
    )
    p.add_argument("--adapter", default="mcp", help="default adapter of requests (default mcp)")
    add_boundary_options(p, "the serve boundary")
    p.add_argument("--auth-mode", default="off", help="off (default, loopback only) or token")
    p.add_argument("--auth-token-env", metavar="VAR", help="variable holding the bearer token")
    p.add_argument("--max-request-bytes", type=int, default=1 << 20, help="body limit (1 MiB)")
    p.add_argument(
        "--http-verdict-status",
        default="compat",
        help="compat: 200 for every verdict; strict: 403 block, 409 approval/dry_run",
    )
    p.add_argument(
        "--allow-client-artifact-paths",
        action="store_true",
        help="let requests name trace_path/runpack_out/session_journal",
    )
    p.add_argument("--trace-dir", default="./gait-out/mcp-serve/traces", help="trace directory")
    p.add_argument("--runpack-dir", default="", help="directory for emit_runpack runpacks")
    p.add_argument("--pack-dir", default="", help="accepted for compatibility; packs unsupported")
    p.add_argument(
        "--session-dir", default="./gait-out/mcp-serve/sessions", help="session journals"
    )
    for kind in RETAINED:
        p.add_argument(f"--{kind}-max-age", default="0", help=f"{kind} retention age (e.g. 168h)")
        p.add_argument(f"--{kind}-max-count", type=int, default=0, help=f"{kind} files kept")
    add_export_options(p, " per call")
    p.add_argument(
        "--durability",
        default="batch",
        help="batch (default): sync traces every 50 ms; fsync: sync each decision first",
    )
    add_key_options(p)
    add_common(p, EXPLAIN)
    p.set_defaults(handler=run_serve)


def _usage(message: str, hint: str = "gait mcp serve --help") -> Exception:
    from gait.errors import InvalidInput

    return InvalidInput(message, code="E_USAGE", hint=hint)


def build_service(args: argparse.Namespace) -> Any:
    """The configured ``DecisionService`` (everything but the socket), for the CLI and tests."""
    from gait.cli.mcp import open_boundary_gate
    from gait.gate.mcp_trust import duration_seconds
    from gait.mcp.serve import DecisionService, ServeConfig, is_loopback, parse_listen

    host, _ = parse_listen(args.listen)
    auth = args.auth_mode.strip().lower()
    if auth not in ("off", "token"):
        raise _usage("unsupported --auth-mode value (expected off or token)")
    if not is_loopback(host) and auth != "token":
        raise _usage(
            "non-loopback --listen requires --auth-mode token",
            "add --auth-mode token --auth-token-env VAR, or listen on 127.0.0.1",
        )
    token = ""
    if auth == "token":
        if not args.auth_token_env:
            raise _usage("--auth-mode token requires --auth-token-env")
        token = os.environ.get(args.auth_token_env, "").strip()
        if not token:
            raise _usage("--auth-token-env did not resolve to a non-empty value")
    if args.max_request_bytes <= 0:
        raise _usage("--max-request-bytes must be > 0")
    status_mode = args.http_verdict_status.strip().lower()
    if status_mode not in ("compat", "strict"):
        raise _usage("unsupported --http-verdict-status value (expected compat or strict)")
    retention: dict[str, tuple[float, int]] = {}
    for kind in RETAINED:
        raw_age = getattr(args, f"{kind}_max_age").strip()
        count = getattr(args, f"{kind}_max_count")
        if count < 0:
            raise _usage("retention max-count values must be >= 0")
        try:
            age = duration_seconds(raw_age) if raw_age not in ("", "0") else 0.0
        except Exception as exc:
            raise _usage(f"parse --{kind}-max-age: {raw_age!r} is not a duration") from exc
        if age > 0 or count > 0:
            retention[kind] = (age, count)
    profile = args.profile.strip().lower()
    if profile not in ("standard", "oss-prod"):
        raise _usage(f"unsupported profile {profile!r}", "--profile standard|oss-prod")
    durability = args.durability.strip().lower()
    if durability not in ("batch", "fsync"):
        raise _usage("unsupported --durability value (expected batch or fsync)")
    from gait.cli.mcp import boundary_envelope

    envelope = boundary_envelope(args)
    gate, trust = open_boundary_gate(args, trace_dir=args.trace_dir)
    config = ServeConfig(
        adapter=args.adapter.strip().lower() or "mcp",
        profile=profile,
        auth_mode=auth,
        auth_token=token,
        max_request_bytes=args.max_request_bytes,
        http_verdict_status=status_mode,
        allow_client_artifact_paths=args.allow_client_artifact_paths,
        trace_dir=args.trace_dir,
        runpack_dir=args.runpack_dir,
        session_dir=args.session_dir,
        retention=retention,
        log_out=args.export_log_out or "",
        otel_out=args.export_otel_out or "",
        durability=durability,
        context_envelope=envelope,
        job_root=args.job_root,
    )
    return DecisionService(gate, trust, config)


def run_serve(args: argparse.Namespace) -> Any:
    import json
    import socket

    from gait.errors import DependencyMissing

    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise DependencyMissing(
            f"gait mcp serve needs the 'serve' extra: {exc}",
            hint="pip install 'pytest-gait[serve]'",
        ) from exc
    from gait.mcp.serve import build_app, parse_listen

    service = build_service(args)
    host, port = parse_listen(args.listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host or "127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise _usage(f"cannot listen on {args.listen}: {exc.strerror or exc}") from exc
    sock.listen(2048)  # accept (queue) connections from the moment the address is printed
    bound = sock.getsockname()
    listen = f"[{bound[0]}]:{bound[1]}" if family == socket.AF_INET6 else f"{bound[0]}:{bound[1]}"
    startup = {
        "ok": True,
        "listen": listen,
        "policy": args.policy,
        "adapter": service.config.adapter,
        "profile": service.config.profile,
        "auth_mode": service.config.auth_mode,
    }
    if args.json:
        print(json.dumps(startup, sort_keys=True, separators=(",", ":")), flush=True)
    else:
        print(f"mcp serve: listening={listen} adapter={service.config.adapter}", flush=True)
    options: dict[str, Any] = {"log_level": "warning", "access_log": False}
    try:
        import httptools  # noqa: F401

        options["http"] = "httptools"
    except ImportError:
        options["http"] = "h11"
    try:
        import uvloop  # noqa: F401

        options["loop"] = "uvloop"
    except ImportError:
        options["loop"] = "asyncio"
    config = uvicorn.Config(build_app(service), timeout_keep_alive=60, **options)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    sys.stdout.flush()
    raise SystemExit(0)
