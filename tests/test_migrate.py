"""``gait migrate`` and the reader registry: current artifacts pass, unknown versions are refused,
and a registered upgrade (as a later version would add) migrates and handles signatures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gait import migrate
from gait.canon import digest
from gait.errors import InvalidInput
from gait.sign.keys import SigningKey
from gait.sign.signature import check_signature

CURRENT = [
    "reference/approval/trace_after.json",
    "reference/approval/approval_token.json",
    "reference/approval/policy.yaml",
    "reference/runpacks/runpack_run_signed.zip",
    "reference/regress/gait.yaml",
    "reference/regress/regress_result.json",
    "schema-samples/intent_valid.jsonl",
    "schema-samples/registry_pack_valid.json",
]


@pytest.mark.parametrize("rel", CURRENT)
def test_current_artifacts_are_reported_current(
    run_gait, conformance_dir: Path, rel: str, tmp_path: Path
) -> None:
    path = conformance_dir / rel
    proc = run_gait("migrate", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    again = run_gait("migrate", str(path), "--json")
    assert proc.stdout == again.stdout
    doc = json.loads(proc.stdout)
    assert doc["status"] == "current" and doc["changed"] is False
    assert doc["from_versions"] == ["1.0.0"] and doc["to_version"] == "1.0.0"
    out = tmp_path / ("copy" + path.suffix)
    copied = run_gait("migrate", str(path), "--to", "1.0.0", "--out", str(out))
    assert copied.returncode == 0 and out.read_bytes() == path.read_bytes()


def _artifact(tmp_path: Path, version: Any, schema_id: str = "gait.gate.trace") -> Path:
    path = tmp_path / "artifact.json"
    doc = {"schema_id": schema_id, "schema_version": version, "tool_name": "tool.x"}
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("version", ["2.0.0", "1.1.0", "0.9.0", "1.0", "", None, 1])
def test_newer_or_unknown_version_is_refused(run_gait, tmp_path: Path, version: Any) -> None:
    path = _artifact(tmp_path, version)
    proc = run_gait("migrate", str(path), "--json")
    assert proc.returncode == 6
    doc = json.loads(proc.stdout)
    assert doc["error_code"] == "E_MIGRATE_UNSUPPORTED_VERSION"
    if version in ("2.0.0", "1.1.0"):
        assert "newer" in doc["error"] and "upgrade gait" in doc["hint"]
    human = run_gait("migrate", str(path))
    assert human.returncode == 6
    assert human.stderr.startswith("gait: E_MIGRATE_UNSUPPORTED_VERSION: ")
    assert "Traceback" not in human.stderr


def test_to_an_unknown_version_is_refused(run_gait, conformance_dir: Path) -> None:
    path = conformance_dir / "reference/approval/trace_after.json"
    proc = run_gait("migrate", str(path), "--to", "2.0.0", "--json")
    assert proc.returncode == 6
    assert json.loads(proc.stdout)["error_code"] == "E_MIGRATE_UNSUPPORTED_VERSION"


def test_not_an_artifact(run_gait, tmp_path: Path, conformance_dir: Path) -> None:
    cases = {
        "unknown.json": (
            '{"schema_id": "gait.nope", "schema_version": "1.0.0"}',
            "E_MIGRATE_UNKNOWN_SCHEMA",
        ),
        "plain.json": ('{"a": 1}', "E_MIGRATE_UNKNOWN_SCHEMA"),
        "broken.json": ("{", "E_MIGRATE_INPUT_INVALID"),
        "broken.yaml": ("a: [", "E_MIGRATE_INPUT_INVALID"),
        "dup.json": ('{"schema_id": "a", "schema_id": "b"}', "E_MIGRATE_INPUT_INVALID"),
    }
    for name, (text, code) in cases.items():
        (tmp_path / name).write_text(text)
        proc = run_gait("migrate", str(tmp_path / name))
        assert proc.returncode == 6, name
        assert proc.stderr.startswith(f"gait: {code}: "), (name, proc.stderr)
    missing = run_gait("migrate", str(tmp_path / "absent.json"))
    assert missing.returncode == 6 and "E_MIGRATE_INPUT_INVALID" in missing.stderr


def _old_trace(key: SigningKey | None = None) -> dict[str, Any]:
    """A trace as a hypothetical 0.9.0 wrote it: ``decision`` where 1.0.0 says ``verdict``."""
    doc = {
        "schema_id": "gait.gate.trace",
        "schema_version": "0.9.0",
        "created_at": "2026-02-05T00:00:00Z",
        "producer_version": "0.0.1",
        "trace_id": "e1849ccad19157fb3a67a6dd",
        "tool_name": "tool.write",
        "args_digest": "a" * 64,
        "intent_digest": "b" * 64,
        "policy_digest": "c" * 64,
        "decision": "allow",
    }
    if key is not None:
        from gait.sign.signature import sign_digest

        doc["signature"] = sign_digest(key, digest(doc))
    return doc


def _upgrade_090(doc: dict[str, Any]) -> dict[str, Any]:
    doc["verdict"] = doc.pop("decision")
    return doc


@pytest.fixture
def reader_090():
    migrate.register_reader("gait.gate.trace", "0.9.0", _upgrade_090)
    yield
    migrate.unregister_reader("gait.gate.trace", "0.9.0")


def test_registered_reader_migrates_and_read_artifact_validates(reader_090: None) -> None:
    result = migrate.migrate_doc(_old_trace())
    assert result.steps == ["0.9.0->1.0.0"] and result.doc["verdict"] == "allow"
    assert result.doc["schema_version"] == "1.0.0" and "decision" not in result.doc
    read = migrate.read_artifact(_old_trace())
    assert read["verdict"] == "allow"
    current = migrate.read_artifact(result.doc)
    assert current == result.doc
    with pytest.raises(InvalidInput) as caught:
        migrate.migrate_doc(result.doc, to="0.9.0")
    assert caught.value.code == "E_MIGRATE_UNSUPPORTED_VERSION"


def test_migration_removes_a_stale_signature_or_resigns(reader_090: None, tmp_path: Path) -> None:
    old_key = SigningKey.generate()
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(_old_trace(old_key), indent=2))
    stripped = migrate.migrate_file(path)
    assert "signature removed" in stripped.items[0].note
    assert "signature" not in json.loads(stripped.output)
    new_key = SigningKey.generate()
    signed = migrate.migrate_file(path, signing_key=new_key)
    doc = json.loads(signed.output)
    body = {k: v for k, v in doc.items() if k != "signature"}
    assert check_signature(doc["signature"], digest(body), [new_key.public()]).ok
    assert signed.output.endswith(b"}\n") and b"\n  " in signed.output


def test_migrate_cli_with_a_registered_reader(tmp_path: Path, gait_home: Path) -> None:
    """Through the CLI, as a later gait with a 0.9.0 reader would run it."""
    key = SigningKey.generate()
    (tmp_path / "k.key").write_text(key.to_text())
    src = tmp_path / "old.json"
    src.write_text(json.dumps(_old_trace(key), indent=2))
    prelude = textwrap.dedent(
        """
        from gait import migrate
        def up(doc):
            doc["verdict"] = doc.pop("decision")
            return doc
        migrate.register_reader("gait.gate.trace", "0.9.0", up)
        """
    )
    script = prelude + "import sys\nfrom gait.cli.main import main\nsys.exit(main(sys.argv[1:]))"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "GAIT_HOME": str(gait_home)},
            cwd=tmp_path,
            check=False,
        )

    dry = run("migrate", str(src))
    assert dry.returncode == 0, dry.stderr
    assert "migrate migrated" in dry.stdout and "dry run" in dry.stdout
    assert "signature removed" in dry.stdout
    out = tmp_path / "new.json"
    proc = run(
        "migrate", str(src), "--out", str(out), "--private-key", str(tmp_path / "k.key"), "--json"
    )
    doc = json.loads(proc.stdout)
    assert doc["status"] == "migrated" and doc["artifacts"][0]["steps"] == ["0.9.0->1.0.0"]
    assert doc["artifacts"][0]["note"].startswith("re-signed with key")
    migrated = json.loads(out.read_text())
    assert migrated["schema_version"] == "1.0.0" and migrated["verdict"] == "allow"


def test_every_current_schema_has_a_reader() -> None:
    from gait import schema

    ids = {sid for sid, version in migrate.readers() if version == "1.0.0"}
    for schema_id in (
        "gait.runpack.manifest",
        "gait.gate.trace",
        "gait.registry.pack",
        "gait.scout.inventory_snapshot",
        "gait.regress.result",
    ):
        assert schema_id in ids
    assert ids <= set(schema.schema_ids())
