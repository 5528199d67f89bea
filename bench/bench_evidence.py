"""Evidence benchmarks: grader-driven case reduction and call packs.

    python bench/bench_evidence.py            # about a minute on an idle machine

Prints one JSON summary. Reduction runs the real ``no_new_tools`` grader (one new tool call
hidden among N calls) through ``reduce_runpack``; each grader evaluation writes and reads one
candidate runpack, so ``evaluations`` and the time per evaluation are the figures to watch.
CPU time (process_time) is reported beside wall time: the machine may be shared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gait.runpack.reader import load_runpack
from gait.runpack.recorder import Recorder
from gait.runpack.reduce import Predicate, reduce_runpack

ENV = {"os": "bench", "arch": "bench", "runtime": "python"}
KNOWN = ("tool.search", "tool.fetch", "tool.write")


def _record(path: Path, run_id: str, tools: list[str]) -> Path:
    recorder = Recorder(run_id, out=path, env=ENV, sign=False)
    for n, tool in enumerate(tools):
        iid = recorder.intent(tool, {"step": n})
        recorder.result(iid, {"step": n})
    recorder.close()
    return path


def _timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def bench_reduce(work: Path, calls: int, grader: str = "no_new_tools") -> dict[str, Any]:
    """no_new_tools: one culprit call (about 2 log2 N evaluations); max_steps: any four of N
    calls fail a limit of three, the case delta debugging spends most on."""
    tools = [KNOWN[i % 3] for i in range(calls)]
    tools[(2 * calls) // 3] = "tool.delete"
    source = _record(work / f"long_{grader}_{calls}.zip", f"run_long_{calls}", tools)
    pred = Predicate("grader", grader=grader, config=str(work / "gait.yaml"))
    pack = load_runpack(source)
    (_, report), wall, cpu = _timed(
        lambda: reduce_runpack(source, pack, pred, out=work / f"small_{grader}_{calls}.zip")
    )
    expected = 1 if grader == "no_new_tools" else 4
    assert report["reduced_intent_count"] == expected and report["still_failing"]
    evaluations = report["evaluations"]
    return {
        "grader": grader,
        "calls": calls,
        "evaluations": evaluations,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "ms_per_evaluation_cpu": round(1000 * cpu / evaluations, 2),
    }


def bench_call_pack(work: Path) -> dict[str, Any]:
    from gait.pack.spec import build_call_pack, verify_pack

    _record(work / "call_run.zip", "run_call", list(KNOWN))
    call = "call_bench"

    def ev(seq: int, kind: str, **extra: str) -> dict[str, Any]:
        return {"created_at": "2026-02-15T00:00:00Z", "call_id": call, "call_seq": seq,
                "turn_index": 1, "event_type": kind, **extra}  # fmt: skip

    events = [ev(n + 1, kind) for n, kind in enumerate(("asr.final", "commitment.declared"))]
    events += [ev(3, "gate.decision", commitment_class="quote"), ev(4, "tts.request")]
    events += [ev(5, "tts.emitted", commitment_class="quote", say_token_id="say_1")]
    events += [ev(6 + n, "tool.intent") for n in range(500)]
    events += [ev(506, "tool.result")]
    record = {
        "created_at": "2026-02-15T00:00:00Z", "call_id": call, "runpack_path": "call_run.zip",
        "events": events, "commitments": [],
        "gate_decisions": [{"call_id": call, "call_seq": 3, "turn_index": 1,
                            "commitment_class": "quote", "verdict": "allow"}],
        "speak_receipts": [{"call_id": call, "call_seq": 5, "turn_index": 1,
                            "commitment_class": "quote", "say_token_id": "say_1",
                            "spoken_digest": "a" * 64, "emitted_at": "2026-02-15T00:00:04Z"}],
    }  # fmt: skip
    (work / "call_record.json").write_text(json.dumps(record))
    built, build_wall, build_cpu = _timed(
        lambda: build_call_pack(work / "call_record.json", out=str(work / "call.zip"))
    )
    result, verify_wall, verify_cpu = _timed(lambda: verify_pack(built.path))
    assert result.ok(False)
    return {
        "events": len(events),
        "build_wall_s": round(build_wall, 3),
        "build_cpu_s": round(build_cpu, 3),
        "verify_wall_s": round(verify_wall, 3),
        "verify_cpu_s": round(verify_cpu, 3),
        "proof_records": result.proof_records_verified,
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gait-bench-evidence-") as tmp:
        work = Path(tmp)
        _record(work / "good.zip", "run_good", list(KNOWN))
        subprocess.run(
            [sys.executable, "-m", "gait", "regress", "init", "--from", "good.zip", "--name",
             "good"],
            cwd=work, check=True, capture_output=True,
            env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        )  # fmt: skip
        summary = {
            "load_average": [round(v, 2) for v in os.getloadavg()],
            "reduce_grader": [bench_reduce(work, n) for n in (20, 100, 400)]
            + [bench_reduce(work, n, "max_steps") for n in (20, 100, 400)],
            "call_pack": bench_call_pack(work),
        }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
