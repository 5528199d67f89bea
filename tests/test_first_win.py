"""The first five minutes, through the installed CLI: demo, verify by id and path, determinism,
and the CLI contract (--json, --explain, exit codes, no tracebacks)."""

from __future__ import annotations

import json
import re
import time
import zipfile
from pathlib import Path

import pytest

FOOTER = re.compile(
    r"^GAIT run_id=([A-Za-z0-9_-]+) manifest=sha256:([a-f0-9]{64}) "
    r'verify="gait verify ([A-Za-z0-9_-]+)"$'
)


def test_demo_prints_the_contract_lines(run_gait, tmp_path):
    proc = run_gait("demo", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    keys = [line.split("=", 1)[0] for line in lines]
    assert keys == ["mode", "run_id", "bundle", "ticket_footer", "verify", "next"]
    values = dict(line.split("=", 1) for line in lines)
    assert values["mode"] == "standard" and values["run_id"] == "run_demo"
    assert values["bundle"] == "./gait-out/runpack_run_demo.zip"
    assert values["verify"] == "ok"
    match = FOOTER.match(values["ticket_footer"])
    assert match and match.group(1) == match.group(3) == "run_demo"
    assert (tmp_path / "gait-out" / "runpack_run_demo.zip").is_file()
    assert "dev mode" in proc.stderr
    for command in values["next"].split(","):
        assert command.startswith("gait "), command


def test_demo_content_follows_formats(run_gait, tmp_path):
    assert run_gait("demo", cwd=tmp_path).returncode == 0
    with zipfile.ZipFile(tmp_path / "gait-out" / "runpack_run_demo.zip") as archive:
        assert archive.namelist() == [
            "intents.jsonl",
            "manifest.json",
            "refs.json",
            "results.jsonl",
            "run.json",
        ]
        for info in archive.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert (info.external_attr >> 16) & 0o777 == 0o644
        run = json.loads(archive.read("run.json"))
        manifest = json.loads(archive.read("manifest.json"))
        intents = [json.loads(x) for x in archive.read("intents.jsonl").splitlines()]
        assert not archive.read("run.json").endswith(b"\n")
    assert run["env"] == {"os": "demo", "arch": "demo", "runtime": "python"}
    assert [t["ts"] for t in run["timeline"]] == ["2026-02-05T00:00:00Z", "2026-02-05T00:00:02Z"]
    assert [i["tool_name"] for i in intents] == ["tool.search", "tool.fetch", "tool.summarize"]
    assert all("args" not in i for i in intents)
    assert manifest["capture_mode"] == "reference"
    assert set(manifest) == {
        "schema_id",
        "schema_version",
        "created_at",
        "producer_version",
        "run_id",
        "capture_mode",
        "files",
        "manifest_digest",
        "signatures",
    }


def test_verify_by_run_id_from_any_directory_and_by_path(run_gait, tmp_path):
    assert run_gait("demo", cwd=tmp_path).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    by_id = run_gait("verify", "run_demo", cwd=elsewhere)
    assert by_id.returncode == 0, by_id.stderr
    assert by_id.stdout.startswith("verify=ok run_id=run_demo")
    assert "signature=verified" in by_id.stdout and "mode=dev" in by_id.stdout
    by_path = run_gait("verify", "./gait-out/runpack_run_demo.zip", "--json", cwd=tmp_path)
    doc = json.loads(by_path.stdout)
    assert doc["ok"] and doc["signature_status"] == "verified" and doc["signer_trusted"]
    assert doc["path"] == "./gait-out/runpack_run_demo.zip"
    assert [c["name"] for c in doc["checks"]] == [
        "archive",
        "members_present",
        "members_listed",
        "member_hashes",
        "manifest_digest",
        "signature",
        "signer_trust",
        "schemas",
        "unique_ids",
    ]


def test_verify_json_is_byte_identical_across_runs_hashseed_and_tz(run_gait, tmp_path):
    assert run_gait("demo", cwd=tmp_path).returncode == 0
    args = ("verify", "./gait-out/runpack_run_demo.zip", "--json")
    outputs = {
        run_gait(*args, cwd=tmp_path, env=env).stdout
        for env in (
            {"PYTHONHASHSEED": "0", "TZ": "UTC"},
            {"PYTHONHASHSEED": "12345", "TZ": "Asia/Kolkata"},
            {"PYTHONHASHSEED": "random", "TZ": "America/Los_Angeles", "LC_ALL": "C"},
        )
    }
    assert len(outputs) == 1


def test_demo_is_deterministic_except_for_nothing(run_gait, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    run_gait("demo", cwd=first)
    run_gait("demo", cwd=second, env={"PYTHONHASHSEED": "7", "TZ": "Europe/Paris"})
    a = (first / "gait-out" / "runpack_run_demo.zip").read_bytes()
    b = (second / "gait-out" / "runpack_run_demo.zip").read_bytes()
    assert a == b  # same dev key (same GAIT_HOME), Ed25519 is deterministic


@pytest.mark.parametrize("command", ["demo", "verify run_demo", "keys init", "keys list"])
def test_explain_says_and_does_nothing(run_gait, tmp_path, command):
    proc = run_gait(*command.split(), "--explain", cwd=tmp_path)
    assert proc.returncode == 0 and len(proc.stdout.strip()) > 20
    assert not (tmp_path / "gait-out").exists()


def test_usage_errors_are_exit_6_without_traceback(run_gait, tmp_path):
    for args in (["nosuch"], ["verify"], ["verify", "a", "--bogus"], ["keys"]):
        proc = run_gait(*args, cwd=tmp_path)
        assert proc.returncode == 6, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and "E_USAGE" in proc.stderr
    proc = run_gait("verify", "--json", "--bogus", cwd=tmp_path)
    doc = json.loads(proc.stdout)
    assert doc["error_code"] == "E_USAGE" and doc["error_category"] == "invalid_input"


def test_unknown_run_id_names_close_ones(run_gait, tmp_path):
    run_gait("demo", cwd=tmp_path)
    proc = run_gait("verify", "run_dem", "--json", cwd=tmp_path)
    assert proc.returncode == 6
    doc = json.loads(proc.stdout)
    assert doc["error_code"] == "E_RUNPACK_NOT_FOUND"
    assert doc["closest_run_ids"] == ["run_demo"]


def test_version_and_help_are_fast(run_gait):
    start = time.perf_counter()
    proc = run_gait("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("gait ")
    assert time.perf_counter() - start < 5
    helped = run_gait("--help")
    assert helped.returncode == 0 and "demo" in helped.stdout


def test_version_imports_nothing_heavy():
    import subprocess
    import sys

    code = (
        "import sys; from gait.cli.main import main; main(['--version']);"
        "heavy=[m for m in ('cryptography','jsonschema','yaml','rfc8785','pytest','nacl')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_correlation_id_has_no_path_leak(run_gait, tmp_path):
    run_gait("demo", cwd=tmp_path)
    one = json.loads(run_gait("verify", "run_demo", "--json", cwd=tmp_path).stdout)
    other_dir = tmp_path / "x"
    other_dir.mkdir()
    two = json.loads(run_gait("verify", "run_demo", "--json", cwd=other_dir).stdout)
    assert one["correlation_id"] == two["correlation_id"]


def test_private_keys_are_0600_and_never_printed(run_gait, tmp_path, gait_home: Path):
    proc = run_gait("keys", "init", "--key-mode", "prod", "--out", "k", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    private = tmp_path / "k" / "gait_private.key"
    assert private.stat().st_mode & 0o777 == 0o600
    secret = private.read_text().strip()
    assert secret not in proc.stdout + proc.stderr
    listing = run_gait("keys", "list", "--json", cwd=tmp_path)
    assert secret not in listing.stdout
    keys = json.loads(listing.stdout)["keys"]
    assert [k["mode"] for k in keys] == ["prod"]
    again = run_gait("keys", "init", "--key-mode", "prod", "--out", "k", cwd=tmp_path)
    assert again.returncode == 6 and "E_KEY_EXISTS" in again.stderr
    dev = run_gait("keys", "init", "--key-mode", "dev", "--json", cwd=tmp_path)
    assert json.loads(dev.stdout)["mode"] == "dev"
    assert (gait_home / "keys" / "dev_private.key").stat().st_mode & 0o777 == 0o600


def test_explain_needs_no_required_arguments(run_gait, tmp_path):
    for command in (["verify"], ["run", "diff"], ["gate", "eval"], ["approve"]):
        proc = run_gait(*command, "--explain", cwd=tmp_path)
        assert proc.returncode == 0, (command, proc.stderr)
        assert proc.stdout.strip()


def test_demo_policy_matches_the_reference_demo(run_gait, tmp_path, conformance_dir):
    proc = run_gait("demo", "--policy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    reference = (conformance_dir / "reference" / "demo" / "demo_policy.stdout.txt").read_text()
    wanted = ("mode", "bundle", "pack_path", "policy_verdict", "matched_rule", "reason_codes")
    ours = dict(line.split("=", 1) for line in proc.stdout.splitlines())
    theirs = dict(line.split("=", 1) for line in reference.splitlines())
    for key in wanted:
        assert ours[key] == theirs[key], key
    for command in ours["next"].split(","):
        argv = command.split()
        assert argv[0] == "gait"
        ran = run_gait(*argv[1:], cwd=tmp_path)
        assert ran.returncode in (0, 3), (command, ran.stderr)
