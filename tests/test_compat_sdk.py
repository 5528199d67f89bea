"""The reference Python SDK's API (``from gait import ToolAdapter, gate_tool, ...``), in-process.

Real policies, real dev keys, real runpacks: each test goes through the public names a user of
the reference SDK imports, and checks what this project's CLI then says about the artifacts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import gait
from gait import (
    GaitCommandError,
    GateEnforcementError,
    IntentArgProvenance,
    IntentContext,
    IntentRequest,
    IntentTarget,
    ToolAdapter,
    capture_demo_runpack,
    capture_intent,
    create_regress_fixture,
    evaluate_gate,
    flush_traces,
    gate_tool,
    record_runpack,
    run_session,
    write_trace,
)

POLICY = """\
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: block
rules:
  - name: allow-read
    priority: 10
    effect: allow
    match:
      tool_names: [tool.read]
    reason_codes: [read_ok]
  - name: approve-write
    priority: 20
    effect: require_approval
    match:
      tool_names: [tool.write]
    reason_codes: [write_needs_approval]
  - name: dry-deploy
    priority: 30
    effect: dry_run
    match:
      tool_names: [tool.deploy]
    reason_codes: [deploy_dry_run]
  - name: block-delete
    priority: 40
    effect: block
    match:
      tool_names: [tool.delete]
    reason_codes: [destructive_delete]
    violations: [destructive]
"""

CONTEXT = IntentContext(identity="alice", workspace="/srv/app", risk_class="high")


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return path


def intent(tool: str, **args: object) -> IntentRequest:
    return capture_intent(
        tool_name=tool,
        args=args,
        context=CONTEXT,
        targets=[IntentTarget(kind="path", value=str(args.get("path", "/srv/app/x")))],
        arg_provenance=[IntentArgProvenance(arg_path="$.path", source="user")],
    )


def test_evaluate_gate_in_process_matches_the_cli(
    policy: Path, tmp_path: Path, run_gait, gait_home: Path
) -> None:
    cases = {
        "tool.read": (0, "allow"),
        "tool.delete": (3, "block"),
        "tool.write": (4, "require_approval"),
        "tool.deploy": (0, "dry_run"),
    }
    for tool, (exit_code, verdict) in cases.items():
        request = intent(tool, path="/srv/app/a.txt")
        result = evaluate_gate(policy_path=policy, intent=request, cwd=tmp_path)
        assert (result.ok, result.exit_code, result.verdict) == (True, exit_code, verdict)
        assert result.trace_id
        # Written in the background, except when approvals are involved (the audit names it).
        assert (result.trace_path is None) == (verdict != "require_approval")
        intent_file = tmp_path / f"{tool}.json"
        intent_file.write_text(json.dumps(request.to_dict()), encoding="utf-8")
        cli = run_gait(
            "gate", "eval", "--policy", str(policy), "--intent", str(intent_file), "--json",
            cwd=tmp_path,
        )  # fmt: skip
        payload = json.loads(cli.stdout)
        assert cli.returncode == exit_code
        assert payload["verdict"] == verdict
        assert payload["reason_codes"] == result.reason_codes
        assert payload["intent_digest"] == result.intent_digest
        assert payload["policy_digest"] == result.policy_digest
    flush_traces()
    verified = run_gait("trace", "verify", "gait-out/traces", "--json", cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["traces_checked"] == 2 * len(cases)


def test_deferred_traces_are_the_gates_own(
    policy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = evaluate_gate(policy_path=policy, intent=intent("tool.delete"), cwd=tmp_path)
    flush_traces()
    written = [json.loads(p.read_text()) for p in (tmp_path / "gait-out/traces").glob("trace_*")]
    assert [t["trace_id"] for t in written] == [result.trace_id]
    assert written[0]["verdict"] == "block"
    monkeypatch.chdir(tmp_path)
    later = evaluate_gate(policy_path=policy, intent=intent("tool.read"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the writer keeps the directory of the decision
    flush_traces()
    written = list((tmp_path / "gait-out/traces").glob(f"trace_{later.trace_id}_*.json"))
    assert len(written) == 1 and not (elsewhere / "gait-out").exists()
    monkeypatch.setenv("GAIT_SDK_TRACES", "sync")
    now = evaluate_gate(policy_path=policy, intent=intent("tool.read"), cwd=tmp_path)
    assert now.trace_path and Path(now.trace_path).is_file()


def test_a_burst_of_deferred_traces_is_one_verified_chain(
    policy: Path, tmp_path: Path, run_gait
) -> None:
    # Written as batches (one sync each); flush_traces returns once every batch is synced.
    results = [
        evaluate_gate(policy_path=policy, intent=intent("tool.read", n=n), cwd=tmp_path)
        for n in range(6)
    ]
    flush_traces()
    verified = run_gait("trace", "verify", "gait-out/traces", "--json", cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["traces_checked"] == 6
    log = (tmp_path / "gait-out/traces/decisions.jsonl").read_text().splitlines()
    assert [json.loads(line)["trace_id"] for line in log] == [r.trace_id for r in results]


def test_a_deferred_trace_that_cannot_be_written_is_reported(policy: Path, tmp_path: Path) -> None:
    (tmp_path / "gait-out").mkdir()
    (tmp_path / "gait-out/traces").write_text("a file where the directory goes")
    result = evaluate_gate(policy_path=policy, intent=intent("tool.read"), cwd=tmp_path)
    assert result.verdict == "allow"  # decided at once; the writer meets the problem later
    with pytest.raises(gait.GaitError, match=r"1 deferred trace\(s\) not written"):
        flush_traces()
    flush_traces()  # reported once


def test_gate_tool_runs_only_on_allow(policy: Path, tmp_path: Path) -> None:
    adapter = ToolAdapter(policy_path=policy)
    calls: list[str] = []

    def tool(name: str):  # noqa: ANN202
        @gate_tool(adapter=adapter, context=CONTEXT, tool_name=name, cwd=tmp_path)
        def run(path: str) -> dict[str, str]:
            calls.append(name)
            return {"path": path}

        return run

    assert tool("tool.read")("/srv/app/a") == {"path": "/srv/app/a"}
    for name, verdict in (
        ("tool.delete", "block"),
        ("tool.write", "require_approval"),
        ("tool.deploy", "dry_run"),
    ):
        with pytest.raises(GateEnforcementError) as raised:
            tool(name)("/srv/app/a")
        assert raised.value.decision.verdict == verdict
    assert calls == ["tool.read"]


def test_trace_out_and_write_trace(policy: Path, tmp_path: Path) -> None:
    adapter = ToolAdapter(policy_path=policy)
    decision = adapter.gate_intent(intent=intent("tool.read"), trace_out=tmp_path / "t.json")
    assert decision.trace_path == str(tmp_path / "t.json")
    copied = write_trace(trace_path=decision.trace_path, destination_path=tmp_path / "c/t.json")
    record = json.loads(copied.read_text(encoding="utf-8"))
    assert record["trace_id"] == decision.trace_id
    assert record["verdict"] == "allow"


def test_errors_are_command_errors_with_codes(tmp_path: Path) -> None:
    with pytest.raises(GaitCommandError) as raised:
        evaluate_gate(policy_path=tmp_path / "missing.yaml", intent=intent("tool.read"))
    assert raised.value.exit_code == 6
    assert raised.value.code.startswith("E_")
    assert json.loads(raised.value.stdout)["error_code"] == raised.value.code
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [", encoding="utf-8")
    adapter = ToolAdapter(policy_path=bad)
    ran: list[int] = []
    with pytest.raises(GaitCommandError):
        adapter.execute(intent=intent("tool.read"), executor=lambda _: ran.append(1))
    assert ran == []


def test_prod_mode_without_key_fails_closed(policy: Path, tmp_path: Path) -> None:
    adapter = ToolAdapter(policy_path=policy, key_mode="prod")
    ran: list[int] = []
    with pytest.raises(GateEnforcementError) as raised:
        adapter.execute(intent=intent("tool.read"), executor=lambda _: ran.append(1), cwd=tmp_path)
    assert raised.value.decision.verdict == "block"
    assert "fail_closed_signing_key_missing" in raised.value.decision.reason_codes
    assert ran == []


def test_edited_policy_is_picked_up(policy: Path, tmp_path: Path) -> None:
    adapter = ToolAdapter(policy_path=policy)
    assert adapter.gate_intent(intent=intent("tool.read"), cwd=tmp_path).verdict == "allow"
    policy.write_text(POLICY.replace("effect: allow", "effect: block  "), encoding="utf-8")
    assert adapter.gate_intent(intent=intent("tool.read"), cwd=tmp_path).verdict == "block"


def test_run_session_writes_a_runpack_that_verifies_and_regresses(
    policy: Path, tmp_path: Path, run_gait
) -> None:
    adapter = ToolAdapter(policy_path=policy)
    with run_session(run_id="run_compat", cwd=tmp_path) as session:
        read = intent("tool.read", path="/srv/app/a")
        adapter.execute(intent=read, executor=lambda _: {"n": 1}, cwd=tmp_path)
        with pytest.raises(GateEnforcementError):
            adapter.execute(
                intent=intent("tool.delete", path="/srv/app/a"), executor=print, cwd=tmp_path
            )
        with pytest.raises(RuntimeError, match="boom"):
            adapter.execute(
                intent=intent("tool.read", path="/srv/app/b"),
                executor=lambda _: (_ for _ in ()).throw(RuntimeError("boom")),
                cwd=tmp_path,
            )
    assert [a.status for a in session.attempts] == ["ok", "block", "error"]
    capture = session.capture
    assert capture is not None and capture.run_id == "run_compat"
    assert capture.bundle_path == str(Path("gait-out") / "runpack_run_compat.zip")
    assert session.record_input is not None
    assert "normalization" in session.record_input
    verified = run_gait("verify", capture.bundle_path, "--json", cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout
    inspect = json.loads(run_gait("run", "inspect", "run_compat", "--json", cwd=tmp_path).stdout)
    assert [s["tool_name"] for s in inspect["steps"]] == ["tool.read", "tool.delete", "tool.read"]
    fixture = create_regress_fixture(from_run="run_compat", cwd=tmp_path)
    assert fixture.fixture_name == "run_compat"
    assert (tmp_path / fixture.runpack_path).is_file()
    regress = run_gait("regress", "run", "--json", cwd=tmp_path)
    assert regress.returncode == 0, regress.stdout + regress.stderr


def test_run_session_through_this_projects_binary(policy: Path, tmp_path: Path, gait_argv) -> None:
    """``gait_bin`` pointing at this project's CLI: the reference SDK's subprocess path,
    including its ``normalization`` record input, works end to end."""
    adapter = ToolAdapter(policy_path=policy, gait_bin=gait_argv)
    with run_session(run_id="run_cli", gait_bin=gait_argv, cwd=tmp_path) as session:
        outcome = adapter.execute(intent=intent("tool.read"), executor=lambda _: "ok", cwd=tmp_path)
        assert outcome.executed and outcome.decision.exit_code == 0
        with pytest.raises(GateEnforcementError):
            adapter.execute(intent=intent("tool.delete"), executor=print, cwd=tmp_path)
    assert session.capture is not None
    assert (tmp_path / session.capture.bundle_path).is_file()
    assert [a.verdict for a in session.attempts] == ["allow", "block"]


def test_record_runpack_and_demo_in_process(tmp_path: Path, run_gait) -> None:
    demo = capture_demo_runpack(cwd=tmp_path)
    assert demo.verified and demo.run_id == "run_demo"
    assert demo.bundle_path == "./gait-out/runpack_run_demo.zip"
    assert (tmp_path / demo.bundle_path).is_file()
    record = {
        "run": {"run_id": "run_rec", "created_at": "2026-02-12T00:00:00Z"},
        "intents": [{"intent_id": "i1", "tool_name": "tool.read", "args": {"p": 1}}],
        "results": [{"intent_id": "i1", "status": "ok", "result": {"n": 2}}],
        "refs": {"receipts": []},
    }
    capture = record_runpack(record_input=record, cwd=tmp_path, out_dir="out")
    assert capture.bundle_path == str(Path("out") / "runpack_run_rec.zip")
    assert capture.ticket_footer.startswith("GAIT run_id=run_rec")
    assert run_gait("verify", capture.bundle_path, cwd=tmp_path).returncode == 0


def test_reference_module_paths_and_lazy_import() -> None:
    from gait import client as client_module

    assert client_module is sys.modules["gait.compat.client"]
    assert gait.adapter.ToolAdapter is ToolAdapter
    code = "import gait, sys; print(sorted(m for m in sys.modules if m.startswith('gait.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    with pytest.raises(AttributeError):
        gait.NoSuchName  # noqa: B018


def reference_session_input(**normalization: object) -> dict:
    """A record input shaped as the reference SDK's run_session writes it."""
    stamp = "2026-02-12T00:00:00Z"
    head = {"schema_version": "1.0.0", "created_at": stamp, "run_id": "run_norm"}
    return {
        "run": {"schema_id": "gait.runpack.run", **head, "timeline": []},
        "intents": [
            {
                "schema_id": "gait.runpack.intent",
                **head,
                "intent_id": "intent_0001",
                "tool_name": "tool.delete",
            }
        ],  # noqa: E501
        "results": [
            {
                "schema_id": "gait.runpack.result",
                **head,
                "intent_id": "intent_0001",
                "status": "block",
            }
        ],  # noqa: E501
        "refs": {
            "schema_id": "gait.runpack.refs",
            **head,
            "receipts": [
                {
                    "ref_id": "trace_intent_0001",
                    "source_type": "gait.trace",
                    "source_locator": "trace://t",
                    "retrieved_at": stamp,
                }  # noqa: E501
            ],
        },
        "capture_mode": "reference",
        "normalization": normalization,
    }


def test_reference_normalization_block(tmp_path: Path, run_gait, gait_argv) -> None:
    import zipfile

    from gait.canon import digest

    args, payload = {"path": "/a"}, {"executed": False, "verdict": "block"}
    doc = reference_session_input(
        intent_args={"intent_0001": args}, result_payloads={"intent_0001": payload}
    )  # noqa: E501
    capture = record_runpack(record_input=doc, cwd=tmp_path)
    with zipfile.ZipFile(tmp_path / capture.bundle_path) as bundle:
        intent_line = json.loads(bundle.read("intents.jsonl"))
        result_line = json.loads(bundle.read("results.jsonl"))
        receipt = json.loads(bundle.read("refs.json"))["receipts"][0]
    assert intent_line["args_digest"] == digest(args)
    assert (result_line["status"], result_line["result_digest"]) == ("error", digest(payload))
    query = digest({"tool_name": "tool.delete", "args_digest": digest(args)})
    assert (receipt["query_digest"], receipt["content_digest"]) == (query, digest(payload))
    assert run_gait("verify", capture.bundle_path, cwd=tmp_path).returncode == 0
    doc["intents"][0]["args_digest"] = "0" * 64
    with pytest.raises(GaitCommandError) as raised:
        record_runpack(record_input=doc, cwd=tmp_path)
    assert (raised.value.exit_code, raised.value.code) == (6, "E_RECORD_INPUT_INVALID")
    del doc["intents"][0]["args_digest"]
    # The mode reaches the binary: required evidence without a context_set_digest is refused
    # there, as by the reference's run record.
    with pytest.raises(GaitCommandError) as raised:
        record_runpack(
            record_input=doc, gait_bin=gait_argv, cwd=tmp_path, context_evidence_mode="required"
        )
    assert (raised.value.exit_code, raised.value.code) == (6, "E_RECORD_CONTEXT_EVIDENCE")
    via_cli = record_runpack(
        record_input=doc, gait_bin=gait_argv, cwd=tmp_path, context_evidence_mode="best_effort"
    )
    with zipfile.ZipFile(tmp_path / via_cli.bundle_path) as bundle:
        assert json.loads(bundle.read("refs.json"))["context_evidence_mode"] == "best_effort"


def test_run_session_parallel_attempts_get_unique_ids(tmp_path: Path) -> None:
    import threading

    from gait import GateEvalResult

    decision = GateEvalResult(ok=True, exit_code=0, verdict="allow")
    request = intent("tool.read")
    with run_session(run_id="run_threads", cwd=tmp_path) as session:

        def attempts() -> None:
            for _ in range(50):
                session.record_attempt(intent=request, decision=decision, executed=True)

        threads = [threading.Thread(target=attempts) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    ids = [attempt.intent_id for attempt in session.attempts]
    assert len(set(ids)) == len(ids) == 200


def test_forked_child_writes_its_traces_before_returning(policy: Path, tmp_path: Path) -> None:
    import multiprocessing

    evaluate_gate(policy_path=policy, intent=intent("tool.read"), cwd=tmp_path)  # parent's writer
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_decide_in_child, args=(str(policy), str(tmp_path)))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    flush_traces()
    traces = list((tmp_path / "gait-out/traces").glob("trace_*.json"))
    assert len(traces) == 2


def _decide_in_child(policy: str, cwd: str) -> None:
    result = evaluate_gate(policy_path=policy, intent=intent("tool.delete"), cwd=cwd)
    assert result.trace_path and Path(result.trace_path).is_file()


def test_gate_tool_inlined_execute_matches_a_subclass_execute(policy: Path, tmp_path: Path) -> None:
    """gate_tool inlines ToolAdapter.execute; an adapter whose execute is its own (a subclass)
    takes the call through it. Both give the same session records, results and errors."""

    calls: list[str] = []

    class Counting(ToolAdapter):
        def execute(self, **kwargs: Any) -> Any:
            calls.append("execute")
            return ToolAdapter.execute(self, **kwargs)

    def tools(adapter: ToolAdapter) -> dict[str, Any]:
        made = {}
        for name in ("tool.read", "tool.delete", "tool.deploy"):

            @gate_tool(adapter=adapter, context=CONTEXT, tool_name=name, cwd=tmp_path)
            def tool(path: str, fail: bool = False) -> str:
                if fail:
                    raise RuntimeError("boom")
                return path.upper()

            made[name] = tool
        return made

    seen = []
    for adapter in (ToolAdapter(policy_path=policy), Counting(policy_path=policy)):
        made = tools(adapter)
        with run_session(run_id=f"run_{len(seen)}", cwd=tmp_path) as session:
            assert made["tool.read"]("/srv/a") == "/SRV/A"
            with pytest.raises(RuntimeError, match="boom"):
                made["tool.read"]("/srv/a", fail=True)
            for name in ("tool.delete", "tool.deploy"):
                with pytest.raises(GateEnforcementError) as raised:
                    made[name]("/srv/a")
                assert raised.value.decision.reason_codes
        seen.append([(a.verdict, a.status, a.executed) for a in session.attempts])
    assert calls == ["execute"] * 4
    assert seen[0] == seen[1]
    assert [status for _, status, _ in seen[0]] == ["ok", "error", "block", "dry_run"]


def test_run_session_records_gate_tool_calls_from_a_thread_pool(
    policy: Path, tmp_path: Path
) -> None:
    """A pool thread starts without the session's context (the reference SDK drops its calls);
    here it records into the process's one open session."""
    from concurrent.futures import ThreadPoolExecutor

    adapter = ToolAdapter(policy_path=policy)

    @gate_tool(adapter=adapter, context=CONTEXT, tool_name="tool.read", cwd=tmp_path)
    def read(path: str) -> dict[str, str]:
        return {"path": path}

    with run_session(run_id="run_pool", cwd=tmp_path) as session:
        read("/srv/app/main")
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(read, [f"/srv/app/{n}" for n in range(6)]))
    assert len(session.attempts) == 7
    assert sorted(a.status for a in session.attempts) == ["ok"] * 7
