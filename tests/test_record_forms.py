"""The three ways an agent's code opens a run: ``with``, ``async with`` and
``@gait.record(...)`` on the function that runs the agent (each call its own run; the object
made at import is a template and writes nothing)."""

from __future__ import annotations

import asyncio
import zipfile
from pathlib import Path

import orjson
import pytest

import gait
from gait.runpack.verify import verify_runpack


@gait.record.tool("kb.echo")
def echo(text: str) -> str:
    return text


@gait.record.tool("kb.aecho")
async def aecho(text: str) -> str:
    return text


def _calls(path: Path) -> list[tuple[str, dict]]:
    with zipfile.ZipFile(path) as archive:
        lines = archive.read("intents.jsonl").splitlines()
    return [(i["tool_name"], i["args"]) for i in map(orjson.loads, lines)]


def test_a_decorated_agent_function_records_one_run_per_call(tmp_path: Path) -> None:
    out = tmp_path / "nightly.zip"

    @gait.record(run_id="run_nightly", out=out, capture_mode="raw", sign=False)
    def nightly(topic: str) -> str:
        assert gait.record.current() is not None
        return echo(text=topic)

    assert not out.exists()  # decorating wrote nothing
    assert nightly("first") == "first"
    assert _calls(out) == [("kb.echo", {"text": "first"})]
    assert nightly("second") == "second"  # a fresh run, not appended to the first
    assert _calls(out) == [("kb.echo", {"text": "second"})]
    assert verify_runpack(out).ok
    assert gait.record.current() is None


def test_a_decorated_coroutine_records_and_a_failure_is_in_its_runpack(tmp_path: Path) -> None:
    out = tmp_path / "job.zip"

    @gait.record(run_id="run_job", out=out, capture_mode="raw", sign=False)
    async def job(text: str) -> str:
        await aecho(text=text)
        raise RuntimeError("model timed out")

    with pytest.raises(RuntimeError, match="model timed out"):
        asyncio.run(job("hello"))
    assert _calls(out) == [("kb.aecho", {"text": "hello"})]
    with zipfile.ZipFile(out) as archive:
        events = [e["event"] for e in orjson.loads(archive.read("run.json"))["timeline"]]
    assert events == ["start", "tool_call", "error", "finish"]


def test_async_with_records_the_block(tmp_path: Path) -> None:
    out = tmp_path / "async.zip"

    async def agent() -> Path:
        async with gait.record(run_id="run_async", out=out, capture_mode="raw", sign=False) as run:
            await aecho(text="a")
            echo(text="b")
        assert run.written is not None
        return run.written.path

    assert asyncio.run(agent()) == out
    assert _calls(out) == [("kb.aecho", {"text": "a"}), ("kb.echo", {"text": "b"})]


def test_a_generator_or_a_session_run_is_not_decorated(tmp_path: Path) -> None:
    template = gait.record(run_id="run_gen", out=tmp_path / "gen.zip", sign=False)
    with pytest.raises(TypeError, match="not a generator"):

        @template
        def pages():  # noqa: ANN202
            yield 1

    session = gait.record(
        run_id="run_s", out=tmp_path / "s.zip", sign=False, session=tmp_path / "s.journal"
    )
    with pytest.raises(TypeError, match="without session="):
        session(lambda: None)
    assert not (tmp_path / "gen.zip").exists()
