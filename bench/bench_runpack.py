"""Runpack benchmarks: recorder overhead, replay and diff of big runpacks, import memory, and
the speed goals of issue 14 item 6 beside the reference's figures.

    python bench/bench_runpack.py                 # modest sizes, about a minute
    python bench/bench_runpack.py --otel-mb 1024  # the 1 GB OTEL import
    python bench/bench_runpack.py --goals-only    # only the item 6 goals (1k/10k/100k curve)
    python bench/bench_runpack.py --goals-only --curve 1000,10000
    python bench/bench_runpack.py --goals-only --wheel-venv /tmp/gait-wheel  # + a wheel install

The goals section (``goals``) times ``run record``, ``verify`` and ``run diff`` through the CLI
(a fresh process: wall, its CPU, its peak RSS) and in-process (best of a few: wall and CPU),
each beside SHA-256 over the same inflated member bytes (``x_hash``: how many times the
time to hash them), at each size of the curve, plus a small signed runpack verified and
diffed in-process (microseconds). The machine is shared: read CPU beside wall, and the
load average printed with them. A CLI case's wall and CPU are medians of ``--cli-runs``
processes (after one warm-up run, so bytecode is cached).

``--wheel`` (or ``--wheel-venv DIR``, which keeps the venv for the next run) runs the CLI cases
a second time (``wheel`` beside each size) in a plain venv with this checkout installed from a
wheel, as users install it (``bench_gate.wheel_venv``): an editable install's import hook costs
every process about 12 ms, so the editable figures overstate what users get.

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


# issue 14 item 6: the reference (Go) on this machine, same inputs, one run; and the goals
REFERENCE = {
    "verify_10k_s": 0.047,
    "diff_10k_s": 1.26,
    "diff_10k_peak_mib": 84,
    "record_10k_s": 1.04,
    "small_verify_us": 286,
    "small_diff_us": 590,
}
GOALS = {
    "verify_10k_s": 0.1,
    "diff_10k_s": 1.0,
    "diff_10k_peak_mib": 90,
    "record_10k_s": 0.8,
    "small_verify_us": 300,
    "small_diff_us": 600,
}
# The process as the ``gait`` console script runs it (gait.cli.main.entry: a lean command ends
# without interpreter teardown and keeps the collector off to the end), its figures printed by
# the last exit handler. (Calling main() and sys.exit() instead counted a teardown and a
# collection that ``gait verify`` never does: 8-10 ms of a 10,000-call verify.)
_STATS = (
    "import atexit, sys\n"
    "def stats():\n"
    "    import resource\n"
    "    hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')]\n"
    "    use = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    print('STATS', hwm[0].split()[1] if hwm else 0, use.ru_utime + use.ru_stime, "
    "file=sys.stderr)\n"
    "atexit.register(stats)\n"
    "from gait.cli.main import entry\n"
    "entry()\n"
)


def record_input(path: Path, calls: int, *, changed_every: int = 0) -> Path:
    """The reference's record input (``gait run record --input``): raw capture, N calls."""
    doc = {
        "run": {"run_id": f"run_{path.stem}", "created_at": "2026-01-01T00:00:00Z"},
        "capture_mode": "raw",
        "intents": [
            {
                "intent_id": f"intent_{i}",
                "tool_name": f"tool.t{i % 7}",
                "args": {
                    "query": f"q{i}",
                    "page": 2 if changed_every and i % changed_every == 0 else 1,
                    "filters": {"lang": "en", "k": i % 13},
                },
            }
            for i in range(calls)
        ],
        "results": [
            {
                "intent_id": f"intent_{i}",
                "status": "ok",
                "result": {"hits": [f"doc_{i}_{j}" for j in range(5)], "count": 5},
            }
            for i in range(calls)
        ],
        "refs": {"receipts": []},
    }
    path.write_text(json.dumps(doc))
    return path


def cli(
    argv: list[str],
    env: dict[str, str],
    cwd: Path | None = None,
    *,
    python: str = sys.executable,
    runs: int = 1,
) -> dict[str, Any]:
    """``gait`` processes (``python`` runs them): the median wall and median CPU (user+sys of
    the process itself) of ``runs`` of them after one warm-up when ``runs`` > 1, the highest
    peak RSS, the exit code."""
    import statistics

    walls, cpus, peaks, codes = [], [], [], set()
    for _ in range(runs + (runs > 1)):
        start = time.perf_counter()
        proc = subprocess.run(
            [python, "-c", _STATS, *argv], capture_output=True, text=True, env=env, cwd=cwd
        )
        walls.append(time.perf_counter() - start)
        stats = [ln.split() for ln in proc.stderr.splitlines() if ln.startswith("STATS")]
        if stats:
            cpus.append(float(stats[0][2]))
            peaks.append(int(stats[0][1]) / 1024)
        codes.add(proc.returncode)
    if runs > 1:  # the warm-up run is not counted
        walls, cpus, peaks = walls[1:], cpus[1:], peaks[1:]
    out: dict[str, Any] = {
        "wall_s": round(statistics.median(walls), 3),
        "cpu_s": round(statistics.median(cpus), 3) if cpus else None,
        "peak_mib": round(max(peaks), 1) if peaks else None,
        "exit": codes.pop() if len(codes) == 1 else sorted(codes),
    }
    if runs > 1:
        out["runs"] = runs
    return out


def best(fn: Any, repeat: int) -> dict[str, float]:
    """Best wall and best CPU of ``repeat`` runs (each after one warm-up)."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return {"wall_s": round(min(walls), 4), "cpu_s": round(min(cpus), 4)}


def hash_seconds(paths: list[Path], repeat: int = 5) -> float:
    """SHA-256 of every member's inflated bytes (what verify must at least read and hash)."""
    import hashlib
    import zipfile

    blobs = []
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            blobs += [archive.read(info) for info in archive.infolist()]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for blob in blobs:
            hashlib.sha256(blob).digest()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_goals(
    sizes: list[int], folder: Path, *, runs: int = 5, wheel_python: str | None = None
) -> dict[str, Any]:
    from gait.runpack.verify import VerifyOptions, verify_runpack

    env = {**os.environ, "GAIT_HOME": str(folder / "home")}
    curve: dict[str, Any] = {}
    for calls in sizes:
        repeat = 5 if calls <= 10_000 else 2
        slow = runs if calls <= 10_000 else 1  # record and diff of 100,000 calls take seconds
        left_in = record_input(folder / f"left_{calls}.json", calls)
        right_in = record_input(folder / f"right_{calls}.json", calls, changed_every=1000)
        left, right = folder / f"left_{calls}.zip", folder / f"right_{calls}.zip"
        record_argv = ["run", "record", "--input", str(left_in), "--out", str(left), "--json"]
        record = cli(record_argv, env, runs=slow)
        cli(["run", "record", "--input", str(right_in), "--out", str(right), "--json"], env)
        one = hash_seconds([left])
        two = hash_seconds([left, right])
        verify_in = best(lambda p=left: verify_runpack(p, VerifyOptions()), repeat)
        diff_in = best(lambda a=left, b=right: _diff_in_process(a, b), max(repeat - 2, 1))
        verify_argv = ["verify", str(left), "--json"]
        diff_argv = ["run", "diff", str(left), str(right), "--json"]
        verify_cli = cli(verify_argv, env, runs=runs)
        diff_cli = cli(diff_argv, env, runs=slow)
        init_cli = _regress_init(left, folder / f"init_{calls}", env)
        curve[str(calls)] = {
            "record_cli": record,
            "verify_in_process": {**verify_in, "x_hash": round(verify_in["wall_s"] / one, 1)},
            "verify_cli": {**verify_cli, "x_hash": round(verify_cli["wall_s"] / one, 1)},
            "diff_in_process": {**diff_in, "x_hash": round(diff_in["wall_s"] / two, 1)},
            "diff_cli": {**diff_cli, "x_hash": round(diff_cli["wall_s"] / two, 1)},
            "regress_init_cli": init_cli,
            "hash_members_s": round(one, 4),
        }
        if wheel_python:  # the same processes as users run them (outside the checkout)
            wheel: dict[str, Any] = {"python": wheel_python, "cwd": str(folder)}
            wheel["record_cli"] = cli(record_argv, env, folder, python=wheel_python, runs=slow)
            wheel["verify_cli"] = cli(verify_argv, env, folder, python=wheel_python, runs=runs)
            wheel["diff_cli"] = cli(diff_argv, env, folder, python=wheel_python, runs=slow)
            curve[str(calls)]["wheel"] = wheel
        for path in (left_in, right_in):
            path.unlink()
    return {
        "curve": curve,
        "small_signed": bench_small(folder),
        "reference": REFERENCE,
        "goals": GOALS,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _regress_init(runpack: Path, work: Path, env: dict[str, str]) -> dict[str, Any]:
    """``gait regress init`` of ``runpack`` in a fresh directory (its peak is issue 11 item 11's
    other half: init reads its source streamed, as verify does)."""
    work.mkdir(parents=True, exist_ok=True)
    argv = ["regress", "init", "--from", str(runpack), "--name", "bench", "--force", "--json"]
    return cli(argv, env, cwd=work)


def _diff_in_process(left: Path, right: Path) -> Any:
    """What ``gait run diff`` does: load both (verify, canonical proof), then diff."""
    from gait.runpack.diff import diff_runpacks

    return diff_runpacks(
        load_runpack(left, prove_canonical=True), load_runpack(right, prove_canonical=True)
    ).to_result_json()


def bench_small(folder: Path) -> dict[str, Any]:
    """A three-call runpack signed with a trusted key: verified (signature checked) and diffed
    in-process; median microseconds over many runs."""
    import statistics

    from gait.runpack.verify import VerifyOptions, verify_runpack
    from gait.runpack.writer import write_record_input
    from gait.sign.keys import SigningKey

    key = SigningKey.generate()
    paths = []
    for name in ("small_left", "small_right"):
        doc = {
            "run": {"run_id": f"run_{name}", "created_at": "2026-01-01T00:00:00Z"},
            "intents": [
                {"intent_id": f"intent_{i}", "tool_name": "tool.search", "args": {"q": f"q{i}"}}
                for i in range(3)
            ],
            "results": [
                {"intent_id": f"intent_{i}", "status": "ok", "result": {"n": i}} for i in range(3)
            ],
        }
        paths.append(write_record_input(doc, folder / f"{name}.zip", signing_keys=[key]).path)
    options = VerifyOptions(keys=(key.public(),), explicit_keys=True)
    assert verify_runpack(paths[0], options).signature_status == "verified"

    def median_us(fn: Any, runs: int = 300) -> dict[str, float]:
        fn()
        walls, cpus = [], []
        for _ in range(runs):
            start, cpu = time.perf_counter(), time.process_time()
            fn()
            cpus.append(time.process_time() - cpu)
            walls.append(time.perf_counter() - start)
        return {
            "wall_us": round(statistics.median(walls) * 1e6, 1),
            "cpu_us": round(statistics.median(cpus) * 1e6, 1),
        }

    def diff() -> Any:
        from gait.runpack.diff import diff_runpacks

        pair = [load_runpack(p, options=options, prove_canonical=True) for p in paths]
        return diff_runpacks(*pair).to_result_json()

    return {"verify": median_us(lambda: verify_runpack(paths[0], options)), "diff": median_us(diff)}


def hostile_listed_member(folder: Path, mib: int) -> dict[str, Any]:
    """Issue 11 item 11's leftover: a small zip whose listed ``intents.jsonl`` (``mib`` MiB,
    under the 100 MiB kept-member cap and the 200x ratio, hashes and digest right, unsigned)
    parses into the most containers per byte. Peak RSS of ``gait verify`` on it (goal: under
    200 MiB for any input)."""
    from gait.canon import canonical_bytes
    from gait.runpack import model
    from gait.runpack.archive import write_zip
    from gait.runpack.build import manifest_for

    head = {
        "created_at": "2026-01-01T00:00:00Z",
        "producer_version": "0.1.0",
        "run_id": "run_hostile",
        "schema_version": "1.0.0",
    }
    run = {**head, "schema_id": "gait.runpack.run", "env": {}, "timeline": []}
    run["env"] = {"arch": "x", "os": "x", "runtime": "x"}
    refs = {**head, "schema_id": "gait.runpack.refs", "receipts": []}
    nested = b"[" + b",".join([b"[]"] * 30000) + b"]"
    lines, size = [], 0
    while size < mib * 1024 * 1024:
        intent = {
            **head,
            "schema_id": "gait.runpack.intent",
            "intent_id": f"intent_{len(lines)}",
            "args_digest": "0" * 64,
            "tool_name": os.urandom(1500).hex(),  # incompressible: keeps the ratio under 200x
        }
        line = b'{"args":{"x":' + nested + b"}," + canonical_bytes(intent)[1:] + b"\n"
        lines.append(line)
        size += len(line)
    data = {
        model.RUN: canonical_bytes(run),
        model.REFS: canonical_bytes(refs),
        model.INTENTS: b"".join(lines),
        model.RESULTS: b"",
    }
    data[model.MANIFEST] = canonical_bytes(manifest_for(run, "raw", data))
    path = folder / "hostile.zip"
    write_zip(path, [(name, data[name]) for name in model.MEMBER_ORDER])
    env = {**os.environ, "GAIT_HOME": str(folder / "home")}
    return {
        "zip_mib": round(path.stat().st_size / 1048576, 2),
        "listed_member_mib": round(size / 1048576, 1),
        "verify_cli": cli(["verify", str(path), "--json"], env),
        "regress_init_cli": _regress_init(path, folder / "init_hostile", env),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--otel-mb", type=int, default=64, help="OTEL log size (1024 = 1 GB)")
    parser.add_argument("--curve", default="1000,10000,100000", help="call counts for the goals")
    parser.add_argument("--goals-only", action="store_true", help="only the item 6 goals")
    parser.add_argument(
        "--hostile-mib", type=int, default=0, help="also verify a hostile listed member this big"
    )
    parser.add_argument(
        "--cli-runs", type=int, default=5, help="processes per CLI case (median wall and CPU)"
    )
    parser.add_argument(
        "--wheel",
        action="store_true",
        help="also run the CLI cases in a plain venv installed from a wheel (as users install)",
    )
    parser.add_argument(
        "--wheel-venv",
        metavar="DIR",
        help="keep the --wheel venv in DIR and reuse it (implies --wheel)",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    sizes = [int(n) for n in args.curve.split(",") if n]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["GAIT_HOME"] = str(folder / "home")
        wheel_python = None
        if args.wheel or args.wheel_venv:
            from bench_gate import wheel_venv  # bench/ is this script's directory

            wheel_python = wheel_venv(Path(args.wheel_venv) if args.wheel_venv else folder)
        goals = bench_goals(sizes, folder, runs=args.cli_runs, wheel_python=wheel_python)
        if args.goals_only:
            out: dict[str, Any] = {"goals": goals}
            if args.hostile_mib:
                out["hostile_listed_member"] = hostile_listed_member(folder, args.hostile_mib)
            print(json.dumps(out, indent=2, sort_keys=True))
            return 0
        summary = {
            "goals": goals,
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
