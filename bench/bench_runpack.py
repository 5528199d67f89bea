"""Runpack benchmarks: recorder overhead, replay and diff of big runpacks, import memory.

    python bench/bench_runpack.py                 # modest sizes, about a minute
    python bench/bench_runpack.py --otel-mb 1024  # the 1 GB OTEL import

Prints one JSON summary. Import memory is the peak RSS (VmHWM, which unlike ru_maxrss
does not inherit the parent's high-water mark) of a ``gait run record --from otel``
subprocess, measured at two log sizes so "flat in the log size" can be read off directly.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from gait.runpack.diff import diff_runpacks
from gait.runpack.reader import load_runpack
from gait.runpack.recorder import Recorder
from gait.runpack.replay import stub_replay

ENV = {"os": "bench", "arch": "bench", "runtime": "python"}


def bench_recorder(calls: int, out: Path, *, floats: bool) -> dict[str, float]:
    recorder = Recorder("run_bench_rec", out=out, env=ENV, sign=False)
    start = time.perf_counter()
    for i in range(calls):
        intent_id = recorder.intent(
            "tool.search", {"query": f"order {i}", "top_k": 5, "filters": {"lang": "en"}}
        )
        score = 0.5 + i / calls if floats else i
        recorder.result(intent_id, {"hits": [{"id": f"doc_{i}", "score": score}], "count": 1})
    calls_done = time.perf_counter()
    recorder.close()
    end = time.perf_counter()
    return {
        "per_call_us": round((calls_done - start) / calls * 1e6, 2),
        "per_call_including_close_us": round((end - start) / calls * 1e6, 2),
        "close_ms": round((end - calls_done) * 1e3, 1),
    }


def make_runpack(path: Path, run_id: str, steps: int, *, changed_every: int = 0) -> Path:
    recorder = Recorder(
        run_id,
        out=path,
        env=ENV,
        sign=False,
        capture_mode="raw",
        created_at="2026-03-01T12:00:00Z",
        clock=lambda: "2026-03-01T12:00:01Z",
    )
    for i in range(steps):
        changed = changed_every and i % changed_every == 0
        intent_id = recorder.intent(
            "tool.fetch" if i % 3 else "tool.search",
            {"url": f"https://example.local/{i}", "page": 2 if changed else 1},
        )
        recorder.result(intent_id, {"status": 200, "bytes": i})
    recorder.close()
    return path


def timed(fn: Any, repeat: int = 3) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return round(best, 4), value


def bench_replay_diff(steps: int, folder: Path) -> dict[str, Any]:
    left_path = make_runpack(folder / "left.zip", "run_left", steps)
    right_path = make_runpack(folder / "right.zip", "run_right", steps, changed_every=1000)
    load_s, left = timed(lambda: load_runpack(left_path))
    proof_load_s, left = timed(lambda: load_runpack(left_path, prove_canonical=True))
    right = load_runpack(right_path, prove_canonical=True)
    replay_s, report = timed(lambda: stub_replay(left))
    out: dict[str, Any] = {
        "steps": steps,
        "load_and_verify_s": load_s,
        "load_verify_and_prove_canonical_s": proof_load_s,
        "stub_replay_s": replay_s,
        "replay_exit_code": report.exit_code,
    }
    for privacy in ("full", "metadata"):
        diff_s, diff = timed(lambda p=privacy: diff_runpacks(left, right, privacy=p))
        out[f"diff_{privacy}_s"] = diff_s
        out[f"diff_{privacy}_steps_changed"] = diff.summary["steps_changed"]
    for privacy in ("full", "metadata"):
        start = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "gait",
                "run",
                "diff",
                str(left_path),
                str(right_path),
                "--privacy",
                privacy,
                "--json",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        out[f"cli_diff_{privacy}_s"] = round(time.perf_counter() - start, 3)
        out[f"cli_diff_{privacy}_exit"] = proc.returncode
    return out


def write_otel_log(path: Path, megabytes: int) -> int:
    """OTLP JSON Lines, 20 execute_tool spans per line, each with a few KB of payload."""
    target = megabytes * 1024 * 1024
    blob = "x" * 1500
    written, spans, line_no = 0, 0, 0
    with open(path, "w") as handle:
        while written < target:
            batch = []
            for _ in range(20):
                spans += 1
                attrs = [
                    {"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}},
                    {"key": "gen_ai.tool.name", "value": {"stringValue": "tool.lookup"}},
                    {"key": "gen_ai.tool.call.id", "value": {"stringValue": f"call_{spans}"}},
                    {
                        "key": "gen_ai.tool.call.arguments",
                        "value": {"stringValue": json.dumps({"q": f"item {spans}", "pad": blob})},
                    },
                    {
                        "key": "gen_ai.tool.call.result",
                        "value": {"stringValue": json.dumps({"ok": True, "body": blob})},
                    },
                ]
                start = 1772366400_000000000 + spans * 1_000_000
                batch.append(
                    {
                        "traceId": f"{line_no:032x}",
                        "spanId": f"{spans:016x}",
                        "name": "execute_tool tool.lookup",
                        "startTimeUnixNano": str(start),
                        "endTimeUnixNano": str(start + 500_000),
                        "attributes": attrs,
                    }
                )
            line = json.dumps(
                {
                    "resourceSpans": [
                        {"resource": {"attributes": []}, "scopeSpans": [{"spans": batch}]}
                    ]
                }
            )
            handle.write(line + "\n")
            written += len(line) + 1
            line_no += 1
    return spans


def bench_import(megabytes: int, folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for size in sorted({max(megabytes // 4, 1), megabytes}):
        log = folder / f"otel_{size}mb.jsonl"
        spans = write_otel_log(log, size)
        script = (
            "import resource, sys\n"
            "from gait.cli.main import main\n"
            "code = main(sys.argv[1:])\n"
            "hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')]\n"
            "print('MAXRSS', hwm[0].split()[1] if hwm else 0, file=sys.stderr)\n"
            "sys.exit(code)\n"
        )
        start = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                script,
                "run",
                "record",
                "--from",
                "otel",
                "--input",
                str(log),
                "--out",
                str(folder / f"otel_{size}.zip"),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "GAIT_HOME": str(folder / "home")},
        )
        seconds = time.perf_counter() - start
        rss = [ln for ln in proc.stderr.splitlines() if ln.startswith("MAXRSS")]
        out[f"{size}mb"] = {
            "spans": spans,
            "exit": proc.returncode,
            "seconds": round(seconds, 2),
            "peak_rss_mb": round(int(rss[0].split()[1]) / 1024, 1) if rss else None,
        }
        log.unlink()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--otel-mb", type=int, default=64, help="OTEL log size (1024 = 1 GB)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["GAIT_HOME"] = str(folder / "home")
        summary = {
            "python": sys.version.split()[0],
            "recorder_reference_int_payloads": bench_recorder(
                args.calls, folder / "rec1.zip", floats=False
            ),
            "recorder_reference_float_payloads": bench_recorder(
                args.calls, folder / "rec2.zip", floats=True
            ),
            "replay_diff": bench_replay_diff(args.steps, folder),
            "otel_import": bench_import(args.otel_mb, folder),
            "bench_process_peak_rss_mb": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
            ),
        }
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
