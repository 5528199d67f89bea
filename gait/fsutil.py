"""Atomic file writes: nothing already written is lost or half-written."""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

from gait.errors import IOFailure

STALE_TEMP_SECONDS = 3600
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$")


def make_temp(target: Path) -> tuple[int, str]:
    """A temp file beside ``target`` for an atomic replace: ``.<name>.<pid>.<random>.tmp``.

    A process killed between creating it and renaming it leaves it behind; the next writer of
    the same target removes such leftovers (their process is gone, or they are an hour old), so
    crashes never accumulate temp files.
    """
    import tempfile  # loaded by the first atomic write, not by every command that imports us

    clean_stale_temps(target)
    return tempfile.mkstemp(
        prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent
    )


def clean_stale_temps(target: Path) -> int:
    """Remove temp files of dead writers of ``target``; how many were removed."""
    import glob

    removed = 0
    try:
        candidates = list(target.parent.glob(f".{glob.escape(target.name)}.*.tmp"))
    except OSError:
        return 0
    now = time.time()
    for path in candidates:
        match = _TEMP_NAME.match(path.name)
        if match is None or match.group("name") != target.name:
            continue
        pid = int(match.group("pid"))
        try:
            alive = pid != os.getpid() and _pid_alive(pid)
            if alive and now - path.stat().st_mtime < STALE_TEMP_SECONDS:
                continue
            if pid == os.getpid():
                continue  # our own, in use by another thread
            path.unlink()
            removed += 1
        except OSError:
            continue
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def atomic_write(
    path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644, sync: bool = True
) -> Path:
    """Write to a temp file in the same directory, fsync, then rename over ``path``.

    ``sync=False`` skips the fsync for a caller that makes the file system durable itself in
    batches (the decision service's group commit); the rename stays atomic either way.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = make_temp(target)
    except OSError as exc:
        raise IOFailure(f"cannot write {target}: {exc.strerror}", code="E_IO_WRITE") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise IOFailure(f"cannot write {target}: {exc.strerror}", code="E_IO_WRITE") from exc
    return target


def gait_home() -> Path:
    """``GAIT_HOME``, default ``~/.gait``: dev keys, trust store, recorded runs, gate state."""
    env = os.environ.get("GAIT_HOME")
    return Path(env).expanduser() if env else Path.home() / ".gait"


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and missing parents) owner-only (0700) whatever the umask.

    GAIT_HOME holds the dev signing key and the trust store: a directory others can write to
    lets them plant a key or a trust entry. Existing directories keep their modes (``gait
    doctor`` reports loose ones); only what this call creates is made 0700.
    """
    target = Path(path)
    missing: list[Path] = []
    probe = target
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        except OSError as exc:
            raise IOFailure(f"cannot create {folder}: {exc.strerror}", code="E_IO_WRITE") from exc
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask; chmod is not
    return target


def read_no_follow(path: str | os.PathLike[str]) -> bytes:
    """Read a regular file without following a symlink at its last component (key files)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(21, "not a regular file", str(path))
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Exclusive advisory lock across processes for read-modify-write of small state files."""
    import fcntl

    lock_path = Path(path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def create_exclusive(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> bool:
    """Create ``path`` with ``data`` only if it does not exist yet; False when it already did.

    The file appears complete or not at all (written aside, then hard-linked into place).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = make_temp(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
