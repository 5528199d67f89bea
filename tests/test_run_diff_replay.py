"""``gait run replay|diff|inspect`` through the CLI, against the reference's runpacks."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from gait.schema import errors as schema_errors

PAIRS = [
    ("run_ref", "run_changed", [], "diff_run_ref__run_changed.json"),
    (
        "run_ref",
        "run_changed",
        ["--privacy", "metadata"],
        "diff_run_ref__run_changed.metadata.json",
    ),
    ("run_ref", "run_raw", [], "diff_run_ref__run_raw.json"),
    ("run_ref", "run_ref", [], "diff_run_ref__run_ref.json"),
]
FLAGS = ("manifest_changed", "intents_changed", "results_changed", "refs_changed")


def _pack(conformance_dir: Path, name: str) -> str:
    return str(conformance_dir / "reference" / "runpacks" / f"runpack_{name}.zip")


@pytest.mark.parametrize(("left", "right", "extra", "expected"), PAIRS)
def test_diff_flags_match_reference(
    run_gait, conformance_dir, tmp_path, left, right, extra, expected
) -> None:
    out = tmp_path / "diff.json"
    proc = run_gait(
        "run",
        "diff",
        _pack(conformance_dir, left),
        _pack(conformance_dir, right),
        *extra,
        "--json",
        "--out",
        str(out),
    )
    ref = json.loads((conformance_dir / "reference/runpacks" / expected).read_text())
    doc = json.loads(proc.stdout)
    assert proc.returncode == (0 if ref["ok"] else 2)
    assert doc["ok"] == ref["ok"] and doc["privacy"] == ref["privacy"]
    for key, value in ref["summary"].items():
        assert doc["summary"][key] == value, key
    assert schema_errors("diff_result", doc) == []
    diff_doc = json.loads(out.read_text())
    assert schema_errors("runpack_diff", diff_doc) == []
    assert diff_doc["equal"] == ref["ok"]


def test_diff_metadata_never_prints_payloads(run_gait, conformance_dir, tmp_path) -> None:
    raw = _pack(conformance_dir, "run_raw")
    changed = tmp_path / "changed.zip"
    doc = json.loads((conformance_dir / "reference/inputs/run_raw.json").read_text())
    doc["intents"][0]["args"]["query"] = "PAYLOAD-MARKER-left-out"
    src = tmp_path / "in.json"
    src.write_text(json.dumps(doc))
    assert (
        run_gait(
            "run",
            "record",
            "--input",
            str(src),
            "--capture-mode",
            "raw",
            "--out",
            str(changed),
            cwd=tmp_path,
        ).returncode
        == 0
    )
    for flags in ([], ["--json"]):
        proc = run_gait(
            "run",
            "diff",
            raw,
            str(changed),
            "--privacy",
            "metadata",
            *flags,
            "--out",
            str(tmp_path / "d.json"),
            "--html",
            str(tmp_path / "d.html"),
        )
        assert proc.returncode == 2
        for text in (
            proc.stdout,
            proc.stderr,
            (tmp_path / "d.json").read_text(),
            (tmp_path / "d.html").read_text(),
        ):
            assert "PAYLOAD-MARKER" not in text and "quoted" not in text and "hits" not in text
    full = run_gait("run", "diff", raw, str(changed), "--out", str(tmp_path / "f.json"))
    assert "$.args.query" in full.stdout
    steps = json.loads((tmp_path / "f.json").read_text())["steps"]
    change = {c["path"]: c for c in steps[0]["changes"]}["$.args.query"]
    assert change["right"] == "PAYLOAD-MARKER-left-out"


def test_diff_html_is_self_contained(run_gait, conformance_dir, tmp_path) -> None:
    page = tmp_path / "d.html"
    proc = run_gait(
        "run",
        "diff",
        _pack(conformance_dir, "run_ref"),
        _pack(conformance_dir, "run_changed"),
        "--html",
        str(page),
    )
    assert proc.returncode == 2
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "first divergent step: 0" in text
    assert "http://" not in text and "https://" not in text.replace("https://example.local", "")
    assert "<script" not in text


def _rezip(src: str, dst: Path, change) -> None:  # noqa: ANN001
    with zipfile.ZipFile(src) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members = change(members)
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_diff_non_canonical_member_is_exit_6(run_gait, conformance_dir, tmp_path) -> None:
    """Pretty-printed refs.json, its hash re-listed: verifies, but is not canonical."""
    from gait.canon import sha256_hex
    from gait.runpack.manifest import manifest_digest

    def pretty(members: dict[str, bytes]) -> dict[str, bytes]:
        refs = json.dumps(json.loads(members["refs.json"]), indent=2).encode()
        manifest = json.loads(members["manifest.json"])
        for entry in manifest["files"]:
            if entry["path"] == "refs.json":
                entry["sha256"] = sha256_hex(refs)
        manifest.pop("signatures", None)
        manifest["manifest_digest"] = manifest_digest(manifest)
        members["refs.json"] = refs
        members["manifest.json"] = json.dumps(
            manifest, separators=(",", ":"), sort_keys=True
        ).encode()
        return members

    bad = tmp_path / "runpack_pretty.zip"
    _rezip(_pack(conformance_dir, "run_ref"), bad, pretty)
    assert run_gait("verify", str(bad)).returncode == 0
    proc = run_gait("run", "diff", _pack(conformance_dir, "run_ref"), str(bad), "--json")
    assert proc.returncode == 6
    doc = json.loads(proc.stdout)
    assert doc["error_code"] == "E_DIFF_NONDETERMINISTIC_INPUT" and "refs.json" in doc["error"]


def test_diff_verifies_both_before_the_canonical_check(run_gait, conformance_dir, tmp_path) -> None:
    """Each run is reduced as soon as it is verified; a non-canonical left is still reported
    only after the right one verified (a tampered right is exit 2, not 6)."""
    bad = tmp_path / "runpack_pretty.zip"

    def pretty(members: dict[str, bytes]) -> dict[str, bytes]:
        from gait.canon import sha256_hex
        from gait.runpack.manifest import manifest_digest

        refs = json.dumps(json.loads(members["refs.json"]), indent=2).encode()
        manifest = json.loads(members["manifest.json"])
        for entry in manifest["files"]:
            if entry["path"] == "refs.json":
                entry["sha256"] = sha256_hex(refs)
        manifest.pop("signatures", None)
        manifest["manifest_digest"] = manifest_digest(manifest)
        members["refs.json"] = refs
        members["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
        return members

    _rezip(_pack(conformance_dir, "run_ref"), bad, pretty)
    tampered = str(conformance_dir / "reference/runpacks/runpack_run_ref.tampered.zip")
    proc = run_gait("run", "diff", str(bad), tampered, "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error_code"] == "E_VERIFY_HASH_MISMATCH"
    proc = run_gait("run", "diff", str(bad), _pack(conformance_dir, "run_ref"), "--json")
    assert proc.returncode == 6
    doc = json.loads(proc.stdout)
    assert doc["error_code"] == "E_DIFF_NONDETERMINISTIC_INPUT"
    assert doc["error"].startswith("left runpack member ")


def test_tampered_runpack_is_exit_2(run_gait, conformance_dir) -> None:
    tampered = str(conformance_dir / "reference/runpacks/runpack_run_ref.tampered.zip")
    for argv in (
        ["run", "replay", tampered],
        ["run", "diff", tampered, tampered],
        ["run", "inspect", tampered],
    ):
        proc = run_gait(*argv)
        assert proc.returncode == 2, argv
        assert "Traceback" not in proc.stderr and "E_VERIFY" in proc.stderr


def test_unknown_run_id_names_close_ones(run_gait, conformance_dir, tmp_path) -> None:
    (tmp_path / "gait-out").mkdir()
    shutil.copy(_pack(conformance_dir, "run_ref"), tmp_path / "gait-out")
    proc = run_gait("run", "replay", "run_rf", "--json", cwd=tmp_path)
    assert proc.returncode == 6
    doc = json.loads(proc.stdout)
    assert doc["error_code"] == "E_RUNPACK_NOT_FOUND" and "run_ref" in doc["hint"]


def test_replay_missing_results_exit_2(run_gait, conformance_dir, tmp_path) -> None:
    doc = json.loads((conformance_dir / "reference/inputs/run_ref.json").read_text())
    doc["results"] = doc["results"][:1]
    src = tmp_path / "in.json"
    src.write_text(json.dumps(doc))
    assert run_gait("run", "record", "--input", str(src), cwd=tmp_path).returncode == 0
    proc = run_gait("run", "replay", "run_ref", "--json", cwd=tmp_path)
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["missing_results"] == ["intent_2", "intent_3"]


@pytest.mark.parametrize(
    ("flags", "env", "missing"),
    [
        (
            ["--real-tools"],
            "",
            ["--unsafe-real-tools", "--allow-tools a,b", "GAIT_ALLOW_REAL_REPLAY=1"],
        ),
        (["--real-tools", "--unsafe-real-tools"], "1", ["--allow-tools a,b"]),
        (["--real-tools", "--allow-tools", "tool.write"], "1", ["--unsafe-real-tools"]),
        (["--unsafe-real-tools", "--allow-tools", "tool.write"], "1", ["--real-tools"]),
        (
            ["--real-tools", "--unsafe-real-tools", "--allow-tools", "tool.write"],
            "",
            ["GAIT_ALLOW_REAL_REPLAY=1"],
        ),
        (
            ["--real-tools", "--unsafe-real-tools", "--allow-tools", "tool.write"],
            "1",
            ["--tool-registry module:attr"],
        ),
    ],
)
def test_real_tool_interlock_matrix(run_gait, conformance_dir, flags, env, missing) -> None:
    proc = run_gait(
        "run",
        "replay",
        _pack(conformance_dir, "run_raw"),
        *flags,
        "--json",
        env={"GAIT_ALLOW_REAL_REPLAY": env},
    )
    assert proc.returncode == 8
    doc = json.loads(proc.stdout)
    assert doc["error_code"] == "E_REPLAY_REAL_TOOL_DISABLED"
    assert doc["missing_interlocks"] == missing


def test_real_replay_with_registry(run_gait, conformance_dir, tmp_path) -> None:
    (tmp_path / "my_tools.py").write_text(
        "TOOLS = {'tool.write': lambda args: {'written_bytes': len(args['content'])}}\n"
    )
    proc = run_gait(
        "run",
        "replay",
        _pack(conformance_dir, "run_raw"),
        "--real-tools",
        "--unsafe-real-tools",
        "--allow-tools",
        "tool.write",
        "--tool-registry",
        "my_tools:TOOLS",
        "--json",
        cwd=tmp_path,
        env={"GAIT_ALLOW_REAL_REPLAY": "1", "PYTHONPATH": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    steps = json.loads(proc.stdout)["steps"]
    assert steps[2]["source"] == "executed" and steps[2]["result"] == {"written_bytes": 12}


def test_outputs_are_deterministic_across_hashseed_and_tz(
    run_gait, conformance_dir, tmp_path
) -> None:
    left, right = _pack(conformance_dir, "run_ref"), _pack(conformance_dir, "run_changed")
    commands = [
        ["run", "replay", _pack(conformance_dir, "run_raw"), "--json"],
        ["run", "diff", left, right, "--json", "--out", "OUT"],
        ["run", "diff", left, right, "--privacy", "metadata", "--json"],
        ["run", "inspect", _pack(conformance_dir, "run_raw"), "--json"],
    ]
    for argv in commands:
        seen = set()
        for seed, tz in [("0", "UTC"), ("123", "Asia/Kolkata"), ("random", "America/Los_Angeles")]:
            out = tmp_path / "diff.json"
            out.unlink(missing_ok=True)
            args = [str(out) if a == "OUT" else a for a in argv]
            proc = run_gait(*args, env={"PYTHONHASHSEED": seed, "TZ": tz})
            extra = out.read_bytes() if out.exists() else b""
            seen.add(proc.stdout.encode() + extra)
        assert len(seen) == 1, argv


def test_inspect_bounded_and_json(run_gait, conformance_dir) -> None:
    proc = run_gait("run", "inspect", _pack(conformance_dir, "run_ref"))
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert len(lines) <= 12 and "intent_3 tool.write -> error" in lines[-1]
    doc = json.loads(run_gait("run", "inspect", _pack(conformance_dir, "run_raw"), "--json").stdout)
    assert doc["steps_total"] == 3 and doc["steps"][0]["args"]["top_k"] == 5
    assert os.path.basename(doc["run_id"]) == "run_raw"
