"""Atomic file writes: nothing already written is lost or half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from gait.errors import IOFailure


def atomic_write(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> Path:
    """Write to a temp file in the same directory, fsync, then rename over ``path``."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise IOFailure(f"cannot write {target}: {exc.strerror}", code="E_IO_WRITE") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
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


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str]):  # noqa: ANN201 - generator context manager
    """Exclusive advisory lock across processes for read-modify-write of small state files."""
    import fcntl

    lock_path = Path(path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
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
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
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
