"""The runpack zip container: deterministic writes and defensive reads.

Reads refuse what a hostile zip can do (path tricks, duplicate names, bombs) before any member
is parsed; problems that are verification failures are returned, not raised, so that verify can
report every one of them.
"""

from __future__ import annotations

import hashlib
import io
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from gait.errors import InvalidInput
from gait.fsutil import atomic_write

MAX_MEMBER_BYTES = 100 * 1024 * 1024
MAX_MEMBERS = 256
MAX_RATIO = 200
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1024 * 1024


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """Deflate, 1980-01-01 mtime, mode 0644, in the given order: the same bytes every time."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, data, compresslevel=6)
    return buffer.getvalue()


def write_zip(path: str | Path, members: list[tuple[str, bytes]]) -> Path:
    return atomic_write(path, zip_bytes(members))


@dataclass
class Problem:
    """One verification failure found while reading the container."""

    code: str
    path: str
    message: str


@dataclass
class Members:
    names: list[str] = field(default_factory=list)
    data: dict[str, bytes] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # Parsed once, shared by verify and the reader (gait.runpack.lines): a .jsonl name -> its
    # records when every line is canonical, else None; a .json name -> its document.
    parsed: dict[str, Any] = field(default_factory=dict, repr=False)


def _unsafe_name(name: str) -> str:
    if not name or "\x00" in name:
        return "empty or NUL in member name"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute member path"
    if "\\" in name:
        return "backslash in member path"
    if ".." in PurePosixPath(name).parts:
        return "'..' in member path"
    return ""


def read_members(path: str | Path) -> Members:
    """Every member's bytes, bounded; raises InvalidInput when ``path`` is not a zip at all."""
    target = Path(path)
    if target.is_dir():
        raise InvalidInput(
            f"{path} is a directory, not a runpack zip", code="E_VERIFY_INPUT_INVALID"
        )
    try:
        size = target.stat().st_size
    except FileNotFoundError as exc:
        raise InvalidInput(f"runpack not found: {path}", code="E_RUNPACK_NOT_FOUND") from exc
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {path}: {exc.strerror}", code="E_VERIFY_INPUT_INVALID"
        ) from exc
    if size == 0:
        raise InvalidInput(f"{path} is empty, not a runpack zip", code="E_VERIFY_INPUT_INVALID")
    try:
        with zipfile.ZipFile(target) as archive:
            return _read_all(archive)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        ValueError,
        EOFError,
        OSError,
        NotImplementedError,
        RuntimeError,
        UnicodeDecodeError,
    ) as exc:
        raise InvalidInput(
            f"{path} is not a readable zip ({exc})", code="E_VERIFY_INPUT_INVALID"
        ) from exc


def _read_all(archive: zipfile.ZipFile) -> Members:
    infos = archive.infolist()
    result = Members()
    if len(infos) > MAX_MEMBERS:
        result.problems.append(
            Problem("E_VERIFY_UNSAFE_MEMBER", "", f"{len(infos)} members (limit {MAX_MEMBERS})")
        )
        return result
    seen: set[str] = set()
    readable: list[zipfile.ZipInfo] = []
    for info in infos:
        name = info.filename
        result.names.append(name)
        reason = _unsafe_name(name)
        if name in seen:
            reason = "duplicate member name"
        seen.add(name)
        if not reason and info.is_dir():
            reason = "directory entry in runpack"
        if not reason and info.file_size > MAX_MEMBER_BYTES:
            reason = f"declared size {info.file_size} bytes over the {MAX_MEMBER_BYTES} limit"
        if (
            not reason
            and info.compress_size
            and info.file_size > max(_CHUNK, info.compress_size * MAX_RATIO)
        ):
            reason = "compression ratio too high (zip bomb)"
        if reason:
            result.problems.append(Problem("E_VERIFY_UNSAFE_MEMBER", name, reason))
        else:
            readable.append(info)
    outcomes = [_read_one(archive, info) for info in readable]
    for info, (data, digest, error) in zip(readable, outcomes, strict=True):
        if error == "oversize":
            result.problems.append(
                Problem(
                    "E_VERIFY_UNSAFE_MEMBER", info.filename, "actual size over the member limit"
                )
            )
        elif error:
            result.unreadable[info.filename] = error
        else:
            result.data[info.filename] = data
            result.sha256[info.filename] = digest
    return result


def _read_one(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[bytes, str, str]:
    try:
        data, digest = _read_bounded(archive, info)
    except _Oversize:
        return b"", "", "oversize"
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        return b"", "", f"member data corrupt ({exc})"
    return data, digest, ""


class _Oversize(Exception):
    pass


def _read_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[bytes, str]:
    chunks = []
    total = 0
    hasher = hashlib.sha256()
    with archive.open(info) as handle:
        while chunk := handle.read(_CHUNK):
            total += len(chunk)
            if total > MAX_MEMBER_BYTES:
                raise _Oversize
            hasher.update(chunk)
            chunks.append(chunk)
    return b"".join(chunks), hasher.hexdigest()
