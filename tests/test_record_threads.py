"""Decorated tools called from worker threads, as agents that run a turn's calls in a thread
pool do: the calls are recorded into the run (a thread pool does not carry the run's context),
replay serves them, and the regression loop passes on the unchanged agent and fails on a
changed one. ``run.expect`` with ``run.turn_call`` keeps the model's order however the threads
are scheduled; with several runs open, a call from a context-less thread is not guessed into
one of them."""

from __future__ import annotations

import sys
import textwrap
import threading
import warnings
import zipfile
from pathlib import Path

import orjson
import pytest

import gait

POOL_AGENT = textwrap.dedent(
    """
    import os
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    import gait

    @gait.record.tool("web.search")
    def search(query: str) -> dict:
        time.sleep(0.002)
        return {"hits": [query.upper()]}

    @gait.record.tool("files.read")
    def read_file(path: str) -> dict:
        return {"content": path[::-1]}

    with gait.record(run_id="run_pool", capture_mode="raw"):
        query = os.environ.get("QUERY", "refunds")
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda call: call(), [lambda: search(query=query)]))
        worker = threading.Thread(target=read_file, kwargs={"path": "/inbox"})
        worker.start()
        worker.join()
        read_file(path="/done")
    """
)

# A model turn asks for three calls; each worker waits longer the earlier its call comes,
# so the tools start in the reverse of the model's order.
TURN_AGENT = textwrap.dedent(
    """
    import os
    import time
    from concurrent.futures import ThreadPoolExecutor

    import gait

    @gait.record.tool("kb.lookup")
    def lookup(topic: str) -> dict:
        return {"topic": topic}

    TURN = [("call_a", "alpha"), ("call_b", "beta"), ("call_c", "gamma")]

    with gait.record(run_id="run_turn", capture_mode="raw") as run:
        keyed = os.environ.get("KEYED") == "1"
        if keyed:
            run.expect([key for key, _ in TURN])

        def run_call(index_call):
            index, (key, topic) = index_call
            time.sleep(0.03 * (len(TURN) - index))
            if not keyed:
                return lookup(topic=topic)
            with run.turn_call(key):
                return lookup(topic=topic)

        with ThreadPoolExecutor(3) as pool:
            list(pool.map(run_call, enumerate(TURN)))
    """
)


def _members(path: Path, member: str) -> list[dict]:
    with zipfile.ZipFile(path) as archive:
        return [orjson.loads(line) for line in archive.read(member).splitlines()]


def _agent(tmp_path: Path, source: str, run_gait_python) -> Path:  # noqa: ANN001
    root = tmp_path / "agent"
    root.mkdir()
    (root / "agent.py").write_text(source)
    proc = run_gait_python(root)
    assert proc.returncode == 0, proc.stderr
    return root


@pytest.fixture
def run_gait_python(gait_home: Path):  # noqa: ANN201
    import os
    import subprocess

    def run(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "agent.py"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
        )

    return run


def test_calls_from_worker_threads_are_recorded_and_the_loop_holds(
    tmp_path: Path,
    run_gait,  # noqa: ANN001
    run_gait_python,  # noqa: ANN001
) -> None:
    root = _agent(tmp_path, POOL_AGENT, run_gait_python)
    runpack = root / "gait-out/runpack_run_pool.zip"
    intents = _members(runpack, "intents.jsonl")
    assert [(i["tool_name"], i["args"]) for i in intents] == [
        ("web.search", {"query": "refunds"}),
        ("files.read", {"path": "/inbox"}),
        ("files.read", {"path": "/done"}),
    ]
    results = _members(runpack, "results.jsonl")
    assert [r["result"] for r in results] == [
        {"hits": ["REFUNDS"]},
        {"content": "xobni/"},
        {"content": "enod/"},
    ]
    init = run_gait(
        "regress",
        "init",
        "--from",
        str(runpack),
        "--command",
        f"{sys.executable} agent.py",
        cwd=root,
    )
    assert init.returncode == 0, init.stderr
    for _ in range(2):
        proc = run_gait("regress", "run", cwd=root, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
        assert proc.returncode == 0, proc.stdout + proc.stderr
    changed = run_gait(
        "regress", "run", cwd=root, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "QUERY": "late"}
    )
    assert changed.returncode == 5, changed.stdout + changed.stderr
    assert '~ #1 web.search: args differ at $.query ($.query: "refunds" -> "late")' in (
        changed.stdout
    )


def test_turn_call_keeps_the_models_order_across_threads(
    tmp_path: Path,
    run_gait_python,  # noqa: ANN001
) -> None:
    root = _agent(tmp_path, TURN_AGENT, run_gait_python)
    runpack = root / "gait-out/runpack_run_turn.zip"
    started = [i["args"]["topic"] for i in _members(runpack, "intents.jsonl")]
    assert started == ["gamma", "beta", "alpha"]  # without keys: the order the threads ran
    proc = run_gait_python(root, KEYED="1")
    assert proc.returncode == 0, proc.stderr
    intents = _members(runpack, "intents.jsonl")
    assert [(i["intent_id"], i["args"]["topic"]) for i in intents] == [
        ("intent_1", "alpha"),
        ("intent_2", "beta"),
        ("intent_3", "gamma"),
    ]
    results = _members(runpack, "results.jsonl")
    assert [r["intent_id"] for r in results] == ["intent_1", "intent_2", "intent_3"]


def test_with_several_runs_open_a_context_less_call_is_not_guessed(tmp_path: Path) -> None:
    @gait.record.tool("tool.ping")
    def ping(n: int) -> int:
        return n

    opened = threading.Barrier(3)
    called = threading.Event()
    written = {}

    def agent(name: str) -> None:
        with gait.record(run_id=f"run_{name}", out=tmp_path / f"{name}.zip", sign=False) as run:
            ping(n=0)
            opened.wait()
            called.wait()
        written[name] = run.written

    threads = [threading.Thread(target=agent, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    opened.wait()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert ping(n=1) == 1  # this thread has no run's context, and two runs are open
    called.set()
    for thread in threads:
        thread.join()
    assert [str(w.message) for w in caught] == [
        "a recorded tool was called outside any run's context while 2 runs are open: not "
        "recorded; run it with contextvars.copy_context().run(...) to record it in its run"
    ]
    for name in ("one", "two"):  # each run holds only its own call
        assert len(_members(tmp_path / f"{name}.zip", "intents.jsonl")) == 1


def test_a_closed_run_takes_no_more_calls(tmp_path: Path) -> None:
    @gait.record.tool("tool.ping")
    def ping(n: int) -> int:
        return n

    with gait.record(run_id="run_closed", out=tmp_path / "closed.zip", sign=False):
        pass
    done: list[int] = []
    worker = threading.Thread(target=lambda: done.append(ping(n=2)))
    worker.start()
    worker.join()
    assert done == [2]
    assert _members(tmp_path / "closed.zip", "intents.jsonl") == []
