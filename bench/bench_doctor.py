#!/usr/bin/env python3
"""Wall time of ``gait doctor --json`` beside ``python -c pass`` (the interpreter's floor).

usage: python bench/bench_doctor.py [--runs N]   -> one JSON summary on stdout

Doctor imports every dependency for real (a package that is installed but broken must show),
so its time is mostly those imports; the figure to watch is ``doctor_minus_python_ms``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def _time(argv: list[str], runs: int, env: dict[str, str]) -> list[float]:
    subprocess.run(argv, env=env, capture_output=True, check=False)  # warm the file cache
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, check=False)
        samples.append((time.perf_counter() - started) * 1000)
        if proc.returncode not in (0,):
            raise SystemExit(f"{argv} exited {proc.returncode}: {proc.stderr[-500:]!r}")
    return samples


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "min_ms": round(ordered[0], 1),
        "p95_ms": round(p95, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    beside = os.path.join(os.path.dirname(sys.executable), "gait")
    gait = beside if os.path.exists(beside) else shutil.which("gait")
    doctor = (
        [gait, "doctor", "--json"] if gait else [sys.executable, "-m", "gait", "doctor", "--json"]
    )
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GAIT_HOME": home}
        python = _stats(_time([sys.executable, "-c", "pass"], args.runs, env))
        doc = _stats(_time(doctor, args.runs, env))
    summary = {
        "benchmark": "doctor_wall_time",
        "runs": args.runs,
        "python": sys.version.split()[0],
        "python_c_pass": python,
        "gait_doctor_json": doc,
        "doctor_minus_python_ms": round(doc["median_ms"] - python["median_ms"], 1),
    }
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
