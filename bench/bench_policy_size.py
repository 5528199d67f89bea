"""Policy load time by rule count (issue 11 item 13): prints one JSON summary line.

python bench/bench_policy_size.py [COUNT ...]      # default 2500 5000 20000

Each count is timed in process (parse + compile, CPU and wall seconds) and through the CLI
(``gait policy validate`` with the parsed-policy cache off, CPU of the child and wall), beside
the load average, since wall time on a shared machine says more about the machine than the code.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from gait.gate.policy import load_policy_text


def _policy(count: int) -> str:
    rules = [
        {
            "name": f"rule-{i}",
            "effect": "allow",
            "priority": i,
            "match": {"tool_names": [f"tool.{i}"], "risk_classes": ["low"]},
        }
        for i in range(count)
    ]
    return yaml.safe_dump({"default_verdict": "block", "rules": rules})


def _cli(path: Path) -> dict[str, float]:
    gait = Path(sys.executable).with_name("gait")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [str(gait), "policy", "validate", str(path)],
        check=True,
        capture_output=True,
        env={**os.environ, "GAIT_POLICY_CACHE": "0"},
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"cpu_s": round(cpu, 3), "wall_s": round(wall, 3)}


def main(counts: list[int]) -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in counts:
            text = _policy(count)
            cpu, wall = time.process_time(), time.perf_counter()
            load_policy_text(text)
            in_process = {
                "cpu_s": round(time.process_time() - cpu, 3),
                "wall_s": round(time.perf_counter() - wall, 3),
            }
            path = Path(tmp) / f"policy_{count}.yaml"
            path.write_text(text)
            results[str(count)] = {"in_process": in_process, "cli": _cli(path)}
    print(
        json.dumps(
            {
                "bench": "policy_load_seconds_by_rules",
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [2500, 5000, 20000])
