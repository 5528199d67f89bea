"""``gait registry``: every refusal through the CLI, atomic install, verify after tampering."""

from __future__ import annotations

import base64
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from gait.canon import dumps_pretty
from gait.registry import backend, pack, store
from gait.runpack.archive import zip_bytes
from gait.sign.keyring import ensure_dev_key
from gait.sign.keys import SigningKey

POLICY = b"schema_id: gait.gate.policy\nschema_version: 1.0.0\ndefault_verdict: block\n"


def _tree(root: Path) -> Path:
    (root / "policies").mkdir(parents=True)
    (root / "policies" / "baseline.yaml").write_bytes(POLICY)
    (root / "graders.json").write_text('{"graders": ["schema_validation"]}\n')
    (root / "fixtures").mkdir()
    (root / "fixtures" / "README.md").write_text("fixture set\n")
    return root


def _json(proc) -> dict[str, Any]:  # noqa: ANN001
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def _refused(proc, code: str) -> dict[str, Any]:  # noqa: ANN001
    assert proc.returncode == 2, proc.stdout + proc.stderr
    doc = _json(proc)
    assert doc["ok"] is False and doc["error_code"] == code, doc
    return doc


def _pack_argv(src: Path, version: str = "1.0.0") -> list[str]:
    """``gait registry pack SRC`` as acme's ``baseline`` pack."""
    return [
        "registry",
        "pack",
        str(src),
        "--name",
        "baseline",
        "--version",
        version,
        "--publisher",
        "acme",
    ]


def _pack(run_gait, src: Path, *extra: str, version: str = "1.0.0", cwd: Path) -> Path:  # noqa: ANN001
    out = cwd / f"pack-{version}-{len(extra)}.zip"
    proc = run_gait(
        *_pack_argv(src, version),
        "--out",
        str(out),
        "--json",
        *extra,
        cwd=cwd,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _sign_in_place(run_gait, src: Path, *, cwd: Path) -> None:  # noqa: ANN001
    """``registry pack`` without --out: writes a signed registry_pack.json into ``src``."""
    proc = run_gait(
        *_pack_argv(src),
        cwd=cwd,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _signed_zip(path: Path, meta: dict[str, Any], files: dict[str, bytes]) -> Path:
    """A pack signed by the local dev key, built by hand so it can say anything."""
    key, _ = ensure_dev_key()
    signed = pack.add_signature(meta, key)
    path.write_bytes(zip_bytes([("registry_pack.json", dumps_pretty(signed)), *files.items()]))
    return path


def _meta(files: dict[str, bytes], **over: Any) -> dict[str, Any]:
    meta = pack.build_metadata(files, name="baseline", version="1.0.0", publisher="acme")
    meta.update(over)
    return meta


def test_pack_install_list_verify(run_gait, tmp_path: Path, gait_home: Path) -> None:
    src = _tree(tmp_path / "src")
    made = run_gait(
        *_pack_argv(src),
        "--type",
        "policy",
        "--json",
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    assert "dev mode" in made.stderr
    meta = json.loads((src / "registry_pack.json").read_text())
    from gait import schema

    assert schema.errors("gait.registry.pack", meta) == []
    assert [a["path"] for a in meta["artifacts"]] == [
        "fixtures/README.md",
        "graders.json",
        "policies/baseline.yaml",
    ]
    assert meta["artifacts"][2]["media_type"] == "application/yaml"
    sig = meta["signatures"][0]
    assert sig["signed_digest"] == pack.pack_digest(meta)

    old_staging = gait_home / "registry" / ".staging" / "baseline-x1y2z3"  # an earlier crash's
    old_staging.mkdir(parents=True)
    installed = run_gait("registry", "install", str(src), "--json", cwd=tmp_path)
    doc = _json(installed)
    assert installed.returncode == 0 and doc["status"] == "installed"
    assert not old_staging.parent.exists()
    target = gait_home / "registry" / "baseline" / "1.0.0"
    assert (target / "policies" / "baseline.yaml").read_bytes() == POLICY
    assert (target / "registry_pack.json").exists()
    assert not list((gait_home / "registry").rglob("*.tmp"))  # no staging left behind

    listed = run_gait("registry", "list", "--json", cwd=tmp_path)
    again = run_gait("registry", "list", "--json", cwd=tmp_path)
    assert listed.stdout == again.stdout
    packs = _json(listed)["packs"]
    assert [(p["pack_name"], p["pack_version"], p["publisher"]) for p in packs] == [
        ("baseline", "1.0.0", "acme")
    ]
    verified = run_gait("registry", "verify", "baseline", "--json", cwd=tmp_path)
    assert verified.returncode == 0 and _json(verified)["ok"] is True
    same = run_gait("registry", "install", str(src), "--json", cwd=tmp_path)
    assert _json(same)["status"] == "already_installed"


def test_pack_zip_is_reproducible(run_gait, tmp_path: Path) -> None:
    src = _tree(tmp_path / "src")
    env = {"SOURCE_DATE_EPOCH": "1767225600"}
    outs = []
    for name in ("a.zip", "b.zip"):
        proc = run_gait(
            *_pack_argv(src),
            "--out",
            str(tmp_path / name),
            cwd=tmp_path,
            env=env,
        )
        assert proc.returncode == 0
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        meta = json.loads(archive.read("registry_pack.json"))
    assert meta["created_at"] == "2026-01-01T00:00:00Z"


def test_unsigned_pack_refused(run_gait, tmp_path: Path, gait_home: Path) -> None:
    src = _tree(tmp_path / "src")
    files = {p: (src / p).read_bytes() for p in ("graders.json", "policies/baseline.yaml")}
    meta = _meta(files)
    bare = tmp_path / "unsigned.zip"
    bare.write_bytes(zip_bytes([("registry_pack.json", dumps_pretty(meta)), *files.items()]))
    doc = _refused(run_gait("registry", "install", str(bare), "--json"), "E_REGISTRY_UNSIGNED")
    assert "unsigned" in doc["error"]
    assert not (gait_home / "registry" / "baseline").exists()
    human = run_gait("registry", "install", str(bare))
    assert human.returncode == 2
    assert human.stderr.startswith("gait: E_REGISTRY_UNSIGNED: ")


def test_tampered_metadata_and_bad_signature_refused(run_gait, tmp_path: Path) -> None:
    src = _tree(tmp_path / "src")
    _sign_in_place(run_gait, src, cwd=tmp_path)
    meta_path = src / "registry_pack.json"
    meta = json.loads(meta_path.read_text())
    meta["publisher"] = "mallory"
    meta_path.write_text(json.dumps(meta))
    _refused(run_gait("registry", "install", str(src), "--json"), "E_REGISTRY_SIGNATURE_INVALID")

    meta["publisher"] = "acme"
    meta["signatures"][0]["sig"] = base64.b64encode(bytes(64)).decode()
    meta_path.write_text(json.dumps(meta))
    doc = _refused(
        run_gait("registry", "install", str(src), "--json"), "E_REGISTRY_SIGNATURE_INVALID"
    )
    assert "verification failed" in doc["error"]


def test_untrusted_publisher_refused_then_trusted(run_gait, tmp_path: Path) -> None:
    src = _tree(tmp_path / "src")
    other = SigningKey.generate()
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "pub_private.key").write_text(other.to_text())
    (tmp_path / "k" / "pub_public.key").write_text(other.public().to_text())
    out = _pack(
        run_gait,
        src,
        "--key-mode",
        "prod",
        "--private-key",
        str(tmp_path / "k" / "pub_private.key"),
        cwd=tmp_path,
    )
    doc = _refused(
        run_gait("registry", "install", str(out), "--json"), "E_REGISTRY_UNTRUSTED_PUBLISHER"
    )
    assert "gait keys trust" in doc["hint"] and "--publisher acme" in doc["hint"]
    public = str(tmp_path / "k" / "pub_public.key")
    assert run_gait("keys", "trust", public, "--key-mode", "prod").returncode == 0
    # trusted, but not for any publisher: once publishers matter, that is not enough
    _refused(
        run_gait("registry", "install", str(out), "--allow-publisher", "acme", "--json"),
        "E_REGISTRY_UNTRUSTED_PUBLISHER",
    )
    assert (
        run_gait("keys", "trust", public, "--key-mode", "prod", "--publisher", "acme").returncode
        == 0
    )
    _refused(
        run_gait("registry", "install", str(out), "--allow-publisher", "someone-else", "--json"),
        "E_REGISTRY_UNTRUSTED_PUBLISHER",
    )
    ok = run_gait(
        "registry", "install", str(out), "--allow-publisher", "acme", "--json", "--key-mode", "prod"
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert _json(ok)["signer_key_id"] == other.key_id


def test_dev_signed_pack_refused_in_production_mode(run_gait, tmp_path: Path) -> None:
    out = _pack(run_gait, _tree(tmp_path / "src"), cwd=tmp_path)
    doc = _refused(
        run_gait("registry", "install", str(out), "--json", env={"GAIT_MODE": "prod"}),
        "E_REGISTRY_UNTRUSTED_PUBLISHER",
    )
    assert "dev key" in doc["error"]


def test_digest_mismatch_and_missing_file_refused(run_gait, tmp_path: Path) -> None:
    src = _tree(tmp_path / "src")
    _sign_in_place(run_gait, src, cwd=tmp_path)
    (src / "policies" / "baseline.yaml").write_bytes(POLICY.replace(b"block", b"allow"))
    doc = _refused(
        run_gait("registry", "install", str(src), "--json"), "E_REGISTRY_DIGEST_MISMATCH"
    )
    assert doc["mismatches"][0]["path"] == "policies/baseline.yaml"
    (src / "policies" / "baseline.yaml").unlink()
    doc = _refused(
        run_gait("registry", "install", str(src), "--json"), "E_REGISTRY_DIGEST_MISMATCH"
    )
    assert "missing" in doc["error"]


@pytest.mark.parametrize("bad", ["../evil.yaml", "/etc/evil.yaml", "a/../../evil", "a\\b.yaml"])
def test_path_escape_in_metadata_refused(
    run_gait, tmp_path: Path, gait_home: Path, bad: str
) -> None:
    files = {"ok.yaml": POLICY}
    meta = _meta(files)
    meta["artifacts"].append({"path": bad, "sha256": "0" * 64})
    packed = _signed_zip(tmp_path / "escape.zip", meta, files)
    _refused(run_gait("registry", "install", str(packed), "--json"), "E_REGISTRY_PATH_ESCAPE")
    assert not (gait_home / "registry" / "baseline").exists()
    assert not (gait_home / "evil.yaml").exists()


def test_path_escape_in_zip_member_and_symlink_refused(run_gait, tmp_path: Path) -> None:
    files = {"ok.yaml": POLICY}
    packed = _signed_zip(tmp_path / "member.zip", _meta(files), {**files, "../x.yaml": b"x"})
    _refused(run_gait("registry", "install", str(packed), "--json"), "E_REGISTRY_PATH_ESCAPE")
    src = _tree(tmp_path / "src")
    _sign_in_place(run_gait, src, cwd=tmp_path)
    os.symlink("/etc/passwd", src / "policies" / "link.yaml")
    _refused(run_gait("registry", "install", str(src), "--json"), "E_REGISTRY_PATH_ESCAPE")


def test_zip_member_with_an_empty_name_refused(run_gait, tmp_path: Path) -> None:
    """zipfile's ZipInfo.is_dir() raises IndexError on an empty name: an E_INTERNAL before."""
    from test_hostile_zips import without_member_name

    files = {"ok.yaml": POLICY}
    packed = _signed_zip(tmp_path / "empty.zip", _meta(files), {**files, "x": b"x"})
    packed.write_bytes(without_member_name(packed.read_bytes(), "x"))
    doc = _refused(run_gait("registry", "install", str(packed), "--json"), "E_REGISTRY_PATH_ESCAPE")
    assert "empty path" in doc["error"], doc


def test_downgrade_refused_and_same_version_conflict(run_gait, tmp_path: Path) -> None:
    src = _tree(tmp_path / "src")
    newer = _pack(run_gait, src, version="2.0.0", cwd=tmp_path)
    older = _pack(run_gait, src, version="2.0.0-rc.1", cwd=tmp_path)
    assert run_gait("registry", "install", str(newer)).returncode == 0
    doc = _refused(run_gait("registry", "install", str(older), "--json"), "E_REGISTRY_DOWNGRADE")
    assert "--allow-downgrade" in doc["hint"]
    rolled = run_gait("registry", "install", str(older), "--allow-downgrade", "--json")
    assert rolled.returncode == 0 and _json(rolled)["status"] == "downgraded"
    assert _json(run_gait("registry", "list", "--json"))["packs"][0]["pack_version"] == "2.0.0-rc.1"
    (src / "graders.json").write_text("{}\n")
    changed = _pack(run_gait, src, "--description", "changed", version="2.0.0", cwd=tmp_path)
    _refused(run_gait("registry", "install", str(changed), "--json"), "E_REGISTRY_VERSION_CONFLICT")


def test_verify_finds_tampering_and_revoked_trust(
    run_gait, tmp_path: Path, gait_home: Path
) -> None:
    out = _pack(run_gait, _tree(tmp_path / "src"), cwd=tmp_path)
    assert run_gait("registry", "install", str(out)).returncode == 0
    installed = gait_home / "registry" / "baseline" / "1.0.0"
    (installed / "graders.json").write_text("{}\n")
    (installed / "fixtures" / "README.md").unlink()
    proc = run_gait("registry", "verify", "baseline", "--json")
    assert proc.returncode == 2
    doc = _json(proc)
    assert doc["ok"] is False
    assert sorted(p["path"] for p in doc["problems"]) == ["fixtures/README.md", "graders.json"]
    assert {p["code"] for p in doc["problems"]} == {"E_REGISTRY_DIGEST_MISMATCH"}
    key_id = json.loads((installed / "registry_pack.json").read_text())["signatures"][0]["key_id"]
    assert run_gait("keys", "untrust", key_id).returncode == 0
    codes = {
        p["code"] for p in _json(run_gait("registry", "verify", "baseline", "--json"))["problems"]
    }
    assert "E_REGISTRY_UNTRUSTED_PUBLISHER" in codes
    human = run_gait("registry", "verify", "baseline")
    assert human.returncode == 2 and "verify=failed" in human.stdout
    missing = run_gait("registry", "verify", "nope", "--json")
    assert missing.returncode == 6 and _json(missing)["error_code"] == "E_REGISTRY_NOT_INSTALLED"


def test_cosigning_keeps_both_signatures(run_gait, tmp_path: Path) -> None:
    src = _tree(tmp_path / "src")
    _sign_in_place(run_gait, src, cwd=tmp_path)
    second = SigningKey.generate()
    (tmp_path / "second.key").write_text(second.to_text())
    proc = run_gait(
        "registry",
        "sign",
        str(src),
        "--key-mode",
        "prod",
        "--private-key",
        str(tmp_path / "second.key"),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    assert _json(proc)["signatures"] == 2
    assert run_gait("registry", "install", str(src)).returncode == 0
    (src / "graders.json").write_text("changed\n")
    doc = _refused(run_gait("registry", "sign", str(src), "--json"), "E_REGISTRY_DIGEST_MISMATCH")
    assert doc["ok"] is False


def test_bad_input_is_one_clear_line(run_gait, tmp_path: Path) -> None:
    cases = [
        (str(tmp_path / "missing.zip"), "E_REGISTRY_PACK_NOT_FOUND"),
        ("https://example.invalid/pack.zip", "E_REGISTRY_BACKEND_UNSUPPORTED"),
    ]
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    cases.append((str(tmp_path / "junk.zip"), "E_REGISTRY_PACK_INVALID"))
    (tmp_path / "empty").mkdir()
    cases.append((str(tmp_path / "empty"), "E_REGISTRY_PACK_INVALID"))
    bad_meta = tmp_path / "badmeta"
    bad_meta.mkdir()
    (bad_meta / "registry_pack.json").write_text(
        '{"schema_id": "gait.registry.pack", "schema_version": "1.0.0"}'
    )
    cases.append((str(bad_meta), "E_REGISTRY_PACK_INVALID"))
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "registry_pack.json").write_text(
        '{"schema_id": "gait.registry.pack", "schema_version": "2.0.0"}'
    )
    cases.append((str(newer), "E_REGISTRY_PACK_INVALID"))
    for ref, code in cases:
        proc = run_gait("registry", "install", ref)
        assert proc.returncode == 6, (ref, proc.stderr)
        assert proc.stderr.startswith(f"gait: {code}: "), (ref, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_install_is_atomic_when_the_rename_fails(
    tmp_path: Path, gait_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"ok.yaml": POLICY}
    packed = _signed_zip(tmp_path / "p.zip", _meta(files), files)
    source = backend.LocalBackend().fetch(str(packed))
    key, _ = ensure_dev_key()
    policy = pack.TrustPolicy(keys=(key.public(),), key_modes={key.key_id: "dev"})

    def broken_rename(a: str, b: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "rename", broken_rename)
    with pytest.raises(OSError):
        store.install(source, policy)
    root = gait_home / "registry"
    assert not (root / "baseline" / "1.0.0").exists()
    assert not (root / "baseline" / "installed.json").exists()
    assert list(root.rglob("*.tmp")) == []  # the staging directory went with the failure
    monkeypatch.undo()
    monkeypatch.setenv("GAIT_HOME", str(gait_home))
    assert store.install(source, policy).status == "installed"


def test_local_backend_satisfies_the_interface() -> None:
    assert isinstance(backend.LocalBackend(), backend.RegistryBackend)
    assert store.version_key("1.0.0") > store.version_key("1.0.0-rc.2")
    assert store.version_key("1.0.0-rc.10") > store.version_key("1.0.0-rc.2")
    assert store.version_key("1.10.0") > store.version_key("1.9.9")
    assert store.version_key("1.0.0+build.5") == store.version_key("1.0.0")
