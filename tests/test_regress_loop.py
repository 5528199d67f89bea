"""The regression loop on real agents, through the public SDK and the CLI (issue 10's "done"):
record, ``regress init --command``, unchanged passes repeatedly, an inserted, removed and
changed call each fail naming the tool and arg path, an accepted update passes afterwards, a
crashed candidate is never accepted, and a subset never rewrites regress_result.json.

Two agents shaped differently: a synchronous one (read, email, delete) and an async one whose
tool raises an exception the agent handles.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

FAST = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}

SYNC_AGENT = textwrap.dedent(
    """
    import os
    import gait
    from gait.gate.state import SQLiteGateState

    @gait.record.tool("files.read")
    def read_file(path: str) -> dict:
        with open(path, encoding="utf-8") as handle:
            return {"content": handle.read()}

    @gait.record.tool("email.send")
    def send_email(to: str, subject: str, body: str) -> dict:
        return {"queued": True, "message_id": "msg_1"}

    @gait.record.tool("files.delete")
    def delete_file(path: str) -> dict:
        os.remove(path)
        return {"deleted": path}

    @gait.record.tool("files.archive")
    def archive(path: str) -> dict:
        return {"archived": path}

    variant = os.environ.get("AGENT_VARIANT", "")
    if variant == "broken":
        raise ImportError("No module named 'vendor_sdk'")
    # A rate limit of 1 per run in the gate state the SDK finds: shared state would fail the
    # second run of an unchanged agent.
    allowed, _ = SQLiteGateState().consume("triage", "b0", 1)
    if not allowed:
        raise SystemExit("rate limited")
    with gait.record(run_id="run_triage", capture_mode="raw"):
        doc = read_file(path="inbox.txt")
        subject = "Weekly summary" if variant == "changed" else "Summary"
        if variant != "removed":
            send_email(to="ops@example.com", subject=subject, body=doc["content"][:40])
        if variant == "inserted":
            archive(path="inbox.txt")
        delete_file(path="inbox.txt")
        if variant == "crash":
            raise RuntimeError("agent bug after its calls")
    """
)

ASYNC_AGENT = textwrap.dedent(
    """
    import asyncio
    import os
    import gait

    @gait.record.tool("kb.search")
    async def search(query: str, top_k: int = 2) -> dict:
        await asyncio.sleep(0)
        return {"hits": ["doc_1", "doc_2"][:top_k]}

    @gait.record.tool("kb.fetch")
    async def fetch(doc_id: str) -> dict:
        await asyncio.sleep(0)
        if doc_id == "doc_2":
            raise FileNotFoundError(f"{doc_id} is gone")
        return {"doc_id": doc_id, "text": "refunds within 30 days"}

    async def main() -> None:
        variant = os.environ.get("AGENT_VARIANT", "")
        top_k = 3 if variant == "changed" else 2
        with gait.record(run_id="run_async", capture_mode="raw"):
            found = await search(query="refund window", top_k=top_k)
            for doc_id in found["hits"]:
                try:
                    await fetch(doc_id=doc_id)
                except FileNotFoundError:
                    pass  # the agent handles a tool failure; replay must raise it again

    asyncio.run(main())
    """
)


def setup_agent(  # noqa: ANN001
    tmp_path: Path, run_gait, source: str, name: str, home: Path | None = None
) -> Path:
    root = tmp_path / name
    root.mkdir()
    (root / "agent.py").write_text(source)
    (root / "inbox.txt").write_text("three tickets about refunds\n")
    proc = run_gait_python(root, "agent.py", env={"GAIT_HOME": str(home)} if home else None)
    assert proc.returncode == 0, proc.stderr
    run_id = "run_triage" if name == "sync" else "run_async"
    command = f"{sys.executable} agent.py"
    init = run_gait(
        "regress",
        "init",
        "--from",
        f"gait-out/runpack_{run_id}.zip",
        "--command",
        command,
        cwd=root,
    )
    assert init.returncode == 0, init.stderr
    assert "command=" in init.stdout
    (root / "inbox.txt").write_text("three tickets about refunds\n")
    return root


def run_gait_python(root: Path, script: str, env: dict | None = None):  # noqa: ANN201
    import subprocess

    return subprocess.run(
        [sys.executable, script],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def regress(run_gait, root: Path, *extra: str, variant: str = ""):  # noqa: ANN001, ANN201
    env = {**FAST, "AGENT_VARIANT": variant}
    return run_gait("regress", "run", *extra, cwd=root, env=env)


@pytest.fixture(scope="module")
def sync_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sync agent recorded and turned into a fixture once for the module (its own
    GAIT_HOME); each test then works on a copy of that directory."""
    import subprocess

    from conftest import gait_executable

    home = tmp_path_factory.mktemp("sync_home")

    def run_gait(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*gait_executable(), *args],
            cwd=cwd,
            env={**os.environ, "GAIT_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=60,
        )

    return setup_agent(tmp_path_factory.mktemp("template"), run_gait, SYNC_AGENT, "sync", home)


@pytest.fixture
def sync_agent(sync_template: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(sync_template, tmp_path / "sync"))


DRIFTS = [
    ("inserted", "+ #3 files.archive  inserted"),
    ("removed", "- #2 email.send  removed"),
    ("changed", "~ #2 email.send: args differ at $.subject"),
]


def test_drift_fails_naming_tool_and_arg_path(sync_agent, run_gait):
    for variant, expected in DRIFTS:
        proc = regress(run_gait, sync_agent, "--", "--tb=short", variant=variant)
        assert proc.returncode == 5, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
        diff = json.loads((sync_agent / "gait-out/regress/run_triage/diff.json").read_text())
        trajectory = next(f for f in diff["failures"] if f["grader"] == "trajectory")
        assert expected in "\n".join(trajectory["divergence"]), trajectory["divergence"]
        assert expected in proc.stdout  # the summary shows the aligned calls too
        if variant in ("inserted", "changed"):
            assert "replay_miss" in trajectory["reason_codes"]
            assert trajectory["error_code"] == "E_REGRESS_REPLAY_MISS"
            misses = sync_agent / "gait-out/regress/run_triage/candidate.misses.jsonl"
            assert ("email.send" if variant == "changed" else "files.archive") in (
                misses.read_text()
            )
            assert "--update would refuse this candidate" in proc.stdout
        if variant == "changed":
            shown = "\n".join(trajectory["divergence"])
            assert '$.subject: "Summary" -> "Weekly summary"' in shown
        if variant == "removed":
            # The pytest view shows the same aligned diff and the command that accepts it.
            pytest_proc = _pytest_gait(sync_agent, variant, "-k", "trajectory")
            assert expected in pytest_proc.stdout, pytest_proc.stdout
            assert "accept: pytest --gait --gait-update -k run_triage" in pytest_proc.stdout
    # An agent that dies before recording leaves no candidate of an earlier run beside diff.json.
    artifacts = sync_agent / "gait-out/regress/run_triage"
    assert (artifacts / "candidate.zip").is_file()
    proc = regress(run_gait, sync_agent, variant="broken")
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "No module named 'vendor_sdk'" in (artifacts / "diff.json").read_text()
    assert sorted(p.name for p in artifacts.iterdir()) == ["diff.json"]


def test_payload_differences_import_deepdiff_only_when_a_failure_is_shown(sync_agent):
    passing = _pytest_gait(sync_agent, "", "-q", "-s", importtime=True)
    assert passing.returncode == 0, passing.stdout
    assert "deepdiff" not in passing.stderr
    failing = _pytest_gait(sync_agent, "changed", "-q", "-s", "-k", "trajectory", importtime=True)
    assert failing.returncode == 1, failing.stdout
    assert "deepdiff" in failing.stderr
    assert '$.subject: "Summary" -> "Weekly summary"' in failing.stdout


def _pytest_gait(root: Path, variant: str, *args: str, importtime: bool = False):  # noqa: ANN201
    import subprocess

    return subprocess.run(
        [
            sys.executable,
            *(["-X", "importtime"] if importtime else []),
            "-m",
            "pytest",
            "-p",
            "gait",
            "--gait",
            *args,
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **FAST, "AGENT_VARIANT": variant},
    )


def _fixture_bytes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted((root / "fixtures").rglob("*"))
        if p.is_file()
    } | {"gait.yaml": (root / "gait.yaml").read_bytes()}


def test_accepted_update_passes_and_crashes_or_misses_are_refused(sync_agent, run_gait):
    before = _fixture_bytes(sync_agent)
    for variant in ("crash", "inserted"):
        proc = regress(run_gait, sync_agent, "--update", "--json", variant=variant)
        assert proc.returncode == 5, proc.stdout + proc.stderr
        out = json.loads(proc.stdout)
        assert out["error_code"] == "E_REGRESS_UPDATE_REFUSED"
        assert list(out["refused"]) == ["run_triage"] and out["updated_fixtures"] == []
        assert _fixture_bytes(sync_agent) == before, variant
    proc = regress(run_gait, sync_agent, "--update", variant="removed")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 fixture updated, 0 refused" in proc.stdout
    meta = json.loads((sync_agent / "fixtures/run_triage/fixture.json").read_text())
    assert meta["expected_tool_sequence"] == ["files.read", "files.delete"]
    assert regress(run_gait, sync_agent, variant="removed").returncode == 0
    assert regress(run_gait, sync_agent).returncode == 5  # the old behaviour is drift now


def test_unchanged_passes_repeatedly_and_a_subset_never_rewrites_the_result(sync_agent, run_gait):
    # Twice in a row: each run's agent gets a fresh gate state (its rate limit is 1 per run).
    for _ in range(2):
        proc = regress(run_gait, sync_agent)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "1 of 1 fixtures check a live agent" in proc.stdout
    assert "gait_stub" not in (sync_agent / "regress_result.json").read_text()
    full = (sync_agent / "regress_result.json").read_bytes()
    proc = regress(run_gait, sync_agent, "--json", "--", "-k", "trajectory", variant="removed")
    assert proc.returncode == 5
    out = json.loads(proc.stdout)
    assert out["complete"] is False and out["partial"]["graded"] == 1
    assert (sync_agent / "regress_result.json").read_bytes() == full
    partial = json.loads((sync_agent / "regress_partial.json").read_text())
    assert partial["status"] == "fail" and partial["selection"] == ["run_triage/trajectory"]
    assert partial["counts"]["not_graded"] == partial["counts"]["planned"] - 1
    # A full run that passes again removes the stale diff.json.
    assert (sync_agent / "gait-out/regress/run_triage/diff.json").is_file()
    assert regress(run_gait, sync_agent).returncode == 0
    assert not (sync_agent / "gait-out/regress/run_triage/diff.json").exists()


def test_async_agent_with_a_failing_tool(tmp_path, run_gait):
    root = setup_agent(tmp_path, run_gait, ASYNC_AGENT, "async")
    proc = regress(run_gait, root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = regress(run_gait, root, "--json", variant="changed")
    assert proc.returncode == 5
    diff = json.loads((root / "gait-out/regress/run_async/diff.json").read_text())
    lines = "\n".join(f for e in diff["failures"] for f in e["divergence"])
    assert "kb.search: args differ at $.top_k" in lines
    assert "replay miss" in lines


def test_init_refuses_command_replay_without_results(tmp_path, run_gait, gait_home):
    root = tmp_path / "ref"
    root.mkdir()
    (root / "agent.py").write_text(SYNC_AGENT.replace('capture_mode="raw"', ""))
    (root / "inbox.txt").write_text("x\n")
    assert run_gait_python(root, "agent.py").returncode == 0
    proc = run_gait(
        "regress",
        "init",
        "--from",
        "gait-out/runpack_run_triage.zip",
        "--command",
        "python agent.py",
        cwd=root,
    )
    assert proc.returncode == 6
    assert proc.stderr.startswith("gait: E_REGRESS_REPLAY_NEEDS_RESULTS: ")
    assert "reference capture" in proc.stderr and "next: " in proc.stderr
    assert "raw" in proc.stderr and "redaction" in proc.stderr
    assert not (root / "gait.yaml").exists()
    # Without --command the fixture is made, and every run says it cannot drift.
    assert (
        run_gait(
            "regress", "init", "--from", "gait-out/runpack_run_triage.zip", cwd=root
        ).returncode
        == 0
    )
    proc = regress(run_gait, root)
    assert proc.returncode == 0
    assert "0 of 1 fixtures check a live agent" in proc.stdout
    assert "SELF run_triage: graded only against its own runpack" in proc.stdout
    # command: added by hand to that set: refused before any agent runs, one line and a next.
    doc = json.loads((root / "gait.yaml").read_text())
    (root / "gait.yaml").write_text(json.dumps({**doc, "command": "{python} agent.py"}))
    proc = regress(run_gait, root)
    assert proc.returncode == 6 and proc.stdout == ""
    head, hint = proc.stderr.splitlines()
    assert head.startswith("gait: E_REGRESS_REPLAY_NEEDS_RESULTS: fixture 'run_triage': ")
    assert hint.startswith("next: re-record the run with raw capture")


def test_new_episodes_grows_a_fixture_behind_the_interlock(sync_agent, run_gait):
    doc = json.loads((sync_agent / "gait.yaml").read_text())
    doc["allow_tools"] = ["files.archive"]
    (sync_agent / "gait.yaml").write_text(json.dumps(doc))
    # Three of the four locks: the new call is still a miss, and the update is refused.
    proc = regress(
        run_gait,
        sync_agent,
        "--record-mode",
        "new_episodes",
        "--unsafe-real-tools",
        "--update",
        variant="inserted",
    )
    assert proc.returncode == 5 and "0 fixtures updated, 1 refused" in proc.stdout
    # All four: the real tool answers the new call, it is recorded, and the update is accepted.
    env = {**FAST, "AGENT_VARIANT": "inserted", "GAIT_ALLOW_REAL_REPLAY": "1"}
    proc = run_gait(
        "regress",
        "run",
        "--record-mode",
        "new_episodes",
        "--unsafe-real-tools",
        "--update",
        cwd=sync_agent,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 fixture updated, 0 refused" in proc.stdout
    meta = json.loads((sync_agent / "fixtures/run_triage/fixture.json").read_text())
    assert meta["expected_tool_sequence"] == [
        "files.read",
        "email.send",
        "files.archive",
        "files.delete",
    ]


def test_match_on_ignores_volatile_arg_paths(sync_agent, run_gait):
    doc = json.loads((sync_agent / "gait.yaml").read_text())
    doc["fixtures"][0]["match_on"] = {"ignore_arg_paths": ["$.subject"]}
    (sync_agent / "gait.yaml").write_text(json.dumps(doc))
    proc = regress(run_gait, sync_agent, "--json", variant="changed")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc["fixtures"][0]["match_on"] = "tool_name_and_args"
    (sync_agent / "gait.yaml").write_text(json.dumps(doc))
    assert regress(run_gait, sync_agent, variant="changed").returncode == 5
