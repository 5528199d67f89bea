"""Guard evidence packs, their rendered report, retention, encryption and incident bundles,
through the CLI; the report is read back (pypdf) and drawn (pypdfium2), not just found."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import rfc8785


def _json(proc) -> dict:  # noqa: ANN001
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {i.filename: archive.read(i) for i in archive.infolist()}


def _rezip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def _built(
    tmp_path_factory: pytest.TempPathFactory, conformance_dir: Path
) -> tuple[Path, Path, dict]:
    """Built once per module: a demo run, an approved gate decision (the reference's
    approval-token scenario) and a guard pack with its rendered PDF, in their own directory and
    GAIT_HOME. The demo and the PDF rendering are the slow part; the tests below each get a
    copy of both directories, never these."""
    from conftest import gait_executable

    work, home = tmp_path_factory.mktemp("guard_work"), tmp_path_factory.mktemp("guard_home")
    env = {**os.environ, "GAIT_HOME": str(home)}
    env.pop("GAIT_MODE", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*gait_executable(), *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert run("demo").returncode == 0
    scenario = conformance_dir / "reference-scenarios" / "approval-token-valid"
    proc = run(
        "gate",
        "eval",
        "--policy",
        str(scenario / "policy.yaml"),
        "--intent",
        str(scenario / "intent.json"),
        "--approval-token",
        str(scenario / "approval-token.json"),
        "--approval-public-key",
        str(scenario / "approval_public.key"),
        "--json",
    )
    assert _json(proc)["verdict"] == "allow", proc.stdout
    proc = run(
        "guard",
        "pack",
        "--run",
        "run_demo",
        "--trace",
        "gait-out/traces",
        "--render-pdf",
        "--case-id",
        "INC-42",
        "--json",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work, home, _json(proc)


@pytest.fixture
def workspace(_built: tuple[Path, Path, dict], tmp_path: Path, gait_home: Path) -> Path:
    """A demo run and an approved gate decision, with this test's GAIT_HOME holding the dev key
    that signed them (a copy of the module's build, so a test changes only its own)."""
    work, home, _ = _built
    shutil.copytree(work, tmp_path, dirs_exist_ok=True, symlinks=True)
    shutil.copytree(home, gait_home, dirs_exist_ok=True, symlinks=True)
    return tmp_path


@pytest.fixture
def evidence_pack(workspace: Path, _built: tuple[Path, Path, dict]) -> tuple[Path, dict]:
    """``gait guard pack --run run_demo --trace gait-out/traces --render-pdf --case-id INC-42``
    in the workspace, and its --json output."""
    doc = _built[2]
    return workspace / doc["pack_path"], doc


def test_report_pdf_says_what_ran_was_decided_approved_and_verifies(
    evidence_pack: tuple[Path, dict],
) -> None:
    import pypdf
    import pypdfium2

    path, doc = evidence_pack
    members = _members(path)
    assert doc["rendered_artifacts"] == 2
    text = "\n".join(
        page.extract_text() for page in pypdf.PdfReader(io.BytesIO(members["summary.pdf"])).pages
    )
    for needle in (
        "Gait evidence report",
        "run_demo",
        "INC-42",
        "What ran",
        "tool.summarize",
        "What was decided, and by whom",
        "tool.write",
        "allow",
        "What was approved",
        "human.reviewer",
        "MANUAL_APPROVAL",
        "What verifies",
        "runpack integrity",
    ):
        assert needle in text, needle
    assert "1 of 1 signatures verify" in text and "1 of 1 granted" in text
    for name in ("source/runpack.zip", "runpack_summary.json", "approval_audit_01.json"):
        assert hashlib.sha256(members[name]).hexdigest() in text, name
    html = members["summary.html"].decode()
    assert (
        "human.reviewer" in html
        and hashlib.sha256(members["source/runpack.zip"]).hexdigest() in html
    )
    page = pypdfium2.PdfDocument(members["summary.pdf"])[0]
    image = page.render(scale=1).to_pil().convert("L")
    width, height = image.size
    assert abs(width - 595) <= 1 and abs(height - 842) <= 1  # A4 at 72 dpi
    top = image.crop((0, 0, width, height // 3))
    dark = sum(top.histogram()[:128])
    assert dark > 2000, "the report's first third draws text and tables"
    blank_bottom = image.crop((0, height - 40, width, height))
    assert sum(blank_bottom.histogram()[:241]) == 0, "margin stays empty"


def test_guard_pack_meets_reference_rules_and_verifies(
    evidence_pack: tuple[Path, dict], run_gait
) -> None:  # noqa: ANN001
    path, doc = evidence_pack
    members = _members(path)
    manifest = json.loads(members["pack_manifest.json"])
    assert manifest["schema_id"] == "gait.guard.pack_manifest"
    expected_id = (
        "pack_"
        + hashlib.sha256(
            rfc8785.dumps({"run_id": manifest["run_id"], "contents": manifest["contents"]})
        ).hexdigest()[:16]
    )
    assert manifest["pack_id"] == expected_id == doc["pack_id"]
    for entry in manifest["contents"]:
        assert hashlib.sha256(members[entry["path"]]).hexdigest() == entry["sha256"]
    signable = {k: v for k, v in manifest.items() if k != "signatures"}
    assert (
        manifest["signatures"][0]["signed_digest"]
        == hashlib.sha256(rfc8785.dumps(signable)).hexdigest()
    )
    assert [c["control_id"] for c in manifest["control_index"]] == ["CC6.6", "CC7.2", "CC8.1"]
    assert {r["format"] for r in manifest["rendered_artifacts"]} == {"pdf", "html"}
    proc = run_gait("guard", "verify", str(path), "--json")
    assert proc.returncode == 0 and _json(proc)["signature_status"] == "verified"
    assert run_gait("pack", "verify", str(path)).returncode == 0
    again = run_gait(
        "guard",
        "pack",
        "--run",
        "run_demo",
        "--trace",
        "gait-out/traces",
        "--render-pdf",
        "--case-id",
        "INC-42",
        "--out",
        "again.zip",
        cwd=path.parent.parent,
    )
    assert again.returncode == 0
    assert (path.parent.parent / "again.zip").read_bytes() == path.read_bytes(), "reproducible"


def test_swapped_or_added_member_is_named(evidence_pack: tuple[Path, dict], run_gait) -> None:  # noqa: ANN001
    path, _ = evidence_pack
    for member, code in (
        ("summary.pdf", "E_GUARD_HASH_MISMATCH"),
        ("extra.json", "E_GUARD_UNDECLARED_MEMBER"),
    ):
        members = _members(path)
        members[member] = b"%PDF-1.4 another report"
        bad = _rezip(path.with_name(f"bad_{member}.zip"), members)
        proc = run_gait("guard", "verify", str(bad), "--json")
        doc = _json(proc)
        assert proc.returncode == 2 and doc["error_code"] == code and member in doc["failing_link"]


def test_missing_pdf_font_is_named(workspace: Path, run_gait) -> None:  # noqa: ANN001
    proc = run_gait(
        "guard",
        "pack",
        "--run",
        "run_demo",
        "--render-pdf",
        "--pdf-font",
        "nope.ttf",
        "--json",
        cwd=workspace,
    )
    assert proc.returncode == 6 and _json(proc)["error_code"] == "E_PDF_FONT_MISSING"
    assert "nope.ttf" in _json(proc)["error"], "the missing font is named"


def test_encrypt_decrypt_and_wrong_key(evidence_pack: tuple[Path, dict], run_gait) -> None:  # noqa: ANN001
    path, _ = evidence_pack
    key = base64.b64encode(os.urandom(32)).decode()
    other = base64.b64encode(os.urandom(32)).decode()
    env = {"PACK_KEY": key, "OTHER_KEY": other}
    sealed = run_gait(
        "guard", "encrypt", "--in", str(path), "--key-env", "PACK_KEY", "--json", env=env
    )
    assert sealed.returncode == 0, sealed.stderr
    enc = Path(_json(sealed)["path"])
    assert path.read_bytes() not in enc.read_bytes()
    out = path.with_name("plain.zip")
    wrong = run_gait(
        "guard",
        "decrypt",
        "--in",
        str(enc),
        "--out",
        str(out),
        "--key-env",
        "OTHER_KEY",
        "--json",
        env=env,
    )
    assert wrong.returncode == 2 and _json(wrong)["error_code"] == "E_GUARD_DECRYPT_FAILED"
    assert enc.name in _json(wrong)["error"], "the file that failed to decrypt is named"
    assert not out.exists()
    script = path.with_name("key.sh")
    script.write_text(f"#!/bin/sh\necho {key}\n")
    script.chmod(0o755)
    right = run_gait(
        "guard",
        "decrypt",
        "--in",
        str(enc),
        "--out",
        str(out),
        "--key-command",
        str(script),
        "--json",
    )
    assert right.returncode == 0 and out.read_bytes() == path.read_bytes()
    missing = run_gait("guard", "decrypt", "--in", str(enc), "--json")
    assert missing.returncode == 6 and _json(missing)["error_code"] == "E_GUARD_KEY_MISSING"


def test_retain_reports_before_deleting_and_dry_run_deletes_nothing(
    tmp_path: Path, run_gait
) -> None:  # noqa: ANN001
    old = 40 * 24 * 3600
    files = {
        "a/trace_old.json": old, "a/trace_new.json": 0, "evidence_pack_pack_1.zip": old,
        "incident_pack_pack_2.zip": 0, "notes.json": old,
    }  # fmt: skip
    for name, age in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("{}")
        stamp = target.stat().st_mtime - age
        os.utime(target, (stamp, stamp))
    dry = _json(
        run_gait(
            "guard",
            "retain",
            "--root",
            ".",
            "--dry-run",
            "--report-out",
            "r.json",
            "--json",
            cwd=tmp_path,
        )
    )
    due = sorted(e["path"] for e in dry["deleted_files"])
    assert due == ["./a/trace_old.json", "./evidence_pack_pack_1.zip"] or due == [
        "a/trace_old.json",
        "evidence_pack_pack_1.zip",
    ]
    assert all((tmp_path / name).exists() for name in files)
    real = _json(
        run_gait("guard", "retain", "--root", ".", "--report-out", "r.json", "--json", cwd=tmp_path)
    )
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["deleted_files"] == real["deleted_files"] and report["dry_run"] is False
    remaining = {name for name in files if (tmp_path / name).exists()}
    assert remaining == {"a/trace_new.json", "incident_pack_pack_2.zip", "notes.json"}


def test_incident_pack_takes_the_window(workspace: Path, conformance_dir: Path, run_gait) -> None:  # noqa: ANN001
    wide = run_gait(
        "incident", "pack", "--from", "run_demo", "--window", "720h", "--json", cwd=workspace
    )
    doc = _json(wide)
    assert wide.returncode == 0 and doc["trace_count"] == 1 and doc["approval_audit_count"] == 1
    assert doc["template_id"] == "incident_response" and len(doc["policy_digests"]) == 1
    manifest = json.loads(_members(workspace / doc["pack_path"])["pack_manifest.json"])
    assert manifest["incident_window"]["window_seconds"] == 720 * 3600
    assert Path(doc["pack_path"]).name.startswith("incident_pack_")
    narrow = _json(
        run_gait(
            "incident",
            "pack",
            "--from",
            "run_demo",
            "--window",
            "1h",
            "--out",
            "n.zip",
            "--json",
            cwd=workspace,
        )
    )
    assert narrow["trace_count"] == 0
    chain = run_gait(
        "verify",
        "chain",
        "--run",
        "run_demo",
        "--trace",
        "gait-out/traces",
        "--pack",
        doc["pack_path"],
        "--json",
        cwd=workspace,
    )
    assert chain.returncode == 0, chain.stdout
    assert _json(chain)["pack"]["holds_run"] is True
    other_run = workspace / "runpack_run_ref.zip"
    other_run.write_bytes(
        (conformance_dir / "reference" / "runpacks" / "runpack_run_ref.zip").read_bytes()
    )
    built = run_gait("pack", "build", "--from", str(other_run), "--out", "p.zip", cwd=workspace)
    assert built.returncode == 0
    mismatch = run_gait(
        "verify", "chain", "--run", "run_demo", "--pack", "p.zip", "--json", cwd=workspace
    )
    assert mismatch.returncode == 2 and _json(mismatch)["error_code"] == "E_CHAIN_PACK_MISMATCH"


def test_expired_target_that_cannot_be_deleted_is_named(tmp_path: Path, run_gait) -> None:  # noqa: ANN001
    """An expired trace retention cannot remove (immutable here): E_GUARD_RETAIN_DELETE_FAILED
    naming it, after the report listing it was written."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr not installed (needed to make a file undeletable as root)")
    target = tmp_path / "trace_stuck.json"
    target.write_text("{}")
    stamp = target.stat().st_mtime - 40 * 24 * 3600
    os.utime(target, (stamp, stamp))
    if subprocess.run(["chattr", "+i", str(target)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem has no immutable attribute (chattr +i refused)")
    try:
        proc = run_gait(
            "guard", "retain", "--root", ".", "--report-out", "r.json", "--json", cwd=tmp_path
        )
        doc = _json(proc)
        assert proc.returncode == 1 and doc["error_code"] == "E_GUARD_RETAIN_DELETE_FAILED"
        assert "trace_stuck.json" in doc["error"] and "Traceback" not in proc.stderr
        report = json.loads((tmp_path / "r.json").read_text())
        assert [Path(e["path"]).name for e in report["deleted_files"]] == ["trace_stuck.json"]
        assert target.exists()
    finally:
        subprocess.run(["chattr", "-i", str(target)], capture_output=True)
