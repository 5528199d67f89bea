"""Installed packs under ``GAIT_HOME/registry/``: atomic install, list, re-verify.

Layout: ``<name>/<version>/`` holds the verified files and their ``registry_pack.json``;
``<name>/installed.json`` names the current version. A version directory is written aside
(``<name>/.<version>.<pid>.<random>.tmp``, removed by the next install when a crash leaves it)
and renamed into place, then ``installed.json`` is replaced atomically: a crash
leaves either the old install or the new one, never a half-written pack. Old versions stay on
disk so a rollback (``--allow-downgrade``) needs no re-download.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gait import timefmt
from gait.canon import dumps_pretty, loads_strict
from gait.errors import GaitError, InvalidInput, VerificationFailed
from gait.fsutil import atomic_write, file_lock, gait_home, make_temp_dir
from gait.registry.backend import METADATA, PackSource, path_problem
from gait.registry.pack import (
    TrustPolicy,
    Verified,
    check_paths,
    check_publisher,
    check_signatures,
    digest_problems,
    pack_digest,
    parse_metadata,
    unlisted,
    verify_source,
)

INSTALLED = "installed.json"
INSTALLED_SCHEMA = "gait.registry.installed"
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.+-]*)?$")


def registry_root() -> Path:
    return gait_home() / "registry"


def version_key(version: str) -> tuple[Any, ...]:
    """SemVer 2.0 precedence: a pre-release sorts before its release; build metadata is ignored."""
    match = _SEMVER.match(version)
    if not match:
        raise InvalidInput(f"not a semantic version: {version!r}", code="E_REGISTRY_PACK_INVALID")
    core = tuple(int(match.group(i)) for i in (1, 2, 3))
    pre = match.group(4)
    if pre is None:
        return (*core, 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (*core, 0, ids)


@dataclass
class InstallResult:
    name: str
    version: str
    previous: str
    status: str  # installed | upgraded | downgraded | already_installed
    path: Path
    verified: Verified
    unlisted: list[str]

    def to_json(self) -> dict[str, Any]:
        doc = {
            "ok": True,
            "status": self.status,
            "pack_name": self.name,
            "pack_version": self.version,
            "publisher": self.verified.metadata["publisher"],
            "pack_digest": self.verified.pack_digest,
            "signer_key_id": self.verified.signer_key_id,
            "files": len(self.verified.metadata["artifacts"]),
            "path": str(self.path),
        }
        if self.previous:
            doc["previous_version"] = self.previous
        if self.unlisted:
            doc["unlisted_files_ignored"] = self.unlisted
        return doc


def _read_installed(pack_dir: Path) -> dict[str, Any] | None:
    path = pack_dir / INSTALLED
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", code="E_REGISTRY_STATE") from exc
    doc = loads_strict(raw, what=str(path), code="E_REGISTRY_STATE")
    if not isinstance(doc, dict) or doc.get("schema_id") != INSTALLED_SCHEMA:
        raise InvalidInput(f"{path} is not a registry install record", code="E_REGISTRY_STATE")
    version = doc.get("pack_version")
    if not isinstance(version, str) or path_problem(version):
        raise InvalidInput(f"{path} names no valid version", code="E_REGISTRY_STATE")
    return doc


def _read_dir_files(root: Path, metadata: Mapping[str, Any]) -> dict[str, bytes]:
    files = {}
    for artifact in metadata["artifacts"]:
        path = root / artifact["path"]
        if path.is_symlink():
            continue
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
            files[artifact["path"]] = path.read_bytes()
    return files


def _write_tree(staging: Path, source: PackSource, metadata: Mapping[str, Any]) -> None:
    for artifact in metadata["artifacts"]:
        target = staging / artifact["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as handle:
            handle.write(source.files[artifact["path"]])
            handle.flush()
            os.fsync(handle.fileno())
    with open(staging / METADATA, "xb") as handle:
        handle.write(source.metadata)
        handle.flush()
        os.fsync(handle.fileno())


def _remove_old_staging(root: Path) -> None:
    """Earlier builds staged installs in ``root/.staging`` and never removed what a crash
    left there; stage beside the version now (``make_temp_dir``). Under the registry lock no
    install is using it, so whatever is there is a leftover."""
    old = root / ".staging"
    if old.is_dir() and not old.is_symlink() and not (old / INSTALLED).exists():
        shutil.rmtree(old, ignore_errors=True)


def install(
    source: PackSource, policy: TrustPolicy, *, allow_downgrade: bool = False
) -> InstallResult:
    """Verify, refuse a downgrade unless asked, then put the pack in place atomically."""
    verified = verify_source(source, policy)
    meta = verified.metadata
    name, version = meta["pack_name"], meta["pack_version"]
    new_key = version_key(version)
    root = registry_root()
    pack_dir = root / name
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(
            f"cannot create {root}: {exc.strerror}",
            code="E_REGISTRY_STATE",
            hint="gait doctor",
        ) from exc
    with file_lock(root / ".lock"):
        _remove_old_staging(root)
        current = _read_installed(pack_dir)
        previous = current["pack_version"] if current else ""
        status = "installed"
        if current:
            old_key = version_key(previous)
            if new_key < old_key and not allow_downgrade:
                raise VerificationFailed(
                    f"pack {name} {version} is older than the installed {previous}",
                    code="E_REGISTRY_DOWNGRADE",
                    hint="pass --allow-downgrade to roll back on purpose",
                )
            status = "upgraded" if new_key > old_key else "downgraded"
            if new_key == old_key:
                status = "already_installed"
        version_dir = pack_dir / version
        if version_dir.exists():
            existing = parse_metadata((version_dir / METADATA).read_bytes(), str(version_dir))
            if pack_digest(existing) != verified.pack_digest:
                raise VerificationFailed(
                    f"pack {name} {version} is already installed with different contents",
                    code="E_REGISTRY_VERSION_CONFLICT",
                    hint="a publisher must bump pack_version for new contents",
                )
        else:
            # beside its final place, named for this process: a kill leaves it for the next
            # install of this version to remove (fsutil.clean_stale_temps)
            staging = make_temp_dir(version_dir)
            try:
                _write_tree(staging, source, meta)
                os.rename(staging, version_dir)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        if status != "already_installed":
            record = {
                "schema_id": INSTALLED_SCHEMA,
                "schema_version": "1.0.0",
                "pack_name": name,
                "pack_version": version,
                "publisher": meta["publisher"],
                "pack_digest": verified.pack_digest,
                "signer_key_id": verified.signer_key_id,
                "signer_mode": verified.signer_mode,
                "source": source.origin,
                "installed_at": timefmt.now(),
            }
            atomic_write(pack_dir / INSTALLED, dumps_pretty(record))
    return InstallResult(
        name, version, previous, status, version_dir, verified, unlisted(meta, source.files)
    )


def list_installed() -> list[dict[str, Any]]:
    root = registry_root()
    if not root.is_dir():
        return []
    found = []
    for pack_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        record = _read_installed(pack_dir)
        if record is None:
            continue
        found.append(
            {
                key: record.get(key, "")
                for key in (
                    "pack_name",
                    "pack_version",
                    "publisher",
                    "pack_digest",
                    "signer_key_id",
                    "signer_mode",
                    "installed_at",
                )
            }
        )
    return found


@dataclass
class VerifyReport:
    name: str
    version: str
    problems: list[dict[str, str]]
    signer_key_id: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "ok": self.ok,
            "pack_name": self.name,
            "pack_version": self.version,
            "problems": self.problems,
        }
        if self.signer_key_id:
            doc["signer_key_id"] = self.signer_key_id
        return doc


def verify_installed(name: str, policy: TrustPolicy) -> VerifyReport:
    """Re-check an installed pack against today's trust store: every problem, not the first."""
    if path_problem(name) or "/" in name:
        raise InvalidInput(f"not a pack name: {name!r}", code="E_USAGE")
    pack_dir = registry_root() / name
    record = _read_installed(pack_dir)
    if record is None:
        raise InvalidInput(
            f"pack {name!r} is not installed",
            code="E_REGISTRY_NOT_INSTALLED",
            hint="gait registry list",
        )
    version = record["pack_version"]
    version_dir = pack_dir / version
    report = VerifyReport(name, version, [])
    try:
        meta = parse_metadata((version_dir / METADATA).read_bytes(), str(version_dir))
    except (GaitError, OSError) as exc:
        message = exc.message if isinstance(exc, GaitError) else str(exc)
        report.problems.append(
            {"code": "E_REGISTRY_DIGEST_MISMATCH", "path": METADATA, "message": message}
        )
        return report
    origin = str(version_dir)
    if pack_digest(meta) != record.get("pack_digest"):
        report.problems.append(
            {
                "code": "E_REGISTRY_DIGEST_MISMATCH",
                "path": METADATA,
                "message": "metadata differs from what was installed",
            }
        )
    # paths first (a bad path ends the check); then signatures and publisher, each reported
    try:
        check_paths(meta, origin)
    except GaitError as exc:
        report.problems.append({"code": exc.code, "path": METADATA, "message": exc.message})
        return report
    try:
        report.signer_key_id = check_signatures(meta, policy, origin)[1]
    except GaitError as exc:
        report.problems.append({"code": exc.code, "path": METADATA, "message": exc.message})
    try:
        check_publisher(meta, policy, origin)
    except GaitError as exc:
        report.problems.append({"code": exc.code, "path": METADATA, "message": exc.message})
    for problem in digest_problems(meta, _read_dir_files(version_dir, meta)):
        state = "missing" if not problem["actual"] else "SHA-256 differs"
        report.problems.append(
            {
                "code": "E_REGISTRY_DIGEST_MISMATCH",
                "path": problem["path"],
                "message": f"{problem['path']} {state}",
            }
        )
    return report
