"""MCP import pairs responses by direction (issue 12, item 3), on a log of a real session.

A real ``mcp`` client talks to a real ``mcp`` server over stdio through a small logging relay
(what an MCP proxy's transcript looks like). The tool elicits twice while its ``tools/call`` is
pending, so the server's second ``elicitation/create`` reuses the pending call's id; the client's
answer to it must not become the tool's result.
"""

from __future__ import annotations

import asyncio
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

SERVER = """
from pydantic import BaseModel
from mcp.server.mcpserver import MCPServer, Context

app = MCPServer("refunds")

class Confirm(BaseModel):
    ok: bool

@app.tool()
async def refund(order: str, ctx: Context) -> str:
    first = await ctx.elicit("confirm?", Confirm)
    second = await ctx.elicit("really?", Confirm)
    return f"refund approved for {order} ({first.action}/{second.action})"

app.run()
"""

RELAY = """
import json, subprocess, sys, threading
log = open(sys.argv[1], "a", buffering=1)
proc = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
lock = threading.Lock()
def write(direction, line):
    with lock:
        log.write(json.dumps({"direction": direction, "message": json.loads(line)}) + "\\n")
def pump():
    for line in sys.stdin.buffer:
        write("client_to_server", line); proc.stdin.write(line); proc.stdin.flush()
    proc.stdin.close()
threading.Thread(target=pump, daemon=True).start()
for line in proc.stdout:
    write("server_to_client", line); sys.stdout.buffer.write(line); sys.stdout.buffer.flush()
proc.wait()
"""


@pytest.fixture(scope="module")
def session_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mcp import ClientSession, StdioServerParameters, types
    from mcp.client.stdio import stdio_client

    root = tmp_path_factory.mktemp("mcp")
    (root / "server.py").write_text(SERVER)
    (root / "relay.py").write_text(RELAY)
    log = root / "session.jsonl"

    async def answer(context: Any, params: Any) -> Any:
        return types.ElicitResult(action="accept", content={"ok": True})

    async def main() -> Any:
        params = StdioServerParameters(
            command=sys.executable,
            args=[str(root / "relay.py"), str(log), sys.executable, str(root / "server.py")],
            cwd=str(root),
        )
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, elicitation_callback=answer) as session:
                await session.initialize()
                return await session.call_tool("refund", {"order": "o-1"})

    result = asyncio.run(main())
    assert "refund approved for o-1" in result.content[0].text
    return log


def _collides(log: Path) -> bool:
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    calls = {e["message"]["id"] for e in entries if e["message"].get("method") == "tools/call"}
    server = {
        e["message"]["id"] for e in entries if e["message"].get("method") == "elicitation/create"
    }
    return bool(calls & server)


def _import(run_gait: Any, log: Path, out: Path) -> dict[str, Any]:
    proc = run_gait(
        "run",
        "record",
        "--from",
        "mcp",
        "--input",
        str(log),
        "--out",
        str(out),
        "--capture-mode",
        "raw",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _results(path: Path) -> list[dict[str, Any]]:
    with zipfile.ZipFile(path) as archive:
        return [json.loads(line) for line in archive.read("results.jsonl").splitlines()]


@pytest.mark.parametrize("logged_direction", [True, False])
def test_elicitation_reusing_the_call_id_does_not_take_its_result(
    session_log: Path, tmp_path: Path, run_gait: Any, logged_direction: bool
) -> None:
    assert _collides(session_log), "the session must reuse the pending tools/call id"
    log = session_log
    if not logged_direction:  # a bare stdio capture: JSON-RPC lines only
        log = tmp_path / "bare.jsonl"
        log.write_text(
            "".join(
                json.dumps(json.loads(line)["message"]) + "\n"
                for line in session_log.read_text().splitlines()
            )
        )
    out = tmp_path / "run.zip"
    report = _import(run_gait, log, out)
    results = _results(out)
    assert len(results) == 1
    text = results[0]["result"]["content"][0]["text"]
    assert text.startswith("refund approved for o-1")
    imported = report["import"]
    assert imported["calls"] == 1 and imported["results"] == 1
    assert imported["skipped"]["elicitation/create"] == 2
    assert imported["skipped"]["elicitation/create response"] == 2
    assert imported["skipped"]["initialize"] == 1
    verify = run_gait("verify", str(out), "--json")
    assert verify.returncode == 0, verify.stdout


def test_ambiguous_pairing_is_refused_and_writes_nothing(tmp_path: Path, run_gait: Any) -> None:
    from mcp import types

    def line(model: Any) -> str:
        return model.model_dump_json(by_alias=True, exclude_none=True) + "\n"

    call = types.JSONRPCRequest(
        jsonrpc="2.0", id=7, method="tools/call", params={"name": "refund", "arguments": {}}
    )
    ping = types.JSONRPCRequest(jsonrpc="2.0", id=7, method="sampling/createMessage", params={})
    answer = types.JSONRPCResponse(jsonrpc="2.0", id=7, result={"unexpected": True})
    log = tmp_path / "ambiguous.jsonl"
    log.write_text(line(call) + line(ping) + line(answer))
    out = tmp_path / "never.zip"
    proc = run_gait("run", "record", "--from", "mcp", "--input", str(log), "--out", str(out))
    assert proc.returncode == 6
    assert "E_RECORD_INPUT_INVALID" in proc.stderr and "direction" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
