"""The runpack zip container: deterministic writes and defensive reads.

Reads refuse what a hostile zip can do (path tricks, duplicate names, bombs) before any member
is parsed; problems that are verification failures are returned, not raised, so that verify can
report every one of them.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

from gait.errors import InvalidInput
from gait.fsutil import atomic_write
from gait.plain import Frozen, Plain
from gait.sha import sha256

# typing only for annotations: a verify process does not import it (tests/test_cli_startup.py)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Protocol

    class Sink(Protocol):
        """Takes a member's inflated bytes chunk by chunk while it is hashed (nothing is kept
        for it); may raise ``LimitExceeded`` to stop inflating that member."""

        def feed(self, chunk: bytes) -> None: ...

        def close(self) -> None: ...

    SinkFactory = Callable[[str], Sink | None]

MAX_MEMBER_BYTES = 100 * 1024 * 1024  # a member verify keeps in memory to parse it
MAX_MEMBERS = 256
MAX_RATIO = 200
MAX_INFLATED_BYTES = 256 * 1024 * 1024  # any member, streamed (hashed, never kept)
MAX_TOTAL_BYTES = 1024 * 1024 * 1024  # all members together
MAX_LINE_BYTES = 10 * 1024 * 1024  # one JSON text parsed while streaming (the reference's line cap)
MAX_JSON_VALUES = 500_000  # JSON values in one text, records in one member
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1024 * 1024
ARCHIVE_CODE = "E_VERIFY_ARCHIVE"
# The members a runpack reader parses; anything else is only hashed while streamed.
KEPT_MEMBERS = frozenset(
    {"manifest.json", "run.json", "intents.jsonl", "results.jsonl", "refs.json"}
)
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_EOCD = struct.Struct("<4s4H2LH")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")


# Not dataclasses (gait.plain: the same constructor, equality and repr): every ``gait verify``
# process defines them, and a dataclass is built by running Python over its fields at import.
class Limits(Frozen):
    """Bounds on inflating a zip (``gait verify --max-member-mib/--max-total-mib/--max-ratio``):
    checked while streaming, so nothing past a limit is ever inflated."""

    __slots__ = _fields = ("member_bytes", "total_bytes", "ratio", "line_bytes", "json_values")
    member_bytes: int
    total_bytes: int
    ratio: int
    line_bytes: int
    json_values: int

    def __init__(
        self,
        member_bytes: int = MAX_INFLATED_BYTES,
        total_bytes: int = MAX_TOTAL_BYTES,
        ratio: int = MAX_RATIO,
        # What one parse may cost, for readers that parse while streaming (verify): bytes of
        # one JSON text (a .jsonl line or a .json member), and JSON values in one text or
        # records in one member (counted without parsing: gait.runpack.lines.RecordStream).
        line_bytes: int = MAX_LINE_BYTES,
        json_values: int = MAX_JSON_VALUES,
    ) -> None:
        put = object.__setattr__
        put(self, "member_bytes", member_bytes)
        put(self, "total_bytes", total_bytes)
        put(self, "ratio", ratio)
        put(self, "line_bytes", line_bytes)
        put(self, "json_values", json_values)


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


class Problem(Plain):
    """One verification failure found while reading the container."""

    __slots__ = _fields = ("code", "path", "message")

    def __init__(self, code: str, path: str, message: str) -> None:
        self.code = code
        self.path = path
        self.message = message


class Members(Plain):
    """What reading a zip's members found."""

    __slots__ = _fields = ("names", "data", "sha256", "unreadable", "problems", "parsed")

    def __init__(
        self,
        names: list[str] | None = None,
        data: dict[str, bytes] | None = None,
        sha256: dict[str, str] | None = None,
        unreadable: dict[str, str] | None = None,
        problems: list[Problem] | None = None,
        parsed: dict[str, Any] | None = None,
    ) -> None:
        self.names: list[str] = [] if names is None else names
        self.data: dict[str, bytes] = {} if data is None else data
        self.sha256: dict[str, str] = {} if sha256 is None else sha256
        self.unreadable: dict[str, str] = {} if unreadable is None else unreadable
        self.problems: list[Problem] = [] if problems is None else problems
        # Parsed once, shared by verify and the reader (gait.runpack.lines): a .jsonl name ->
        # its records when every line is canonical, else None; a .json name -> its document.
        self.parsed: dict[str, Any] = {} if parsed is None else parsed

    def __repr__(self) -> str:  # parsed is left out, as its dataclass field(repr=False) was
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields[:-1])
        return f"{self.__class__.__qualname__}({shown})"


def _unsafe_name(name: str) -> str:
    if name in KEPT_MEMBERS:  # the runpack's own names: none of the below
        return ""
    if not name or "\x00" in name:
        return "empty or NUL in member name"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute member path"
    if "\\" in name:
        return "backslash in member path"
    if ".." in name.split("/"):  # PurePosixPath(name).parts holds ".." exactly when this does
        return "'..' in member path"
    return ""


def read_members(
    path: str | Path,
    limits: Limits | None = None,
    *,
    keep: frozenset[str] | None = KEPT_MEMBERS,
    sinks: SinkFactory | None = None,
    first: str = "",
) -> Members:
    """Every member's SHA-256, streamed and bounded, and the bytes of the members in ``keep``
    (the runpack members by default; None keeps all: packs parse every member); raises
    InvalidInput when ``path`` is not a zip at all.

    ``sinks(name)`` may give a member a ``Sink`` that takes its bytes as they inflate instead
    of keeping them; ``first`` names a member to read before the others (problems are still
    listed in the zip's order)."""
    target = Path(path)
    try:
        found = os.stat(target)
    except FileNotFoundError as exc:
        raise InvalidInput(f"runpack not found: {path}", code="E_RUNPACK_NOT_FOUND") from exc
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {path}: {exc.strerror}", code="E_VERIFY_INPUT_INVALID"
        ) from exc
    if stat.S_ISDIR(found.st_mode):
        raise InvalidInput(
            f"{path} is a directory, not a runpack zip", code="E_VERIFY_INPUT_INVALID"
        )
    if found.st_size == 0:
        raise InvalidInput(f"{path} is empty, not a runpack zip", code="E_VERIFY_INPUT_INVALID")
    try:
        with open(target, "rb") as raw:
            # A small zip is read with one read and parsed from memory: the central directory,
            # the end record and every local header are then read without a system call each.
            source: BinaryIO = _Image(raw.read()) if found.st_size <= _WHOLE_FILE else raw
            return read_members_from(source, str(path), limits, keep=keep, sinks=sinks, first=first)
    except OSError as exc:
        raise InvalidInput(
            f"{path} is not a readable zip ({exc})", code="E_VERIFY_INPUT_INVALID"
        ) from exc


_WHOLE_FILE = 1024 * 1024
# From this declared size on, a member is hashed with OpenSSL's SHA-256 (hashlib): importing
# hashlib costs a verify process about 14M instructions (3 ms), and OpenSSL's SHA instructions
# win that back from about half a MiB (a 10,000-call runpack's two 3.5 MB members: 4 ms
# against CPython's 20 ms). Below it, gait.sha (CPython's own, unless hashlib is loaded).
# The size is the one the central directory declares: it only picks which implementation
# computes the same digest; the limits are checked on the bytes that inflate.
_OPENSSL_FROM = 512 * 1024


def _member_hasher(declared_size: int) -> Any:
    if declared_size >= _OPENSSL_FROM:
        import hashlib

        return hashlib.sha256()
    return sha256()


class _Image(io.BytesIO):
    """A small zip's bytes, read from memory as from its file: a seek to before the start
    fails as the file's does (``OSError`` EINVAL, where ``BytesIO`` raises ``ValueError`` or
    stops at 0), so a zip whose offsets point before its start reads as the same error (or
    the same unreadable member) either way."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.data = data

    def seek(self, offset: int, whence: int = 0) -> int:
        if (
            offset < 0
            and whence in (0, 1, 2)
            and (0, self.tell(), len(self.data))[whence] + offset < 0
        ):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return _seek(self, offset, whence)


_seek = io.BytesIO.seek


def _read_at(raw: Any, offset: int, size: int) -> bytes:
    """``raw.seek(offset)`` then ``raw.read(size)``; a slice of a small zip's bytes (what
    they read, without the seek's round trip; a negative offset fails as the seek does)."""
    if type(raw) is _Image and offset >= 0:
        return raw.data[offset : offset + size]
    raw.seek(offset)
    data: bytes = raw.read(size)
    return data


def read_members_from(
    raw: BinaryIO,
    name: str,
    limits: Limits | None = None,
    *,
    keep: frozenset[str] | None = KEPT_MEMBERS,
    sinks: SinkFactory | None = None,
    first: str = "",
) -> Members:
    """``read_members`` of an open, seekable zip (a file, or an embedded zip's bytes in a
    ``BytesIO``: nothing is written to disk to read it); ``name`` names it in errors."""
    try:
        clean = _clean_entries(raw.data) if type(raw) is _Image else None
        if clean is not None:
            return _read_all(None, clean, limits or Limits(), keep, sinks, first)
        with zipfile.ZipFile(raw) as archive:
            headers: dict[int, _Header] = {}
            structure = [
                Problem(ARCHIVE_CODE, n, why)
                for n, why in structure_problems(raw, archive, headers)
            ]
            infos = archive.infolist()
            result = _read_all(archive, infos, limits or Limits(), keep, sinks, first, headers)
            result.problems[:0] = structure
            return result
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
            f"{name} is not a readable zip ({exc})", code="E_VERIFY_INPUT_INVALID"
        ) from exc


def structure_problems(
    raw: Any, archive: zipfile.ZipFile, headers: dict[int, _Header] | None = None
) -> list[tuple[str, str]]:
    """(member, why) for every way this zip reads differently to different readers.

    Python's ``zipfile`` trusts the central directory; a reader that walks local headers, or
    unpacks to disk (where mode bits make symlinks and directories), sees something else. So
    the entry count, each local header (method, flags, sizes, CRC, name), the method, the
    encryption flag and the file type in the mode bits must all agree with the central
    directory. Costs one small read per member; ``headers`` (by header offset) keeps what each
    local header read said, so reading the member does not read it again.
    """
    problems: list[tuple[str, str]] = []
    infos = archive.infolist()
    count = _eocd_entry_count(raw)
    if count is not None and count != len(infos):
        problems.append(
            ("", f"end record says {count} entries, central directory has {len(infos)}")
        )
    for info in infos:
        name = info.filename
        if info.flag_bits & 0x1:
            problems.append((name, "encrypted member"))
            continue
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            problems.append(
                (name, f"compression method {info.compress_type} (only stored/deflate)")
            )
            continue
        mode = info.external_attr >> 16
        # ZipInfo.is_dir() fails on an empty name (IndexError); _read_all refuses that name
        is_dir = name.endswith("/")
        wanted = stat.S_ISDIR if is_dir else stat.S_ISREG
        # many writers (Python's zipfile among them) leave the file-type bits at 0: a file
        if info.create_system == 3 and stat.S_IFMT(mode) and not wanted(mode):
            kind = (
                "symlink"
                if stat.S_ISLNK(mode)
                else "directory"
                if stat.S_ISDIR(mode)
                else "file"
                if stat.S_ISREG(mode)
                else "special file"
            )
            problems.append((name, f"{kind} mode bits on a member named like that"))
            continue
        if info.external_attr & 0x10 and not is_dir:
            problems.append((name, "directory attribute on a file member"))
            continue
        why = _local_header_problem(raw, info, headers)
        if why:
            problems.append((name, why))
    return problems


def _eocd_entry_count(raw: Any) -> int | None:
    """Total entries the end-of-central-directory record declares (None if not found/zip64)."""
    raw.seek(0, 2)
    size = raw.tell()
    tail_size = min(size, _EOCD.size + 65535)
    tail = _read_at(raw, size - tail_size, tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        return None
    fields = _EOCD.unpack(tail[at : at + _EOCD.size])
    disk_entries, total = fields[3], fields[4]
    if total == 0xFFFF:
        return None  # zip64: zipfile validated the zip64 record itself
    if disk_entries != total:
        return -1
    return int(total)


# A local header as read: its flags, name length, extra length and name bytes as found.
_Header = tuple[int, int, int, bytes]


def _local_header_problem(
    raw: Any, info: zipfile.ZipInfo, headers: dict[int, _Header] | None = None
) -> str:
    header = _read_at(raw, info.header_offset, _LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size:
        return "local header truncated"
    (sig, _v, _s, flags, method, _t, _d, crc, csize, usize, nlen, elen) = _LOCAL_HEADER.unpack(
        header
    )
    if sig != b"PK\x03\x04":
        return "local header missing"
    name = _read_at(raw, info.header_offset + _LOCAL_HEADER.size, nlen)
    if headers is not None:
        headers[info.header_offset] = (flags, nlen, elen, name)
    if method != info.compress_type:
        return f"local header says method {method}, central directory {info.compress_type}"
    if (flags ^ info.flag_bits) & 0x1:
        return "local header and central directory disagree on encryption"
    original = info.orig_filename
    expected = (  # an ASCII name is the same bytes in both encodings: the C codec says so
        original.encode("ascii")
        if original.isascii()
        else original.encode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace")
    )
    if name != expected:
        return "local header names another file"
    if flags & 0x8:
        return ""  # sizes and CRC are in the data descriptor; zipfile checks the CRC
    if csize == 0xFFFFFFFF or usize == 0xFFFFFFFF:
        return ""  # zip64 sizes live in the extra field
    if (crc, csize, usize) != (info.CRC, info.compress_size, info.file_size):
        return "local header sizes or CRC differ from the central directory"
    return ""


def _read_all(
    archive: zipfile.ZipFile | None,
    infos: list[zipfile.ZipInfo],
    limits: Limits,
    keep: frozenset[str] | None,
    sinks: SinkFactory | None = None,
    first: str = "",
    headers: dict[int, _Header] | None = None,
) -> Members:
    """The members of ``infos`` (a ``ZipFile``'s, or a clean small zip's ``_Entry``s, which
    come without one): refused by name and declared size, then read, hashed and kept."""
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
        if reason:
            result.problems.append(Problem("E_VERIFY_UNSAFE_MEMBER", name, reason))
            continue
        cap = _member_cap(name, limits, keep)
        if info.file_size > cap:
            reason = f"declared size {info.file_size} bytes over the {cap}-byte member limit"
        elif info.file_size > _ratio_cap(info, limits):
            reason = f"compression ratio over {limits.ratio}x (zip bomb)"
        if reason:
            result.problems.append(Problem(ARCHIVE_CODE, name, reason))
        else:
            readable.append(info)
    budget = [limits.total_bytes]
    order = {info.filename: i for i, info in enumerate(infos)}
    checked = len(result.problems)
    if first:
        readable.sort(key=lambda info: info.filename != first)  # stable: the rest keep order
    for info in readable:
        sink = sinks(info.filename) if sinks else None
        data, digest, error = _read_one(archive, info, limits, budget, keep, sink, headers)
        if error.startswith("limit:"):
            result.problems.append(Problem(ARCHIVE_CODE, info.filename, error[6:]))
            if budget[0] < 0:
                break  # the archive as a whole is over: read nothing more
        elif error:
            result.unreadable[info.filename] = error
        else:
            if sink is None and (keep is None or info.filename in keep):
                result.data[info.filename] = data
            result.sha256[info.filename] = digest
    if first:  # problems met while reading in the zip's order, as when read in order
        result.problems[checked:] = sorted(
            result.problems[checked:], key=lambda p: order.get(p.path, -1)
        )
    return result


def _member_cap(name: str, limits: Limits, keep: frozenset[str] | None) -> int:
    """A kept member is held in memory, so it is also held to MAX_MEMBER_BYTES."""
    kept = keep is None or name in keep
    return min(limits.member_bytes, MAX_MEMBER_BYTES) if kept else limits.member_bytes


def _ratio_cap(info: zipfile.ZipInfo, limits: Limits) -> int:
    """Most bytes ``info`` may inflate to: small members may compress well (a page of zeros)."""
    return max(_CHUNK, info.compress_size * limits.ratio)


def _read_one(
    archive: zipfile.ZipFile | None,
    info: zipfile.ZipInfo,
    limits: Limits,
    budget: list[int],
    keep: frozenset[str] | None,
    sink: Sink | None = None,
    headers: dict[int, _Header] | None = None,
) -> tuple[bytes, str, str]:
    try:
        data, digest = _read_bounded(archive, info, limits, budget, keep, sink, headers)
    except LimitExceeded as exc:
        return b"", "", f"limit:{exc}"
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


class LimitExceeded(Exception):
    """A member passed a limit while streamed: it is refused (``E_VERIFY_ARCHIVE``) with this
    message, and nothing more of it is inflated."""


def _read_bounded(
    archive: zipfile.ZipFile | None,
    info: zipfile.ZipInfo,
    limits: Limits,
    budget: list[int],
    keep: frozenset[str] | None,
    sink: Sink | None = None,
    headers: dict[int, _Header] | None = None,
) -> tuple[bytes, str]:
    """Stream one member: hash every chunk, keep it only for a parsed member (or hand it to
    its sink), and stop at the first chunk past a limit (the declared sizes may lie; only what
    inflates counts). A small member comes whole (``_read_small``), as the one chunk the stream
    would give, and is checked alike."""
    if type(info) is _Entry:  # read whole with the rest of its clean small zip
        return _take_whole(info.whole, info, limits, budget, keep, sink)
    whole = _read_small(archive, info, headers) if archive is not None else None
    if whole is not None:
        return _take_whole(whole, info, limits, budget, keep, sink)
    if archive is None:  # only _clean_entries' members come without their zip, each whole
        raise RuntimeError("member read without its zip")
    with archive.open(info) as handle:
        return _take(iter(lambda: handle.read(_CHUNK), b""), info, limits, budget, keep, sink)


def _take(
    chunks: Iterable[bytes],
    info: zipfile.ZipInfo,
    limits: Limits,
    budget: list[int],
    keep: frozenset[str] | None,
    sink: Sink | None,
) -> tuple[bytes, str]:
    kept = sink is None and (keep is None or info.filename in keep)
    cap = _member_cap(info.filename, limits, keep)
    ratio_cap = _ratio_cap(info, limits)
    parts = []
    total = 0
    hasher = _member_hasher(info.file_size)
    for chunk in chunks:
        total += len(chunk)
        budget[0] -= len(chunk)
        if total > cap:
            raise LimitExceeded(f"inflates past the {cap}-byte member limit")
        if total > ratio_cap:
            raise LimitExceeded(f"inflates past {limits.ratio}x its compressed size (zip bomb)")
        if budget[0] < 0:
            raise LimitExceeded(f"members inflate past the {limits.total_bytes}-byte archive limit")
        hasher.update(chunk)
        if kept:
            parts.append(chunk)
        elif sink is not None:
            sink.feed(chunk)
    if sink is not None:
        sink.close()
    return b"".join(parts), hasher.hexdigest()


def _take_whole(
    whole: bytes,
    info: zipfile.ZipInfo,
    limits: Limits,
    budget: list[int],
    keep: frozenset[str] | None,
    sink: Sink | None,
) -> tuple[bytes, str]:
    """``_take`` of a member read whole (``_read_small``): its bytes are its declared size,
    which ``_read_all`` held to the member and ratio caps before reading it, so of ``_take``'s
    checks only the archive budget is left to fail."""
    budget[0] -= len(whole)
    if budget[0] < 0:
        raise LimitExceeded(f"members inflate past the {limits.total_bytes}-byte archive limit")
    hasher = _member_hasher(len(whole))
    hasher.update(whole)
    digest = hasher.hexdigest()
    if sink is not None:
        if whole:
            sink.feed(whole)
        sink.close()
        return b"", digest
    return (whole if keep is None or info.filename in keep else b""), digest


_SMALL = 64 * 1024
_REFUSED_FLAGS = 0x1 | 0x20 | 0x40  # encrypted, patched data, strong encryption


def _read_small(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, headers: dict[int, _Header] | None = None
) -> bytes | None:
    """A small member's inflated bytes in one read and one inflate, or None to take the
    streamed path (``ZipFile.open``'s per-member set-up is most of a small verify's cost).

    Only a member that reads cleanly comes back: local header as ``ZipFile.open`` checks it,
    whole deflate stream, declared size and CRC all right. Anything else (corrupt, truncated,
    lying sizes) returns None, so the stream meets it and reports it in its own words. The
    local header is the one ``structure_problems`` read into ``headers``, when it did."""
    if (
        info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
        or info.flag_bits & _REFUSED_FLAGS
        or info.file_size > _SMALL
        or info.compress_size > _SMALL
    ):
        return None
    raw = archive.fp
    if raw is None:
        return None
    known = headers.get(info.header_offset) if headers is not None else None
    if known is not None:
        flags, nlen, elen, fname = known
    else:
        header = _read_at(raw, info.header_offset, _LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size:
            return None
        fields = _LOCAL_HEADER.unpack(header)
        sig, flags, nlen, elen = fields[0], fields[3], fields[10], fields[11]
        if sig != b"PK\x03\x04":
            return None
        fname = _read_at(raw, info.header_offset + _LOCAL_HEADER.size, nlen)
    try:  # ASCII bytes read the same in both encodings (cp437's codec is Python code)
        decoded = fname.decode(
            "ascii" if fname.isascii() else "utf-8" if flags & 0x800 else "cp437"
        )
    except UnicodeDecodeError:
        return None
    if decoded != info.orig_filename:
        return None
    start = info.header_offset + _LOCAL_HEADER.size + nlen + elen
    end_offset = getattr(info, "_end_offset", None)
    if end_offset is not None and start + info.compress_size > end_offset:
        return None
    packed = _read_at(raw, start, info.compress_size)
    if len(packed) != info.compress_size:
        return None
    if info.compress_type == zipfile.ZIP_STORED:
        data = packed
    else:
        inflater = zlib.decompressobj(-15)
        try:
            data = inflater.decompress(packed, info.file_size + 1)
        except zlib.error:
            return None
        if not inflater.eof or inflater.unconsumed_tail:
            return None
    if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
        return None
    return data


class _Entry(zipfile.ZipInfo):
    """A member of a small zip that reads cleanly (``_clean_entries``): the central directory's
    fields the reader uses, and its bytes, already inflated and checked."""

    __slots__ = ("whole",)
    whole: bytes


# Extra fields that change nothing Python's zipfile reads (extended timestamp, Unix uid/gid,
# NTFS times); any other (zip64 sizes, a Unicode path) sends the zip to zipfile.
_PLAIN_EXTRAS = frozenset({0x5455, 0x7875, 0x000A})
_MAX_EXTRACT_VERSION = 63  # zipfile.MAX_EXTRACT_VERSION: above it, NotImplementedError


def _clean_entries(data: bytes) -> list[zipfile.ZipInfo] | None:
    """A small zip's members in one pass over its bytes (``struct.unpack_from`` over the end
    record, the central directory and each local header), or None to read it the general way
    (``zipfile``, ``structure_problems``, ``_read_small``).

    Only a zip every one of those reads alike, and finds nothing wrong with, comes back: end
    record last (no comment, no zip64 locator, one disk, counts agreeing), the central
    directory right before it, entries that ``zipfile`` reads as written (ASCII names without
    NUL, no zip64 or Unicode-path extra field), none of ``structure_problems``' findings,
    local headers in order with each member's data before the next, and every member small
    and inflating to its declared size and CRC as ``_read_small`` requires. Anything else,
    however harmless, takes the general path, whose result (problems, messages, errors) this
    one then cannot differ from: it gives the same entries and bytes or nothing."""
    size = len(data)
    end = size - _EOCD.size
    if end < 20 or data[end : end + 4] != b"PK\x05\x06" or data[size - 2 :] != b"\0\0":
        return None
    if data.find(b"PK\x05\x06", end + 1) >= 0 or data[end - 20 : end - 16] == b"PK\x06\x07":
        return None  # another end record signature after it, or a zip64 locator before it
    _sig, disk, cd_disk, on_disk, total, cd_size, cd_offset, _clen = _EOCD.unpack_from(data, end)
    if disk or cd_disk or on_disk != total or total > MAX_MEMBERS or cd_offset + cd_size != end:
        return None
    entries: list[zipfile.ZipInfo] = []
    pos = cd_offset
    bound = 0  # where the previous member's data ended: local headers must come in order
    while pos < end:
        if pos + _CENTRAL.size > end:
            return None
        fields = _CENTRAL.unpack_from(data, pos)
        (sig, _cv, system, version, _r, flags, method, _t, _d, crc, csize, usize) = fields[:12]
        nlen, elen, clen, attr, offset = fields[12], fields[13], fields[14], fields[17], fields[18]
        name_at = pos + _CENTRAL.size
        pos = name_at + nlen + elen + clen
        raw_name = data[name_at : name_at + nlen]
        if (
            sig != b"PK\x01\x02"
            or pos > end
            or version > _MAX_EXTRACT_VERSION
            or flags & _REFUSED_FLAGS
            or method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
            or usize > _SMALL
            or csize > _SMALL
            or not raw_name.isascii()
            or b"\0" in raw_name
            or b"\\" in raw_name  # zipfile turns it into os.sep on Windows
            or (elen and not _plain_extra(data[name_at + nlen : name_at + nlen + elen]))
        ):
            return None
        name = raw_name.decode("ascii")
        mode = attr >> 16
        if name.endswith("/"):
            if system == 3 and stat.S_IFMT(mode) and not stat.S_ISDIR(mode):
                return None
        elif attr & 0x10 or (system == 3 and stat.S_IFMT(mode) and not stat.S_ISREG(mode)):
            return None
        # The local header, as _local_header_problem and _read_small check it.
        if offset < bound or offset + _LOCAL_HEADER.size > cd_offset:
            return None
        (lsig, _v, _s, lflags, lmethod, _lt, _ld, lcrc, lcsize, lusize, lnlen, lelen) = (
            _LOCAL_HEADER.unpack_from(data, offset)
        )
        start = offset + _LOCAL_HEADER.size + lnlen + lelen
        bound = start + csize
        if (
            lsig != b"PK\x03\x04"
            or lmethod != method
            or (lflags ^ flags) & 0x1
            or data[offset + _LOCAL_HEADER.size : offset + _LOCAL_HEADER.size + lnlen] != raw_name
            or bound > cd_offset
        ):
            return None
        if (
            not lflags & 0x8
            and lcsize != 0xFFFFFFFF
            and lusize != 0xFFFFFFFF
            and (lcrc, lcsize, lusize) != (crc, csize, usize)
        ):
            return None
        packed = data[start:bound]
        if method == zipfile.ZIP_STORED:
            whole = packed
        else:
            inflater = zlib.decompressobj(-15)
            try:
                whole = inflater.decompress(packed, usize + 1)
            except zlib.error:
                return None
            if not inflater.eof or inflater.unconsumed_tail:
                return None
        if len(whole) != usize or zlib.crc32(whole) != crc:
            return None
        entry = _Entry.__new__(_Entry)
        entry.filename = entry.orig_filename = name
        entry.flag_bits, entry.compress_type, entry.create_system = flags, method, system
        entry.external_attr, entry.header_offset = attr, offset
        entry.CRC, entry.compress_size, entry.file_size = crc, csize, usize
        entry.whole = whole
        entries.append(entry)
    if pos != end or len(entries) != total:
        return None
    return entries


def _plain_extra(extra: bytes) -> bool:
    """Extra fields as ``ZipInfo._decodeExtra`` walks them, each one of ``_PLAIN_EXTRAS``."""
    at = 0
    while len(extra) - at >= 4:
        kind, length = struct.unpack_from("<HH", extra, at)
        at += 4 + length
        if at > len(extra) or kind not in _PLAIN_EXTRAS:
            return False
    return True
