"""Both directions of runpack interop with the reference implementation (Gait v1, Go)."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import shlex
import shutil
import zipfile
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gait.demo import demo_input
from gait.runpack.writer import write_record_input
from gait.sign.keys import SigningKey

SHARED_FIELDS = (
    "ok",
    "run_id",
    "manifest_digest",
    "files_checked",
    "missing_files",
    "hash_mismatches",
    "signature_status",
    "signature_errors",
    "signatures_total",
    "signatures_valid",
    "signature_note",
)


def _verify_commands(conformance_dir: Path) -> list[tuple[str, int, list[str]]]:
    rows = []
    with open(conformance_dir / "reference" / "runpacks" / "commands.tsv") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            argv = shlex.split(row["command (reference CLI)"])
            if argv[1] == "verify":
                rows.append((row["file"], int(row["exit"]), argv[2:]))
    return rows


def test_reference_verify_outputs_are_reproduced(conformance_dir, run_gait, tmp_path):
    """Every `gait verify` the reference ran on its runpacks gives the same answer here."""
    workdir = tmp_path / "runpacks"
    shutil.copytree(conformance_dir / "reference" / "runpacks", workdir)
    (workdir / "gait-out").mkdir()
    for pack in workdir.glob("runpack_run_*.zip"):
        if "tampered" not in pack.name:
            shutil.copy(pack, workdir / "gait-out" / pack.name)
    keys = tmp_path / "keys"
    shutil.copytree(conformance_dir / "reference" / "keys", keys)
    scenarios = tmp_path / "scenarios" / "approval-token-valid"
    scenarios.mkdir(parents=True)
    shutil.copy(
        conformance_dir / "scenarios" / "approval-token-valid" / "approval_public.key", scenarios
    )
    rows = _verify_commands(conformance_dir)
    assert len(rows) >= 9
    for name, expected_exit, args in rows:
        args = [
            a.replace("../../scenarios/", str(tmp_path / "scenarios") + "/").replace(
                "../keys/", str(keys) + "/"
            )
            for a in args
        ]
        proc = run_gait("verify", *args[:-1], "--json", cwd=workdir)
        expected = json.loads((workdir / name).read_text())
        got = json.loads(proc.stdout)
        assert proc.returncode == expected_exit, (name, proc.stdout)
        for field in SHARED_FIELDS:
            assert got.get(field) == expected.get(field), (name, field)


def test_reference_demo_runpack_verifies(conformance_dir, run_gait):
    pack = conformance_dir / "reference" / "demo" / "runpack_run_demo.zip"
    proc = run_gait("verify", str(pack), "--json")
    doc = json.loads(proc.stdout)
    expected = json.loads(
        (conformance_dir / "reference" / "demo" / "verify_run_demo.json").read_text()
    )
    assert proc.returncode == 0
    for field in SHARED_FIELDS:
        assert doc.get(field) == expected.get(field), field
    human = run_gait("verify", str(pack))
    assert "unsigned" in human.stdout


def test_our_demo_content_equals_the_reference_demo(conformance_dir, tmp_path):
    """With the reference's producer version and runtime, our demo run is its bytes exactly."""
    written = write_record_input(
        demo_input(producer_version="0.0.0-dev", runtime="go"),
        tmp_path / "demo.zip",
        evidence_mode_default="",
    )
    assert written.manifest_digest == (
        "436474ad70446539c909ae85bcc156d30197ba68efb8debdaed4f5d2eef2922e"
    )
    with zipfile.ZipFile(conformance_dir / "reference" / "demo" / "runpack_run_demo.zip") as ref:
        with zipfile.ZipFile(written.path) as mine:
            for name in ref.namelist():
                assert mine.read(name) == ref.read(name), name


@pytest.mark.parametrize(
    ("name", "capture", "signed"),
    [
        ("run_ref", None, False),
        ("run_raw", "raw", False),
        ("run_signed", None, True),
        ("run_changed", None, False),
    ],
)
def test_record_inputs_give_the_reference_bytes(conformance_dir, tmp_path, name, capture, signed):
    base = conformance_dir / "reference"
    doc = json.loads((base / "inputs" / f"{name}.json").read_text())
    keys = (
        [SigningKey.from_text((base / "keys" / "gait_private.key").read_text())] if signed else []
    )
    written = write_record_input(
        doc, tmp_path / f"{name}.zip", capture_mode=capture, signing_keys=keys
    )
    with zipfile.ZipFile(base / "runpacks" / f"runpack_{name}.zip") as ref:
        with zipfile.ZipFile(written.path) as mine:
            assert mine.namelist() == ref.namelist()
            for member in ref.namelist():
                assert mine.read(member) == ref.read(member), member


def test_demo_signature_checks_from_formats_alone(run_gait, tmp_path, gait_home):
    """Recompute the demo's digests and check its signature with nothing but FORMATS.md 1-3:
    rfc8785 for JCS, hashlib, and cryptography's raw Ed25519 verify."""
    assert run_gait("demo", cwd=tmp_path).returncode == 0
    with zipfile.ZipFile(tmp_path / "gait-out" / "runpack_run_demo.zip") as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    for entry in manifest["files"]:
        assert hashlib.sha256(members[entry["path"]]).hexdigest() == entry["sha256"]
    assert members["manifest.json"] == rfc8785.dumps(manifest)
    signatures = manifest.pop("signatures")
    stored_digest = manifest["manifest_digest"]
    signed_digest = hashlib.sha256(rfc8785.dumps(manifest)).hexdigest()
    manifest["manifest_digest"] = ""
    assert hashlib.sha256(rfc8785.dumps(manifest)).hexdigest() == stored_digest
    public_raw = base64.b64decode((gait_home / "keys" / "dev_public.key").read_text().strip())
    (sig,) = signatures
    assert sig["alg"] == "ed25519"
    assert sig["key_id"] == hashlib.sha256(public_raw).hexdigest()
    assert sig["signed_digest"] == signed_digest
    Ed25519PublicKey.from_public_bytes(public_raw).verify(
        base64.b64decode(sig["sig"]), bytes.fromhex(signed_digest)
    )


def test_rotated_keys_keep_verifying_old_runpacks(run_gait, tmp_path):
    assert (
        run_gait("keys", "init", "--key-mode", "prod", "--out", "k", cwd=tmp_path).returncode == 0
    )
    old = SigningKey.from_text((tmp_path / "k" / "gait_private.key").read_text())
    pack = write_record_input(demo_input(), tmp_path / "old.zip", signing_keys=[old]).path
    rotated = run_gait("keys", "rotate", "--out", "k", "--json", cwd=tmp_path)
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout)["rotated"] == [old.key_id]
    proc = run_gait("verify", str(pack), "--json", "--profile", "strict", cwd=tmp_path)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and doc["signer_key_id"] == old.key_id
    assert doc["signer_trusted"] and doc["signing_mode"] == "prod"
    listing = json.loads(run_gait("keys", "list", "--json", cwd=tmp_path).stdout)["keys"]
    assert sorted(k["status"] for k in listing) == ["active", "rotated"]


def test_dev_signed_runpack_fails_in_production_mode(run_gait, tmp_path):
    assert run_gait("demo", cwd=tmp_path).returncode == 0
    proc = run_gait("verify", "run_demo", "--json", cwd=tmp_path, env={"GAIT_MODE": "prod"})
    assert proc.returncode == 2
    assert "E_VERIFY_UNTRUSTED_SIGNER" in json.loads(proc.stdout)["error_codes"]


def test_untrusting_a_key(run_gait, tmp_path, gait_home):
    assert run_gait("demo", cwd=tmp_path).returncode == 0
    key_id = json.loads(run_gait("keys", "list", "--json").stdout)["keys"][0]["key_id"]
    assert run_gait("keys", "untrust", key_id).returncode == 0
    proc = run_gait("verify", "run_demo", "--json", "--require-trusted", cwd=tmp_path)
    assert proc.returncode == 2


def test_corrupt_trust_store_is_a_clear_error(run_gait, tmp_path, gait_home):
    assert run_gait("demo", cwd=tmp_path).returncode == 0
    (gait_home / "keyring.json").write_text("{broken")
    proc = run_gait("verify", "run_demo", cwd=tmp_path)
    assert proc.returncode == 6 and "E_TRUST_STORE_INVALID" in proc.stderr
    assert "Traceback" not in proc.stderr
