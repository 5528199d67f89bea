"""``gait mcp proxy --stdio``: the official MCP SDK's client and a real SDK server over stdio,
with the gate between them."""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="the stdio proxy needs the 'mcp' extra (official MCP SDK)")

import anyio  # noqa: E402
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client  # noqa: E402

from gait.reserved.mcp import ERROR_APPROVAL_REQUIRED, ERROR_BLOCKED  # noqa: E402

SERVER = '''
from pathlib import Path
from mcp.server.mcpserver import MCPServer

server = MCPServer("files")
LOG = Path(__file__).with_name("server_calls.log")

@server.tool()
def read_file(path: str) -> str:
    """Read a file."""
    with LOG.open("a") as handle:
        handle.write("read_file " + path + "\\n")
    return "contents of " + path

@server.tool()
def delete_file(path: str) -> str:
    """Delete a file."""
    with LOG.open("a") as handle:
        handle.write("delete_file " + path + "\\n")
    return "deleted " + path

@server.tool()
def write_file(path: str, text: str) -> str:
    """Write a file."""
    with LOG.open("a") as handle:
        handle.write("write_file " + path + "\\n")
    return "wrote " + path

server.run("stdio")
'''

POLICY = """\
default_verdict: block
rules:
  - name: reads
    effect: allow
    match:
      tool_names: [read_file]
  - name: writes
    effect: require_approval
    match:
      tool_names: [write_file]
"""


def _passthrough() -> dict[str, str]:
    # The SDK starts servers with a minimal environment; keep an import path override.
    return {k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}


def test_sdk_client_through_gate_to_sdk_server(
    tmp_path: Path, gait_argv: list[str], gait_home: Path
) -> None:
    (tmp_path / "server.py").write_text(SERVER)
    (tmp_path / "policy.yaml").write_text(POLICY)
    params = StdioServerParameters(
        command=gait_argv[0],
        args=[
            *gait_argv[1:],
            "mcp",
            "proxy",
            "--stdio",
            "--policy",
            "policy.yaml",
            "--run-id",
            "sess",
            "--session-runpack",
            "session.zip",
            "--",
            sys.executable,
            "server.py",
        ],
        env={"GAIT_HOME": str(gait_home), **_passthrough()},
        cwd=str(tmp_path),
    )
    seen: dict[str, object] = {}

    async def scenario() -> None:
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = await session.list_tools()
                seen["tools"] = sorted(t.name for t in tools.tools)
                result = await session.call_tool("read_file", {"path": "/repo/a.txt"})
                seen["read"] = result.content[0].text
                with pytest.raises(MCPError) as blocked:
                    await session.call_tool("delete_file", {"path": "/repo/a.txt"})
                seen["blocked"] = blocked.value.error
                with pytest.raises(MCPError) as approval:
                    await session.call_tool("write_file", {"path": "/repo/b", "text": "x"})
                seen["approval"] = approval.value.error

    anyio.run(scenario)
    assert seen["tools"] == ["delete_file", "read_file", "write_file"]
    assert seen["read"] == "contents of /repo/a.txt"
    blocked = seen["blocked"]
    assert blocked.code == ERROR_BLOCKED == -32001
    assert blocked.data["verdict"] == "block" and blocked.data["reason_codes"] == ["default_block"]
    approval = seen["approval"]
    assert approval.code == ERROR_APPROVAL_REQUIRED == -32002
    assert "gait approve --intent-digest" in approval.message
    assert approval.data["approve_command"].startswith("gait approve")
    # ... and that command, run as given (the approver named), mints the token.
    import shlex
    import subprocess

    minted = subprocess.run(
        [*gait_argv, *shlex.split(approval.data["approve_command"])[1:]],
        cwd=tmp_path,
        env={**os.environ, "GAIT_HOME": str(gait_home), "USER": "bob"},
        capture_output=True,
        text=True,
    )
    assert minted.returncode == 0, minted.stderr
    token = json.loads((tmp_path / "approval_token.json").read_text())
    assert token["intent_digest"] == approval.data["intent_digest"]
    # The server only ever saw the allowed call.
    assert (tmp_path / "server_calls.log").read_text() == "read_file /repo/a.txt\n"
    # Each gated call left a signed trace; the session is a verifiable runpack.
    traces = sorted((tmp_path / "gait-out" / "traces").glob("trace_*.json"))
    verdicts = sorted(json.loads(t.read_text())["verdict"] for t in traces)
    assert verdicts == ["allow", "block", "require_approval"]
    with zipfile.ZipFile(tmp_path / "session.zip") as zf:
        intents = [json.loads(x) for x in zf.read("intents.jsonl").splitlines()]
        results = [json.loads(x) for x in zf.read("results.jsonl").splitlines()]
    assert [i["tool_name"] for i in intents] == ["read_file", "delete_file", "write_file"]
    assert [r["status"] for r in results] == ["ok", "error", "error"]
    from gait.cli.main import main

    assert main(["verify", str(tmp_path / "session.zip")]) == 0


def test_faults_end_the_session_cleanly(
    tmp_path: Path, gait_argv: list[str], gait_home: Path
) -> None:
    """A garbage line is a JSON-RPC parse error; a client that hangs up and a server that dies
    both end the proxy promptly with the session recorded (no hang, no traceback)."""
    import subprocess

    (tmp_path / "policy.yaml").write_text(POLICY)
    env = {**os.environ, "GAIT_HOME": str(gait_home)}
    base = [*gait_argv, "mcp", "proxy", "--stdio", "--policy", "policy.yaml"]
    waits_for_eof = [sys.executable, "-c", "import sys; sys.stdin.read()"]
    done = subprocess.run(
        [*base, "--session-runpack", "a.zip", "--", *waits_for_eof],
        input="garbage\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    error = json.loads(done.stdout.splitlines()[0])
    assert error["error"]["code"] == -32700 and error["id"] is None
    assert (tmp_path / "a.zip").exists() and "Traceback" not in done.stderr
    died = subprocess.Popen(
        [*base, "--session-runpack", "b.zip", "--", sys.executable, "-c", "raise SystemExit(3)"],
        stdin=subprocess.PIPE,  # held open: the proxy must not wait for the client to hang up
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        died.wait(timeout=60)
        assert died.stderr is not None
        assert "the MCP server exited" in died.stderr.read()
    finally:
        died.kill()
        assert died.stdin is not None
        died.stdin.close()
    assert (tmp_path / "b.zip").exists()
    missing = subprocess.run(
        [*base, "--", str(tmp_path / "no-such-server")],
        input="",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert missing.returncode == 6 and "E_MCP_SERVER_START" in missing.stderr


ENV_SERVER = '''
import os
from mcp.server.mcpserver import MCPServer

server = MCPServer("env")

@server.tool()
def env(name: str) -> str:
    """One environment variable as the server sees it."""
    return os.environ.get(name, "<unset>")

server.run("stdio")
'''


def test_server_gets_the_clients_environment_but_not_the_signing_key(
    tmp_path: Path, gait_argv: list[str], gait_home: Path
) -> None:
    """An MCP client's config gives the server its environment (an API token) by setting it on
    the command it starts, here the proxy: the server must see it, as without the proxy (the
    SDK's client alone passes only HOME, PATH and a few others). The variable holding the
    proxy's own signing key is not passed on."""
    import subprocess

    (tmp_path / "server.py").write_text(ENV_SERVER)
    (tmp_path / "policy.yaml").write_text("default_verdict: allow\n")
    subprocess.run(
        [*gait_argv, "keys", "init", "--key-mode", "prod", "--out-dir", "keys"],
        cwd=tmp_path,
        env={**os.environ, "GAIT_HOME": str(gait_home)},
        check=True,
        capture_output=True,
    )
    key = (tmp_path / "keys" / "gait_private.key").read_text().strip()
    params = StdioServerParameters(
        command=gait_argv[0],
        args=[
            *gait_argv[1:],
            *("mcp", "proxy", "--stdio", "--policy", "policy.yaml"),
            *("--key-mode", "prod", "--private-key-env", "GATE_SIGNING_KEY"),
            *("--session-runpack", "session.zip", "--", sys.executable, "server.py"),
        ],
        env={
            "GAIT_HOME": str(gait_home),
            "SERVER_API_TOKEN": "tok-123",
            "GATE_SIGNING_KEY": key,
            **_passthrough(),
        },
        cwd=str(tmp_path),
    )
    seen: dict[str, str] = {}

    async def scenario() -> None:
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                for name in ("SERVER_API_TOKEN", "GATE_SIGNING_KEY", "GAIT_HOME"):
                    result = await session.call_tool(
                        "env", {"name": name}, meta={"gait": {"context": {"risk_class": "low"}}}
                    )
                    seen[name] = result.content[0].text

    anyio.run(scenario)
    assert seen == {
        "SERVER_API_TOKEN": "tok-123",
        "GATE_SIGNING_KEY": "<unset>",
        "GAIT_HOME": str(gait_home),
    }


DENY_ETC = """\
default_verdict: allow
rules:
  - name: no-etc
    effect: block
    match:
      target_kinds: [path]
    endpoint:
      path_denylist: ["/etc/**"]
      action: block
"""


def test_targets_the_gate_cannot_read_are_refused_not_dropped(
    tmp_path: Path, gait_argv: list[str], gait_home: Path
) -> None:
    """A call whose ``_meta.gait.targets`` is not a list of objects was gated as if it declared
    nothing: the denied path was never seen and the call reached the server (fail open). Now it
    is refused (-32602, ``E_MCP_CALL_INVALID``), as ``gait mcp proxy --call`` refuses it."""
    (tmp_path / "server.py").write_text(SERVER)
    (tmp_path / "policy.yaml").write_text(DENY_ETC)
    params = StdioServerParameters(
        command=gait_argv[0],
        args=[
            *gait_argv[1:],
            *("mcp", "proxy", "--stdio", "--policy", "policy.yaml"),
            *("--session-runpack", "session.zip", "--", sys.executable, "server.py"),
        ],
        env={"GAIT_HOME": str(gait_home), **_passthrough()},
        cwd=str(tmp_path),
    )
    target = {"kind": "path", "value": "/etc/passwd", "operation": "read"}
    context = {"risk_class": "low", "identity": "agent", "workspace": "/repo"}
    codes: list[tuple[int, str]] = []

    async def scenario() -> None:
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                for targets in ([target], target, ["/etc/passwd"], "/etc/passwd"):
                    meta = {"gait": {"targets": targets, "context": context}}
                    with pytest.raises(MCPError) as refused:
                        await session.call_tool("read_file", {"path": "/etc/passwd"}, meta=meta)
                    codes.append((refused.value.error.code, refused.value.error.message))

    anyio.run(scenario)
    assert codes[0][0] == ERROR_BLOCKED
    assert [code for code, _ in codes[1:]] == [-32602] * 3
    assert all("E_MCP_CALL_INVALID" in message for _, message in codes[1:])
    assert not (tmp_path / "server_calls.log").exists()


def test_approval_minted_while_the_proxy_runs_lets_the_call_through_once(
    tmp_path: Path, gait_argv: list[str], gait_home: Path
) -> None:
    """The -32002 error's ``gait approve`` writes the token where ``--approval-token`` tells the
    proxy to look; the client's retry then reaches the server, and a third try is refused again
    (the token was spent). Before, nothing at the boundary read a token: the approval named
    in the error could never be used."""
    import shlex
    import subprocess

    (tmp_path / "server.py").write_text(SERVER)
    (tmp_path / "policy.yaml").write_text(POLICY)
    params = StdioServerParameters(
        command=gait_argv[0],
        args=[
            *gait_argv[1:],
            *("mcp", "proxy", "--stdio", "--policy", "policy.yaml"),
            *("--approval-token", "tokens/write.json", "--session-runpack", "session.zip"),
            *("--", sys.executable, "server.py"),
        ],
        env={"GAIT_HOME": str(gait_home), **_passthrough()},
        cwd=str(tmp_path),
    )
    (tmp_path / "tokens").mkdir()
    seen: list[object] = []

    async def attempt(session: ClientSession) -> object:
        try:
            result = await session.call_tool("write_file", {"path": "/repo/b", "text": "x"})
        except MCPError as refused:
            return refused.error
        return result.content[0].text

    async def scenario() -> None:
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                first = await attempt(session)
                seen.append(first)
                command = first.data["approve_command"]
                minted = subprocess.run(
                    [*gait_argv, *shlex.split(command)[1:]],
                    cwd=tmp_path,
                    env={**os.environ, "GAIT_HOME": str(gait_home)},
                    capture_output=True,
                    text=True,
                )
                assert minted.returncode == 0, minted.stderr
                seen.append(await attempt(session))
                seen.append(await attempt(session))

    anyio.run(scenario)
    first, second, third = seen
    assert first.code == ERROR_APPROVAL_REQUIRED
    assert "--out tokens/write.json" in first.data["approve_command"]
    assert second == "wrote /repo/b"
    assert third.code == ERROR_APPROVAL_REQUIRED
    assert "approval_token_replayed" in third.data["reason_codes"]
    assert (tmp_path / "server_calls.log").read_text() == "write_file /repo/b\n"
