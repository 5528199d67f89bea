"""``gait regress run`` and ``pytest --gait`` end to end, as subprocesses on real fixture sets:
--update, -n 2, command:, bad input, crashing and non-deterministic graders, pytest options."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gait.canon import digest

REPO = Path(__file__).resolve().parents[1]
FAST = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def examples(target: Path) -> Path:
    shutil.copytree(REPO / "example_fixtures", target, ignore=shutil.ignore_patterns("logs"))
    return target


def pytest_run(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "gait", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **FAST, **(env or {})},
    )


def one_line_error(proc: subprocess.CompletedProcess, code: str) -> str:
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("gait: ")]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"gait: {code}: "), lines[0]
    return lines[0]


# --update -------------------------------------------------------------------------------------
def test_update_round_trip(reference_set, conformance_dir, tmp_path, run_gait):
    root = reference_set(tmp_path / "set", drift=True)
    proc = run_gait("regress", "run", "--update", "--json", cwd=root, env=FAST)
    # every update applied and the re-grade passes: exit 0
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["updated_fixtures"] == ["run_raw"] and out["refused"] == {}
    assert any("expected_tool_sequence" in line for line in out["updated"])
    assert any("expected_verdict_sequence" in line for line in out["updated"])
    meta = json.loads((root / "fixtures/run_raw/fixture.json").read_text())
    assert meta["expected_tool_sequence"] == ["tool.search", "tool.fetch", "tool.write"]
    assert list(meta)[:6] == [
        "schema_id",
        "schema_version",
        "name",
        "run_id",
        "runpack",
        "expected_replay_exit_code",
    ]
    assert not [p for p in (root / "fixtures/run_raw").iterdir() if p.name.startswith(".")]
    proc = run_gait("regress", "run", "--json", cwd=root, env=FAST)
    assert proc.returncode == 0, proc.stdout
    assert meta == json.loads((conformance_dir / "reference/regress/fixture.json").read_text())


def test_update_replaces_the_runpack_from_a_drifted_command(tmp_path, run_gait):
    root = examples(tmp_path / "ex")
    env = {**FAST, "REFUND_AGENT_VARIANT": "skip-policy"}
    before = (root / "fixtures/run_refund_support/runpack.zip").read_bytes()
    proc = run_gait(
        "regress", "run", "--config", "gait.agent.yaml", "--update", "--json", cwd=root, env=env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert "fixtures/run_refund_support/runpack.zip: replaced by the candidate" in out["updated"]
    assert (root / "fixtures/run_refund_support/runpack.zip").read_bytes() != before
    meta = json.loads((root / "fixtures/run_refund_support/fixture.json").read_text())
    assert "kb.search_policy" not in meta["expected_tool_sequence"]
    proc = run_gait("regress", "run", "--config", "gait.agent.yaml", cwd=root, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -n 2 -----------------------------------------------------------------------------------------
def test_parallel_result_is_byte_identical_to_serial(tmp_path, run_gait):
    from gait.regress.testing import DEFAULT_CALLS, make_fixture_set

    root = tmp_path / "many"
    runs = {f"run_{n:02d}": DEFAULT_CALLS[: 1 + n % 3] for n in range(12)}
    make_fixture_set(root, runs=runs)
    meta = root / "fixtures/run_05/fixture.json"
    doc = json.loads(meta.read_text())
    doc["expected_tool_sequence"] = ["tool.other"]
    meta.write_text(json.dumps(doc))
    serial = run_gait("regress", "run", "--json", cwd=root, env=FAST)
    assert serial.returncode == 5, serial.stderr
    first = (root / "regress_result.json").read_bytes()
    diff_first = (root / "gait-out/regress/run_05/diff.json").read_bytes()
    parallel = run_gait("regress", "run", "-n", "2", "--json", cwd=root, env=FAST, timeout=180)
    assert parallel.returncode == 5, parallel.stdout + parallel.stderr
    assert (root / "regress_result.json").read_bytes() == first
    assert (root / "gait-out/regress/run_05/diff.json").read_bytes() == diff_first
    left, right = json.loads(serial.stdout), json.loads(parallel.stdout)
    left.pop("correlation_id"), right.pop("correlation_id")
    assert left == right


# command: -------------------------------------------------------------------------------------
def test_command_replays_the_agent_and_catches_drift(tmp_path, run_gait):
    root = examples(tmp_path / "ex")
    ok = run_gait("regress", "run", "--config", "gait.agent.yaml", "--json", cwd=root, env=FAST)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["graders"] == 9
    drift = run_gait(
        "regress",
        "run",
        "--config",
        "gait.agent.yaml",
        "--json",
        cwd=root,
        env={**FAST, "REFUND_AGENT_VARIANT": "skip-policy"},
    )
    assert drift.returncode == 5
    out = json.loads(drift.stdout)
    failed = {f["name"].split("/")[1] for f in out["failures"]}
    assert {"trajectory", "diff", "refs_match"} <= failed
    doc = json.loads((root / "regress_result.json").read_text())
    entry = next(g for g in doc["graders"] if g["name"].endswith("/trajectory"))
    assert entry["details"]["candidate_runpack"] == (
        "gait-out/regress/run_refund_support/candidate.zip"
    )
    assert (root / "gait-out/regress/run_refund_support/candidate.zip").is_file()
    # The self-check config of the same directory is untouched by the agent's drift.
    assert run_gait("regress", "run", cwd=root, env=FAST).returncode == 0


def write_command_config(root: Path, command: list[str], timeout: float | None = None) -> None:
    doc = json.loads((root / "gait.yaml").read_text())
    doc["command"] = command
    if timeout is not None:
        doc["timeout_seconds"] = timeout
    (root / "gait.yaml").write_text(json.dumps(doc, indent=2))


def test_command_that_exits_non_zero_fails_each_grader(reference_set, tmp_path, run_gait):
    root = reference_set(tmp_path / "set")
    write_command_config(
        root, ["{python}", "-c", "import sys; print('agent broke', file=sys.stderr); sys.exit(3)"]
    )
    proc = run_gait("regress", "run", "--json", cwd=root, env=FAST)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    doc = json.loads((root / "regress_result.json").read_text())
    needing_candidate = [g for g in doc["graders"] if not g["name"].endswith("schema_validation")]
    assert all(g["reason_codes"] == ["command_failed"] for g in needing_candidate), doc
    assert needing_candidate[0]["details"]["command_exit_code"] == 3
    # The agent wrote no candidate: nothing names one, nor suggests diffing against it.
    assert all(not g.get("candidate") for g in doc["graders"]), doc
    assert all("candidate_runpack" not in g["details"] for g in doc["graders"]), doc
    diffs = sorted((root / "gait-out/regress").glob("*/diff.json"))
    assert diffs
    for path in diffs:
        assert json.loads(path.read_text())["candidate_runpack"] == ""
        assert not (path.parent / "candidate.zip").exists()
    assert "candidate.zip" not in proc.stdout
    report = pytest_run("--gait", cwd=root)
    assert "exited 3: agent broke" in report.stdout
    assert not re.search(r"^candidate: ", report.stdout, re.MULTILINE), report.stdout


def test_command_that_hangs_times_out(reference_set, tmp_path, run_gait):
    root = reference_set(tmp_path / "set")
    hang = "import os, time; open('agent.pid', 'w').write(str(os.getpid())); time.sleep(60)"
    write_command_config(root, ["{python}", "-c", hang], timeout=1)
    proc = run_gait("regress", "run", "--json", cwd=root, env=FAST, timeout=60)
    assert proc.returncode == 5
    doc = json.loads((root / "regress_result.json").read_text())
    assert {tuple(g["reason_codes"]) for g in doc["graders"]} >= {("command_timeout",)}
    timed_out = [g for g in doc["graders"] if g["reason_codes"] == ["command_timeout"]]
    assert {g["error_code"] for g in timed_out} == {"E_REGRESS_COMMAND_TIMEOUT"}
    assert json.loads(proc.stdout)["next_command"] == "gait regress run --json"
    pid = int((root / "agent.pid").read_text())  # the hung agent was killed, not left behind
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            assert handle.read().split(")")[-1].split()[0] == "Z", "the hung agent outlived gait"
    except (ProcessLookupError, FileNotFoundError):
        pass


def test_command_not_found_or_writing_nothing(reference_set, tmp_path, run_gait):
    root = reference_set(tmp_path / "set")
    write_command_config(root, ["no-such-agent-binary", "run"])
    one_line_error(run_gait("regress", "run", cwd=root, env=FAST), "E_REGRESS_COMMAND_NOT_FOUND")
    write_command_config(root, ["{python}", "-c", "pass"])
    proc = run_gait("regress", "run", "--json", cwd=root, env=FAST)
    assert proc.returncode == 5
    codes = {f["error_code"] for f in json.loads(proc.stdout)["failures"]}
    assert codes == {"E_REGRESS_NO_CANDIDATE"}


# bad input ------------------------------------------------------------------------------------
BAD_CONFIGS = {
    "empty": ("", "E_REGRESS_CONFIG_INVALID", "is empty"),
    "not-yaml": ("fixtures: [\n  - name: x\n bad", "E_REGRESS_CONFIG_INVALID", "not valid YAML"),
    "not-mapping": ("- just\n- a list\n", "E_REGRESS_CONFIG_INVALID", "must be a mapping"),
    "unknown-key": (None, "E_REGRESS_CONFIG_INVALID", "'colour' was unexpected"),
    "duplicate-fixture": (None, "E_REGRESS_CONFIG_INVALID", "listed twice"),
    "duplicate-yaml-key": (None, "E_REGRESS_CONFIG_INVALID", "duplicate key 'fixture_set'"),
    "missing-dir": (None, "E_REGRESS_FIXTURE_INVALID", "does not exist"),
    "unknown-grader": (
        None,
        "E_REGRESS_GRADER_UNKNOWN",
        "known graders: args_match, context_conformance, diff",
    ),
}


def bad_config(reference_set, root: Path, case: str) -> None:  # noqa: ANN001
    reference_set(root)
    text, _, _ = BAD_CONFIGS[case]
    doc = json.loads((root / "gait.yaml").read_text())
    if case == "unknown-key":
        doc["colour"] = "blue"
    elif case == "duplicate-fixture":
        doc["fixtures"].append(dict(doc["fixtures"][0]))
    elif case == "missing-dir":
        doc["fixtures"][0]["runpack"] = "fixtures/nope/runpack.zip"
    elif case == "unknown-grader":
        doc["graders"] = {"trajectori": True}
    if case == "duplicate-yaml-key":
        text = "fixture_set: a\nfixture_set: b\nschema_id: gait.regress.config\n"
    (root / "gait.yaml").write_text(json.dumps(doc) if text is None else text)


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_is_one_clear_line(reference_set, tmp_path, run_gait, case):
    root = tmp_path / "set"
    bad_config(reference_set, root, case)
    proc = run_gait("regress", "run", cwd=root, env=FAST)
    _, code, words = BAD_CONFIGS[case]
    assert words in one_line_error(proc, code)


def test_missing_config_and_bad_fixture_json(reference_set, tmp_path, run_gait):
    proc = run_gait("regress", "run", cwd=tmp_path, env=FAST)
    assert "gait.yaml not found" in one_line_error(proc, "E_REGRESS_CONFIG_MISSING")
    root = reference_set(tmp_path / "set")
    (root / "fixtures/run_raw/fixture.json").write_text('{"name": "run_raw", "name": "x"}')
    proc = run_gait("regress", "run", "--json", cwd=root, env=FAST)
    assert proc.returncode == 6
    out = json.loads(proc.stdout)
    assert out["error_code"] == "E_REGRESS_FIXTURE_INVALID"
    assert "duplicate key 'name'" in out["error"]


def test_pytest_gait_bad_config_exits_with_its_contract_code(reference_set, tmp_path):
    root = tmp_path / "set"
    bad_config(reference_set, root, "unknown-grader")
    proc = pytest_run("--gait", cwd=root)
    assert proc.returncode == 6  # as `gait regress run` exits for the same gait.yaml
    assert (
        "gait: E_REGRESS_GRADER_UNKNOWN: gait.yaml graders: unknown grader 'trajectori' "
        "(did you mean 'trajectory'?)" in proc.stderr
    )
    assert "Traceback" not in proc.stderr + proc.stdout


# plugins in conftest.py: a crashing grader, a non-deterministic one ------------------------------
CONFTEST = textwrap.dedent(
    """
    from gait.regress import Grader, GradeResult, hookimpl

    def explode(ctx):
        raise RuntimeError("judge offline")

    def judge(ctx):
        return GradeResult.passed(details={"model": ctx.pin["model"]})

    @hookimpl
    def gait_grader_register():
        return [
            Grader("exploding", explode),
            Grader("llm_judge", judge, deterministic=False, description="LLM as a judge"),
        ]
    """
)


def test_conftest_graders_crash_and_nondeterminism(reference_set, tmp_path, run_gait):
    root = reference_set(tmp_path / "set")
    (root / "conftest.py").write_text(CONFTEST)
    proc = pytest_run("--gait", "-rA", cwd=root)
    assert proc.returncode == 1, proc.stdout
    assert "1 error" in proc.stdout and "4 passed" in proc.stdout and "1 skipped" in proc.stdout
    # The grader's own exception, with its traceback through the grader's code (--pdb works).
    assert "RuntimeError: judge offline" in proc.stdout
    assert 'raise RuntimeError("judge offline")' in proc.stdout
    assert "conftest.py" in proc.stdout
    doc = json.loads((root / "regress_result.json").read_text())
    by_name = {g["name"]: g for g in doc["graders"]}
    assert by_name["run_raw/exploding"]["reason_codes"] == ["grader_error"]
    assert by_name["run_raw/exploding"]["error_code"] == "E_REGRESS_GRADER_ERROR"
    judge = by_name["run_raw/llm_judge"]
    assert judge["status"] == "skip" and judge["nondeterministic"] is True
    assert judge["reason_codes"] == ["nondeterministic_not_allowed"]
    # Allowed but unpinned: refused before anything runs.
    proc = run_gait("regress", "run", "--allow-nondeterministic", cwd=root, env=FAST)
    one_line_error(proc, "E_REGRESS_GRADER_UNPINNED")
    # Pinned (config digest of its options): runs, labelled.
    doc = json.loads((root / "gait.yaml").read_text())
    doc["graders"] = {"llm_judge": {"rubric": "same refund decision"}, "exploding": False}
    doc["pins"] = {
        "llm_judge": {
            "model": "judge-1",
            "version": "2026-01",
            "config_digest": digest({"rubric": "same refund decision"}),
        }
    }
    (root / "gait.yaml").write_text(json.dumps(doc))
    proc = run_gait("regress", "run", "--allow-nondeterministic", "--json", cwd=root, env=FAST)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    judge = next(
        g
        for g in json.loads((root / "regress_result.json").read_text())["graders"]
        if g["name"] == "run_raw/llm_judge"
    )
    assert judge["status"] == "pass" and judge["nondeterministic"] is True
    assert judge["details"]["model"] == "judge-1"


# ordinary pytest options ---------------------------------------------------------------------
def test_without_gait_the_plugin_collects_nothing_and_imports_nothing(reference_set, tmp_path):
    root = reference_set(tmp_path / "set")
    (root / "test_plain.py").write_text(
        "import sys\n\n"
        "def test_plain():\n"
        "    assert not [m for m in sys.modules if m.startswith('gait.regress')]\n"
    )
    # -p gait loads the plugin as its entry point would (test_reference_set_passes_via_pytest_gait
    # runs it autoloaded), without the seconds every other installed plugin costs.
    proc = pytest_run("-q", "-p", "no:cacheprovider", cwd=root)
    assert proc.returncode == 0, proc.stdout
    assert "1 passed" in proc.stdout
    assert not (root / "regress_result.json").exists()


def test_parallel_update_accepts_command_candidates(tmp_path, run_gait):
    from gait.regress.testing import DEFAULT_CALLS, make_fixture_set, write_run

    root = tmp_path / "set"
    names = ["run_a", "run_b"]
    make_fixture_set(root, runs={name: DEFAULT_CALLS for name in names})
    for name in names:  # the "agent" drops its last call
        write_run(root / "candidates" / f"{name}.zip", name, DEFAULT_CALLS[:2])
    (root / "agent.py").write_text(
        "import os, shutil\n"
        "name = os.environ['GAIT_FIXTURE']\n"
        "shutil.copy(f'candidates/{name}.zip', os.environ['GAIT_RECORD_TO'])\n"
    )
    write_command_config(root, ["{python}", "agent.py"])
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**FAST, "TMPDIR": str(temp)}
    proc = run_gait("regress", "run", "-n", "2", "--update", cwd=root, env=env, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Workers make candidates in a directory the controller owns: a worker's own scratch
    # directory would be anyone's to clean once the worker exited, while the controller still
    # reads from it.
    assert not list(temp.glob(".gait-regress.*.tmp"))
    assert "2 fixtures updated, 0 refused; re-graded after the update: pass" in proc.stdout
    assert run_gait("regress", "run", cwd=root, env=FAST).returncode == 0
