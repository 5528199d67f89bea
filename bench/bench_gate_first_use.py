"""Stress the gate's first use: many ``gait gate eval`` processes on a fresh GAIT_HOME at once.

Each round makes a new GAIT_HOME and a new working directory, then starts N processes (16-32)
evaluating one intent against a policy with a rate limit of 5, while CPU hogs keep the cores
busy (so processes are preempted in the middle of their first-use steps). Everything a fresh
GAIT_HOME creates is raced: the dev key and the trust store, the compiled-policy cache, the
SQLite gate state (created, turned to WAL, schema), and the trace directory with its decision
log and head. A round is bad when any process exits other than 0 or 3, when other than exactly
5 are allowed, or when the decision log does not verify; each bad process is kept with its
exit code, stdout and full stderr.

``--launch state`` skips the CLI: N forked processes open one fresh gate state at a barrier
and take one rate-limit slot each (the narrow moment the CLI rarely lines up). Before the fix
for turning a new state file to WAL, 2 rounds in 90 of 16 such processes (no hogs) lost some to
"database is locked"; tests/test_gate_state_first_use.py reproduces the interleaving exactly.

Run: ``python bench/bench_gate_first_use.py [--rounds 40] [--procs 24] [--hogs 2]
[--launch sync|plain|state]``; prints one JSON summary (exit 1 if any round was bad).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LIMIT = 5
POLICY = f"""\
default_verdict: allow
rules:
  - name: limited
    priority: 1
    effect: allow
    match:
      tool_names: [tool.read]
    rate_limit:
      requests: {LIMIT}
      window: hour
"""
INTENT = {
    "schema_id": "gait.gate.intent_request",
    "schema_version": "1.0.0",
    "created_at": "2026-06-01T00:00:00Z",
    "producer_version": "bench",
    "tool_name": "tool.read",
    "args": {"path": "/tmp/x"},
    "targets": [{"kind": "path", "value": "/tmp/x"}],
    "context": {"identity": "agent", "workspace": "/w", "risk_class": "low"},
}
# ``--launch sync``: each process imports the CLI and the gate first (the slow, staggered part
# of a start-up), says it is ready, and waits for one "go" byte; then all run ``gait gate eval``
# (the real entry point, argv and all) from the same instant, so their first-use steps overlap.
SYNC = """\
import os, sys
import gait.cli.main, gait.gate.engine, gait.gate.evaluate, gait.gate.state, sqlite3
os.write({ready}, b"r")
os.read({go}, 1)
sys.argv = ["gait", *sys.argv[1:]]
gait.cli.main.entry()
"""
HOG = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


def gait_argv() -> list[str]:
    script = Path(sys.executable).with_name("gait")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gait"]


def one_round(work: Path, procs: int, gait: list[str], launch: str) -> dict[str, Any]:
    home = work / "home"
    cwd = work / "cwd"
    home.mkdir()
    cwd.mkdir()
    (cwd / "policy.yaml").write_text(POLICY)
    (cwd / "intent.json").write_text(json.dumps(INTENT))
    env = {**os.environ, "GAIT_HOME": str(home)}
    env.pop("GAIT_GATE_STATE", None)
    args = [
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "intent.json",
        "--evaluation-time",
        "2026-06-01T10:00:00Z",
        "--json",
    ]
    if launch == "sync":
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        code = SYNC.format(ready=ready_w, go=go_r)
        running = [
            subprocess.Popen(
                [sys.executable, "-c", code, *args],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(ready_w, go_r),
            )
            for _ in range(procs)
        ]
        os.close(ready_w)
        os.close(go_r)
        got = 0
        while got < procs:
            chunk = os.read(ready_r, procs)
            if not chunk:
                break  # a child died before it was ready: its exit code says why
            got += len(chunk)
        os.write(go_w, b"g" * procs)
        os.close(go_w)
        os.close(ready_r)
    else:
        running = [
            subprocess.Popen(
                [*gait, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for _ in range(procs)
        ]
    codes: list[int] = []
    bad: list[dict[str, Any]] = []
    for index, proc in enumerate(running):
        out, err = proc.communicate(timeout=300)
        codes.append(proc.returncode)
        if proc.returncode not in (0, 3):
            bad.append(
                {
                    "process": index,
                    "exit": proc.returncode,
                    "stdout": out.decode("utf-8", "replace"),
                    "stderr": err.decode("utf-8", "replace"),
                }
            )
    problems = [f"{len(bad)} unexpected exit(s)"] if bad else []
    if codes.count(0) != LIMIT and not bad:
        problems.append(f"{codes.count(0)} allowed, want {LIMIT}")
    check = subprocess.run(
        [*gait, "trace", "verify", "gait-out/traces", "--json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        problems.append(f"decision log does not verify: {check.stdout.strip()} {check.stderr}")
    return {"codes": sorted(codes), "problems": problems, "bad": bad}


def _state_worker(path: str, barrier: Any, results: Any) -> None:
    from gait.gate.state import open_state

    state = open_state(path)
    barrier.wait()
    try:
        allowed, _ = state.consume("hour|tool|tool.read", "2026-06-01T10:00:00Z", LIMIT)
        results.put((0 if allowed else 3, ""))
    except Exception as exc:  # noqa: BLE001 - every failure is what this harness records
        results.put((1, f"{type(exc).__name__}: {exc}"))


def state_round(work: Path, procs: int) -> dict[str, Any]:
    import multiprocessing

    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(procs)
    results = context.Queue()
    path = str(work / "home" / "gate" / "state.sqlite3")
    children = [
        context.Process(target=_state_worker, args=(path, barrier, results)) for _ in range(procs)
    ]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=300) for _ in children]
    for child in children:
        child.join()
    codes = [code for code, _ in outcomes]
    bad = [{"exit": code, "stdout": text, "stderr": ""} for code, text in outcomes if code == 1]
    problems = [f"{len(bad)} unexpected exit(s)"] if bad else []
    if codes.count(0) != LIMIT and not bad:
        problems.append(f"{codes.count(0)} allowed, want {LIMIT}")
    return {"codes": sorted(codes), "problems": problems, "bad": bad}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--procs", type=int, default=24, help="processes per round (16-32)")
    parser.add_argument("--hogs", type=int, default=2, help="CPU-bound processes beside them")
    parser.add_argument("--keep", action="store_true", help="keep bad rounds' directories")
    parser.add_argument(
        "--launch",
        choices=("sync", "plain", "state"),
        default="sync",
        help="sync: all start gait gate eval at one instant (imports done); plain: as a "
        "shell starts them; state: forked processes on the gate state alone",
    )
    args = parser.parse_args()
    gait = gait_argv()
    root = Path(tempfile.mkdtemp(prefix="gait-first-use-"))
    started = time.monotonic()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    hogs = [
        subprocess.Popen([sys.executable, "-c", HOG.format(seconds=24 * 3600)])
        for _ in range(args.hogs)
    ]
    bad_rounds: list[dict[str, Any]] = []
    round_walls: list[float] = []
    try:
        for number in range(args.rounds):
            work = root / f"round{number:04d}"
            work.mkdir()
            t0 = time.monotonic()
            if args.launch == "state":
                result = state_round(work, args.procs)
            else:
                result = one_round(work, args.procs, gait, args.launch)
            round_walls.append(time.monotonic() - t0)
            if result["problems"]:
                bad_rounds.append({"round": number, "dir": str(work), **result})
                print(json.dumps(bad_rounds[-1], sort_keys=True), file=sys.stderr, flush=True)
            else:
                shutil.rmtree(work, ignore_errors=True)
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the hogs not yet reaped
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    if not (bad_rounds and args.keep):
        shutil.rmtree(root, ignore_errors=True)
    summary = {
        "rounds": args.rounds,
        "procs_per_round": args.procs,
        "launch": args.launch,
        "cpu_hogs": args.hogs,
        "bad_rounds": len(bad_rounds),
        "unexpected_exits": sum(len(r["bad"]) for r in bad_rounds),
        "first_errors": sorted({b["stdout"].strip()[:300] for r in bad_rounds for b in r["bad"]}),
        "other_problems": sorted({p for r in bad_rounds for p in r["problems"]}),
        "wall_s": round(time.monotonic() - started, 2),
        "median_round_wall_s": round(sorted(round_walls)[len(round_walls) // 2], 3)
        if round_walls
        else None,
        "children_cpu_s": round(
            (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime),
            2,
        ),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 1 if bad_rounds else 0


if __name__ == "__main__":
    sys.exit(main())
