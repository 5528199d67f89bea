"""Parse runpack ``.jsonl`` members fast, with exactly the strict parser's answers.

Verify (schema check) and the reader need the records of ``intents.jsonl`` and
``results.jsonl``: ``strict_records`` gives them with the C scanner, once per read. Diff also
needs to know that each line is the canonical form (FORMATS.md section 1) of its record
(``E_DIFF_NONDETERMINISTIC_INPUT``); ``canonical_records`` answers both at once and cheaply:
each line is scanned by the C scanner without a Python hook, then the
records are re-serialized with ``canonical_bytes`` a chunk at a time and compared with the
lines joined the same way.

When it returns records they are exactly what ``loads_strict`` gives line by line, because
equal bytes prove everything the strict parse checks: a canonical line has no duplicate key
(the canonical form of a parsed object has each key once), no NaN or Infinity (they cannot be
canonicalized), and it is valid UTF-8. Equality of the joined chunk proves equality line by
line because each line was parsed to its end on its own: were a line a proper prefix of its
record's canonical form (or the reverse), a complete JSON text would be followed by ``,`` and
more, which no JSON text is. Anything else returns ``None`` and the caller takes the strict
path, which gives the same records or errors as before.
"""

from __future__ import annotations

import gc
import json
import re
import sys
from bisect import bisect_right
from collections.abc import Callable
from functools import cache
from itertools import accumulate

import orjson

from gait.canon import STRICT_DECODER, canonical_bytes, loads_strict
from gait.errors import InvalidInput
from gait.runpack.archive import LimitExceeded, Members

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set by __init__ (C scanner)
_CHUNK = 512
_DEEP = 100  # '[' and '{' bytes on a line from which its nesting may reach the stdlib's limit
_NOT_OPENERS = bytes(b for b in range(256) if b not in b"[{\n")
_DEEP_RUN = rb"[^\n]{%d}" % _DEEP  # searched through re's cache: rarely needed (see below)
_DUMP_DEPTH = 255  # orjson.dumps refuses a value nested this deep (JSONEncodeError)
_FRAMES = 64  # the strict parser's own frames, and a margin
_PART_BYTES = 128 * 1024  # a streamed block is parsed and checked in parts about this big


def _stack_room() -> int:
    """Recursion levels left to the stdlib JSON parser called from here (3.11 counts Python
    frames and the C scanner's levels against the same limit)."""
    frame: Any = sys._getframe()
    depth = 0
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return sys.getrecursionlimit() - depth


def canonical_records(raw: bytes) -> list[Any] | None:
    """The records of a ``.jsonl`` member whose every line is canonical, else None.

    Non-None means: ``raw`` is empty or ends with a newline, and the records equal
    ``[loads_strict(line) for line in raw.split(b"\\n")[:-1]]`` with every line equal to
    ``canonical_bytes`` of its record.

    One parse and one serialization: a line that is orjson's sorted compact form of what
    orjson read from it is that record's only serialization (see ``_proven_records``: no
    duplicate key, whitespace or respelled number, so the strict parse reads the same), and
    holds its keys sorted; unless it holds something orjson and RFC 8785 may print
    differently (``_jcs_suspects``), that form is ``canonical_bytes`` of the record, byte for
    byte (keys below U+E000 sort the same by code point as by UTF-16 unit). Suspect lines
    (and lines nested too deep for the stdlib parser, see ``_DEEP``) are parsed strictly and
    compared with ``canonical_bytes`` one by one. The comparison runs a chunk at a time, so
    its temporaries stay small beside the records. Anything else is settled by the two-pass
    proof (``_canonical_slow``), which gives the same answer for every input.
    """
    if not raw:
        return []
    if not raw.endswith(b"\n"):
        return None
    lines = raw.split(b"\n")
    lines.pop()  # the empty text after the last newline (raw[:-1] would copy the member)
    if len(raw) <= _SMALL_MEMBER and raw.count(b"[") + raw.count(b"{") < _DEEP:
        small = _canonical_small(lines)
        if small is not None:
            return small
    try:
        with collector_paused():
            records = list(map(orjson.loads, lines))
    except (ValueError, RecursionError):
        return _canonical_stdlib(raw)
    suspect = sorted({*_deep_lines(raw), *_jcs_suspects(raw, lines)})
    shown, plain = lines, records
    if suspect:
        shown, plain = list(lines), list(records)
        for i in suspect:
            strict = _strict_lines([lines[i]])
            if strict is None:
                return None  # not even strictly parseable: no canonical line either
            try:
                if canonical_bytes(strict[0]) != lines[i]:
                    return None
            except (InvalidInput, RecursionError):
                return None
            records[i] = strict[0]
            shown[i], plain[i] = b"null", None
    sort = orjson.OPT_SORT_KEYS
    try:
        for start in range(0, len(lines), _PROOF_CHUNK):
            end = start + _PROOF_CHUNK
            if (
                orjson.dumps(plain[start:end], option=sort)
                != b"[" + b",".join(shown[start:end]) + b"]"
            ):
                return _canonical_slow(raw, lines)
    except TypeError:  # orjson.JSONEncodeError; nothing it parsed should fail to print
        return _canonical_slow(raw, lines)
    return records


_PROOF_CHUNK = 2048
_SMALL_MEMBER = 8 * 1024  # bytes of a member small enough for _canonical_small


def _canonical_small(lines: list[bytes]) -> list[Any] | None:
    """``canonical_records`` of a small member nested less than ``_DEEP`` in all (so the
    strict parser has room for any line), or None to ask the general proof: orjson's records,
    if ``canonical_bytes`` of them all, and orjson's own print, is the lines joined as an
    array. A few dozen values cost ``canonical_bytes``' walk less than ``_jcs_suspects``' five
    searches and line table.

    Equal joins mean equal lines: each line parsed whole as one JSON text, and one JSON text
    followed by ``,`` and more is never another (``canonical_records``' argument). A line that
    is the canonical form of what orjson read from it has no duplicate key, no whitespace, no
    respelled number, no NaN and only escapes JCS writes, so the strict parse reads the same.
    """
    try:
        records = list(map(orjson.loads, lines))
        joined = b"[" + b",".join(lines) + b"]"
        # orjson reads an integer past 64 bits as a float, which canonical_bytes prints with
        # the same digits: its own compact print (as in _proven_records) tells them apart.
        if orjson.dumps(records) == joined and canonical_bytes(records) == joined:
            return records
    except (ValueError, InvalidInput, RecursionError):  # orjson's decode error is a ValueError
        pass
    return None


def _deep_lines(raw: bytes) -> list[int]:
    """Lines with ``_DEEP`` or more openers (orjson's nesting limit passes the stdlib's)."""
    openers = raw.translate(None, _NOT_OPENERS).split(b"\n")
    openers.pop()
    if max(map(len, openers)) < _DEEP:
        return []
    return [i for i, o in enumerate(openers) if len(o) >= _DEEP]


def _canonical_slow(raw: bytes, lines: list[bytes]) -> list[Any] | None:
    """The two-pass proof: records proven equal to the strict parse first
    (``_proven_records``), then their sorted form against the lines."""
    proven = _proven_records(raw, lines)
    if proven is None:
        return _canonical_stdlib(raw)
    records, suspect = proven
    suspect = sorted({*suspect, *_jcs_suspects(raw, lines)})
    shown, plain = lines, records
    if suspect:
        shown, plain = list(lines), list(records)
        for i in suspect:
            try:
                if canonical_bytes(records[i]) != lines[i]:
                    return None
            except (InvalidInput, RecursionError):
                return None
            shown[i], plain[i] = b"null", None
    if orjson.dumps(plain, option=orjson.OPT_SORT_KEYS) != b"[" + b",".join(shown) + b"]":
        return None
    return records


_NUMBER = rb"-?(?:\d+[.eE]|\d{16})"
_FLAG_PATTERNS = (
    rb"\\",  # an escape: orjson and canonical_bytes may spell it differently
    # a number with a fraction or exponent (printed the ECMAScript way), or of 16 digits (may
    # pass 2**53, printed as a double): after a key's colon, in an array, or a whole line
    # (one pattern per first byte: the regex engine finds a literal first byte fastest)
    rb'":' + _NUMBER,
    rb"," + _NUMBER,
    rb"\[" + _NUMBER,
    rb"\n" + _NUMBER,
)
_HIGH = rb"[\xee-\xff]"  # a lead byte of U+E000 and up: UTF-16 order differs


@cache
def _suspect_patterns() -> tuple[tuple[re.Pattern[bytes], ...], re.Pattern[bytes]]:
    """The flag patterns (and ``_HIGH`` last), and the first-line number, compiled when the
    canonical proof first needs them: a verify never does, and compiling them was a share of
    its start-up."""
    flags = tuple(map(re.compile, (*_FLAG_PATTERNS, _HIGH)))
    return flags, re.compile(_NUMBER)


_BELOW_HIGH = bytes(range(0xEE))


def _jcs_suspects(raw: bytes, lines: list[bytes]) -> list[int]:
    """Lines where orjson's sorted form may differ from RFC 8785's (``_FLAG_PATTERNS``,
    ``_HIGH``), found by searching the whole member once per pattern. In a line without
    backslashes that is orjson's compact form, ``"`` only delimits strings and a number
    outside strings follows ``":``, ``,``, ``[`` or the line start; a match inside a string
    only costs a check.
    """
    patterns, first_number = _suspect_patterns()
    flags = patterns if raw.translate(None, _BELOW_HIGH) else patterns[:-1]
    at = [match.end() - 1 for pattern in flags for match in pattern.finditer(raw)]
    if first_number.match(raw):  # the first line is a number (the others follow a newline)
        at.append(0)
    if not at:
        return []
    starts = list(accumulate(map(len, lines), lambda total, size: total + size + 1, initial=0))
    return sorted({bisect_right(starts, position) - 1 for position in at})


def _canonical_stdlib(raw: bytes) -> list[Any] | None:
    """``canonical_records`` with the stdlib scanner and ``canonical_bytes`` a chunk at a
    time, for members orjson does not read."""
    byte_lines = raw[:-1].split(b"\n")
    try:
        text_lines = raw[:-1].decode("utf-8").split("\n")
        scanned = [_SCAN(line, 0) for line in text_lines]
    except (StopIteration, ValueError, RecursionError):
        return None
    records = [value for value, _ in scanned]
    if [end for _, end in scanned] != list(map(len, text_lines)):
        return None  # something after the value on a line (whitespace, a second value)
    for start in range(0, len(records), _CHUNK):
        try:
            expected = canonical_bytes(records[start : start + _CHUNK])
        except (InvalidInput, RecursionError):
            return None
        if expected != b"[" + b",".join(byte_lines[start : start + _CHUNK]) + b"]":
            return None
    return records


def strict_records(raw: bytes) -> list[Any] | None:
    """The records of a ``.jsonl`` member exactly as ``loads_strict`` gives them line by line
    (valid UTF-8, no duplicate keys, no NaN/Infinity, one value per line), or None when any
    line is not; the caller then takes the line-by-line path for its error message. Cheaper
    than ``canonical_records``: verify and replay need the records, not the canonical proof.

    orjson parses each line (about three times the speed of the stdlib scanner with the
    duplicate-key hook); its records count only where they are proven equal to the strict
    parse, see ``_proven_records``. Any line it refuses sends the whole member to the strict
    parse, so the answer, records or None, never depends on which parser ran.
    """
    if not raw:
        return []
    if not raw.endswith(b"\n"):
        return None
    lines = raw[:-1].split(b"\n")
    proven = _proven_records(raw, lines)
    return proven[0] if proven is not None else _strict_lines(lines)


def _proven_records(raw: bytes, lines: list[bytes]) -> tuple[list[Any], list[int]] | None:
    """orjson's records of ``lines``, each proven equal to ``loads_strict`` of its line (else
    that line is parsed strictly: its index is in the list returned beside the records);
    None when orjson refuses a line or a strict parse fails.

    The proof: orjson's compact serialization of the records, joined like the lines, equals
    the lines. Equal bytes mean each line is exactly its record's serialization (each line is
    one complete JSON text, and a JSON text followed by ``,`` is never a prefix of another),
    so a line holds no duplicate key (a parsed object has each key once), no NaN or Infinity,
    no whitespace, and its numbers print back to themselves, which pins the same double or
    integer any correct parser reads. orjson's nesting limit (1024) passes the stdlib
    parser's recursion limit (the interpreter's limit less the frames already on the stack),
    but ``orjson.dumps`` refuses anything nested ``_DUMP_DEPTH`` deep or more, and that
    refusal sends the whole block to the strict parse: so where the stack has room for
    ``_DUMP_DEPTH`` more levels, whatever the proof accepts the strict parse reads alike.
    Called deeper in a stack than that, a line with ``_DEEP`` or more openers is parsed
    strictly whatever orjson says.
    """
    try:
        with collector_paused():
            records = list(map(orjson.loads, lines))
    except (ValueError, RecursionError):  # orjson.JSONDecodeError is a ValueError
        return None
    deep: list[int] = []
    if _stack_room() < _DUMP_DEPTH + _FRAMES:  # called deep in a stack: see the docstring
        openers = raw.translate(None, _NOT_OPENERS)
        if re.search(_DEEP_RUN, openers):  # a line with _DEEP openers, found without a split
            deep = [i for i, o in enumerate(openers.split(b"\n")) if len(o) >= _DEEP]
    shown = lines
    if deep:  # orjson.dumps stops at 254 levels: those records are not printed at all
        shown = list(lines)
        for i in deep:
            records[i], shown[i] = None, b"null"
    suspect = deep
    try:
        # the lines joined by "," are the member with its newlines turned into commas
        joined = raw.replace(b"\n", b",") if not deep else b",".join(shown) + b","
        dumped = orjson.dumps(records)
        # dumped[1:-1] == joined[:-1], compared in place (no copy of either)
        if len(dumped) != len(joined) + 1 or not dumped.startswith(memoryview(joined)[:-1], 1):
            each = list(map(orjson.dumps, records))
            suspect = sorted({*deep, *(i for i, line in enumerate(shown) if each[i] != line)})
    except TypeError:  # orjson.JSONEncodeError; nothing it parsed should fail to print
        return None
    for i in suspect:
        strict = _strict_lines([lines[i]])
        if strict is None:
            return None
        records[i] = strict[0]
    return records, suspect


class collector_paused:  # noqa: N801 - a context manager called like the function it was
    """No cyclic garbage collection while a member is parsed: parsing allocates hundreds of
    thousands of containers, each allocation counts toward a collection, and each full
    collection walks every record parsed so far (it halves the parse of 100,000 calls).
    The parsed values hold no cycles, so nothing collectable is left for later. The collector
    comes back on exit only if it was on at entry (a plain class: contextlib's generator
    set-up cost a small verify, which enters it three times, more than the pause saved)."""

    __slots__ = ("_resume",)

    def __enter__(self) -> None:
        self._resume = gc.isenabled()
        if self._resume:
            gc.disable()

    def __exit__(self, *_: object) -> None:
        if self._resume:
            gc.enable()


def _strict_lines(lines: list[bytes]) -> list[Any] | None:
    decode = STRICT_DECODER.raw_decode
    try:
        records = []
        for line in lines:
            text = line.decode("utf-8")
            value, end = decode(text)
            if end != len(text):
                return None
            records.append(value)
    except (ValueError, RecursionError):
        return None
    return records


def member_records(members: Members, name: str) -> list[Any] | None:
    """``canonical_records`` of a member read with ``read_members``, parsed once per read."""
    if name not in members.parsed:
        raw = members.data.get(name)
        members.parsed[name] = canonical_records(raw) if raw is not None else None
    records: list[Any] | None = members.parsed[name]  # parsed holds documents too (Any)
    return records


def member_strict_records(members: Members, name: str) -> list[Any] | None:
    """``strict_records`` of a member read with ``read_members`` (the records of an earlier
    ``member_records`` proof when there is one), parsed once per read."""
    proven: list[Any] | None = members.parsed.get(name)
    if proven is not None:
        return proven
    key = f"strict:{name}"
    if key not in members.parsed:
        raw = members.data.get(name)
        members.parsed[key] = strict_records(raw) if raw is not None else None
    records: list[Any] | None = members.parsed[key]
    return records


def member_document(members: Members, name: str, *, code: str = "E_INVALID_JSON") -> Any:
    """``loads_strict`` of a ``.json`` member read with ``read_members``, parsed once per read
    (a failure is raised with the caller's code every time, never cached)."""
    if name not in members.parsed:
        members.parsed[name] = strict_document(members.data[name], what=name, code=code)
    return members.parsed[name]


def strict_document(raw: bytes, *, what: str, code: str = "E_INVALID_JSON") -> Any:
    """``loads_strict(raw, what=what, code=code)``, value or error. A document that is
    orjson's compact form of what orjson read from it (a runpack's ``.json`` members are
    written so) is that value, by ``_proven_records``' argument: its only serialization, so no
    duplicate key, NaN, whitespace or respelled number, and the strict parse reads the same
    (nested below ``_DEEP``, so the stdlib's recursion limit is not near). A few times cheaper
    than the strict parser's hook per object; anything else takes ``loads_strict``."""
    try:
        value = orjson.loads(raw)
        if orjson.dumps(value) == raw and raw.count(b"[") + raw.count(b"{") < _DEEP:
            return value
    except (ValueError, TypeError, RecursionError):  # orjson's decode and encode errors
        pass
    return loads_strict(raw, what=what, code=code)


def is_canonical(value: Any, raw: bytes) -> bool:
    """Whether ``raw`` is the canonical form of ``value`` (parsed from it). Usually answered
    by orjson's sorted form, as for ``canonical_records``' lines: equal to ``raw`` and holding
    nothing the two print differently, it is the canonical form. A small document (a
    runpack's manifest, refs, most run.json) is answered by ``canonical_bytes`` at once: its
    walk of a few dozen values costs less than the five searches and line table of
    ``_jcs_suspects``, whatever the document holds."""
    if len(raw) > _SMALL_DOCUMENT:
        try:
            if orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == raw and not _jcs_suspects(
                raw, [raw]
            ):
                return True
        except TypeError:  # orjson.JSONEncodeError: canonical_bytes decides
            pass
    try:
        return canonical_bytes(value) == raw
    except (InvalidInput, RecursionError):
        return False


_SMALL_DOCUMENT = 8 * 1024  # bytes up to which is_canonical asks canonical_bytes directly

_COUNTED = (b"[", b"{", b",", b":")  # each JSON value but a line's first follows one of these


def json_values(data: bytes) -> int:
    """An upper bound on the JSON values (containers, scalars, keys) ``data`` parses into,
    counted without parsing: every one but the first follows ``[``, ``{``, ``,`` or ``:``
    (bytes inside strings count too, so it never undercounts)."""
    return sum(map(data.count, _COUNTED))


class RecordStream:
    """A ``.jsonl`` member parsed as it inflates (an ``archive.Sink``): whole lines a block at
    a time (about a chunk), each block parsed in parts of about ``_PART_BYTES``, each part's
    records handed to ``consume(first_line, records)`` and then dropped, so memory holds one
    block, never the member. (Records of an earlier part may be handed on before a later
    part's line fails to parse; ``error`` then stands for the whole member.)

    Bounded before anything is parsed: a line longer than ``line_bytes``, a line counting
    more than ``values`` JSON values (``json_values``), or more than ``values`` lines raises
    ``LimitExceeded``. The records are ``strict_records``'s; at the first line that does not
    parse strictly, ``error`` holds ``loads_strict``'s message for it and nothing more is
    parsed (lines are still bounded). ``close`` notes a member not ending with a newline.
    """

    def __init__(
        self,
        name: str,
        consume: Callable[[int, list[Any]], None],
        *,
        line_bytes: int,
        values: int,
        code: str = "E_INVALID_JSON",
    ) -> None:
        self.name = name
        self.consume = consume
        self.line_bytes = line_bytes
        self.values = values
        self.code = code
        self.error = ""
        self.lines = 0
        self._pending: list[bytes] = []
        self._pending_size = 0

    def feed(self, chunk: bytes) -> None:
        cut = chunk.rfind(b"\n")
        if cut < 0:
            if chunk:
                self._pending.append(chunk)
                self._pending_size += len(chunk)
                self._check_pending()
            return
        if self._pending:  # one copy: the pending tail and this chunk's whole lines
            block = b"".join((*self._pending, memoryview(chunk)[: cut + 1]))
        else:
            block = chunk if cut + 1 == len(chunk) else chunk[: cut + 1]
        tail = chunk[cut + 1 :]
        self._pending = [tail] if tail else []
        self._pending_size = len(tail)
        self._block(block)
        self._check_pending()

    def close(self) -> None:
        if self._pending_size:
            self.error = f"{self.name} does not end with a newline"
        self._pending = []

    def _check_pending(self) -> None:
        if self._pending_size > self.line_bytes:
            raise LimitExceeded(
                f"line {self.lines + 1} is over the {self.line_bytes}-byte line limit "
                "(--max-line-mib raises it)"
            )

    def _block(self, block: bytes) -> None:
        lines = block.split(b"\n")
        lines.pop()  # the empty text after the block's last newline (no copy of the block)
        first = self.lines + 1
        self.lines += len(lines)
        if self.lines > self.values:
            raise LimitExceeded(
                f"more than {self.values} records (--max-json-values raises the limit)"
            )
        if len(block) > self.line_bytes:
            for i, line in enumerate(lines):
                if len(line) > self.line_bytes:
                    raise LimitExceeded(
                        f"line {first + i} is over the {self.line_bytes}-byte line limit "
                        "(--max-line-mib raises it)"
                    )
        # a line counts at most its length in values: only lines longer than the limit are counted
        if max(map(len, lines)) > self.values and json_values(block) > self.values:
            for i, line in enumerate(lines):
                if json_values(line) > self.values:
                    raise LimitExceeded(
                        f"line {first + i} holds more than {self.values} JSON values "
                        "(--max-json-values raises the limit)"
                    )
        if self.error:
            return
        # parsed and consumed a part at a time: a part's records are still in the processor's
        # cache while they are proven, checked and freed (a whole chunk's were not: 7-9 % more
        # CPU for a verify of 10,000 calls); the limits above are checked over the whole block
        step = max(len(lines) * _PART_BYTES // len(block), 1)
        start = offset = 0
        while start < len(lines) and not self.error:
            part = lines[start : start + step]
            end = offset + sum(map(len, part)) + len(part)
            self._part(block[offset:end] if step < len(lines) else block, part, first + start)
            start, offset = start + step, end

    def _part(self, raw: bytes, lines: list[bytes], first: int) -> None:
        """Parse whole lines (``raw``, split into ``lines``) and hand their records on, or keep
        the first line's error that does not parse strictly."""
        proven = _proven_records(raw, lines)
        records = proven[0] if proven is not None else _strict_lines(lines)
        if records is None:
            records = []
            for i, line in enumerate(lines, start=first):
                try:
                    records.append(loads_strict(line, what=f"{self.name} line {i}", code=self.code))
                except InvalidInput as exc:
                    self.error = exc.message
                    return
        self.consume(first, records)
