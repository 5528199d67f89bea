"""``gait mcp serve``: the gate as a local decision service (the reference's endpoints).

``POST /v1/evaluate`` takes ``{"call": {...}, "adapter": "...", "run_id": "..."}`` and answers
with the same document ``gait mcp proxy --json`` prints plus ``exit_code``; ``/v1/evaluate/sse``
and ``/v1/evaluate/stream`` send that document as one server-sent event or one NDJSON line.
``GET /healthz`` says the service is up, ``GET /openapi.json`` describes it for clients in other
languages.

The app is plain Starlette on uvicorn (see docs/decision-service.md for why): the gate, its
compiled policy, key and state connection are opened once, so a decision costs an evaluation and
a signed trace, not a process. Decisions run one at a time on the event loop, in arrival order:
each is a few hundred microseconds of CPU, and one writer keeps the decision log's order the
order of the answers.

Durability: with ``--durability batch`` (the default) a trace and its log line are written (and
renamed into place atomically) before the answer, and the file system is synced every 50 ms, so
a crashed service loses nothing and a crashed machine at most the last 50 ms; ``--durability
fsync`` syncs each decision before answering, at the cost of one or two disk flushes per call.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gait.canon import STRICT_DECODER
from gait.errors import GaitError, InvalidInput, StateUnavailable
from gait.fsutil import syncfs_function

SERVICE = "gait.mcp.serve"
REQUEST_FIELDS = frozenset(
    {
        "adapter",
        "call",
        "run_id",
        "session_id",
        "session_journal",
        "checkpoint_interval",
        "trace_path",
        "runpack_out",
        "emit_runpack",
        "pack_out",
        "emit_pack",
    }
)
_SESSION_UNSAFE = re.compile(r"[/\\ :]")


@dataclass
class ServeConfig:
    adapter: str = "mcp"
    profile: str = "standard"
    auth_mode: str = "off"
    auth_token: str = ""
    max_request_bytes: int = 1 << 20
    http_verdict_status: str = "compat"
    allow_client_artifact_paths: bool = False
    trace_dir: str = "./gait-out/mcp-serve/traces"
    runpack_dir: str = ""
    session_dir: str = "./gait-out/mcp-serve/sessions"
    retention: dict[str, tuple[float, int]] = field(default_factory=dict)
    log_out: str = ""
    otel_out: str = ""
    # "batch": traces and log lines are fsynced together every ``flush_interval`` seconds
    # (group commit); "fsync": each decision is fsynced before it is answered.
    durability: str = "batch"
    flush_interval: float = 0.05
    # --context-envelope: verified once at startup, bound to every call's intent.
    context_envelope: dict[str, Any] | None = None
    # --job-root: job emergency stops (gait/mcp/jobstop.py), as for gait mcp proxy.
    job_root: str = "./gait-out/jobs"


class RequestError(Exception):
    def __init__(self, status: int, message: str, code: str = "E_MCP_REQUEST_INVALID") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_listen(listen: str) -> tuple[str, int]:
    text = listen.strip()
    match = re.fullmatch(r"\[([^\]]+)\]:(\d+)|([^:\[\]]*):(\d+)", text)
    if not match:
        raise InvalidInput(
            f"invalid --listen {listen!r}", code="E_USAGE", hint="--listen 127.0.0.1:8787"
        )
    host = match.group(1) or match.group(3) or ""
    port = int(match.group(2) or match.group(4))
    if not 0 <= port <= 65535:
        raise InvalidInput(f"invalid --listen port {port}", code="E_USAGE")
    return host, port


def verdict_status(mode: str, verdict: str) -> int:
    if mode != "strict":
        return 200
    return {"block": 403, "require_approval": 409, "dry_run": 409}.get(verdict, 200)


def _retention_matches(kind: str, name: str) -> bool:
    lowered = name.lower()
    if kind == "trace":
        return lowered.endswith(".json") and "trace" in lowered
    if kind == "runpack":
        return lowered.endswith(".zip") and (lowered.startswith("runpack_") or "_cp_" in lowered)
    if kind == "session":
        return lowered.endswith((".json", ".jsonl", ".state"))
    return False


def apply_retention(kind: str, directory: str, max_age: float, max_count: int) -> str:
    """Remove ``kind`` files older than ``max_age`` seconds or beyond the newest ``max_count``."""
    if not directory or (max_age <= 0 and max_count <= 0):
        return ""
    try:
        entries = [e for e in os.scandir(directory) if e.is_file()]
    except OSError as exc:
        return f"retention_{kind}_error={exc}"
    files = []
    for entry in entries:
        if _retention_matches(kind, entry.name):
            try:
                files.append((entry.stat().st_mtime, entry.path))
            except OSError:
                continue
    files.sort(reverse=True)
    now = time.time()
    by_age = by_count = 0
    for index, (mtime, path) in enumerate(files):
        too_old = max_age > 0 and now - mtime > max_age
        too_many = max_count > 0 and index >= max_count
        if not (too_old or too_many):
            continue
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            return f"retention_{kind}_error={exc}"
        by_age += too_old
        by_count += too_many
    if not (by_age or by_count):
        return ""
    return f"retention_{kind}_removed_age={by_age} removed_count={by_count}"


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Gait decision service",
        "version": "1.0.0",
        "description": "Gate one tool call: verdict, reason codes and a signed trace. The same "
        "answer as `gait mcp proxy --json`, plus exit_code.",
    },
    "paths": {
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "responses": {"200": {"description": "the service is up"}},
            }
        },
        **{
            path: {
                "post": {
                    "summary": summary,
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/EvaluateRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "decided (compat mode: every verdict)",
                            "content": {
                                media: {"schema": {"$ref": "#/components/schemas/Decision"}}
                            },
                        },
                        "400": {"description": "the request or call is not valid"},
                        "401": {"description": "missing or wrong bearer token"},
                        "403": {"description": "strict mode: blocked"},
                        "409": {"description": "strict mode: require_approval or dry_run"},
                        "413": {"description": "body larger than --max-request-bytes"},
                        "415": {"description": "content-type is not application/json"},
                        "503": {"description": "gate state unavailable"},
                    },
                }
            }
            for path, summary, media in (
                ("/v1/evaluate", "Decide one tool call (JSON)", "application/json"),
                ("/v1/evaluate/sse", "Decide one tool call (one SSE event)", "text/event-stream"),
                (
                    "/v1/evaluate/stream",
                    "Decide one tool call (one NDJSON line)",
                    "application/x-ndjson",
                ),
            )
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "EvaluateRequest": {
                "type": "object",
                "required": ["call"],
                "additionalProperties": False,
                "properties": {
                    "call": {
                        "type": "object",
                        "description": "the tool call in the adapter's shape",
                    },
                    "adapter": {
                        "type": "string",
                        "enum": ["mcp", "openai", "anthropic", "langchain", "claude_code"],
                    },
                    "run_id": {"type": "string"},
                    "session_id": {"type": "string"},
                    "session_journal": {"type": "string"},
                    "checkpoint_interval": {"type": "integer"},
                    "trace_path": {"type": "string"},
                    "runpack_out": {"type": "string"},
                    "emit_runpack": {"type": "boolean"},
                    "pack_out": {"type": "string"},
                    "emit_pack": {"type": "boolean"},
                },
            },
            "Decision": {
                "type": "object",
                "required": ["ok", "verdict", "exit_code"],
                "properties": {
                    "ok": {"type": "boolean"},
                    "verdict": {
                        "type": "string",
                        "enum": ["allow", "block", "dry_run", "require_approval"],
                    },
                    "reason_codes": {"type": "array", "items": {"type": "string"}},
                    "violations": {"type": "array", "items": {"type": "string"}},
                    "intent_digest": {"type": "string"},
                    "policy_digest": {"type": "string"},
                    "trace_id": {"type": "string"},
                    "trace_path": {"type": "string"},
                    "run_id": {"type": "string"},
                    "tool_name": {"type": "string"},
                    "exit_code": {"type": "integer", "enum": [0, 3, 4]},
                    "kill_switch": {"type": "object"},
                    "mcp_trust": {"type": "object"},
                    "warnings": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


class DecisionService:
    """The evaluation behind the endpoints, independent of the HTTP stack (tested directly)."""

    def __init__(self, gate: Any, trust: Any, config: ServeConfig) -> None:
        self.gate = gate
        self.trust = trust
        self.config = config
        self._last_retention = 0.0
        self._sequences: dict[str, int] = {}
        self.dirty = False
        for directory in (config.trace_dir, config.runpack_dir, config.session_dir):
            if directory:
                Path(directory).mkdir(parents=True, exist_ok=True)
        gate.trace_sync = config.durability == "fsync"

    def flush(self) -> None:
        """Make everything written so far durable: one syncfs of the trace file system."""
        if not self.dirty:
            return
        self.dirty = False
        sync_filesystem(self.config.trace_dir or ".")

    def authorize(self, header: str | None) -> None:
        if self.config.auth_mode != "token":
            return
        if not header or not header.startswith("Bearer "):
            raise RequestError(401, "missing bearer authorization", "E_AUTH_REQUIRED")
        given = header[len("Bearer ") :].strip().encode()
        if not hmac.compare_digest(given, self.config.auth_token.encode()):
            raise RequestError(401, "invalid bearer authorization", "E_AUTH_INVALID")

    def parse(self, body: bytes, content_type: str | None) -> dict[str, Any]:
        if content_type:
            media = content_type.split(";", 1)[0].strip().lower()
            if media != "application/json":
                raise RequestError(415, "content-type must be application/json")
        if len(body) > self.config.max_request_bytes:
            raise RequestError(413, "request body exceeds max-request-bytes", "E_REQUEST_TOO_LARGE")
        try:  # strict, as the proxy reads a call: a duplicate key or NaN is refused
            doc = STRICT_DECODER.decode(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise RequestError(400, f"decode request: {exc}") from exc
        if not isinstance(doc, dict):
            raise RequestError(400, "request body must contain a single JSON object")
        unknown = sorted(set(doc) - REQUEST_FIELDS)
        if unknown:
            raise RequestError(400, f'decode request: unknown field "{unknown[0]}"')
        if not isinstance(doc.get("call"), Mapping) or not doc["call"]:
            raise RequestError(400, "request.call is required")
        return doc

    def evaluate(self, doc: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        from gait.mcp.calls import decode_value
        from gait.mcp.proxy import ProxyOptions, decide_call, normalize_run_id

        cfg = self.config
        for name in ("trace_path", "runpack_out", "session_journal", "pack_out"):
            if doc.get(name) and not cfg.allow_client_artifact_paths:
                raise RequestError(400, f"request.{name} is not allowed by server configuration")
        if doc.get("emit_pack") or doc.get("pack_out"):
            raise RequestError(400, "request.emit_pack is not supported by this service")
        adapter = str(doc.get("adapter") or "").strip().lower() or cfg.adapter
        run_id = str(doc.get("run_id") or "")
        runpack_out = doc.get("runpack_out") or None
        if not runpack_out and doc.get("emit_runpack") and cfg.runpack_dir:
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}"
            name = f"runpack_{normalize_run_id(run_id) or 'run'}_{stamp}.zip"
            runpack_out = str(Path(cfg.runpack_dir) / name)
        try:
            call = decode_value(adapter, doc["call"])
            options = ProxyOptions(
                adapter=adapter,
                profile=cfg.profile,
                run_id=run_id,
                trace_out=doc.get("trace_path") or None,
                runpack_out=runpack_out,
                log_out=cfg.log_out or None,
                otel_out=cfg.otel_out or None,
                context_envelope=cfg.context_envelope,
                allow_payload_envelope=cfg.allow_client_artifact_paths,
                job_root=cfg.job_root,
            )
            self.dirty = True
            answer = decide_call(self.gate, call, self.trust, options)
        except GaitError as exc:
            status = 400 if int(exc.exit_code) == 6 else 503
            if not isinstance(exc, StateUnavailable) and status == 503:
                status = 500
            raise RequestError(status, exc.message, exc.code) from exc
        payload = dict(answer.payload)
        payload.pop("decision_latency_ms", None)
        payload["exit_code"] = answer.exit_code
        session = str(doc.get("session_id") or "").strip() or payload.get("session_id", "")
        if session:
            journal = doc.get("session_journal") or str(
                Path(cfg.session_dir)
                / f"{_SESSION_UNSAFE.sub('_', session).strip('._')}.journal.jsonl"
            )
            sequence = self._journal(journal, session, payload)
            payload["session_id"] = session
            payload.setdefault("warnings", []).append(
                f"session_journal={journal} sequence={sequence}"
            )
        notes = self._retention()
        if notes:
            payload.setdefault("warnings", []).extend(notes)
        return verdict_status(cfg.http_verdict_status, payload["verdict"]), payload

    def _journal(self, path: str, session: str, payload: Mapping[str, Any]) -> int:
        """Append the decision to the session's journal; its sequence number."""
        from gait.mcp.proxy import _append_line

        # Counted once per journal, then kept: decisions are serialised on the event loop.
        count = self._sequences.get(path)
        if count is None:
            try:
                with open(path, "rb") as handle:
                    count = sum(1 for line in handle if line.strip())
            except FileNotFoundError:
                count = 0
        sequence = count + 1
        self._sequences[path] = sequence
        _append_line(
            path,
            {
                "schema_id": "gait.mcp.session_event",
                "schema_version": "1.0.0",
                "session_id": session,
                "sequence": sequence,
                "run_id": payload.get("run_id", ""),
                "tool_name": payload.get("tool_name", ""),
                "verdict": payload.get("verdict", ""),
                "reason_codes": payload.get("reason_codes", []),
                "intent_digest": payload.get("intent_digest", ""),
                "policy_digest": payload.get("policy_digest", ""),
                "trace_id": payload.get("trace_id", ""),
                "trace_path": payload.get("trace_path", ""),
            },
        )
        return sequence

    def _retention(self) -> list[str]:
        """Retention, at most once a second (a directory scan per request would be O(files))."""
        cfg = self.config
        if not cfg.retention:
            return []
        now = time.monotonic()
        if now - self._last_retention < 1.0:
            return []
        self._last_retention = now
        dirs = {"trace": cfg.trace_dir, "runpack": cfg.runpack_dir, "session": cfg.session_dir}
        notes = []
        for kind, (age, count) in sorted(cfg.retention.items()):
            note = apply_retention(kind, dirs.get(kind, ""), age, count)
            if note:
                notes.append(note)
        return notes


def sync_filesystem(path: str) -> None:
    """``syncfs`` of the file system holding ``path`` (all files at once); ``os.sync`` if absent.

    The libc function is looked up once (``gait.fsutil.syncfs_function``), not through
    ``ctypes.util.find_library``: that runs ``ldconfig -p`` in a subprocess, and forking the
    service every 50 ms cost CPU on both sides of the fork (page tables copied, then every page
    the event loop touched afterwards faulted to copy).
    """
    syncfs = syncfs_function()
    if syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        syncfs(fd)
    finally:
        os.close(fd)


def build_app(service: DecisionService) -> Any:
    """The ASGI application for ``service``: Starlette, with the decision endpoints answered
    before its routing (see docs/decision-service.md: same bytes, a tenth of the HTTP cost)."""
    import contextlib
    import gc
    import threading

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    def dumps(doc: Any) -> bytes:
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def error_body(exc: RequestError) -> bytes:
        return dumps({"ok": False, "error": exc.message, "error_code": exc.code}) + b"\n"

    async def read_body(declared: str | None, receive: Any) -> bytes | None:
        """The request body within the limit; None if the client went away first."""
        limit = service.config.max_request_bytes
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestError(413, "request body exceeds max-request-bytes", "E_REQUEST_TOO_LARGE")
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None  # http.disconnect: no decision for a request never received
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestError(
                    413, "request body exceeds max-request-bytes", "E_REQUEST_TOO_LARGE"
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def decide(kind: str, scope: Any, receive: Any, send: Any) -> None:
        """One decision endpoint as plain ASGI. Starlette's middleware, routing, Request and
        Response objects cost about as much per request as uvicorn's whole HTTP handling;
        the answer (status, headers in Starlette's order, body) is byte for byte theirs."""
        authorization = declared = content_type = None
        for name, value in scope["headers"]:
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"content-length" and declared is None:
                declared = value.decode("latin-1")
            elif name == b"content-type" and content_type is None:
                content_type = value.decode("latin-1")
        headers: list[tuple[bytes, bytes]] = []
        media = b"application/json"
        try:
            service.authorize(authorization)
            body = await read_body(declared, receive)
            if body is None:
                return
            doc = service.parse(body, content_type)
            status, payload = service.evaluate(doc)
        except RequestError as exc:
            status, data = exc.status, error_body(exc)
        except Exception:
            # Starlette's ServerErrorMiddleware answer; uvicorn logs the exception.
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-length", b"21"),
                        (b"content-type", b"text/plain; charset=utf-8"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b"Internal Server Error"})
            raise
        else:
            data = dumps(payload)
            if kind == "sse":
                data = b"event: evaluate\ndata: " + data + b"\n\n"
                headers.append((b"cache-control", b"no-cache"))
                media = b"text/event-stream; charset=utf-8"
            else:
                data += b"\n"
                if kind == "stream":
                    media = b"application/x-ndjson"
        headers.append((b"content-length", str(len(data)).encode()))
        headers.append((b"content-type", media))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"ok": True, "service": SERVICE})

    async def openapi(_request: Request) -> Response:
        return Response(dumps(OPENAPI), media_type="application/json")

    class Decide:
        """A decision endpoint as an ASGI app (Starlette routes to it as it is)."""

        def __init__(self, kind: str) -> None:
            self.kind = kind

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await decide(self.kind, scope, receive, send)

    fast = {
        "/v1/evaluate": Decide("json"),
        "/v1/evaluate/sse": Decide("sse"),
        "/v1/evaluate/stream": Decide("stream"),
    }
    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        # Other methods get Starlette's 405 and a trailing slash its redirect; a POST to the
        # exact path is answered by ``app`` below before Starlette's middleware sees it.
        *(Route(path, endpoint, methods=["POST"]) for path, endpoint in fast.items()),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        stop = threading.Event()

        def flusher() -> None:
            # Its own thread, not asyncio.to_thread: the event loop is never woken for it (no
            # timer, executor hand-off and completion callback every 50 ms between requests),
            # and syncfs runs without the GIL.
            while not stop.wait(service.config.flush_interval):
                with contextlib.suppress(OSError):  # retried on the next tick
                    service.flush()

        # Everything loaded so far (modules, the compiled policy, the app) lives as long as the
        # service: frozen, the collector never walks it again, so a full collection during a
        # request costs what the request allocated, not the whole heap.
        gc.collect()
        gc.freeze()
        thread = None
        if service.config.durability == "batch":
            thread = threading.Thread(target=flusher, name="gait-serve-flush", daemon=True)
            thread.start()
        try:
            yield
        finally:
            if thread is not None:
                stop.set()
                thread.join()
            service.flush()

    starlette = Starlette(routes=routes, lifespan=lifespan)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        endpoint = fast.get(scope.get("path", "")) if scope["type"] == "http" else None
        if endpoint is not None and scope["method"] == "POST":
            await endpoint(scope, receive, send)
        else:
            await starlette(scope, receive, send)

    return app
