"""Why a paced in-process ``gate_tool`` call (bench_sdk.py's ``after_idle``, 1 ms pause) costs
three to four times a back-to-back one: which part of the trace writer's work, done in the
pause before the call, makes it slow, and which part of the call suffers.

``writer_variants``: the paced loop of bench_sdk.py (call, ``flush_traces()``, 1 ms pause),
with the writer's job for each trace swapped, in interleaved blocks of calls (so a change of
machine load hits every variant alike; each block's first call, which follows another
variant's job, is dropped). For each variant, the next call's p50 wall and thread CPU time and
how often the writer ran on the CPU the caller then ran on (Linux):

- ``full``: the trace signed, written with its log line and head, and synced (as shipped:
  one ``syncfs`` per batch of queued traces where Linux has it, else three fsyncs per trace);
- ``no_fsync``: the same writes, nothing synced;
- ``no_signing``: the same writes with a constant signature (diagnostic only: wrong bytes);
- ``in_memory``: the trace built and signed, no file written;
- ``no_work``: the writer woken and handed a job that does nothing;
- ``sleep_as_long``: a job that sleeps as long as a ``full`` one takes (duration, no work);
- ``touch_2mb``: a job that allocates and frees about 2 MB of small objects, no I/O.

``caller_phases``: the call's parts (inclusive p50, each timed by a wrapper that adds a few
tenths of a microsecond), back to back and paced with the full writer.

Measured on the 2-vCPU guest (Dec 2026), next-call p50 after each job, thread CPU alike:
at load 1.5 (jobs of 1.6-3 ms, the writer on the caller's CPU in 99% of calls) full 98-104 us,
no_fsync 87-93, no_signing 101-106 (signing plays no part), in_memory 58-75, no_work 45-56,
sleep_as_long 52-59, touch_2mb 104: the writer's file I/O and fsyncs, then its in-memory
trace work, evict what the call needs. At load 7-9 (fsyncs stretch the job to 12 ms) full
138, sleep_as_long 139, no_fsync 113, in_memory 113, no_work 109: the time the caller waits
is time other processes hold its CPU. Each part of the call is 3-5x slower paced; the gate
lookup's two system calls (getcwd, stat: 1.6 -> 12 us) and the first C library the call
enters (its OpenSSL digests, 9 us: gait.sha.sha256_small) more. Waking the writer as the
trace is queued (so it may start on the other CPU) made the paced call 12-25 us slower, not
faster: the wake is made inside the timed call, and the woken writer contends for its CPU.

Run: ``python bench/bench_sdk_cold.py [--quick]``; prints one JSON document. Only the shipped
code path (``full``) writes real traces; the other variants exist here alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_gate import TYPICAL_POLICY  # noqa: E402
from bench_sdk import make_tool  # noqa: E402

VARIANTS = (
    "full",
    "no_fsync",
    "no_signing",
    "in_memory",
    "no_work",
    "sleep_as_long",
    "touch_2mb",
)
BLOCK = 10


def cpu_now() -> int | None:
    """The CPU this thread last ran on (field 39 of /proc/thread-self/stat), if readable."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/stat", "rb") as handle:
            return int(handle.read().rsplit(b")", 1)[1].split()[36])
    except (OSError, ValueError, IndexError):
        return None


def p50_us(samples: list[int]) -> float | None:
    return round(statistics.median(samples) / 1000, 1) if samples else None


def writer_variants(tool: Any, flush: Callable[[], None], calls: int) -> dict[str, Any]:
    import gait.fsutil as fsutil
    import gait.gate.trace as trace_module
    from gait.compat.client import _GATES

    gate = next(iter(_GATES._gates.values()))[0]
    write = gate._write_trace  # the deferring wrapper: it queues ``type(gate)._write_trace``
    state: dict[str, Any] = {"variant": "full", "cpu": None, "full_s": []}
    real_sign = trace_module.sign_digest
    shipped = type(gate)._write_trace

    def fake_sign(key: Any, digest_hex: str) -> dict[str, str]:
        return {"alg": "ed25519", "key_id": "0" * 16, "sig": "A" * 88, "signed_digest": digest_hex}

    def job(self: Any, *args: Any, **kwargs: Any) -> str:
        variant = state["variant"]
        started = time.perf_counter()
        saved = (self.trace_sync, self.trace_dir)
        try:
            if variant in ("full", "no_fsync", "no_signing", "in_memory"):
                if variant == "no_fsync":
                    kwargs["sync"] = False
                self.trace_dir = None if variant == "in_memory" else saved[1]
                trace_module.sign_digest = fake_sign if variant == "no_signing" else real_sign
                written: str = shipped(self, *args, **kwargs)
                if variant == "full":
                    state["full_s"].append(time.perf_counter() - started)
                return written
            if variant == "sleep_as_long":
                time.sleep(statistics.median(state["full_s"] or [0.0016]))
            elif variant == "touch_2mb":
                junk = [{"k": str(i), "v": [i, i]} for i in range(6000)]
                del junk
            return ""
        finally:
            self.trace_sync, self.trace_dir = saved
            trace_module.sign_digest = real_sign
            state["cpu"] = cpu_now()

    real_syncfs = fsutil._SYNCFS
    type(gate)._write_trace = job
    # re-wrap: the deferring wrapper captured the class's method when the gate was opened
    from gait.compat.traces import defer_traces

    del gate._write_trace
    defer_traces(gate)
    clock, thread_cpu = time.perf_counter_ns, time.thread_time_ns
    walls: dict[str, list[int]] = defaultdict(list)
    cpus: dict[str, list[int]] = defaultdict(list)
    same: dict[str, list[bool]] = defaultdict(list)
    writer_cpu: int | None = None
    try:
        for _ in range(30):  # the full job's duration, for sleep_as_long
            tool("/tmp/out.txt", "hello")
            flush()
        for block in range(calls * len(VARIANTS) // BLOCK):
            variant = VARIANTS[block % len(VARIANTS)]
            state["variant"] = variant
            # the batch's sync (looked up before the job runs): skipped for no_fsync
            fsutil._SYNCFS = (lambda fd: 0) if variant == "no_fsync" else real_syncfs
            for index in range(BLOCK + 1):
                where = cpu_now()
                start, start_cpu = clock(), thread_cpu()
                tool("/tmp/out.txt", "hello")
                spent_cpu, spent = thread_cpu() - start_cpu, clock() - start
                if index:  # the call after one of this variant's jobs
                    walls[variant].append(spent)
                    cpus[variant].append(spent_cpu)
                    if where is not None and writer_cpu is not None:
                        same[variant].append(writer_cpu == where)
                flush()
                writer_cpu = state["cpu"]
                time.sleep(0.001)
    finally:
        fsutil._SYNCFS = real_syncfs
        type(gate)._write_trace = shipped
        gate._write_trace = write
    return {
        variant: {
            "next_call_p50_us": p50_us(walls[variant]),
            "next_call_thread_cpu_p50_us": p50_us(cpus[variant]),
            "writer_on_callers_cpu": round(sum(same[variant]) / len(same[variant]), 2)
            if same[variant]
            else None,
            "n": len(walls[variant]),
        }
        for variant in VARIANTS
    } | {"full_job_p50_ms": round(statistics.median(state["full_s"]) * 1000, 2)}


def caller_phases(tool: Any, flush: Callable[[], None], calls: int) -> dict[str, Any]:
    import gait.compat.adapter as adapter
    import gait.compat.client as client
    import gait.compat.decorators as decorators
    import gait.compat.traces as traces
    import gait.gate.engine as engine
    import gait.gate.normalized_intent as normalized_intent

    clock = time.perf_counter_ns
    spent: dict[str, int] = defaultdict(int)
    undo: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = clock()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[label] += clock() - start

        undo.append((owner, name, inner))
        setattr(owner, name, timed)

    gate = next(iter(client._GATES._gates.values()))[0]
    wrap(decorators, "IntentRequest", "model IntentRequest built")
    wrap(adapter, "decide_here", "decide_here (all below)")
    wrap(client, "_normalized", "normalisation")
    wrap(client, "_created_text", "  created_at printed")
    wrap(client, "_open_gate", "gate lookup (getcwd, stat)")
    wrap(os, "getcwd", "  os.getcwd")
    wrap(os, "stat", "  os.stat")
    wrap(type(gate), "decide", "gate.decide (all below)")
    wrap(engine, "evaluate_normalized", "  policy evaluation")
    wrap(normalized_intent, "digest_floatless", "  intent digest")
    wrap(engine, "GateOutcome", "  GateOutcome built")
    wrap(traces, "id24", "  trace id")
    wrap(traces, "_submit", "  trace queued")
    wrap(client, "_result", "GateEvalResult built")
    out: dict[str, Any] = {}
    try:
        for paced in (False, True):
            rows: dict[str, list[int]] = defaultdict(list)
            for _ in range(calls):
                spent.clear()
                start = clock()
                tool("/tmp/out.txt", "hello")
                spent["whole call"] = clock() - start
                for label, value in spent.items():
                    rows[label].append(value)
                if paced:
                    flush()
                    time.sleep(0.001)
            flush()
            out["paced" if paced else "back_to_back"] = {k: p50_us(v) for k, v in rows.items()}
    finally:
        for owner, name, inner in reversed(undo):
            setattr(owner, name, inner)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    args = parser.parse_args()
    calls = 150 if args.quick else 600
    results: dict[str, Any] = {"load_average_before": list(os.getloadavg())}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GAIT_HOME"] = str(Path(tmp) / "home")
        os.chdir(tmp)
        Path("policy.yaml").write_text(TYPICAL_POLICY, encoding="utf-8")
        from gait import flush_traces

        tool = make_tool()
        for _ in range(50):
            tool("/tmp/out.txt", "hello")
        flush_traces()
        results["caller_phases"] = caller_phases(tool, flush_traces, calls)
        results["writer_variants"] = writer_variants(tool, flush_traces, calls)
        flush_traces()
    results["load_average_after"] = list(os.getloadavg())
    results["python"] = sys.version.split()[0]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
