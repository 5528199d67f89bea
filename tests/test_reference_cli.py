"""A script written for the reference implementation runs here unchanged, with the reference's
exit codes (tests/data/reference_command_lines.sh), and the flags mean what they mean there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent / "data" / "reference_command_lines.sh"


def test_reference_command_lines(tmp_path: Path, gait_home: Path) -> None:
    env = {
        **os.environ,
        "GAIT_HOME": str(gait_home),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],
    }
    env.pop("REF_ALLOW_REAL", None)
    proc = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("mismatches=0")
    # What the flags did, beyond the exit codes.
    assert (tmp_path / "refkeys" / "ref_private.key").stat().st_mode & 0o777 == 0o600
    assert len(list((tmp_path / "refkeys").glob("ref_*_private.key"))) == 1  # rotated pair
    assert json.loads((tmp_path / "diff.json").read_text())
    assert (tmp_path / "gait.policy.yaml").read_text().startswith("schema_id: gait.gate.policy")


def test_version_json(run_gait) -> None:
    doc = json.loads(run_gait("version", "--json").stdout)
    assert doc["ok"] is True and doc["version"].count(".") == 2


def test_policy_fmt_prints_without_write(run_gait, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    messy = "rules: []\ndefault_verdict: allow\n"
    policy.write_text(messy)
    printed = run_gait("policy", "fmt", str(policy))
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("default_verdict: allow\nrules:")
    assert policy.read_text() == messy  # untouched
    assert run_gait("policy", "fmt", str(policy), "--check").returncode == 2
    assert run_gait("policy", "fmt", str(policy), "--write").returncode == 0
    assert policy.read_text() == printed.stdout
    assert run_gait("policy", "fmt", str(policy), "--check").returncode == 0


def test_real_replay_env_var_is_the_one_named(run_gait, tmp_path: Path) -> None:
    run_gait("demo", cwd=tmp_path)
    flags = ("--real-tools", "--unsafe-real-tools", "--allow-tools", "tool.search")
    named = run_gait(
        "run",
        "replay",
        "run_demo",
        *flags,
        "--unsafe-real-tools-env",
        "MY_ALLOW",
        "--json",
        cwd=tmp_path,
        env={"GAIT_ALLOW_REAL_REPLAY": "1"},
    )
    assert named.returncode == 8
    assert "MY_ALLOW=1" in json.loads(named.stdout)["missing_interlocks"]
    opened = run_gait(
        "run",
        "replay",
        "run_demo",
        *flags,
        "--unsafe-real-tools-env",
        "MY_ALLOW",
        "--json",
        cwd=tmp_path,
        env={"MY_ALLOW": "1"},
    )
    # Every interlock is open: what remains is gait's own need for a tool registry.
    doc = json.loads(opened.stdout)
    assert opened.returncode == 8 and doc["missing_interlocks"] == ["--tool-registry module:attr"]


def test_keys_init_into_a_checkout_warns_unless_ignored(run_gait, tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    proc = run_gait("keys", "init", "--key-mode", "prod", "--out", "./keys", cwd=tmp_path)
    assert proc.returncode == 0
    assert "not git-ignored" in proc.stderr
    (tmp_path / ".gitignore").write_text("keys2/\n")
    quiet = run_gait("keys", "init", "--key-mode", "prod", "--out", "./keys2", cwd=tmp_path)
    assert quiet.returncode == 0 and "not git-ignored" not in quiet.stderr
    outside = tmp_path.parent / f"{tmp_path.name}_outside"
    outside.mkdir()
    plain = run_gait("keys", "init", "--out-dir", "k", cwd=outside)
    assert plain.returncode == 0 and "git" not in plain.stderr


def test_policy_with_yaml_anchors_loads_like_its_expansion(run_gait, tmp_path: Path) -> None:
    """PyYAML's safe_dump writes anchors and aliases for a list used twice; the reference reads
    such a policy, so gait does too (through the one bounded YAML loader)."""
    import copy

    import yaml

    tools = ["tool.write", "tool.delete"]
    policy = {
        "schema_id": "gait.gate.policy",
        "schema_version": "1.0.0",
        "default_verdict": "allow",
        "rules": [
            {
                "name": "a",
                "priority": 1,
                "effect": "require_approval",
                "match": {"tool_names": tools},
            },
            {"name": "b", "priority": 2, "effect": "block", "match": {"tool_names": tools}},
        ],
    }
    anchored = yaml.safe_dump(policy, sort_keys=False)
    assert "&id001" in anchored and "*id001" in anchored
    (tmp_path / "anchored.yaml").write_text(anchored)
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump(copy.deepcopy(policy), sort_keys=False))
    digests = []
    for name in ("anchored.yaml", "plain.yaml"):
        proc = run_gait("policy", "validate", name, "--json", cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        digests.append(json.loads(proc.stdout)["policy_digest"])
    assert digests[0] == digests[1]


def test_keys_init_reports_its_prefix_and_refuses_a_dev_key_with_a_directory(
    run_gait, tmp_path: Path
) -> None:
    doc = json.loads(
        run_gait("keys", "init", "--out-dir", "k", "--prefix", "ci", "--json", cwd=tmp_path).stdout
    )
    assert doc["prefix"] == "ci" and doc["private_key_path"] == "k/ci_private.key"
    proc = run_gait("keys", "init", "--key-mode", "dev", "--out-dir", "k2", cwd=tmp_path)
    assert proc.returncode == 6 and "E_USAGE" in proc.stderr
    bad = run_gait("keys", "init", "--prefix", "../escape", cwd=tmp_path)
    assert bad.returncode == 6 and not (tmp_path / "escape_private.key").exists()
