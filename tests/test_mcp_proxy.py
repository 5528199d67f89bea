"""``gait mcp proxy|verify``: the reference's MCP answers, adapters, artifacts, bad input."""

from __future__ import annotations

import csv
import json
import shlex
import shutil
import zipfile
from pathlib import Path

import pytest

from gait.cli.main import main
from gait.errors import GaitError

COMPARED = (
    "ok",
    "verdict",
    "reason_codes",
    "violations",
    "intent_digest",
    "policy_digest",
    "policy_id",
    "policy_version",
    "mcp_trust",
    "tool_name",
    "run_id",
    "trace_id",
    "relationship",
    "adapter",
    "executed",
    "phase",
    "session_id",
    "server_id",
    "server_name",
    "snapshot_path",
    "trust_model",
)


def _run(capsys, *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.fixture
def ref_mcp(conformance_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "ref"
    shutil.copytree(conformance_dir / "reference-mcp", work)
    for item in work.iterdir():
        item.chmod(0o644)
    monkeypatch.chdir(work)
    return work


def _commands(folder: Path) -> list[tuple[str, int, list[str]]]:
    rows = list(csv.reader((folder / "commands.tsv").open(), delimiter="\t"))[1:]
    return [(name, int(code), shlex.split(cmd)[1:]) for name, code, cmd in rows]


def test_reference_mcp_answers_reproduced(ref_mcp: Path, capsys) -> None:
    commands = _commands(ref_mcp)
    assert len(commands) == 4
    for name, want_code, argv in commands:
        code, got = _run(capsys, *argv)
        want = json.loads((ref_mcp / name).read_text())
        assert code == want_code, name
        for key in COMPARED:
            assert got.get(key) == want.get(key), f"{name}: {key}"


def test_trust_blocks_unknown_server_and_below_threshold(ref_mcp: Path, capsys) -> None:
    call = json.loads((ref_mcp / "mcp_trust_call.json").read_text())
    call["server"] = {"server_id": "elsewhere"}
    Path("unknown.json").write_text(json.dumps(call))
    code, got = _run(
        capsys,
        "mcp",
        "proxy",
        "--policy",
        "mcp_trust_policy.yaml",
        "--call",
        "unknown.json",
        "--json",
    )
    assert code == 3
    assert got["verdict"] == "block"
    assert "mcp_trust_server_unknown" in got["reason_codes"]
    assert got["violations"] == ["mcp_trust_policy"]
    assert got["mcp_trust"]["status"] == "unknown"
    # A low-risk call is not required to come from a trusted server: allowed, trust recorded.
    call["context"]["risk_class"] = "low"
    Path("low.json").write_text(json.dumps(call))
    code, got = _run(
        capsys, "mcp", "proxy", "--policy", "mcp_trust_policy.yaml", "--call", "low.json", "--json"
    )
    assert code == 0 and got["verdict"] == "allow"
    assert "required" not in got["mcp_trust"]
    snap = json.loads(Path("trust_snapshot.json").read_text())
    snap["entries"][0]["score"] = 0.5
    Path("trust_snapshot.json").write_text(json.dumps(snap))
    code, got = _run(
        capsys,
        "mcp",
        "verify",
        "--policy",
        "mcp_trust_policy.yaml",
        "--server",
        "server_github.json",
        "--json",
    )
    assert code == 3
    assert got["reason_codes"] == ["mcp_trust_below_threshold"]
    assert got["mcp_trust"]["status"] == "below_threshold"
    Path("trust_snapshot.json").write_text("{broken")
    code, got = _run(
        capsys,
        "mcp",
        "verify",
        "--policy",
        "mcp_trust_policy.yaml",
        "--server",
        "server_github.json",
        "--json",
    )
    assert code == 3 and got["reason_codes"] == ["mcp_trust_snapshot_invalid"]


POLICY = """\
default_verdict: block
rules:
  - name: allow-reads
    effect: allow
    match:
      tool_names: [tool.read]
  - name: writes-need-approval
    effect: require_approval
    match:
      tool_names: [tool.write]
"""

ADAPTER_CALLS = {
    "openai": {"type": "function", "function": {"name": "tool.read", "arguments": {"p": 1}}},
    "anthropic": {"type": "tool_use", "name": "tool.read", "input": {"p": 1}},
    "langchain": {"tool": "tool.read", "tool_input": '{"p": 1}'},
    "claude_code": {
        "hook_event_name": "PreToolUse",
        "session_id": "s1",
        "tool_name": "Read",
        "tool_input": {"file_path": "/repo/README.md"},
    },
    "mcp": {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "tool.read", "arguments": {"p": 1}},
    },
}


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.yaml").write_text(POLICY)
    return tmp_path


@pytest.mark.parametrize("adapter", sorted(ADAPTER_CALLS))
def test_each_adapter_decodes_and_gates(work: Path, capsys, adapter: str) -> None:
    Path("call.json").write_text(json.dumps(ADAPTER_CALLS[adapter]))
    code, got = _run(
        capsys,
        "mcp",
        "bridge",
        "--policy",
        "policy.yaml",
        "--call",
        "call.json",
        "--adapter",
        adapter,
        "--json",
    )
    assert (code, got["verdict"], got["tool_name"]) == (0, "allow", "tool.read"), got
    assert got["adapter"] == adapter
    trace = json.loads(Path(got["trace_path"]).read_text())
    assert trace["trace_id"] == got["trace_id"] and trace["signature"]["alg"] == "ed25519"
    if adapter == "claude_code":
        assert got["session_id"] == "s1"


def test_openai_responses_function_call_is_read_as_the_chat_tool_call(work: Path, capsys) -> None:
    """The openai adapter takes a Responses API ``function_call`` item (the current API's
    shape: name and arguments on the item) as the same call as a Chat Completions tool call;
    before, it answered ``tool call name is required``."""
    from openai.types.chat import ChatCompletionMessageFunctionToolCall
    from openai.types.responses import ResponseFunctionToolCall

    args = json.dumps({"path": "/repo/a.txt"})
    chat = ChatCompletionMessageFunctionToolCall(
        id="call_1", type="function", function={"name": "tool.read", "arguments": args}
    )
    item = ResponseFunctionToolCall(
        type="function_call", id="fc_1", call_id="call_1", name="tool.read", arguments=args
    )
    answers = []
    for name, call in (("chat.json", chat), ("responses.json", item)):
        Path(name).write_text(call.model_dump_json())
        argv = ["mcp", "proxy", "--policy", "policy.yaml", "--adapter", "openai", "--json"]
        answers.append(_run(capsys, *argv, "--call", name))
    (code, chat_answer), (item_code, item_answer) = answers
    assert code == item_code == 0 and item_answer["verdict"] == "allow"
    assert item_answer["tool_name"] == "tool.read"
    assert item_answer["intent_digest"] == chat_answer["intent_digest"]


def test_langchain_tool_call_is_read_as_the_agent_action(work: Path, capsys) -> None:
    """The langchain adapter takes LangChain 1.x's ``ToolCall`` (what ``AIMessage.tool_calls``
    holds) as the same call as an ``AgentAction``; before, it answered ``tool call name is
    required``."""
    from langchain_core.agents import AgentAction
    from langchain_core.messages import AIMessage

    args = {"path": "/repo/a.txt"}
    message = AIMessage(content="", tool_calls=[{"name": "tool.read", "args": args, "id": "c1"}])
    action = AgentAction(tool="tool.read", tool_input=args, log="")
    Path("tool_call.json").write_text(json.dumps(message.tool_calls[0]))
    Path("action.json").write_text(action.model_dump_json())
    argv = ["mcp", "proxy", "--policy", "policy.yaml", "--adapter", "langchain", "--json"]
    code, call_answer = _run(capsys, *argv, "--call", "tool_call.json")
    action_code, action_answer = _run(capsys, *argv, "--call", "action.json")
    assert code == action_code == 0 and call_answer["verdict"] == "allow"
    assert call_answer["tool_name"] == "tool.read"
    assert call_answer["intent_digest"] == action_answer["intent_digest"]


def test_proxy_call_takes_the_approval_token_it_names(
    work: Path, run_gait, gait_home: Path
) -> None:
    """``gait mcp proxy --call`` names a runnable ``gait approve`` (it printed ``...`` in place of
    the scope and output) and then the same proxy command with ``--approval-token``, which
    allows the call once."""
    import os
    import shlex
    import subprocess

    Path("call.json").write_text(json.dumps({"name": "tool.write", "args": {"x": 1}}))
    argv = ["mcp", "proxy", "--policy", "policy.yaml", "--call", "call.json"]
    asked = run_gait(*argv, cwd=work)
    assert asked.returncode == 4, asked.stderr
    lines = asked.stdout.splitlines()
    approve = next(line for line in lines if line.startswith("next: "))[len("next: ") :]
    again = next(line for line in lines if line.startswith("then: "))[len("then: ") :]
    minted = subprocess.run(
        approve,
        shell=True,
        cwd=work,
        env={**os.environ, "GAIT_HOME": str(gait_home), "USER": "bob"},
        capture_output=True,
        text=True,
    )
    assert minted.returncode == 0, minted.stderr
    allowed = run_gait(*shlex.split(again)[1:], "--json", cwd=work)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert json.loads(allowed.stdout)["verdict"] == "allow"
    replayed = run_gait(*shlex.split(again)[1:], "--json", cwd=work)
    assert replayed.returncode == 4
    assert "approval_token_replayed" in json.loads(replayed.stdout)["reason_codes"]


def test_jsonrpc_call_declares_targets_in_meta_gait_as_the_stdio_proxy_reads_them(
    work: Path, capsys
) -> None:
    """A ``tools/call`` message carrying its targets in ``params._meta.gait`` (where the stdio
    proxy reads them) is decided on them by ``proxy --call`` and the service too; they were
    ignored there, so a path deny rule never saw the path and the call was allowed."""
    Path("deny.yaml").write_text(
        "default_verdict: allow\nrules:\n  - name: no-etc\n    effect: block\n"
        "    match:\n      target_kinds: [path]\n    endpoint:\n"
        '      path_denylist: ["/etc/**"]\n      action: block\n'
    )
    target = {"kind": "path", "value": "/etc/passwd", "operation": "read"}
    context = {"risk_class": "low", "identity": "agent", "workspace": "/repo"}
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "read_file",
            "arguments": {"path": "/etc/passwd"},
            "_meta": {"gait": {"targets": [target], "context": context}},
        },
    }
    Path("call.json").write_text(json.dumps(message))
    code, got = _run(
        capsys, "mcp", "proxy", "--policy", "deny.yaml", "--call", "call.json", "--json"
    )
    assert (code, got["verdict"]) == (3, "block"), got
    assert "endpoint_path_denied" in got["reason_codes"]


def test_require_approval_names_approve_and_artifacts(work: Path, capsys) -> None:
    Path("call.json").write_text(json.dumps({"name": "tool.write", "args": {"x": 1}}))
    code = main(
        [
            "mcp",
            "proxy",
            "--policy",
            "policy.yaml",
            "--call",
            "call.json",
            "--runpack-out",
            "out/rp.zip",
            "--export-log-out",
            "out/log.jsonl",
            "--export-otel-out",
            "out/otel.jsonl",
            "--run-id",
            "demo run",
        ]
    )
    text = capsys.readouterr().out
    assert code == 4
    assert "next: gait approve --intent-digest" in text
    # As the reference's proxy: the rules' answer, no token check (the proxy takes no tokens).
    assert "approval_token_missing" not in text
    with zipfile.ZipFile("out/rp.zip") as zf:
        run = json.loads(zf.read("run.json"))
        results = zf.read("results.jsonl").decode()
    assert run["run_id"] == "run_demo_run"
    assert '"status":"error"' in results
    log = json.loads(Path("out/log.jsonl").read_text().splitlines()[0])
    otel = json.loads(Path("out/otel.jsonl").read_text().splitlines()[0])
    assert log["verdict"] == "require_approval" and log["run_id"] == "run_demo_run"
    assert otel["attributes"]["gait.verdict"] == "require_approval"
    assert oct(Path("out/log.jsonl").stat().st_mode & 0o777) == "0o600"
    assert main(["verify", "out/rp.zip"]) == 0
    capsys.readouterr()
    # --pack-out: a PackSpec run pack of the same decision, verifiable on its own.
    code, got = _run(
        capsys,
        "mcp",
        "proxy",
        "--policy",
        "policy.yaml",
        "--call",
        "call.json",
        "--pack-out",
        "out/pack.zip",
        "--json",
    )
    assert code == 4 and got["pack_path"] == "out/pack.zip" and len(got["pack_id"]) == 64
    assert main(["pack", "verify", "out/pack.zip"]) == 0


def test_stdin_call_and_bad_input(work: Path, capsys, monkeypatch) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"name":"tool.read"}')))
    code, got = _run(capsys, "mcp", "proxy", "--policy", "policy.yaml", "--call", "-", "--json")
    assert code == 0 and got["verdict"] == "allow"
    Path("bad.json").write_text("{nope")
    code, got = _run(
        capsys, "mcp", "proxy", "--policy", "policy.yaml", "--call", "bad.json", "--json"
    )
    assert code == 6 and got["error_code"] == "E_MCP_CALL_INVALID"
    # A duplicate key (the policy would see one value, the tool maybe the other) or NaN is
    # refused, in the call and in an adapter's JSON-text arguments alike.
    for name, text in (
        ("dup.json", '{"name":"tool.read","args":{"path":"/a","path":"/b"}}'),
        ("nan.json", '{"name":"tool.read","args":{"n":NaN}}'),
        ("dupargs.json", '{"function":{"name":"t","arguments":"{\\"a\\":1,\\"a\\":2}"}}'),
    ):
        Path(name).write_text(text)
        adapter = ["--adapter", "openai"] if name == "dupargs.json" else []
        code, got = _run(
            capsys, "mcp", "proxy", "--policy", "policy.yaml", "--call", name, *adapter, "--json"
        )
        assert code == 6 and got["error_code"] == "E_MCP_CALL_INVALID", (name, got)
        assert "duplicate key" in got["error"] or "NaN" in got["error"], got
    code, got = _run(
        capsys,
        "mcp",
        "proxy",
        "--policy",
        "policy.yaml",
        "--call",
        "bad.json",
        "--adapter",
        "nope",
        "--json",
    )
    assert code == 6 and got["error_code"] == "E_USAGE"
    code, got = _run(capsys, "mcp", "proxy", "--policy", "policy.yaml", "--json")
    assert code == 6 and "--call" in got["error"]
    Path("noname.json").write_text("{}")
    code, got = _run(
        capsys, "mcp", "proxy", "--policy", "policy.yaml", "--call", "noname.json", "--json"
    )
    assert code == 6 and "name is required" in got["error"]


def test_service_decodes_parsed_calls_as_the_proxy_decodes_text() -> None:
    """The decision service decodes the call it already parsed (``decode_value``); each adapter,
    each malformed shape, must come out as ``decode`` of the same call's JSON text does."""
    from gait.mcp.calls import decode, decode_value

    cases = [(adapter, call) for adapter, call in sorted(ADAPTER_CALLS.items())]
    cases += [
        ("openai", {"function": "x"}),
        ("openai", {"function": {"name": "t", "arguments": "{nope"}}),
        ("langchain", {"tool": "t", "tool_input": "[1]"}),
        ("anthropic", []),
        ("mcp", {"name": "t", "targets": {"kind": "path"}}),
        (
            "mcp",
            {"name": "t", "targets": [{"kind": "path", "value": "/a", "readOnlyHint": "true"}]},
        ),
        ("Claude-Code", ADAPTER_CALLS["claude_code"]),
        (" MCP ", {"name": "t", "args": {"n": 1.5, "big": 10**30}}),
        ("nope", {"name": "t"}),
    ]
    for adapter, call in cases:
        try:
            want: object = decode(adapter, json.dumps(call))
        except GaitError as exc:
            want = (type(exc), exc.code, exc.message)
        try:
            got: object = decode_value(adapter, call)
        except GaitError as exc:
            got = (type(exc), exc.code, exc.message)
        assert got == want, (adapter, call)
    assert isinstance(want, tuple) and want[1] == "E_USAGE"  # the unknown adapter


def _job_state(status: str, stop_reason: str, revision: int = 3) -> dict:
    """A job state as the reference's job runtime writes it (``gait job submit|stop``)."""
    return {
        "schema_id": "gait.job.runtime",
        "schema_version": "1.0.0",
        "created_at": "2026-02-01T00:00:00Z",
        "updated_at": "2026-02-01T00:05:00.5Z",
        "producer_version": "0.0.0-dev",
        "job_id": "job-7",
        "status": status,
        "stop_reason": stop_reason,
        "status_reason_code": "emergency_stop_preempted",
        "environment_fingerprint": "envfp:abc",
        "revision": revision,
        "checkpoints": [],
    }


def test_job_root_emergency_stop_blocks_and_records_the_dispatch(work: Path, capsys) -> None:
    call = {"name": "tool.read", "context": {"identity": "a", "workspace": "/w", "job_id": "job-7"}}
    Path("call.json").write_text(json.dumps(call))
    argv = ("mcp", "proxy", "--policy", "policy.yaml", "--call", "call.json", "--json")
    # No such job under the default root: its state cannot be read, so the call is blocked.
    code, got = _run(capsys, *argv)
    assert (code, got["verdict"]) == (3, "block"), got
    assert got["reason_codes"] == ["emergency_stop_state_unavailable", "matched_rule_allow_reads"]
    assert got["violations"] == ["emergency_stop_active"]
    assert "job_status_unavailable=job not found" in got["warnings"]
    job = work / "jobs" / "job-7"
    job.mkdir(parents=True)
    (job / "state.json").write_text(json.dumps(_job_state("running", "none"), indent=2))
    code, got = _run(capsys, *argv, "--job-root", "jobs")
    assert (code, got["verdict"], got["reason_codes"]) == (0, "allow", ["matched_rule_allow_reads"])
    assert not any("job_" in w for w in got["warnings"])
    (job / "state.json").write_text(
        json.dumps(_job_state("emergency_stopped", "emergency_stopped"), indent=2)
    )
    code, got = _run(capsys, *argv, "--job-root", "jobs")
    assert (code, got["verdict"]) == (3, "block")
    assert got["reason_codes"] == ["emergency_stop_preempted", "matched_rule_allow_reads"]
    assert json.loads(Path(got["trace_path"]).read_text())["verdict"] == "block"
    # The refused dispatch is in the job's log as the reference records it, revision + 1.
    (event,) = [json.loads(x) for x in (job / "events.jsonl").read_text().splitlines()]
    assert event["schema_id"] == "gait.job.event" and event["type"] == "dispatch_blocked"
    assert (event["job_id"], event["revision"], event["actor"]) == ("job-7", 4, "mcp-proxy")
    assert event["reason_code"] == "emergency_stop_preempted"
    assert event["payload"] == {"dispatch_path": "mcp.proxy"}
    state = json.loads((job / "state.json").read_text())
    assert state["revision"] == 4 and state["updated_at"] == event["created_at"]
    assert state["status"] == "emergency_stopped" and state["safety_invariant_version"] == "1"
    assert sorted(p.name for p in job.iterdir()) == ["events.jsonl", "state.json"]
    assert (job / "events.jsonl").stat().st_mode & 0o777 == 0o600
    # A dry-run rule's answer gives way too: the reference's proxy sets block on a stopped job.
    Path("dry.yaml").write_text(
        "default_verdict: block\nrules:\n  - name: try_reads\n    effect: dry_run\n"
        "    match:\n      tool_names: [tool.read]\n"
    )
    dry = ("mcp", "proxy", "--policy", "dry.yaml", "--call", "call.json", "--json")
    code, got = _run(capsys, *dry, "--job-root", "jobs")
    assert (code, got["verdict"]) == (3, "block"), got
    assert "emergency_stop_preempted" in got["reason_codes"]
    assert got["violations"] == ["emergency_stop_active"]


def test_job_root_finishes_an_interrupted_mutation_and_refuses_bad_ids(work: Path, capsys) -> None:
    job = work / "jobs" / "job-7"
    job.mkdir(parents=True)
    stopped = _job_state("emergency_stopped", "emergency_stopped", revision=5)
    running = _job_state("running", "none", revision=4)
    (job / "state.json").write_text(json.dumps(running))
    # A stop whose event was logged but whose state was not written when its writer died.
    event = {"schema_id": "gait.job.event", "job_id": "job-7", "revision": 5, "type": "x"}
    (job / "events.jsonl").write_text(json.dumps(event) + "\n")
    pending = {
        "schema_id": "gait.job.pending_mutation",
        "job_id": "job-7",
        "previous_state": running,
        "updated_state": stopped,
        "event": event,
    }
    (job / "pending_mutation.json").write_text(json.dumps(pending))
    call = {"name": "tool.read", "context": {"job_id": "job-7"}}
    Path("call.json").write_text(json.dumps(call))
    argv = ("mcp", "bridge", "--policy", "policy.yaml", "--call", "call.json", "--json")
    code, got = _run(capsys, *argv, "--job-root", "jobs")
    assert (code, got["reason_codes"][0]) == (3, "emergency_stop_preempted"), got
    assert not (job / "pending_mutation.json").exists()
    assert json.loads((job / "state.json").read_text())["revision"] == 6
    Path("call.json").write_text(json.dumps({"name": "tool.read", "context": {"job_id": "../x"}}))
    code, got = _run(capsys, *argv, "--job-root", "jobs")
    assert (code, got["reason_codes"][0]) == (3, "emergency_stop_state_unavailable")
    assert any(w.startswith("job_status_unavailable=job_id must match") for w in got["warnings"])
