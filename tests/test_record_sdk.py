"""The SDK recorder: context manager, decorator, explicit calls, failures, env, raw capture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import gait
from gait.runpack.build import normalize_input
from gait.runpack.reader import load_runpack
from gait.runpack.recorder import RawCaptureWarning, Recorder
from gait.runpack.replay import ReplayMiss, stub_replay
from gait.runpack.writer import write_runpack
from gait.schema import errors as schema_errors

SECRET = "hunter2-very-secret-password"


def _blob(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return b"".join(archive.read(n) for n in archive.namelist())


def test_context_manager_explicit_calls(tmp_path: Path) -> None:
    with gait.record(run_id="run_sdk", out_dir=tmp_path) as run:
        intent_id = run.intent("tool.login", {"user": "ana", "password": SECRET})
        run.result(intent_id, {"ok": True, "session": SECRET})
        run.receipt(
            "ref_1",
            "http",
            "https://kb.local/a",
            query="q",
            content="c",
            retrieval_params={"top_k": 3},
        )
    assert run.written is not None and run.path == tmp_path / "runpack_run_sdk.zip"
    pack = load_runpack(run.path)
    assert pack.capture_mode == "reference" and pack.intents[0]["intent_id"] == "intent_1"
    assert "args" not in pack.intents[0] and len(pack.intents[0]["args_digest"]) == 64
    assert [e["event"] for e in pack.run["timeline"]] == ["start", "tool_call", "finish"]
    assert pack.refs["receipts"][0]["immutability"] == "unknown"
    assert SECRET.encode() not in _blob(run.path)
    env = pack.run["env"]
    assert env["runtime"] == "python" and env["gait_version"] == gait.__version__
    assert env["python_version"].count(".") == 2


def test_decorator_records_into_current_run(tmp_path: Path) -> None:
    calls = []

    @gait.record.tool("tool.add")
    def add(a: int, b: int = 2) -> dict:
        calls.append((a, b))
        return {"sum": a + b}

    assert add(1) == {"sum": 3}  # outside a run: untouched
    with gait.record(run_id="run_deco", out_dir=tmp_path, capture_mode="raw") as run:
        assert add(2, b=5) == {"sum": 7}
    pack = load_runpack(run.path)
    assert pack.intents[0]["tool_name"] == "tool.add"
    assert pack.intents[0]["args"] == {"a": 2, "b": 5}
    assert pack.results[0]["result"] == {"sum": 7}
    assert calls == [(1, 2), (2, 5)]


def test_exception_inside_still_writes(tmp_path: Path) -> None:
    @gait.record.tool
    def explode(x: int) -> None:
        raise RuntimeError("tool broke")

    with pytest.raises(ValueError), gait.record(run_id="run_boom", out_dir=tmp_path) as run:
        pending = run.intent("tool.pending", {"n": 1})
        with pytest.raises(RuntimeError):
            explode(1)
        raise ValueError("agent crashed")
    pack = load_runpack(run.path)
    statuses = {r["intent_id"]: r["status"] for r in pack.results}
    assert statuses == {"intent_2": "error", pending: "error"}
    assert [e["event"] for e in pack.run["timeline"]][-2:] == ["error", "finish"]
    assert stub_replay(pack).exit_code == 0


def test_raw_capture_warns_and_redacts(tmp_path: Path) -> None:
    with pytest.warns(RawCaptureWarning):
        run = Recorder(
            "run_raw_sdk",
            out_dir=tmp_path,
            capture_mode="raw",
            redact=["drop:$.args.password", "mask-regex:hunter2[-a-z]*"],
            redact_hooks=[lambda kind, value: value],
        )
    with run:
        intent_id = run.intent("tool.login", {"user": "ana", "password": SECRET})
        run.result(intent_id, {"echo": f"pw was {SECRET}"})
    assert SECRET.encode() not in _blob(run.path)
    report = run.redaction_report
    assert report["redactions_total"] == 2 and report["hooks_applied"] == 2
    assert SECRET not in json.dumps(report)
    pack = load_runpack(run.path)
    assert pack.results[0]["result"] == {"echo": "pw was [REDACTED]"}


def test_record_to_env_overrides_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "candidate.zip"
    monkeypatch.setenv("GAIT_RECORD_TO", str(target))
    with gait.record(run_id="run_env", out_dir=tmp_path / "elsewhere") as run:
        run.intent("tool.x", {})
    assert run.path == target and target.exists()


def test_replay_from_env_answers_decorated_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_calls = []

    @gait.record.tool("tool.quote")
    def quote(symbol: str) -> dict:
        real_calls.append(symbol)
        return {"price": 101}

    with gait.record(run_id="run_baseline", out_dir=tmp_path, capture_mode="raw") as run:
        quote("ACME")
    assert real_calls == ["ACME"]
    monkeypatch.setenv("GAIT_REPLAY_FROM", str(run.path))
    monkeypatch.setenv("GAIT_RECORD_TO", str(tmp_path / "candidate.zip"))
    with gait.record(run_id="run_candidate") as candidate:
        assert quote("ACME") == {"price": 101}
        with pytest.raises(ReplayMiss) as miss:
            quote("OTHER")
    assert real_calls == ["ACME"]
    assert "$.symbol" in miss.value.message and miss.value.exit_code == 2
    pack = load_runpack(candidate.path)
    assert [r["status"] for r in pack.results] == ["ok", "error"]
    with gait.replay() as stubs:
        assert stubs.run_id == "run_baseline"


def test_recorder_bytes_equal_batch_writer(tmp_path: Path, conformance_dir: Path) -> None:
    """The streaming recorder and normalize_input + write_runpack agree byte for byte."""
    doc = json.loads((conformance_dir / "reference/inputs/run_raw.json").read_text())
    for mode in ("reference", "raw"):
        m, run, intents, results, refs = normalize_input(doc, capture_mode=mode)
        batch = write_runpack(
            tmp_path / f"batch_{mode}.zip",
            capture_mode=m,
            run=run,
            intents=intents,
            results=results,
            refs=refs,
        )
        times = iter([e["ts"] for e in run["timeline"]][4:])
        with pytest.MonkeyPatch.context() as mp:
            mp.delenv("GAIT_RECORD_TO", raising=False)
            rec = Recorder(
                run["run_id"],
                out=tmp_path / f"stream_{mode}.zip",
                capture_mode=mode,
                env=run["env"],
                created_at=run["created_at"],
                clock=times.__next__,
                producer_version=run["producer_version"],
                receipts=doc["refs"]["receipts"],
                sign=False,
            )
        for intent, event in zip(doc["intents"], run["timeline"][1:4], strict=True):
            rec.intent(
                intent["tool_name"], intent["args"], intent_id=intent["intent_id"], ts=event["ts"]
            )
        for result in doc["results"]:
            rec.result(result["intent_id"], result["result"], status=result["status"])
        written = rec.close()
        assert written.manifest_digest == batch.manifest_digest
        assert (tmp_path / f"stream_{mode}.zip").read_bytes() == batch.path.read_bytes()


def test_recorded_members_validate(tmp_path: Path) -> None:
    with gait.record(run_id="run_schema", out_dir=tmp_path, capture_mode="raw") as run:
        run.call("tool.echo", lambda **kw: kw, text="hi", n=(1, 2))
        run.intent("tool.text", "plain string args")
    pack = load_runpack(run.path)
    assert pack.intents[1]["args"] == {"value": "plain string args"}
    for record in pack.intents:
        assert schema_errors("runpack_intent", record) == []
    assert schema_errors("runpack_run", pack.run) == []


@pytest.mark.parametrize(
    ("action", "code"),
    [
        (lambda r: r.result("intent_404", {}), "E_RECORD_INPUT_INVALID"),
        (
            lambda r: [r.intent("t", {}, intent_id="a"), r.intent("t", {}, intent_id="a")],
            "E_RECORD_INPUT_INVALID",
        ),
        (lambda r: r.intent("t", {}, ts="yesterday"), "E_RECORD_INPUT_INVALID"),
    ],
)
def test_sdk_bad_input(tmp_path: Path, action, code) -> None:  # noqa: ANN001
    run = Recorder("run_bad", out_dir=tmp_path, sign=False)
    with pytest.raises(gait.errors.InvalidInput) as err:  # type: ignore[attr-defined]
        action(run)
    assert err.value.code == code


def test_bad_run_id_and_redaction_rule(tmp_path: Path) -> None:
    with pytest.raises(gait.errors.InvalidInput):  # type: ignore[attr-defined]
        Recorder("not a run id", out_dir=tmp_path)
    with pytest.raises(gait.errors.InvalidInput) as err:  # type: ignore[attr-defined]
        Recorder("run_x", out_dir=tmp_path, redact=["mask:no-dollar"])
    assert err.value.code == "E_REDACTION_RULE_INVALID"


def test_gait_recorder_fixture(tmp_path: Path) -> None:
    (tmp_path / "test_agent.py").write_text(
        "import gait\n"
        "@gait.record.tool('tool.ping')\n"
        "def ping(host):\n"
        "    return {'up': True}\n"
        "def test_agent(gait_recorder):\n"
        "    ping('db')\n"
        "    gait_recorder.intent('tool.note', {'n': 1})\n"
        "    assert gait_recorder.run_id == 'run_test_agent_py_test_agent'\n"
    )
    env = {**os.environ, "GAIT_RECORD_DIR": str(tmp_path / "out")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pack = load_runpack(tmp_path / "out" / "runpack_run_test_agent_py_test_agent.zip")
    assert [i["tool_name"] for i in pack.intents] == ["tool.ping", "tool.note"]


def _ids(path: Path, member: str) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return [json.loads(line)["intent_id"] for line in archive.read(member).splitlines()]


def test_results_are_written_in_their_intents_order(tmp_path: Path, run_gait) -> None:  # noqa: ANN001
    """Calls finishing in another order than they started (threads, tasks) leave the same
    runpack; a call that never finishes holds nothing back from the written run."""
    with gait.record(run_id="run_order", out_dir=tmp_path) as run:
        first = run.intent("tool.slow", {})
        second = run.intent("tool.fast", {})
        hung = run.intent("tool.hung", {})
        last = run.intent("tool.after", {})
        run.result(last, {"n": 4})
        run.result(second, {"n": 2})
        run.result(first, {"n": 1})
    path = run.written.path
    assert _ids(path, "intents.jsonl") == [first, second, hung, last]
    assert _ids(path, "results.jsonl") == [first, second, last]
    assert run_gait("verify", str(path)).returncode == 0


def test_expect_gives_a_turns_calls_their_ids_and_places_in_the_models_order(
    tmp_path: Path,
) -> None:
    with gait.record(run_id="run_turn", out_dir=tmp_path) as run:
        run.expect(["c1", "c2", "c3"])
        run.expect(["c2", "c3"])  # a second announcement of the same turn changes nothing
        third = run.intent("tool.c", {}, call_key="c3")
        first = run.intent("tool.a", {}, call_key="c1")
        other = run.intent("tool.other", {})  # not in the turn: after it
        run.result(third, {})
        run.result(other, {})
        run.result(first, {})
    # c2 was announced and never called: no line, no gap in the order of the rest.
    assert (first, third, other) == ("intent_1", "intent_3", "intent_4")
    path = run.written.path
    assert _ids(path, "intents.jsonl") == [first, third, other]
    assert _ids(path, "results.jsonl") == [first, third, other]


def test_a_tool_method_records_the_models_arguments_not_its_object(tmp_path: Path) -> None:
    class Mailbox:
        def __init__(self) -> None:
            self.api_key = "sk-live-secret"

        @gait.record.tool("mail.send")
        def send(self, to: str, body: str = "") -> dict:
            return {"queued": to}

        @classmethod
        @gait.record.tool("mail.count")
        def count(cls, folder: str) -> int:
            return 3

        @staticmethod
        @gait.record.tool("mail.parse")
        def parse(raw: str) -> dict:
            return {"raw": raw}

    box = Mailbox()
    with gait.record(run_id="run_methods", out_dir=tmp_path, capture_mode="raw") as run:
        assert box.send("ops@example.com", body="hi") == {"queued": "ops@example.com"}
        assert Mailbox.count("inbox") == 3
        assert box.parse("x") == {"raw": "x"}
    pack = load_runpack(run.path)
    assert [(i["tool_name"], i["args"]) for i in pack.intents] == [
        ("mail.send", {"to": "ops@example.com", "body": "hi"}),
        ("mail.count", {"folder": "inbox"}),
        ("mail.parse", {"raw": "x"}),
    ]
    with zipfile.ZipFile(run.path) as archive:
        assert not [m for m in archive.namelist() if b"sk-live" in archive.read(m)]


RETURNED = [
    ("text", "three tickets"),
    ("count", 3),
    ("rows", [1, "a", None]),
    ("nothing", None),
    ("own_value_key", {"value": 7}),
    ("nested", {"value": {"value": "deep"}}),
    ("pair", (1, 2)),
]


def test_replay_hands_back_what_each_tool_returned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_calls: list[str] = []

    def make(kind: str, value: object):  # noqa: ANN202
        @gait.record.tool(f"tool.{kind}")
        def fn() -> object:
            real_calls.append(kind)
            return value

        return fn

    @gait.record.tool("tool.stream")
    def stream(n: int):  # noqa: ANN202
        real_calls.append("stream")
        yield from ({"i": i} for i in range(n))

    @gait.record.tool("tool.astream")
    async def astream(n: int):  # noqa: ANN202
        real_calls.append("astream")
        for i in range(n):
            yield i

    async def drain(n: int) -> list[int]:
        return [item async for item in astream(n)]

    import asyncio

    tools = {kind: make(kind, value) for kind, value in RETURNED}
    with gait.record(run_id="run_values", out_dir=tmp_path, capture_mode="raw") as run:
        recorded = {kind: fn() for kind, fn in tools.items()}
        recorded["stream"] = list(stream(3))
        first = next(iter(stream(5)))  # the consumer stops early: what it took is the result
        recorded["astream"] = asyncio.run(drain(2))
    assert first == {"i": 0}
    assert len(real_calls) == len(RETURNED) + 3
    monkeypatch.setenv("GAIT_REPLAY_FROM", str(run.path))
    monkeypatch.setenv("GAIT_RECORD_TO", str(tmp_path / "candidate.zip"))
    with gait.record(run_id="run_candidate", capture_mode="raw") as candidate:
        replayed = {kind: fn() for kind, fn in tools.items()}
        replayed["stream"] = list(stream(3))
        assert list(stream(5)) == [{"i": 0}]
        replayed["astream"] = asyncio.run(drain(2))
    assert len(real_calls) == len(RETURNED) + 3  # nothing real ran on replay
    assert replayed == {**recorded, "pair": [1, 2]}  # JSON keeps a tuple as a list
    baseline, again = load_runpack(run.path), load_runpack(candidate.path)
    assert [r["result_digest"] for r in again.results] == [
        r["result_digest"] for r in baseline.results
    ]
