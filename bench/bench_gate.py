"""Gate decision benchmarks; prints one JSON summary.

Cases: the reference's own typical case (FORMATS 5.5 / issue 6: default require_approval, fail
closed for high and critical requiring targets and arg_provenance, rules allow-safe-write and
block-external-host, a ``tool.write`` intent); 10-rule and 100-rule policies; the decision plus a
signed trace (built and signed in memory, and written with the decision log); ``gait gate eval``
wall time beside ``python -c pass``; and, when the optional ``bench`` extra (cedarpy) is
installed, the same decisions with cedarpy on an equivalent Cedar policy.

Run: ``python bench/bench_gate.py [--quick] [--instructions] [--wheel]``; ``--cli-only`` prints
only the per-process figures (issue 16 item 6: ``gait gate eval`` and ``gait policy test`` within
3x, ``gait --version`` within 1.5x of ``python -c pass``), ``--instructions`` adds instruction
counts under valgrind, which a loaded machine does not move. ``--wheel`` measures the same
processes a second time in a plain venv with this checkout installed from a wheel, as users
install it: an editable install's import hook (a ``.pth`` finder) doubles the cost of
``python -c pass`` itself, so the editable venv's ratios flatter the CLI. ``--wheel-venv DIR``
keeps that venv in DIR (reinstalling only the wheel on the next run).
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
from pathlib import Path
from typing import Any

from gait.gate.engine import Gate
from gait.gate.evaluate import evaluate
from gait.gate.intent import normalize_intent
from gait.gate.policy import load_policy_text
from gait.gate.trace import TraceInput, build_trace
from gait.sign.keys import SigningKey

TYPICAL_POLICY = """\
default_verdict: require_approval
fail_closed:
  enabled: true
  risk_classes: [high, critical]
  required_fields: [targets, arg_provenance]
rules:
  - name: allow-safe-write
    priority: 10
    effect: allow
    match:
      tool_names: [tool.write]
      target_kinds: [path]
      workspace_prefixes: [/tmp]
      provenance_sources: [user]
    reason_codes: [safe_write]
  - name: block-external-host
    priority: 20
    effect: block
    match:
      tool_names: [tool.write]
      target_kinds: [host]
    reason_codes: [blocked_external]
    violations: [external_egress]
"""

TYPICAL_INTENT: dict[str, Any] = {
    "schema_id": "gait.gate.intent_request",
    "schema_version": "1.0.0",
    "created_at": "2026-02-18T00:00:00Z",
    "producer_version": "bench",
    "tool_name": "tool.write",
    "args": {"path": "/tmp/out.txt", "content": "hello"},
    "targets": [{"kind": "path", "value": "/tmp/out.txt", "operation": "write"}],
    "arg_provenance": [{"arg_path": "$.path", "source": "user"}],
    "context": {"identity": "bench-user", "workspace": "/tmp/workspace", "risk_class": "high"},
}


def many_rules_policy(count: int) -> str:
    """``count`` rules that do not match the intent, then the one that does (worst case)."""
    lines = ["default_verdict: require_approval", "rules:"]
    for index in range(count - 1):
        lines += [
            f"  - name: rule-{index:03d}",
            f"    priority: {index}",
            "    effect: block",
            "    match:",
            f"      tool_names: [tool.other{index}]",
            "      target_kinds: [path]",
        ]
    lines += [
        "  - name: allow-safe-write",
        f"    priority: {count}",
        "    effect: allow",
        "    match:",
        "      tool_names: [tool.write]",
        "      target_kinds: [path]",
        "      workspace_prefixes: [/tmp]",
        "      provenance_sources: [user]",
    ]
    return "\n".join(lines) + "\n"


def cedar_policy(count: int) -> str:
    rules = []
    for index in range(count - 1):
        rules.append(
            f'forbid(principal, action == Action::"tool.other{index}", resource) '
            'when { context.target_kinds.contains("path") };'
        )
    rules.append(
        'permit(principal, action == Action::"tool.write", resource) when { '
        'context.target_kinds.contains("path") && context.workspace like "/tmp*" && '
        'context.provenance_sources.contains("user") };'
    )
    return "\n".join(rules)


def timed(fn: Any, iterations: int) -> dict[str, float]:
    for _ in range(min(200, iterations)):
        fn()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(iterations):
        start = clock()
        fn()
        samples.append(clock() - start)
    samples.sort()
    return {
        "p50_us": round(samples[len(samples) // 2] / 1000, 2),
        "p95_us": round(samples[int(len(samples) * 0.95)] / 1000, 2),
        "mean_us": round(statistics.fmean(samples) / 1000, 2),
        "n": iterations,
    }


def bench_decisions(iterations: int) -> dict[str, Any]:
    """``typical_decision`` and ``rules_N_decision`` are what the reference's
    ``EvaluatePolicy`` does per call (its ``NormalizeIntent`` computes the intent digest and
    the args digest): normalisation, evaluation and both digests. ``*_without_digests`` and
    ``typical_evaluate_prenormalized`` leave parts out."""
    out: dict[str, Any] = {}
    typical = load_policy_text(TYPICAL_POLICY)
    assert evaluate(typical, TYPICAL_INTENT).verdict == "allow"
    out["typical_decision"] = timed(lambda: _with_digests(typical), iterations)
    out["typical_decision_without_digests"] = timed(
        lambda: evaluate(typical, TYPICAL_INTENT), iterations
    )
    normalized = normalize_intent(TYPICAL_INTENT).stripped()
    out["typical_evaluate_prenormalized"] = timed(lambda: evaluate(typical, normalized), iterations)
    for count in (10, 100):
        policy = load_policy_text(many_rules_policy(count))
        assert evaluate(policy, TYPICAL_INTENT).verdict == "allow"
        out[f"rules_{count}_decision"] = timed(lambda p=policy: _with_digests(p), iterations)
    return out


def _with_digests(policy: Any) -> None:
    decision = evaluate(policy, TYPICAL_INTENT)
    assert decision.intent is not None
    decision.intent.digest  # noqa: B018 - computed for the timing
    decision.intent.args_digest  # noqa: B018


def bench_traces(iterations: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    policy = load_policy_text(TYPICAL_POLICY)
    key = SigningKey.generate()

    def decide_and_sign() -> None:
        decision = evaluate(policy, TYPICAL_INTENT)
        intent = decision.intent
        assert intent is not None
        build_trace(
            TraceInput(
                intent_doc=intent.doc,
                intent_digest=intent.digest,
                args_digest=intent.args_digest,
                policy_digest=policy.digest,
                policy_id=policy.schema_id,
                policy_version=policy.schema_version,
                verdict=decision.verdict,
                violations=decision.violations,
                created_at=decision.created_at,
                producer_version="bench",
            ),
            key,
            "2026-02-18T00:00:00.123456789Z",
        )

    out["decision_plus_signed_trace"] = timed(decide_and_sign, iterations)
    with tempfile.TemporaryDirectory() as tmp:
        gate = Gate(policy, signing_key=key, trace_dir=Path(tmp) / "traces")
        out["decision_plus_trace_written_and_logged"] = timed(
            lambda: gate.decide(TYPICAL_INTENT), max(iterations // 20, 50)
        )
    return out


CLI_GOALS = {"gate_eval": 3.0, "policy_test": 3.0, "gait_version": 1.5}  # x python -c pass


def _cli_commands(root: Path, python: str = sys.executable) -> dict[str, list[str]]:
    """The processes measured; ``gait`` is the console script beside ``python`` (how users run
    it), or ``python -m gait`` where there is none."""
    script = Path(python).parent / "gait"
    gait = [str(script)] if script.is_file() else [python, "-m", "gait"]
    (root / "policy.yaml").write_text(TYPICAL_POLICY)
    (root / "intent.json").write_text(json.dumps(TYPICAL_INTENT))
    return {
        "python_c_pass": [python, "-c", "pass"],
        "gait_version": [*gait, "--version"],
        # as users run it: dev-mode key, a signed trace and a decision-log line written
        "gate_eval": [
            *gait,
            "gate",
            "eval",
            "--policy",
            "policy.yaml",
            "--intent",
            "intent.json",
            "--json",
        ],
        "policy_test": [*gait, "policy", "test", "policy.yaml", "intent.json", "--json"],
    }


def _cli_env(root: Path) -> dict[str, str]:
    """Bytecode may be written (PYTHONDONTWRITEBYTECODE would make every process compile gait
    from source, and the CLI's dataclass method cache is bytecode too)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["GAIT_HOME"] = str(root / "home")
    return env


def _bytecode_cached(python: str = sys.executable) -> dict[str, bool]:
    """Whether the gate engine's bytecode and the CLI's dataclass method cache
    (gait.cli.methodcache) exist for ``python``'s gait: without them every process compiles."""
    script = (
        "import importlib.util, os, sys\n"
        "import gait.gate.engine as engine\n"
        "from gait.cli import methodcache\n"
        "path = methodcache._path()\n"
        "print(int(os.path.exists(importlib.util.cache_from_source(engine.__file__))),"
        " int(bool(path) and os.path.exists(path)))\n"
    )
    proc = subprocess.run([python, "-c", script], capture_output=True, text=True, check=False)
    found = proc.stdout.split()
    return {
        "bytecode": found[:1] == ["1"],
        "dataclass_method_cache": found[1:2] == ["1"],
    }


def _warm(argv: list[str], root: Path, env: dict[str, str]) -> None:
    """One run before measuring (caches, dev key, bytecode), which must succeed: a process
    that fails early (a dependency missing from a reused venv) would measure as a fast one."""
    proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")


def bench_cli(runs: int, python: str = sys.executable) -> dict[str, Any]:
    """Wall and CPU time (user + system of the child) per process, beside ``python -c pass``;
    CPU is the figure to compare on a loaded machine. Each command runs once first (policy
    cache, dev key, bytecode and the dataclass method cache warm)."""
    import resource

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        commands = _cli_commands(root, python)
        env = _cli_env(root)
        for argv in commands.values():
            _warm(argv, root, env)
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):  # interleaved, so load changes hit every command alike
            for name, argv in commands.items():
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(argv, cwd=root, env=env, capture_output=True, check=False)
                walls[name].append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus[name].append(
                    after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                )
        out: dict[str, Any] = {
            "runs": runs,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": python,
            "bytecode_cached": _bytecode_cached(python),
            "goals_x_python": CLI_GOALS,
        }
        base_wall = statistics.median(walls["python_c_pass"])
        base_cpu = statistics.median(cpus["python_c_pass"])
        for name in commands:
            wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
            out[f"{name}_wall_ms_p50"] = round(wall * 1000, 1)
            out[f"{name}_cpu_ms_p50"] = round(cpu * 1000, 1)
            if name != "python_c_pass":
                out[f"{name}_x_python_wall"] = round(wall / base_wall, 2)
                out[f"{name}_x_python_cpu"] = round(cpu / base_cpu, 2)
        return out


def callgrind_instructions(
    valgrind: str, argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> int | None:
    """The instructions ``argv`` executes under valgrind's callgrind (None if it counted none):
    unlike time, a loaded machine does not move it. bench_sign.py counts its imports with it."""
    import re

    proc = subprocess.run(
        [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Collected : (\d+)", proc.stderr)
    return int(found.group(1)) if found else None


def bench_cli_instructions(python: str = sys.executable) -> dict[str, Any]:
    """Instructions each process executes (valgrind's callgrind, one run each), beside
    ``python -c pass``: unlike time, this does not move with the machine's load, so two
    changes can be compared on a busy machine. Slow (about a minute)."""
    import shutil

    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return {"skipped": "valgrind not installed"}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        commands = _cli_commands(root, python)
        env = _cli_env(root)
        out: dict[str, Any] = {}
        for name, argv in commands.items():
            _warm(argv, root, env)
            out[f"{name}_instructions"] = callgrind_instructions(valgrind, argv, root, env)
        base = out["python_c_pass_instructions"]
        for name in commands:
            count = out[f"{name}_instructions"]
            if name != "python_c_pass" and base and count:
                out[f"{name}_x_python_instructions"] = round(count / base, 2)
        return out


def wheel_venv(folder: Path) -> str:
    """A plain venv in ``folder`` with this checkout installed from a wheel (no editable hook),
    as ``pip install pytest-gait`` leaves it; its interpreter's path. An existing venv there
    keeps its dependencies and gets the freshly built wheel reinstalled."""
    repo = Path(__file__).resolve().parent.parent
    dist = folder / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    quiet = {"check": True, "stdout": subprocess.DEVNULL}
    # through an sdist, as a release is built: nothing is written into the checkout's build/
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(repo)],
        **quiet,  # type: ignore[arg-type]
    )
    [wheel] = sorted(dist.glob("*.whl"))
    venv = folder / "venv"
    python = venv / "bin" / "python"
    reinstall: list[str] = ["--force-reinstall", "--no-deps"] if python.exists() else []
    if not reinstall:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], **quiet)  # type: ignore[arg-type]
        # as users start a venv: the pip that ensurepip bundles (23.x with Python 3.11) writes
        # console scripts that import re, a third of ``gait --version``; pip 25+ does not
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"],
            **quiet,  # type: ignore[arg-type]
        )
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *reinstall, str(wheel)],
        **quiet,  # type: ignore[arg-type]
    )
    if reinstall:  # and whatever dependency this build added since the venv was made
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", str(wheel)],
            **quiet,  # type: ignore[arg-type]
        )
    return str(python)


def bench_wheel(runs: int, instructions: bool, folder: str | None) -> dict[str, Any]:
    """``bench_cli`` (and ``bench_cli_instructions``) in a wheel-installed venv."""
    with tempfile.TemporaryDirectory() as tmp:
        python = wheel_venv(Path(folder) if folder else Path(tmp))
        out: dict[str, Any] = {"cli": bench_cli(runs, python)}
        if instructions:
            out["cli_instructions"] = bench_cli_instructions(python)
        return out


def bench_cedar(iterations: int) -> dict[str, Any]:
    try:
        import cedarpy
    except ImportError:
        return {"skipped": "cedarpy not installed (pip install '.[bench]')"}
    out: dict[str, Any] = {}
    request = {
        "principal": 'User::"bench-user"',
        "action": 'Action::"tool.write"',
        "resource": 'Resource::"/tmp/out.txt"',
        "context": {
            "target_kinds": ["path"],
            "workspace": "/tmp/workspace",
            "provenance_sources": ["user"],
        },
    }
    for count in (10, 100):
        policies = cedar_policy(count)
        result = cedarpy.is_authorized(request, policies, [])
        assert result.allowed, result
        per_call = timed(
            lambda p=policies: cedarpy.is_authorized(request, p, []), max(iterations // 10, 200)
        )
        batch = [request] * 100
        batch_timing = timed(
            lambda p=policies, b=batch: cedarpy.is_authorized_batch(b, p, []),
            max(iterations // 200, 20),
        )
        out[f"rules_{count}_is_authorized"] = per_call
        out[f"rules_{count}_is_authorized_batch_per_request_us"] = round(
            batch_timing["p50_us"] / len(batch), 2
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument(
        "--cli-only",
        action="store_true",
        help="only the per-process figures (gait --version, gate eval, policy test)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count each process's instructions with valgrind (load-independent)",
    )
    parser.add_argument(
        "--wheel",
        action="store_true",
        help="also measure the CLI in a plain venv installed from a wheel (as users install it)",
    )
    parser.add_argument(
        "--wheel-venv",
        metavar="DIR",
        help="keep the --wheel venv in DIR and reuse it (implies --wheel)",
    )
    args = parser.parse_args()
    wheel = args.wheel or bool(args.wheel_venv)
    if args.cli_only:
        runs = 5 if args.quick else 20
        cli: dict[str, Any] = {"cli": bench_cli(runs)}
        if args.instructions:
            cli["cli_instructions"] = bench_cli_instructions()
        if wheel:
            cli["wheel"] = bench_wheel(runs, args.instructions, args.wheel_venv)
        print(json.dumps(cli, indent=2, sort_keys=True))
        return
    iterations = 2000 if args.quick else 20000
    summary = {
        "python": sys.version.split()[0],
        "decisions": bench_decisions(iterations),
        "traces": bench_traces(max(iterations // 4, 500)),
        "cli": bench_cli(3 if args.quick else 10),
        "cli_instructions": bench_cli_instructions()
        if args.instructions
        else {"skipped": "--instructions"},
        "cedarpy": bench_cedar(iterations),
    }
    if wheel:
        summary["wheel"] = bench_wheel(3 if args.quick else 10, args.instructions, args.wheel_venv)
    ours = summary["decisions"]
    cedar = summary["cedarpy"]
    if "rules_100_is_authorized" in cedar:
        summary["speedup_vs_cedarpy_100_rules"] = {
            "is_authorized": round(
                cedar["rules_100_is_authorized"]["p50_us"] / ours["rules_100_decision"]["p50_us"],
                1,
            ),
            "is_authorized_batch": round(
                cedar["rules_100_is_authorized_batch_per_request_us"]
                / ours["rules_100_decision"]["p50_us"],
                1,
            ),
        }
    print(json.dumps(summary, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
