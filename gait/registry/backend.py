"""Where pack bytes come from, behind one interface.

A backend only *fetches* a pack: verification and installation are the same for every backend
(``gait.registry.pack`` and ``gait.registry.store``), so a remote backend added later changes
neither the ``registry_pack.json`` schema nor what install refuses. v1 ships the local backend
(a directory or a zip on disk).
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol, runtime_checkable

from gait.errors import InvalidInput, VerificationFailed

METADATA = "registry_pack.json"
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024
MAX_FILES = 10_000


@dataclass
class PackSource:
    """A pack as fetched: its metadata bytes and every other file, by pack-relative path."""

    origin: str
    metadata: bytes
    files: dict[str, bytes] = field(default_factory=dict)


@runtime_checkable
class RegistryBackend(Protocol):
    """Fetches packs; never decides whether one is trusted (the verifier does)."""

    name: str

    def handles(self, ref: str) -> bool:
        """Whether ``ref`` (a path, later a URL or ``publisher/name@version``) is this backend's."""
        ...

    def fetch(self, ref: str) -> PackSource:
        """The pack's bytes; raises a GaitError when they cannot be had."""
        ...


def path_problem(name: str) -> str:
    """Why a pack-relative path could land outside the install directory, or ''."""
    if not name or "\x00" in name:
        return "empty path or NUL byte"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if "\\" in name:
        return "backslash in path"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "'..', '.' or empty segment in path"
    return ""


def escape_error(name: str, reason: str, origin: str) -> VerificationFailed:
    return VerificationFailed(
        f"pack {origin}: path {name!r} escapes the pack ({reason})",
        code="E_REGISTRY_PATH_ESCAPE",
        details={"path": name},
    )


def _too_big(origin: str, what: str) -> InvalidInput:
    return InvalidInput(f"pack {origin}: {what}", code="E_REGISTRY_PACK_INVALID")


class LocalBackend:
    """A pack directory or zip on this machine."""

    name = "local"

    def handles(self, ref: str) -> bool:
        return "://" not in ref

    def fetch(self, ref: str) -> PackSource:
        path = Path(ref)
        if path.is_dir():
            return _from_dir(path, ref)
        if not path.exists():
            raise InvalidInput(f"pack not found: {ref}", code="E_REGISTRY_PACK_NOT_FOUND")
        return _from_zip(path, ref)


def _from_dir(root: Path, origin: str) -> PackSource:
    meta_path = root / METADATA
    if not meta_path.is_file():
        raise InvalidInput(
            f"pack {origin} has no {METADATA}",
            code="E_REGISTRY_PACK_INVALID",
            hint=f"gait registry pack {origin} --name NAME --version 1.0.0 --publisher YOU",
        )
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            raise escape_error(rel, "symbolic link", origin)
        if path.is_dir() or rel == METADATA:
            continue
        size = path.stat().st_size
        total += size
        if size > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES or len(files) >= MAX_FILES:
            raise _too_big(origin, f"too large at {rel} (limits: 100 MiB a file, 512 MiB)")
        files[rel] = path.read_bytes()
    return PackSource(origin, meta_path.read_bytes(), files)


def _from_zip(path: Path, origin: str) -> PackSource:
    import zlib

    from gait.runpack.archive import structure_problems

    try:
        with open(path, "rb") as raw, zipfile.ZipFile(raw) as archive:
            problems = structure_problems(raw, archive)
            if problems:
                member, why = problems[0]
                raise InvalidInput(
                    f"pack {origin}: malformed zip{f' at {member}' if member else ''}: {why}",
                    code="E_REGISTRY_PACK_INVALID",
                )
            return _read_zip(archive, origin)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        ValueError,
        EOFError,
        OSError,
        zlib.error,  # a corrupt deflate stream
        NotImplementedError,  # an unknown compression method
        RuntimeError,  # an encrypted member
    ) as exc:
        raise InvalidInput(
            f"pack {origin} is not a directory or a readable zip ({exc})",
            code="E_REGISTRY_PACK_INVALID",
        ) from exc


def _read_zip(archive: zipfile.ZipFile, origin: str) -> PackSource:
    infos = archive.infolist()
    if len(infos) > MAX_FILES:
        raise _too_big(origin, f"{len(infos)} members (limit {MAX_FILES})")
    files: dict[str, bytes] = {}
    metadata = b""
    total = 0
    for info in infos:
        name = info.filename
        is_dir = name.endswith("/")  # ZipInfo.is_dir() raises IndexError on an empty name
        reason = path_problem(name.rstrip("/") if is_dir else name)
        if reason:
            raise escape_error(name, reason, origin)
        if is_dir:
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            raise escape_error(name, "symbolic link", origin)
        if name in files or (name == METADATA and metadata):
            raise InvalidInput(
                f"pack {origin}: duplicate member {name!r}", code="E_REGISTRY_PACK_INVALID"
            )
        if info.file_size > MAX_FILE_BYTES:
            raise _too_big(origin, f"member {name} declares {info.file_size} bytes")
        data = _read_bounded(archive, info, origin)
        total += len(data)
        if total > MAX_TOTAL_BYTES:
            raise _too_big(origin, "more than 512 MiB in total")
        if name == METADATA:
            metadata = data
        else:
            files[name] = data
    if not metadata:
        raise InvalidInput(f"pack {origin} has no {METADATA}", code="E_REGISTRY_PACK_INVALID")
    return PackSource(origin, metadata, files)


def _read_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, origin: str) -> bytes:
    with archive.open(info) as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _too_big(origin, f"member {info.filename} is over 100 MiB")
    return data


BACKENDS: list[RegistryBackend] = [LocalBackend()]


def backend_for(ref: str) -> RegistryBackend:
    """The first backend that handles ``ref``; remote backends register here in v1.1."""
    for backend in BACKENDS:
        if backend.handles(ref):
            return backend
    scheme = ref.split("://", 1)[0]
    raise InvalidInput(
        f"no registry backend for {scheme!r}: this version installs local packs only",
        code="E_REGISTRY_BACKEND_UNSUPPORTED",
        hint="download the pack, then gait registry install ./pack.zip",
    )


def is_safe_relpath(name: str) -> bool:
    return not path_problem(name) and PurePosixPath(name).as_posix() == name
