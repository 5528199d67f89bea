"""``gait doctor`` through the CLI, each check made to fail for real in a throwaway environment.

Tests run as root, so permission bits stop nothing: an unwritable GAIT_HOME is a path under a
regular file (or under /proc); a missing dependency is a broken package that shadows the real one
on PYTHONPATH; missing schemas are a copy of the package without them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gait import doctor, schema

REPO = Path(__file__).resolve().parents[1]


def _run_py(
    code: str, *args: str, home: Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter after ``code`` (which may break the environment)."""
    script = code + "\nimport sys\nfrom gait.cli.main import main\nsys.exit(main(sys.argv[1:]))\n"
    full_env = {**os.environ, "GAIT_HOME": str(home), **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _doc(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.stdout.count("\n") == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)
    assert schema.errors("gait.doctor.result", doc) == []
    return doc


def _check(doc: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(c for c in doc["checks"] if c["id"] == check_id)


def test_healthy_environment_passes_and_json_is_stable(run_gait, tmp_path: Path) -> None:
    first = run_gait("doctor", "--json", cwd=tmp_path)
    second = run_gait("doctor", "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout == second.stdout
    doc = _doc(first)
    assert doc["ok"] is True and doc["status"] == "pass" and doc["non_fixable"] is False
    assert doc["fix_commands"] == []
    ids = [c["id"] for c in doc["checks"]]
    for expected in (
        "python_version",
        "dependency.pytest",
        "dependency.cryptography",
        "dependency.pynacl",
        "pytest_plugin",
        "optional.pytest-xdist",
        "schemas",
        "gait_home",
        "output_dir",
        "trust_store",
        "signing_keys",
        "dev_keys_in_prod",
        "clock",
        "disk_space",
    ):
        assert expected in ids
    assert "created_at" not in doc
    human = run_gait("doctor", cwd=tmp_path)
    assert human.returncode == 0
    assert human.stdout.startswith("doctor: status=pass")
    assert len(human.stdout.splitlines()) <= 12


def test_gait_home_under_a_regular_file(run_gait, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    home = blocker / "home"
    proc = run_gait("doctor", "--json", cwd=tmp_path, env={"GAIT_HOME": str(home)})
    assert proc.returncode == 0
    doc = _doc(proc)
    check = _check(doc, "gait_home")
    assert check["status"] == "fail" and "is a file" in check["message"]
    assert check["fix"] == 'export GAIT_HOME="$HOME/.gait"'
    assert doc["ok"] is False and doc["non_fixable"] is False
    assert _check(doc, "trust_store")["status"] == "fail"
    strict = run_gait("doctor", "--strict", cwd=tmp_path, env={"GAIT_HOME": str(home)})
    assert strict.returncode == 2
    assert "FAIL gait_home" in strict.stdout and "Traceback" not in strict.stderr


def test_gait_home_exists_but_unwritable(run_gait, tmp_path: Path) -> None:
    target = Path("/proc")
    if not target.is_dir() or os.access(target, os.W_OK) and doctor._probe_write(target) == "":
        pytest.skip("needs a directory that even root cannot write to")
    proc = run_gait("doctor", "--json", cwd=tmp_path, env={"GAIT_HOME": str(target)})
    check = _check(_doc(proc), "gait_home")
    assert check["status"] == "fail" and "not writable" in check["message"]


def test_output_dir_is_a_file_and_disk_space(run_gait, tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    proc = run_gait("doctor", "--json", "--output-dir", "out", cwd=tmp_path)
    assert _check(_doc(proc), "output_dir")["status"] == "fail"
    proc = run_gait("doctor", "--json", "--min-free-mb", str(10**12), cwd=tmp_path)
    check = _check(_doc(proc), "disk_space")
    assert check["status"] == "fail" and "MiB free" in check["message"]
    bad = run_gait("doctor", "--min-free-mb", "-1", cwd=tmp_path)
    assert bad.returncode == 6 and "E_USAGE" in bad.stderr


def test_corrupt_trust_store(run_gait, gait_home: Path, tmp_path: Path) -> None:
    (gait_home / "keyring.json").write_text("{not json")
    proc = run_gait("doctor", "--json", cwd=tmp_path)
    assert proc.returncode == 0
    doc = _doc(proc)
    check = _check(doc, "trust_store")
    assert check["status"] == "fail" and "E_TRUST_STORE_INVALID" in check["message"]
    assert "fix" not in check  # removing a trust store is not safe to paste
    assert run_gait("doctor", "--strict", cwd=tmp_path).returncode == 2


def test_corrupt_dev_key(run_gait, gait_home: Path, tmp_path: Path) -> None:
    (gait_home / "keys").mkdir()
    (gait_home / "keys" / "dev_private.key").write_text("not base64!\n")
    check = _check(_doc(run_gait("doctor", "--json", cwd=tmp_path)), "signing_keys")
    assert check["status"] == "fail" and "corrupt" in check["message"]


def test_dev_keys_configured_in_production_mode(run_gait, tmp_path: Path) -> None:
    assert run_gait("keys", "init", "--key-mode", "dev").returncode == 0
    dev = _doc(run_gait("doctor", "--json", cwd=tmp_path))
    assert _check(dev, "dev_keys_in_prod")["status"] == "pass"
    assert _check(dev, "signing_keys")["message"].startswith("dev mode: dev key")
    proc = run_gait("doctor", "--json", cwd=tmp_path, env={"GAIT_MODE": "prod"})
    doc = _doc(proc)
    assert doc["mode"] == "prod" and proc.returncode == 0
    check = _check(doc, "dev_keys_in_prod")
    assert check["status"] == "fail" and check["fix"].startswith("gait keys untrust ")
    keys = _check(doc, "signing_keys")
    assert keys["status"] == "fail" and keys["fix"].startswith("gait keys init --key-mode prod")
    # The fix commands are safe to paste: run them and the checks pass.
    for command in doc["fix_commands"]:
        for part in command.split(" && "):
            argv = part.split()
            assert argv[0] == "gait"
            assert run_gait(*argv[1:], cwd=tmp_path).returncode == 0, part
    fixed = _doc(run_gait("doctor", "--json", "--key-mode", "prod", cwd=tmp_path))
    assert _check(fixed, "dev_keys_in_prod")["status"] == "pass"
    assert _check(fixed, "signing_keys")["status"] == "pass"
    assert fixed["ok"] is True


def test_missing_dependency_exits_7(tmp_path: Path, gait_home: Path) -> None:
    shadow = tmp_path / "shadow" / "junit_xml"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('simulated broken install')\n")
    env = {"PYTHONPATH": str(tmp_path / "shadow")}
    proc = _run_py("", "doctor", "--json", home=gait_home, cwd=tmp_path, env=env)
    assert proc.returncode == 7, proc.stdout + proc.stderr
    doc = _doc(proc)
    check = _check(doc, "dependency.junit-xml")
    assert check["status"] == "fail" and check["non_fixable"] is True
    assert "simulated broken install" in check["message"]
    assert check["fix"].endswith("-m pip install 'junit-xml>=1.9'")
    assert doc["non_fixable"] is True and doc["ok"] is False
    human = _run_py("", "doctor", home=gait_home, cwd=tmp_path, env=env)
    assert human.returncode == 7 and "FAIL dependency.junit-xml" in human.stdout


def test_check_dependency_on_a_module_that_does_not_exist() -> None:
    check = doctor.check_dependency("no-such-dist", "gait_no_such_module_xyz", ">=1")
    assert check.status == "fail" and check.non_fixable
    report = doctor.run_doctor(
        doctor.Options(required=[("no-such-dist", "gait_no_such_module_xyz", ">=1")])
    )
    assert report.exit_code() == 7


def test_schemas_missing_from_a_broken_install(tmp_path: Path, gait_home: Path) -> None:
    broken = tmp_path / "site"
    shutil.copytree(REPO / "gait", broken / "gait", ignore=shutil.ignore_patterns("__pycache__"))
    proc = _run_py(
        "", "doctor", "--json", home=gait_home, cwd=tmp_path, env={"PYTHONPATH": str(broken)}
    )
    assert proc.returncode == 7, proc.stdout + proc.stderr
    check = _check(json.loads(proc.stdout), "schemas")
    assert check["status"] == "fail" and check["non_fixable"] is True
    assert "pip install --force-reinstall pytest-gait" in check["message"]


def test_pytest_plugin_not_registered(tmp_path: Path, gait_home: Path) -> None:
    hide = textwrap.dedent(
        """
        import importlib.metadata as md
        _real = md.entry_points
        def _without_gait(**kw):
            found = _real(**kw)
            if kw.get("group") == "pytest11":
                return [ep for ep in found if ep.name != "gait"]
            return found
        md.entry_points = _without_gait
        """
    )
    proc = _run_py(hide, "doctor", "--json", home=gait_home, cwd=tmp_path)
    assert proc.returncode == 7
    assert _check(_doc(proc), "pytest_plugin")["status"] == "fail"


def test_clock_before_release(tmp_path: Path, gait_home: Path) -> None:
    proc = _run_py(
        "import time\ntime.time = lambda: 946684800.0",
        "doctor",
        "--json",
        home=gait_home,
        cwd=tmp_path,
    )
    assert proc.returncode == 0
    check = _check(_doc(proc), "clock")
    assert check["status"] == "fail" and "before 2026-01-01" in check["message"]


def test_python_too_old(tmp_path: Path, gait_home: Path) -> None:
    code = "import sys\nsys.version_info = (3, 10, 4, 'final', 0)"
    proc = _run_py(code, "doctor", "--json", home=gait_home, cwd=tmp_path)
    assert proc.returncode == 7
    check = _check(json.loads(proc.stdout), "python_version")
    assert check["status"] == "fail" and "3.10.4" in check["message"]


def test_a_crashing_check_is_reported_not_raised() -> None:
    def boom() -> doctor.Check:
        raise RuntimeError("kaput")

    check = doctor._guarded("x", boom)
    assert check.status == "fail" and "kaput" in check.message


def test_explain_changes_nothing(run_gait, gait_home: Path, tmp_path: Path) -> None:
    proc = run_gait("doctor", "--explain", cwd=tmp_path)
    assert proc.returncode == 0 and "gait doctor checks" in proc.stdout
    assert list(gait_home.iterdir()) == []


def test_cli_not_on_path_and_bad_mode(tmp_path: Path, gait_home: Path) -> None:
    proc = _run_py(
        "", "doctor", "--json", home=gait_home, cwd=tmp_path, env={"PATH": "/nonexistent"}
    )
    assert proc.returncode == 0, proc.stderr
    check = _check(_doc(proc), "cli_on_path")
    assert check["status"] == "warn" and "-m gait" in check["message"]
    bad = _run_py("", "doctor", home=gait_home, cwd=tmp_path, env={"GAIT_MODE": "staging"})
    assert bad.returncode == 6 and bad.stderr.startswith("gait: E_USAGE: ")
