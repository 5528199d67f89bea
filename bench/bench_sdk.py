"""The reference SDK API's cost per gated tool call, in-process and through a binary.

Every case is a ``gate_tool``-decorated function whose call the typical policy allows.

``gate_tool_in_process`` (the goal: p50 <= 50 us): the call repeated, as the reference's
figure for its SDK (a process per call) is measured, with the background writer signing and
writing each trace meanwhile, as shipped (dev mode, no ``trace_out``): it competes for the GIL
and the CPUs, which is what ``mean_us`` and ``p95_us`` show. ``*_thread_cpu``: the same calls'
CPU time on the calling thread. ``gate_tool_in_process_sync_traces``: ``GAIT_SDK_TRACES=sync``
(each trace written and fsynced before the call runs; production mode always does this).
``gate_tool_gait_bin``: ``gait_bin`` set to this project's CLI, a process per call, as the
reference SDK always does.

``after_idle``: what the same call costs when the CPU's caches are cold, and how that compares
with code that is not ours. For each pause, every timed call follows the same three events: a
gated call, ``flush_traces()`` (its trace signed, written and synced, mostly on the caller's
CPU) and the pause (``time.sleep``). Timed, in turn: the gated call; a bare policy evaluation
(``gait.gate.evaluate``, no SDK, no trace); ``json.dumps`` of the same intent (the standard
library's C encoder). ``factor`` is each one's p50 over its own p50 back to back. On a 2-vCPU
KVM guest all three slow down by about the same factor, which grows with the pause (an idle
vCPU halts and the host reuses its caches): the pause measures the machine, the back-to-back
figure the call. An agent waits on a model between tool calls, so its calls see the cold
figure; ``bench_sdk_cold.py`` takes it apart (which of the writer's steps, which of the call's).

Run: ``python bench/bench_sdk.py [--quick]``; prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_gate import TYPICAL_INTENT, TYPICAL_POLICY  # noqa: E402

TARGET_P50_US = 50.0
PAUSES_MS = (1, 20)


def summary(samples: list[int]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "p50_us": round(samples[len(samples) // 2] / 1000, 2),
        "p95_us": round(samples[int(len(samples) * 0.95)] / 1000, 2),
        "mean_us": round(statistics.fmean(samples) / 1000, 2),
        "n": len(samples),
    }


def make_tool(gait_bin: Any = None) -> Any:
    from gait import IntentArgProvenance, IntentContext, IntentTarget, ToolAdapter, gate_tool

    adapter = ToolAdapter(policy_path="policy.yaml", gait_bin=gait_bin)

    @gate_tool(
        adapter=adapter,
        context=IntentContext(identity="bench-user", workspace="/tmp/workspace", risk_class="high"),
        tool_name="tool.write",
        targets=lambda args, kwargs: [IntentTarget(kind="path", value=args[0], operation="write")],
        arg_provenance=[IntentArgProvenance(arg_path="$.path", source="user")],
    )
    def write(path: str, content: str) -> int:
        return len(content)

    return write


def bench(iterations: int, runs: int) -> dict[str, Any]:
    from gait import flush_traces

    out: dict[str, Any] = {}
    tool = make_tool()
    for _ in range(50):
        tool("/tmp/out.txt", "hello")
    flush_traces()
    clock = time.perf_counter_ns
    cpu = time.thread_time_ns

    samples = []
    cpu_samples = []
    for _ in range(iterations):
        start, start_cpu = clock(), cpu()
        tool("/tmp/out.txt", "hello")
        cpu_samples.append(cpu() - start_cpu)
        samples.append(clock() - start)
    start = clock()
    flush_traces()
    drained = clock() - start
    out["gate_tool_in_process"] = summary(samples)
    out["gate_tool_in_process_thread_cpu"] = summary(cpu_samples)
    out["back_to_back_queue_drain_ms"] = round(drained / 1e6, 1)

    start = clock()
    for _ in range(iterations):
        tool("/tmp/out.txt", "hello")
    flush_traces()
    total = clock() - start
    out["trace_writer_per_trace_us"] = round(total / iterations / 1000, 1)

    out["after_idle"] = after_idle(tool, iterations)

    os.environ["GAIT_SDK_TRACES"] = "sync"
    samples = []
    for _ in range(max(iterations // 20, 50)):
        start = clock()
        tool("/tmp/out.txt", "hello")
        samples.append(clock() - start)
    out["gate_tool_in_process_sync_traces"] = summary(samples)
    del os.environ["GAIT_SDK_TRACES"]

    script = Path(sys.executable).with_name("gait")
    binary = [str(script)] if script.exists() else [sys.executable, "-m", "gait"]
    by_process = make_tool(gait_bin=binary)
    samples = []
    for _ in range(runs):
        start = clock()
        by_process("/tmp/out.txt", "hello")
        samples.append(clock() - start)
    out["gate_tool_gait_bin"] = summary(samples)
    return out


def after_idle(tool: Any, iterations: int) -> dict[str, Any]:
    """Each subject's p50 back to back and after each pause (see the module's docstring)."""
    from gait import flush_traces
    from gait.gate.evaluate import evaluate
    from gait.gate.policy import load_policy_text

    policy = load_policy_text(TYPICAL_POLICY)
    subjects: dict[str, Any] = {
        "gate_tool": lambda: tool("/tmp/out.txt", "hello"),
        "bare_evaluate": lambda: evaluate(policy, TYPICAL_INTENT),
        "json_dumps": lambda: json.dumps(TYPICAL_INTENT),
    }
    clock = time.perf_counter_ns
    warm: dict[str, list[int]] = {name: [] for name in subjects}
    for name, subject in subjects.items():
        for _ in range(iterations):
            start = clock()
            subject()
            warm[name].append(clock() - start)
    flush_traces()
    out: dict[str, Any] = {
        "back_to_back_p50_us": {name: summary(warm[name])["p50_us"] for name in subjects}
    }
    names = list(subjects)
    for pause_ms in PAUSES_MS:
        cold: dict[str, list[int]] = {name: [] for name in subjects}
        for index in range(iterations * len(names)):
            name = names[index % len(names)]  # interleaved: load drifts hit all alike
            if name != "gate_tool":
                tool("/tmp/out.txt", "hello")  # each subject follows a gated call's trace
            flush_traces()
            time.sleep(pause_ms / 1000)
            start = clock()
            subjects[name]()
            cold[name].append(clock() - start)
        out[f"pause_{pause_ms}ms"] = {
            name: {
                "p50_us": summary(cold[name])["p50_us"],
                "factor": round(
                    summary(cold[name])["p50_us"] / out["back_to_back_p50_us"][name], 2
                ),
            }
            for name in subjects
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GAIT_HOME"] = str(Path(tmp) / "home")
        os.chdir(tmp)
        Path("policy.yaml").write_text(TYPICAL_POLICY, encoding="utf-8")
        results = bench(500 if args.quick else 5000, 5 if args.quick else 20)
    p50 = results["gate_tool_in_process"]["p50_us"]
    results["python"] = sys.version.split()[0]
    results["target_p50_us"] = TARGET_P50_US
    results["meets_target"] = p50 <= TARGET_P50_US
    results["speedup_vs_gait_bin_p50"] = round(results["gate_tool_gait_bin"]["p50_us"] / p50, 1)
    print(json.dumps(results, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
