"""The regression loop's speed (issue 10, item 10), as a user's shell sees it.

    python bench/bench_regress_loop.py [--repeat 5] [--fixtures 40]

Prints one JSON summary:

Wall times on a machine shared with other work mostly measure the queue for a CPU, so each
figure has a ``*_cpu_s`` twin (user + sys of the processes), and ``load_1min`` says how busy the
machine was.

- ``reference_set_s``: ``gait regress run`` on the reference's one-fixture set (made from its
  runpack), wall time, median; the environment's plugin autoload is left as the user has it
  (gait regress run turns it off for its own pytest). Goal <= 0.5 s.
- ``command_overhead_s``: per fixture, what a ``command:`` fixture costs beyond the agent's own
  run (the agent timed alone, replaying the same fixture). Goal <= 0.15 s.
- ``command_serial_s`` / ``command_n2_s`` / ``speedup_n2``: ``--fixtures`` command fixtures,
  serial vs ``-n 2`` (medians of ``--pairs`` alternating runs). Goal >= 1.5x. The ``*_cpu_s``
  twins say what the parallel run costs beyond the serial one (worker start-up, collection):
  ``speedup_n2_if_idle`` is serial CPU over half the parallel CPU, the most two idle cores
  could give; a machine busy with other work gives less, whatever the code does.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AGENT = """
import gait

@gait.record.tool("tool.search")
def search(query: str, top_k: int = 3) -> dict:
    return {"hits": 2}

@gait.record.tool("tool.fetch")
def fetch(url: str) -> dict:
    return {"status": 200}

with gait.record(run_id="run_bench", capture_mode="raw", sign=False):
    search(query="refund policy", top_k=3)
    fetch(url="https://example.local/policy")
"""


def gait_bin() -> list[str]:
    found = shutil.which("gait", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "gait"]


def timed(argv: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    """Wall seconds of one run; its CPU seconds (user + sys) accumulate in ``CPU``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if proc.returncode not in ok:
        tail = (proc.stdout + proc.stderr)[-1600:]
        raise SystemExit(f"{argv} exited {proc.returncode}: {tail}")
    return elapsed


CPU: list[float] = []


def median(argv: list[str], cwd: Path, env: dict[str, str], repeat: int) -> float:
    return statistics.median(timed(argv, cwd, env) for _ in range(repeat))


def median_cpu(argv: list[str], cwd: Path, env: dict[str, str], repeat: int) -> tuple[float, float]:
    """(wall, cpu) medians: on a shared machine the CPU figure is the one that travels."""
    walls, cpus = [], []
    for _ in range(repeat):
        walls.append(timed(argv, cwd, env))
        cpus.append(CPU[-1])
    return statistics.median(walls), statistics.median(cpus)


def reference_set(root: Path) -> Path | None:
    conformance = Path(
        os.environ.get("GAIT_CONFORMANCE_DIR") or REPO.parent / "shared" / "conformance"
    )
    ref = conformance / "reference"
    if not (ref / "regress" / "gait.yaml").is_file():
        return None
    target = root / "reference"
    (target / "fixtures" / "run_raw").mkdir(parents=True)
    shutil.copy(ref / "regress" / "gait.yaml", target / "gait.yaml")
    shutil.copy(ref / "regress" / "fixture.json", target / "fixtures/run_raw/fixture.json")
    shutil.copy(ref / "runpacks" / "runpack_run_raw.zip", target / "fixtures/run_raw/runpack.zip")
    return target


def command_set(root: Path, count: int, env: dict[str, str]) -> Path:
    from gait.regress.init import init_fixture

    target = root / f"agents_{count}"
    target.mkdir()
    (target / "agent.py").write_text(AGENT)
    subprocess.run([sys.executable, "agent.py"], cwd=target, env=env, check=True)
    source = target / "gait-out" / "runpack_run_bench.zip"
    for n in range(count):
        init_fixture(str(source), name=f"agent_{n:03d}", directory=target)
    doc = json.loads((target / "gait.yaml").read_text())
    doc["command"] = ["{python}", "agent.py"]
    (target / "gait.yaml").write_text(json.dumps(doc, indent=2))
    return target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fixtures", type=int, default=40)
    parser.add_argument("--pairs", type=int, default=2, help="serial/-n 2 run pairs")
    args = parser.parse_args()
    # As a user's shell has it: plugin autoload on, bytecode caches written.
    drop = ("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    summary: dict[str, object] = {
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
    }
    with tempfile.TemporaryDirectory(prefix="gait-bench-loop-") as tmp:
        root = Path(tmp)
        env["GAIT_HOME"] = str(root / "home")
        gait = gait_bin()
        ref = reference_set(root)
        if ref is not None:
            wall, cpu = median_cpu([*gait, "regress", "run"], ref, env, args.repeat)
            summary["reference_set_s"] = round(wall, 3)
            summary["reference_set_cpu_s"] = round(cpu, 3)
        small = command_set(root, 10, env)
        with_cmd, with_cmd_cpu = median_cpu(
            [*gait, "regress", "run"], small, env, max(1, args.repeat // 2)
        )
        doc = json.loads((small / "gait.yaml").read_text())
        doc.pop("command")
        (small / "gait.self.yaml").write_text(json.dumps(doc))
        self_only, self_only_cpu = median_cpu(
            [*gait, "regress", "run", "--config", "gait.self.yaml"],
            small,
            env,
            max(1, args.repeat // 2),
        )
        agent_env = {
            **env,
            "GAIT_REPLAY_FROM": str(small / "fixtures/agent_000/runpack.zip"),
            "GAIT_RECORD_TO": str(root / "alone.zip"),
        }
        agent_alone, agent_cpu = median_cpu(
            [sys.executable, "agent.py"], small, agent_env, args.repeat
        )
        summary["agent_alone_s"] = round(agent_alone, 3)
        summary["agent_alone_cpu_s"] = round(agent_cpu, 3)
        summary["command_overhead_s"] = round((with_cmd - self_only) / 10 - agent_alone, 3)
        summary["command_overhead_cpu_s"] = round(
            (with_cmd_cpu - self_only_cpu) / 10 - agent_cpu, 3
        )
        many = command_set(root, args.fixtures, env)
        timed([*gait, "regress", "run"], many, env)  # warm caches (bytecode, page cache)
        runs: dict[str, list[tuple[float, float]]] = {"serial": [], "n2": []}
        for _ in range(max(1, args.pairs)):  # alternate, so load drifts hit both alike
            for kind, extra in (("serial", []), ("n2", ["-n", "2"])):
                wall = timed([*gait, "regress", "run", *extra], many, env)
                runs[kind].append((wall, CPU[-1]))
        serial, serial_cpu = (statistics.median(x) for x in zip(*runs["serial"], strict=True))
        parallel, parallel_cpu = (statistics.median(x) for x in zip(*runs["n2"], strict=True))
        summary["command_fixtures"] = args.fixtures
        summary["command_serial_s"] = round(serial, 3)
        summary["command_serial_cpu_s"] = round(serial_cpu, 3)
        summary["command_n2_s"] = round(parallel, 3)
        summary["command_n2_cpu_s"] = round(parallel_cpu, 3)
        summary["speedup_n2"] = round(serial / parallel, 2)
        summary["speedup_n2_if_idle"] = round(serial_cpu / (parallel_cpu / 2), 2)
    summary["load_1min_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
