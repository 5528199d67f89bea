"""Atomic file writes: nothing already written is lost or half-written."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from gait.errors import InvalidInput, IOFailure
from gait.lazyre import lazy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType as Traceback
    from typing import Any, BinaryIO

STALE_TEMP_SECONDS = 3600
_TEMP_NAME = lazy(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$")


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


def make_temp_dir(target: Path, *, max_age: float | None = STALE_TEMP_SECONDS) -> Path:
    """A staging directory beside ``target`` (same file system, so it can be renamed into
    place): ``.<name>.<pid>.<random>.tmp``, cleaned like a temp file when its writer died."""
    import tempfile

    clean_stale_temps(target, max_age=max_age)
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(
        tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    )


def clean_stale_temps(target: Path, *, max_age: float | None = STALE_TEMP_SECONDS) -> int:
    """Remove temp files and staging directories of dead writers of ``target`` (their process
    is gone, or they are ``max_age`` seconds old: a pid the system gave to another process);
    how many were removed. ``max_age=None`` spares every live process's (``scratch_dir``: a
    run may use its directory for longer than an hour)."""
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
            if alive and (max_age is None or now - path.lstat().st_mtime < max_age):
                continue
            if pid == os.getpid():
                continue  # our own, in use by another thread
            if path.is_dir() and not path.is_symlink():
                import shutil

                shutil.rmtree(path)
            else:
                path.unlink()
            removed += 1
        except OSError:
            continue
    return removed


def scratch_dir(name: str) -> Path:
    """A private (0700) working directory in the system temp directory for this process:
    ``.<name>.<pid>.<random>.tmp``. A process killed before removing its own leaves it; the
    next process asking for one of the same ``name`` removes those whose process is gone, as
    writers remove dead writers' temp files (``clean_stale_temps``)."""
    import tempfile

    return make_temp_dir(Path(tempfile.gettempdir()) / name, max_age=None)


def scratch(name: str) -> _Scratch:
    """``scratch_dir`` removed when the block ends (``tempfile.TemporaryDirectory`` leaves one
    a kill interrupted for ever; this one is cleaned by the next run)."""
    return _Scratch(name)


# The context managers here are classes, not ``contextlib.contextmanager`` generators: a gate
# decision takes a file lock, and importing contextlib (which defines a dozen classes) was 2%
# of a ``gait gate eval`` process (issue 16 item 6).
class _Scratch:
    __slots__ = ("_name", "_path")

    def __init__(self, name: str) -> None:
        self._name = name

    def __enter__(self) -> Path:
        self._path = scratch_dir(self._name)
        return self._path

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Traceback | None
    ) -> None:
        import shutil

        shutil.rmtree(self._path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def stage(
    target: Path,
    content: bytes | Callable[[BinaryIO], object],
    *,
    mode: int = 0o644,
    sync: bool = True,
    temp: Path | None = None,
) -> Path:
    """A complete file beside ``target``, not yet in place: ``content`` (bytes, or a function
    writing to the handle) written, flushed, fsynced unless ``sync=False``, given ``mode``.

    The one way Gait writes a file it then renames (``atomic_write``), hard-links
    (``create_exclusive``) or renames with others (``commit_files``); on any failure, an
    interrupt included, the temp file is removed, and one a kill leaves is cleaned by the
    next writer of the same target.

    ``temp`` names the temp file, for a writer holding a lock that every writer of that name
    takes (the decision log's): a dead writer's leftover is then simply replaced by the next
    one, with no scan of the directory for leftovers (a scan costs in proportion to the files
    beside ``target``: thousands of traces). Writers not serialized by such a lock would share
    the name: they take the default, a name of their own.
    """
    if temp is None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = make_temp(target)
        tmp = Path(name)
    else:
        tmp = temp
        fd = _create_fixed(temp, target)
    try:
        if isinstance(content, bytes):
            try:
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view) :]
                _finish(fd, mode, sync)
            finally:
                os.close(fd)
        else:
            with os.fdopen(fd, "w+b") as handle:
                content(handle)
                handle.flush()
                _finish(handle.fileno(), mode, sync)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return tmp


def _finish(fd: int, mode: int, sync: bool) -> None:
    if sync:
        os.fsync(fd)
    os.fchmod(fd, mode)  # not masked by the umask, unlike the mode given at creation


def _create_fixed(temp: Path, target: Path) -> int:
    """Create ``temp`` exclusively (never writing through a file or link someone planted
    there), replacing a dead writer's leftover; the directories are made only when missing."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        os.unlink(temp)
    except FileNotFoundError:
        pass
    try:
        return os.open(temp, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp.parent.mkdir(parents=True, exist_ok=True)
        return os.open(temp, flags | getattr(os, "O_CLOEXEC", 0), 0o600)


def replace_with(
    path: str | os.PathLike[str],
    content: bytes | Callable[[BinaryIO], object],
    *,
    mode: int = 0o644,
    sync: bool = True,
    temp: Path | None = None,
    exchange: bool = False,
) -> Path:
    """``stage`` then rename over ``path``: readers see the old file or the new one, never
    half of one. OS errors propagate as they are (``atomic_write`` words them).

    ``exchange`` swaps the new file with an existing ``path`` instead (``renameat2`` with
    ``RENAME_EXCHANGE`` where Linux has it) and removes the old one it leaves at the temp
    name: as atomic for readers, but ext4 flushes a file renamed over another before the
    rename (auto_da_alloc, milliseconds), which a writer that skips the fsync does not want.
    Where the exchange is unavailable, or ``path`` does not exist yet, it renames.
    """
    target = Path(path)
    tmp = stage(target, content, mode=mode, sync=sync, temp=temp)
    try:
        if exchange and _exchange(tmp, target):
            os.unlink(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target


# renameat2(2) where the platform has it: None until first looked up, False where it is not.
_RENAMEAT2: Any = None
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# syncfs(2) likewise (see ``syncfs_function``).
_SYNCFS: Any = None


def libc_function(name: str, argtypes: Sequence[str], restype: str = "c_int") -> Any:
    """libc's function ``name`` (Linux) with its C types (``ctypes`` type names), or ``None``
    where there is no such function. A caller keeps what it gets: this loads ``ctypes``.

    ``CDLL(None)`` is the process's own libc: ``ctypes.util.find_library`` would run
    ``ldconfig -p`` in a subprocess.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        function = getattr(ctypes.CDLL(None, use_errno=True), name)
        function.argtypes = [getattr(ctypes, kind) for kind in argtypes]
        function.restype = getattr(ctypes, restype)
    except (OSError, AttributeError, ImportError):
        return None
    return function


def syncfs_function() -> Any:
    """libc's ``syncfs(fd)``, looked up once, or ``None`` (then a writer fsyncs each file)."""
    global _SYNCFS
    if _SYNCFS is None:
        _SYNCFS = libc_function("syncfs", ["c_int"]) or False
    return _SYNCFS or None


def _exchange(first: Path, second: Path) -> bool:
    """Atomically exchange two existing paths; False where that is unavailable (or fails:
    ENOENT when ``second`` does not exist yet, EINVAL on a file system without it)."""
    global _RENAMEAT2
    if _RENAMEAT2 is None:
        _RENAMEAT2 = (
            libc_function("renameat2", ["c_int", "c_char_p", "c_int", "c_char_p", "c_uint"])
            or False
        )
    if not _RENAMEAT2:
        return False
    result: int = _RENAMEAT2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    return result == 0


def atomic_write(
    path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644, sync: bool = True
) -> Path:
    """Write to a temp file in the same directory, fsync, then rename over ``path``.

    ``sync=False`` skips the fsync for a caller that makes the file system durable itself in
    batches (the decision service's group commit); the rename stays atomic either way.
    """
    target = Path(path)
    try:
        return replace_with(target, data, mode=mode, sync=sync)
    except OSError as exc:
        raise IOFailure(f"cannot write {target}: {exc.strerror}", code="E_IO_WRITE") from exc


def signals_held() -> _SignalsHeld:
    """Hold SIGINT/SIGTERM back for the few renames that must all happen (delivered after)."""
    return _SignalsHeld()


class _SignalsHeld:
    __slots__ = ("_previous",)

    def __enter__(self) -> None:
        import signal
        import threading

        self._previous: Any = None
        if threading.current_thread() is threading.main_thread():
            held = {signal.SIGINT, signal.SIGTERM}
            self._previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Traceback | None
    ) -> None:
        if self._previous is not None:
            import signal

            signal.pthread_sigmask(signal.SIG_SETMASK, self._previous)


def commit_files(files: Sequence[tuple[Path, bytes | Callable[[BinaryIO], object]]]) -> None:
    """Write every file aside first, then rename each into place: a failure while preparing
    leaves every original untouched. SIGINT/SIGTERM wait until the whole step is done (a
    fraction of a second), so an interrupt never leaves a temp file or half of the set."""
    staged: list[tuple[Path, Path]] = []
    with signals_held():
        try:
            for target, data in files:
                staged.append((stage(target, data), target))
            for tmp, target in staged:
                os.replace(tmp, target)
        finally:
            for tmp, _ in staged:
                try:
                    tmp.unlink()
                except OSError:
                    pass


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


def read_input(path: str | os.PathLike[str], code: str, what: str = "") -> bytes:
    """The bytes of a file the user named, or ``InvalidInput`` ``code`` in one line: "cannot
    read [WHAT ]PATH: reason" (so every command words an unreadable input alike)."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        shown = f"{what} {path}" if what else str(path)
        raise InvalidInput(f"cannot read {shown}: {exc.strerror or exc}", code=code) from exc


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


def file_lock(path: str | os.PathLike[str]) -> _FileLock:
    """Exclusive advisory lock across processes (and threads: each ``with`` opens its own
    descriptor) for read-modify-write of state files and the decision log. On the hot path
    (the gate's log) it costs one open and one flock: the directory is made only when missing."""
    return _FileLock(path)


class _FileLock:
    __slots__ = ("_path", "_fd")

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = path

    def __enter__(self) -> None:
        import fcntl

        fd = _open_made(self._path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Traceback | None
    ) -> None:
        import fcntl

        fd = self._fd
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def append_locked(
    path: str | os.PathLike[str], line: bytes | Callable[[], bytes], *, sync: bool = False
) -> bytes:
    """Append ``line`` (or what ``line()`` returns: computed under the lock, for a record
    chained to the one before) to an owner-only file in one write, holding ``file_lock``'s
    lock on the file itself: concurrent appenders, threads included, never interleave and a
    chained record sees its predecessor. What was appended is returned."""
    import fcntl

    fd = _open_made(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by the close
        data = line if isinstance(line, bytes) else line()
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    return data


def _open_made(path: str | os.PathLike[str], flags: int) -> int:
    """Open ``path`` (owner-only when created), making its directory only when missing."""
    try:
        return os.open(path, flags, 0o600)
    except FileNotFoundError:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, flags, 0o600)


def create_exclusive(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> bool:
    """Create ``path`` with ``data`` only if it does not exist yet; False when it already did.

    The file appears complete or not at all (written aside, then hard-linked into place).
    """
    target = Path(path)
    tmp = stage(target, data, mode=mode)
    try:
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        return True
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
