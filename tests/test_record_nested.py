"""A recorded tool that calls another recorded tool, as agents' tools often do (a CRM lookup
that queries the database tool): the inner call is the outer tool's work, not a step. Were it
recorded, every replay would drift, because replay answers the outer call from the runpack and
the inner one never runs again. The flag that says "inside a tool" covers the tool's own code and
the tasks it starts, and nothing else: a stream's consumer and the agent's other tasks keep
recording."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import orjson

import gait

AGENT = textwrap.dedent(
    """
    import asyncio
    import os

    import gait

    @gait.record.tool("db.lookup")
    def lookup(user: str) -> dict:
        return {"user": user, "tier": "gold"}

    @gait.record.tool("crm.profile")
    def profile(user: str) -> dict:
        return {"row": lookup(user=user)}

    @gait.record.tool("web.fetch")
    async def fetch(url: str) -> dict:
        await asyncio.sleep(0.001)
        return {"url": url}

    @gait.record.tool("web.crawl")
    async def crawl(root: str) -> list:
        return list(await asyncio.gather(fetch(url=root + "/a"), fetch(url=root + "/b")))

    async def main() -> None:
        with gait.record(run_id="run_nested", capture_mode="raw"):
            profile(user=os.environ.get("USER_NAME", "ann"))
            await crawl(root="http://docs")

    asyncio.run(main())
    """
)


def _intents(path: Path) -> list[tuple[str, dict]]:
    with zipfile.ZipFile(path) as archive:
        lines = archive.read("intents.jsonl").splitlines()
    return [(i["tool_name"], i["args"]) for i in map(orjson.loads, lines)]


def test_nested_tool_calls_are_the_outer_tools_work_and_the_loop_holds(
    tmp_path: Path,
    gait_home: Path,
    run_gait,  # noqa: ANN001
) -> None:
    (tmp_path / "agent.py").write_text(AGENT)
    proc = subprocess.run(
        [sys.executable, "agent.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    runpack = tmp_path / "gait-out/runpack_run_nested.zip"
    assert _intents(runpack) == [
        ("crm.profile", {"user": "ann"}),
        ("web.crawl", {"root": "http://docs"}),
    ]
    init = run_gait(
        "regress",
        "init",
        "--from",
        str(runpack),
        "--command",
        f"{sys.executable} agent.py",
        cwd=tmp_path,
    )
    assert init.returncode == 0, init.stderr
    env = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    for _ in range(2):
        passed = run_gait("regress", "run", cwd=tmp_path, env=env)
        assert passed.returncode == 0, passed.stdout + passed.stderr
    changed = run_gait("regress", "run", cwd=tmp_path, env={**env, "USER_NAME": "bob"})
    assert changed.returncode == 5, changed.stdout + changed.stderr
    assert "~ #1 crm.profile: args differ at $.user" in changed.stdout


def test_a_streams_consumer_and_the_agents_other_calls_still_record(tmp_path: Path) -> None:
    @gait.record.tool("kb.search")
    def search(q: str) -> list:
        return [q]

    @gait.record.tool("kb.pages")
    def pages(n: int):  # noqa: ANN202
        for page in range(n):
            search(q=f"inner{page}")  # the stream's own work
            yield page

    @gait.record.tool("kb.watch")
    async def watch(n: int):  # noqa: ANN202
        for tick in range(n):
            search(q=f"tick{tick}")
            yield tick

    async def agent() -> None:
        for page in pages(n=2):
            search(q=f"consumer{page}")  # the agent's step, between two items
        async for tick in watch(n=1):
            search(q=f"after{tick}")

    out = tmp_path / "run.zip"
    with gait.record(run_id="run_stream", out=out, sign=False, capture_mode="raw"):
        asyncio.run(agent())
        search(q="last")
    assert _intents(out) == [
        ("kb.pages", {"n": 2}),
        ("kb.search", {"q": "consumer0"}),
        ("kb.search", {"q": "consumer1"}),
        ("kb.watch", {"n": 1}),
        ("kb.search", {"q": "after0"}),
        ("kb.search", {"q": "last"}),
    ]


def test_replay_answers_the_outer_call_and_the_inner_tool_never_runs(
    tmp_path: Path, monkeypatch
) -> None:  # noqa: ANN001
    ran: list[str] = []

    @gait.record.tool("db.lookup")
    def lookup(user: str) -> dict:
        ran.append(user)
        return {"tier": "gold"}

    @gait.record.tool("crm.profile")
    def profile(user: str) -> dict:
        return {"row": lookup(user=user)}

    recorded = tmp_path / "recorded.zip"
    with gait.record(run_id="run_profile", out=recorded, sign=False, capture_mode="raw"):
        assert profile(user="ann") == {"row": {"tier": "gold"}}
    assert ran == ["ann"]
    monkeypatch.setenv("GAIT_REPLAY_FROM", os.fspath(recorded))
    replayed = tmp_path / "replayed.zip"
    with gait.record(run_id="run_profile", out=replayed, sign=False, capture_mode="raw"):
        assert profile(user="ann") == {"row": {"tier": "gold"}}
    assert ran == ["ann"]
    assert _intents(replayed) == _intents(recorded) == [("crm.profile", {"user": "ann"})]


def test_replay_follows_the_runpack_file_not_the_variables_text(
    tmp_path: Path, monkeypatch
) -> None:  # noqa: ANN001
    """One process replaying ``GAIT_REPLAY_FROM=run.zip`` in two directories, and again after
    the runpack was recorded anew in place, gets each time the runpack that path names now."""

    @gait.record.tool("weather.get")
    def weather(city: str) -> dict:
        raise AssertionError("replay must not run the tool")

    def record_in(folder: Path, answer: str) -> None:
        folder.mkdir(exist_ok=True)

        @gait.record.tool("weather.get")
        def live(city: str) -> dict:
            return {"sky": answer}

        with gait.record(run_id="run_w", out=folder / "run.zip", sign=False, capture_mode="raw"):
            live(city="oslo")

    record_in(tmp_path / "a", "rain")
    record_in(tmp_path / "b", "sun")
    monkeypatch.setenv("GAIT_REPLAY_FROM", "run.zip")
    for folder, sky in (("a", "rain"), ("b", "sun")):
        monkeypatch.chdir(tmp_path / folder)
        with gait.record(run_id="run_w", out="replayed.zip", sign=False, capture_mode="raw"):
            assert weather(city="oslo") == {"sky": sky}
    monkeypatch.delenv("GAIT_REPLAY_FROM")
    record_in(tmp_path / "b", "snow")
    monkeypatch.setenv("GAIT_REPLAY_FROM", "run.zip")
    with gait.record(run_id="run_w", out="replayed.zip", sign=False, capture_mode="raw"):
        assert weather(city="oslo") == {"sky": "snow"}
