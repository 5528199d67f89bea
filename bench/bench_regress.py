"""Regress collection and run time for 10, 100 and 1,000 fixtures x 3 graders, serial and -n 2.

    python bench/bench_regress.py [--sizes 10,100,1000] [--repeat 1]

Prints one JSON summary. Each figure is the wall time of a real ``gait regress run`` (pytest in
the process, plus its startup) or ``pytest -p gait --gait --co`` for collection, with other
pytest plugins' autoload off (PYTEST_DISABLE_PLUGIN_AUTOLOAD=1) so that the figures measure
gait, not whatever else is installed. ``engine_s`` is grading alone, in process, without pytest.
Goals (issue 5): linear in fixtures x graders, 1,000 x 3 in <= 10 s serial, -n 2 >= 1.6x faster.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRADERS = {"diff": False}  # leaves schema_validation, expected_exit_code, trajectory
CALLS = (
    ("tool.search", {"query": "refund policy", "top_k": 3}, {"hits": 2}),
    ("tool.fetch", {"url": "https://example.local/policy"}, {"status": 200}),
    ("tool.write", {"path": "/tmp/out.txt"}, {"ok": True}),
)


def build_set(root: Path, count: int) -> Path:
    """``count`` fixtures written directly (regress init per fixture would dominate the bench)."""
    from gait.canon import dumps_pretty_struct as pretty
    from gait.regress.init import expectations, ordered_meta
    from gait.regress.testing import write_run
    from gait.runpack.reader import load_runpack

    template = write_run(root / ".template.zip", "run_template", CALLS)
    meta_base = expectations(load_runpack(template, verify=False))
    entries = []
    for n in range(count):
        name = f"run_{n:05d}"
        target = root / "fixtures" / name
        target.mkdir(parents=True)
        write_run(target / "runpack.zip", name, CALLS)
        meta = {
            "schema_id": "gait.regress.fixture",
            "schema_version": "1.0.0",
            "name": name,
            "run_id": name,
            "runpack": "runpack.zip",
            **meta_base,
        }
        (target / "fixture.json").write_bytes(pretty(ordered_meta(meta)))
        entries.append({"name": name, "run_id": name, "runpack": f"fixtures/{name}/runpack.zip"})
    config = {
        "schema_id": "gait.regress.config",
        "schema_version": "1.0.0",
        "fixture_set": "bench",
        "fixtures": entries,
        "graders": GRADERS,
    }
    (root / "gait.yaml").write_bytes(pretty(config))
    return root / "gait.yaml"


def timed(argv: list[str], cwd: Path) -> tuple[float, int]:
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0,):
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-2000:])
    return elapsed, proc.returncode


def gait_cmd() -> list[str]:
    script = Path(sys.executable).with_name("gait")
    return [str(script)] if script.exists() else [shutil.which("gait") or "gait"]


def engine_time(config: Path) -> float:
    from gait.regress.config import load_config
    from gait.regress.engine import RegressEngine
    from gait.regress.manager import GraderRegistry

    start = time.perf_counter()
    engine = RegressEngine(load_config(config), GraderRegistry())
    entries = engine.run_all()
    elapsed = time.perf_counter() - start
    assert all(e.status == "pass" for e in entries), [e for e in entries if e.status != "pass"]
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs per figure")
    opts = parser.parse_args()
    sizes = [int(s) for s in opts.sizes.split(",")]
    rows = {}
    with tempfile.TemporaryDirectory(prefix="gait-bench-regress-") as tmp:
        baseline_root = Path(tmp) / "one"
        baseline_root.mkdir()
        build_set(baseline_root, 1)
        startup = min(
            timed([*gait_cmd(), "regress", "run"], baseline_root)[0] for _ in range(opts.repeat)
        )
        for count in sizes:
            root = Path(tmp) / f"set{count}"
            root.mkdir()
            config = build_set(root, count)
            pytest_co = [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "gait",
                "--gait",
                "--gait-only",
                "--co",
                "-q",
                "-p",
                "no:cacheprovider",
            ]
            collect = min(timed(pytest_co, root)[0] for _ in range(opts.repeat))
            serial = min(
                timed([*gait_cmd(), "regress", "run"], root)[0] for _ in range(opts.repeat)
            )
            parallel = min(
                timed([*gait_cmd(), "regress", "run", "-n", "2"], root)[0]
                for _ in range(opts.repeat)
            )
            engine = engine_time(config)
            items = count * 3
            rows[str(count)] = {
                "fixtures": count,
                "items": items,
                "collect_s": round(collect, 3),
                "serial_s": round(serial, 3),
                "n2_s": round(parallel, 3),
                "speedup_n2": round(serial / parallel, 2),
                "engine_s": round(engine, 3),
                "serial_ms_per_item_after_startup": round((serial - startup) / items * 1000, 3),
            }
    largest = rows[str(max(sizes))]
    summary = {
        "bench": "regress",
        "graders_per_fixture": 3,
        "startup_s_one_fixture": round(startup, 3),
        "cpu_count": os.cpu_count(),
        "sizes": rows,
        "goals": {
            "serial_1000x3_le_10s": largest["serial_s"] <= 10.0 if max(sizes) == 1000 else None,
            "n2_speedup_ge_1_6": largest["speedup_n2"] >= 1.6,
        },
    }
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
