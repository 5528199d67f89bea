"""Signals during ``gait regress run``: Ctrl-C or SIGTERM kills the agent's process group,
writes nothing, and exits 130 with E_REGRESS_INTERRUPTED; ``--update`` killed at any point
leaves every fixture either as it was or updated, never half of a set or half of a fixture."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from gait.regress.testing import DEFAULT_CALLS, make_fixture_set, write_run

FAST = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}

HANGING_AGENT = """
import os, sys, time
with open(sys.argv[1], "w") as handle:
    handle.write(str(os.getpid()))
time.sleep(120)
"""


def _interruptible() -> None:
    # A suite started in the background by a non-interactive shell inherits SIGINT ignored,
    # and Python then keeps it ignored: a user at a terminal has it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(gait_argv: list[str], root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*gait_argv, "regress", "run", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **FAST},
        preexec_fn=_interruptible,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its (dead) parent counts as gone
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_kills_the_agent_and_writes_nothing(tmp_path, gait_argv, signum):
    root = tmp_path / "set"
    make_fixture_set(root)
    (root / "agent.py").write_text(HANGING_AGENT)
    doc = json.loads((root / "gait.yaml").read_text())
    doc["command"] = ["{python}", "agent.py", str(tmp_path / "agent.pid")]
    (root / "gait.yaml").write_text(json.dumps(doc))
    (root / "regress_result.json").write_text("earlier result\n")
    proc = start(gait_argv, root)
    pid_file = tmp_path / "agent.pid"
    deadline = time.monotonic() + 60
    while not (pid_file.is_file() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    agent = int(pid_file.read_text())
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[0].startswith("gait: E_REGRESS_INTERRUPTED: "), err
    assert lines[-1] == "next: gait regress run"
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    assert (root / "regress_result.json").read_text() == "earlier result\n"
    deadline = time.monotonic() + 10
    while alive(agent) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(agent), "the agent outlived gait regress run"


COPYING_AGENT = """
import os, shutil, sys, time
name = os.environ["GAIT_FIXTURE"]
open(os.path.join(sys.argv[1], "started_" + name), "w").close()
time.sleep(0.1)
shutil.copy(os.path.join("candidates", name + ".zip"), os.environ["GAIT_RECORD_TO"])
"""


def test_killed_update_leaves_no_fixture_half_updated(tmp_path, gait_argv):
    root = tmp_path / "set"
    names = [f"run_{n:02d}" for n in range(4)]
    make_fixture_set(root, runs={name: DEFAULT_CALLS for name in names})
    for name in names:  # each agent run drops a call: trajectory and diff drift, updatable
        write_run(root / "candidates" / f"{name}.zip", name, DEFAULT_CALLS[:2])
    (root / "agent.py").write_text(COPYING_AGENT)
    markers = tmp_path / "markers"
    doc = json.loads((root / "gait.yaml").read_text())
    doc["command"] = ["{python}", "agent.py", str(markers)]
    (root / "gait.yaml").write_text(json.dumps(doc))

    def snapshot() -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted((root / "fixtures").rglob("*"))
            if p.is_file()
        }

    before = snapshot()
    codes = []
    # Kill while the first, a middle and the last agent run, then while grading and updating.
    for point in ("run_00", "run_02", "run_03", "run_03+0.3", "run_03+0.8"):
        shutil.rmtree(markers, ignore_errors=True)
        markers.mkdir()
        proc = start(gait_argv, root, "--update")
        marker = markers / f"started_{point.split('+')[0]}"
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(float(point.split("+")[1]) if "+" in point else 0.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, 130), out + err
        assert "Traceback" not in out + err
        codes.append(proc.returncode)
        now = snapshot()
        assert not [p for p in now if Path(p).name.startswith(".")], "temp files left behind"
        changed = {
            name
            for name in names
            if any(now[k] != before[k] for k in before if k.startswith(f"fixtures/{name}/"))
        }
        assert changed in (set(), set(names)), f"half-updated set at {point}: {changed}"
        if proc.returncode == 130 and point.startswith(("run_00", "run_02")):
            assert not changed
        for name in changed:  # an updated fixture is updated whole: runpack and expectations
            meta = json.loads(now[f"fixtures/{name}/fixture.json"])
            assert meta["expected_tool_sequence"] == ["tool.search", "tool.fetch"]
            candidate = (root / "candidates" / f"{name}.zip").read_bytes()
            assert now[f"fixtures/{name}/runpack.zip"] == candidate
        for path, data in before.items():  # back to the drifting state for the next point
            (root / path).write_bytes(data)
    assert codes[:2] == [130, 130], codes
