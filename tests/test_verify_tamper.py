"""gait verify against every way a runpack can be broken: each gives exit 2 or 6 with its own
code and one clear line, never a traceback."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from gait.canon import canonical_bytes, sha256_hex
from gait.runpack.manifest import manifest_digest, signed_manifest_digest
from gait.runpack.writer import write_record_input
from gait.sign.keys import SigningKey
from gait.sign.signature import sign_digest

MEMBERS = ["intents.jsonl", "manifest.json", "refs.json", "results.jsonl", "run.json"]


def _record_input() -> dict:
    return {
        "run": {
            "run_id": "run_tamper",
            "created_at": "2026-03-01T12:00:00Z",
            "env": {"os": "linux", "arch": "x86_64", "runtime": "python"},
            "timeline": [{"event": "start", "ts": "2026-03-01T12:00:00Z"}],
        },
        "intents": [{"intent_id": "intent_1", "tool_name": "tool.search", "args": {"query": "q"}}],
        "results": [{"intent_id": "intent_1", "status": "ok", "result": {"hits": 1}}],
        "refs": {"receipts": []},
    }


@pytest.fixture
def signing_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def good_pack(tmp_path: Path, signing_key: SigningKey) -> Path:
    return write_record_input(
        _record_input(), tmp_path / "runpack_run_tamper.zip", signing_keys=[signing_key]
    ).path


@pytest.fixture
def pubkey_file(tmp_path: Path, signing_key: SigningKey) -> Path:
    path = tmp_path / "pub.key"
    path.write_text(signing_key.public().to_text())
    return path


def _members(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [(i.filename, archive.read(i)) for i in archive.infolist()]


def _rezip(path: Path, members: list[tuple[str, bytes]]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    path.write_bytes(buffer.getvalue())
    return path


def _verify(run_gait, path: Path, *extra: str):
    proc = run_gait("verify", str(path), "--json", *extra)
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout + proc.stderr
    return proc.returncode, json.loads(lines[0])


def test_good_pack_verifies_with_explicit_key(run_gait, good_pack, pubkey_file):
    code, doc = _verify(
        run_gait, good_pack, "--public-key", str(pubkey_file), "--require-signature"
    )
    assert code == 0 and doc["ok"] and doc["signature_status"] == "verified"
    assert doc["signer_trusted"] is False and doc["signing_mode"] == "unknown"
    code, doc = _verify(run_gait, good_pack, "--public-key", str(pubkey_file), "--require-trusted")
    assert code == 2 and doc["error_codes"] == ["E_VERIFY_UNTRUSTED_SIGNER"]


@pytest.mark.parametrize("member", MEMBERS)
def test_flipped_byte_in_any_member(run_gait, good_pack, tmp_path, member, pubkey_file):
    members = _members(good_pack)
    changed = []
    for name, data in members:
        if name == member:
            index = len(data) // 2
            data = data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]
        changed.append((name, data))
    code, doc = _verify(
        run_gait, _rezip(tmp_path / "flipped.zip", changed), "--public-key", str(pubkey_file)
    )
    assert code in (2, 6)
    assert not doc["ok"]
    if member != "manifest.json":
        assert code == 2
        assert "E_VERIFY_HASH_MISMATCH" in doc["error_codes"]
        assert doc["hash_mismatches"][0]["path"] == member


@pytest.mark.parametrize("member", ["intents.jsonl", "refs.json", "results.jsonl", "run.json"])
def test_member_removed(run_gait, good_pack, tmp_path, member):
    kept = [(n, d) for n, d in _members(good_pack) if n != member]
    code, doc = _verify(run_gait, _rezip(tmp_path / "removed.zip", kept))
    assert code == 2 and doc["missing_files"] == [member]
    assert doc["error_codes"] == ["E_VERIFY_MISSING_MEMBER"]


def test_manifest_removed_is_invalid_input(run_gait, good_pack, tmp_path):
    kept = [(n, d) for n, d in _members(good_pack) if n != "manifest.json"]
    proc = run_gait("verify", str(_rezip(tmp_path / "nomanifest.zip", kept)), "--json")
    assert proc.returncode == 6
    assert json.loads(proc.stdout)["error_code"] == "E_VERIFY_INPUT_INVALID"


def test_member_added(run_gait, good_pack, tmp_path):
    members = [*_members(good_pack), ("notes.txt", b"hello")]
    code, doc = _verify(run_gait, _rezip(tmp_path / "added.zip", members))
    assert code == 2 and doc["unlisted_files"] == ["notes.txt"]
    assert doc["error_codes"] == ["E_VERIFY_UNLISTED_MEMBER"]


def test_member_renamed(run_gait, good_pack, tmp_path):
    members = [("results2.jsonl" if n == "results.jsonl" else n, d) for n, d in _members(good_pack)]
    code, doc = _verify(run_gait, _rezip(tmp_path / "renamed.zip", members))
    assert code == 2
    assert set(doc["error_codes"]) == {"E_VERIFY_MISSING_MEMBER", "E_VERIFY_UNLISTED_MEMBER"}


def test_member_duplicated(run_gait, good_pack, tmp_path):
    members = _members(good_pack)
    members.append(("results.jsonl", b"{}\n"))
    with pytest.warns(UserWarning):
        path = _rezip(tmp_path / "dup.zip", members)
    code, doc = _verify(run_gait, path)
    assert code == 2 and "E_VERIFY_UNSAFE_MEMBER" in doc["error_codes"]


@pytest.mark.parametrize("name", ["../evil.json", "/abs/evil.json", "a\\..\\b.json"])
def test_path_tricks(run_gait, good_pack, tmp_path, name):
    members = [*_members(good_pack), (name, b"x")]
    code, doc = _verify(run_gait, _rezip(tmp_path / "tricks.zip", members))
    assert code == 2 and "E_VERIFY_UNSAFE_MEMBER" in doc["error_codes"]
    assert not (tmp_path.parent / "evil.json").exists()


def test_zip_bomb_is_refused_without_inflating(run_gait, good_pack, tmp_path):
    bomb = tmp_path / "bomb.zip"
    _rezip(bomb, _members(good_pack))
    with zipfile.ZipFile(bomb, "a") as archive:
        info = zipfile.ZipInfo("bomb.bin", (1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, b"\0" * (120 * 1024 * 1024))
    code, doc = _verify(run_gait, bomb)
    assert code == 2 and "E_VERIFY_ARCHIVE" in doc["error_codes"]
    assert any("bomb.bin" == m["path"] for m in doc["unsafe_members"])


def _edit_manifest(good_pack: Path, tmp_path: Path, change) -> Path:  # noqa: ANN001
    members = dict(_members(good_pack))
    manifest = json.loads(members["manifest.json"])
    change(manifest, members)
    members["manifest.json"] = canonical_bytes(manifest)
    return _rezip(tmp_path / "edited.zip", [(n, members[n]) for n in MEMBERS])


def test_manifest_edited_and_rehashed_but_not_resigned(run_gait, good_pack, tmp_path, pubkey_file):
    def change(manifest, members):  # noqa: ANN001
        members["results.jsonl"] = members["results.jsonl"].replace(b'"ok"', b'"error"')
        for entry in manifest["files"]:
            entry["sha256"] = sha256_hex(members[entry["path"]])
        manifest["manifest_digest"] = manifest_digest(manifest)

    path = _edit_manifest(good_pack, tmp_path, change)
    code, doc = _verify(run_gait, path, "--public-key", str(pubkey_file))
    assert code == 2
    assert doc["signature_status"] == "failed"
    assert doc["error_codes"] == ["E_VERIFY_SIGNATURE_INVALID"]
    assert doc["signature_errors"] == ["signed digest mismatch"]


def test_manifest_digest_edited(run_gait, good_pack, tmp_path):
    def change(manifest, members):  # noqa: ANN001
        manifest["capture_mode"] = "raw"

    code, doc = _verify(run_gait, _edit_manifest(good_pack, tmp_path, change))
    assert code == 2 and "E_VERIFY_MANIFEST_DIGEST" in doc["error_codes"]
    assert any(m["path"] == "manifest.json" for m in doc["hash_mismatches"])


def test_signature_by_another_key(run_gait, good_pack, tmp_path, pubkey_file):
    other = SigningKey.generate()

    def change(manifest, members):  # noqa: ANN001
        manifest["signatures"] = [sign_digest(other, signed_manifest_digest(manifest))]

    path = _edit_manifest(good_pack, tmp_path, change)
    code, doc = _verify(run_gait, path, "--public-key", str(pubkey_file))
    assert code == 2 and doc["signature_errors"] == ["key id mismatch"]
    assert doc["error_codes"] == ["E_VERIFY_SIGNATURE_INVALID"]


def test_signature_removed(run_gait, good_pack, tmp_path, pubkey_file):
    def change(manifest, members):  # noqa: ANN001
        del manifest["signatures"]

    path = _edit_manifest(good_pack, tmp_path, change)
    code, doc = _verify(run_gait, path, "--public-key", str(pubkey_file))
    assert code == 0 and doc["signature_status"] == "missing"
    proc = run_gait("verify", str(path))
    assert proc.returncode == 0 and "unsigned" in proc.stdout
    code, doc = _verify(run_gait, path, "--require-signature")
    assert code == 2 and doc["error_codes"] == ["E_VERIFY_SIGNATURE_MISSING"]
    code, doc = _verify(run_gait, path, "--key-mode", "prod")
    assert code == 2 and "E_VERIFY_SIGNATURE_MISSING" in doc["error_codes"]
    proc = run_gait("verify", str(path), "--json", env={"GAIT_MODE": "prod"})
    assert proc.returncode == 2


def test_non_utf8_and_duplicate_key_members(run_gait, good_pack, tmp_path):
    for bad in (b"\xff\xfe\n", b'{"a":1,"a":2}\n'):

        def change(manifest, members, bad=bad):  # noqa: ANN001
            members["results.jsonl"] = bad
            for entry in manifest["files"]:
                entry["sha256"] = sha256_hex(members[entry["path"]])
            manifest["manifest_digest"] = manifest_digest(manifest)
            manifest.pop("signatures")

        code, doc = _verify(run_gait, _edit_manifest(good_pack, tmp_path, change))
        assert code == 6 and doc["error_codes"] == ["E_VERIFY_INPUT_INVALID"]


@pytest.mark.parametrize("case", ["truncated", "empty", "directory", "garbage", "bad_manifest"])
def test_not_a_runpack(run_gait, good_pack, tmp_path, case):
    if case == "truncated":
        target = tmp_path / "t.zip"
        target.write_bytes(good_pack.read_bytes()[: good_pack.stat().st_size // 2])
    elif case == "empty":
        target = tmp_path / "e.zip"
        target.write_bytes(b"")
    elif case == "directory":
        target = tmp_path / "dir.zip"
        target.mkdir()
    elif case == "garbage":
        target = tmp_path / "g.zip"
        target.write_bytes(b"PK\x03\x04 not really a zip")
    else:
        members = [(n, b"{not json" if n == "manifest.json" else d) for n, d in _members(good_pack)]
        target = _rezip(tmp_path / "m.zip", members)
    proc = run_gait("verify", str(target), "--json")
    assert proc.returncode == 6, proc.stdout
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False and doc["error_code"] == "E_VERIFY_INPUT_INVALID"
    human = run_gait("verify", str(target))
    assert human.returncode == 6 and "Traceback" not in human.stderr
    assert human.stderr.startswith("gait: E_VERIFY_INPUT_INVALID:")


def test_unknown_schema_version_is_invalid_input(run_gait, good_pack, tmp_path):
    def change(manifest, members):  # noqa: ANN001
        manifest["schema_version"] = "2.0.0"

    proc = run_gait("verify", str(_edit_manifest(good_pack, tmp_path, change)), "--json")
    assert proc.returncode == 6
    assert "schema_version" in json.loads(proc.stdout)["error"]


def test_every_single_byte_flip_is_handled(good_pack, tmp_path):
    """Flip each byte of the zip in turn: verify answers 0, 2 or 6, and never crashes."""
    from gait.cli.main import main

    raw = good_pack.read_bytes()
    target = tmp_path / "flip.zip"
    seen = set()
    for index in range(0, len(raw), 3):
        target.write_bytes(raw[:index] + bytes([raw[index] ^ 0xFF]) + raw[index + 1 :])
        code = main(["verify", str(target), "--json"])
        seen.add(code)
    assert seen <= {0, 2, 6}
    assert 2 in seen


def test_duplicate_intent_id_is_refused_even_when_resigned(run_gait, good_pack, tmp_path):
    """Issue 11 item 17: a second record with the same intent_id would hide behind the first."""
    key = SigningKey.generate()

    def change(manifest, members):  # noqa: ANN001
        members["intents.jsonl"] += members["intents.jsonl"]
        members["results.jsonl"] += members["results.jsonl"]
        for entry in manifest["files"]:
            entry["sha256"] = sha256_hex(members[entry["path"]])
        manifest["manifest_digest"] = manifest_digest(manifest)
        manifest["signatures"] = [sign_digest(key, signed_manifest_digest(manifest))]

    path = _edit_manifest(good_pack, tmp_path, change)
    (tmp_path / "k.pub").write_text(key.public().to_text())
    code, doc = _verify(run_gait, path, "--public-key", str(tmp_path / "k.pub"))
    assert code == 2, doc
    assert doc["signature_status"] == "verified"
    assert "E_VERIFY_DUPLICATE_ID" in doc["error_codes"]
