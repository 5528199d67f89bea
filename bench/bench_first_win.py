"""First-win figures: `gait --version` and `gait demo` wall time, and verify throughput on a
10,000-step runpack beside raw hashlib.sha256 over the same bytes.

    python bench/bench_first_win.py [--steps 10000] [--repeat 5]

Prints one JSON summary. Goals (issue 3): --version within 2x of `python -c pass`, demo <= 0.5 s,
verify >= 60 % of raw SHA-256 throughput.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path


def _wall(argv: list[str], cwd: str, env: dict[str, str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _big_runpack(path: Path, steps: int) -> Path:
    from gait.runpack.writer import write_record_input
    from gait.sign.keys import SigningKey

    doc = {
        "run": {"run_id": "run_bench", "created_at": "2026-01-01T00:00:00Z"},
        "intents": [
            {
                "intent_id": f"intent_{i}",
                "tool_name": f"tool.t{i % 7}",
                "args": {"query": f"q{i}", "page": i, "filters": {"lang": "en", "k": i % 13}},
            }
            for i in range(steps)
        ],
        "results": [
            {
                "intent_id": f"intent_{i}",
                "status": "ok",
                "result": {"hits": [f"doc_{i}_{j}" for j in range(5)], "score": i / 7},
            }
            for i in range(steps)
        ],
        "refs": {"receipts": []},
    }
    return write_record_input(
        doc, path, capture_mode="raw", signing_keys=[SigningKey.generate()]
    ).path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args()
    from gait.runpack.verify import VerifyOptions, verify_runpack

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GAIT_HOME": str(Path(tmp) / "home")}
        gait = [str(Path(sys.executable).with_name("gait"))]
        if not Path(gait[0]).exists():
            gait = [sys.executable, "-m", "gait"]
        python_pass = _wall([sys.executable, "-c", "pass"], tmp, env, opts.repeat)
        version = _wall([*gait, "--version"], tmp, env, opts.repeat)
        subprocess.run([*gait, "demo"], cwd=tmp, env=env, check=True, capture_output=True)
        demo = _wall([*gait, "demo"], tmp, env, opts.repeat)
        verify_cli = _wall([*gait, "verify", "run_demo"], tmp, env, opts.repeat)

        pack = _big_runpack(Path(tmp) / "big.zip", opts.steps)
        with zipfile.ZipFile(pack) as archive:
            member_bytes = sum(i.file_size for i in archive.infolist())
            blobs = [archive.read(i) for i in archive.infolist()]
        verify_times, sha_times = [], []
        options = VerifyOptions()
        for _ in range(opts.repeat):
            start = time.perf_counter()
            report = verify_runpack(pack, options)
            verify_times.append(time.perf_counter() - start)
            assert report.ok
            start = time.perf_counter()
            for blob in blobs:
                hashlib.sha256(blob).hexdigest()
            sha_times.append(time.perf_counter() - start)
        no_schema = VerifyOptions(check_schemas=False)
        integrity_times = []
        for _ in range(opts.repeat):
            start = time.perf_counter()
            verify_runpack(pack, no_schema)
            integrity_times.append(time.perf_counter() - start)

    mb = member_bytes / 1e6
    verify_s, sha_s = statistics.median(verify_times), statistics.median(sha_times)
    integrity_s = statistics.median(integrity_times)
    summary = {
        "python_c_pass_s": round(python_pass, 4),
        "gait_version_s": round(version, 4),
        "gait_version_ratio_to_python": round(version / python_pass, 2),
        "gait_demo_s": round(demo, 4),
        "gait_verify_demo_cli_s": round(verify_cli, 4),
        "verify_steps": opts.steps,
        "verify_member_mb": round(mb, 2),
        "verify_full_s": round(verify_s, 4),
        "verify_full_mb_per_s": round(mb / verify_s, 1),
        "verify_integrity_only_s": round(integrity_s, 4),
        "verify_integrity_only_mb_per_s": round(mb / integrity_s, 1),
        "raw_sha256_mb_per_s": round(mb / sha_s, 1),
        "verify_integrity_vs_raw_sha256": round(sha_s / integrity_s, 3),
        "verify_full_vs_raw_sha256": round(sha_s / verify_s, 3),
    }
    print(json.dumps(summary, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
