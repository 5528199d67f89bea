"""Canonical JSON (RFC 8785 / JCS) and digests: the only place bytes for hashing are made.

Numbers follow the reference's reading of JSON: every number is an IEEE double, so an integer
outside +-2**53 is rounded the way a Go ``float64`` rounds it before it is printed.
"""

from __future__ import annotations

from gait.errors import InvalidInput
from gait.sha import sha256, sha256_small

TYPE_CHECKING = False
if TYPE_CHECKING:
    import json
    from collections.abc import Callable, Mapping
    from typing import Any

# The C accelerator of the ``json`` package, used here without the package: importing ``json``
# (four modules, which import ``re`` and compile its patterns) was 2% of a ``gait gate eval``
# process, which reads two small documents and writes a few (issue 16 item 6). The encoder and
# scanner are the very objects ``json.dumps``/``json.loads`` run (their pure-Python paths are
# fallbacks for an interpreter without ``_json``), so bytes and values are the same; ``json``
# itself is imported for what only it does: indented output of values that are not plain JSON
# types and the text of a parse error.
try:
    from _json import encode_basestring as _encode_str  # the escaper of ensure_ascii=False
    from _json import make_encoder as _make_encoder
    from _json import make_scanner as _make_scanner
except ImportError:  # pragma: no cover - an interpreter without CPython's _json
    import json as _json_package

    _encode_str = _json_package.encoder.py_encode_basestring

    def _make_encoder(  # type: ignore[no-redef]
        markers: Any, default: Any, encoder: Any, indent: Any, key_sep: str, item_sep: str,
        sort_keys: bool, skipkeys: bool, allow_nan: bool,
    ) -> Any:  # fmt: skip
        dumps = _json_package.JSONEncoder(
            skipkeys=skipkeys, ensure_ascii=False, check_circular=markers is not None,
            allow_nan=allow_nan, sort_keys=sort_keys, separators=(item_sep, key_sep),
            default=default,
        ).encode  # fmt: skip
        return lambda value, _level: [dumps(value)]

    def _make_scanner(context: Any) -> Any:  # type: ignore[no-redef]
        return _json_package.JSONDecoder(
            object_pairs_hook=context.object_pairs_hook, parse_constant=context.parse_constant
        ).scan_once  # type: ignore[attr-defined]


_SAFE_INT = 2**53
_INF = float("inf")


def _not_serializable(value: Any) -> Any:
    """``JSONEncoder.default``: the same TypeError ``json.dumps`` raises."""
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _encode(value: Any, allow_nan: bool) -> str:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    allow_nan=allow_nan)``: the encoder ``JSONEncoder.encode`` makes, with fresh markers (the
    circular-reference check) per call, as it does."""
    encode = _make_encoder(
        {}, _not_serializable, _encode_str, None, ":", ",", True, False, allow_nan
    )
    return "".join(encode(value, 0))


_PLAIN, _NUMBERS, _SLOW = 0, 1, 2


def _scan(value: Any) -> int:
    """How ``value`` can be encoded: ``_PLAIN`` when ``json.dumps`` is byte-equal to JCS,
    ``_NUMBERS`` when only its numbers need the ECMAScript form (floats, integers outside
    +-2**53), ``_SLOW`` otherwise (keys whose code-point order differs from UTF-16 order, i.e.
    characters at or above U+E000, non-string keys, non-JSON types).

    Containers are walked from a stack and their members looked at in place: a string, the
    commonest member, costs one type test and is never pushed."""
    found = _PLAIN
    members: Any = (value,)
    stack: list[Any] = []
    while True:
        for item in members:
            kind = type(item)
            if kind is str or item is None or kind is bool:
                continue
            if kind is dict or kind is list:
                stack.append(item)
            elif kind is int:
                if not -_SAFE_INT <= item <= _SAFE_INT:
                    found = _NUMBERS
            elif kind is float:
                found = _NUMBERS
            else:
                return _SLOW
        if not stack:
            return found
        members = stack.pop()
        if type(members) is dict:
            for key in members:
                if type(key) is not str or (not key.isascii() and max(key) >= "\ue000"):
                    return _SLOW
            members = members.values()


class _Unmarkable(Exception):
    pass


def _mark_numbers(value: Any, numbers: list[str]) -> Any:
    """A copy with each number needing the ECMAScript form replaced by a marker string.

    Markers hold NUL, which the encoder always escapes, so a value that has a NUL of its own
    in a string is refused here (it takes the rfc8785 path) and a marker cannot be forged.
    """
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            raise _Unmarkable
        return value
    if kind is float or (kind is int and not -_SAFE_INT <= value <= _SAFE_INT):
        numbers.append(ecmascript_number(float(value)))
        return f"\x00{len(numbers) - 1}\x00"
    # Containers are copied only on the way to a marked number; the rest is shared as it is.
    if kind is dict:
        copy: dict[str, Any] | None = None
        for key, item in value.items():
            if "\x00" in key:
                raise _Unmarkable
            marked = _mark_numbers(item, numbers)
            if marked is not item:
                if copy is None:
                    copy = dict(value)
                copy[key] = marked
        return value if copy is None else copy
    if kind is list:
        items: list[Any] | None = None
        for index, item in enumerate(value):
            marked = _mark_numbers(item, numbers)
            if marked is not item:
                if items is None:
                    items = list(value)
                items[index] = marked
        return value if items is None else items
    return value


def ecmascript_number(number: float) -> str:
    """ECMAScript Number::toString of a double (RFC 8785 section 3.2.2.3).

    ``repr`` gives the shortest round-tripping digits, as ECMAScript requires; only where the
    decimal point and exponent go differs.
    """
    if number != number or number in (_INF, -_INF):
        raise _Unmarkable
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    mantissa, _, exp_text = repr(abs(number)).partition("e")
    whole, _, frac = mantissa.partition(".")
    frac = frac.rstrip("0")
    digits = (whole + frac).lstrip("0")
    # value = 0.<digits> x 10**point
    point = len(whole.lstrip("0")) if whole.strip("0") else -(len(frac) - len(frac.lstrip("0")))
    point += int(exp_text) if exp_text else 0
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= point <= 21:
        return sign + digits + "0" * (point - k)
    if 0 < point <= 21:
        return f"{sign}{digits[:point]}.{digits[point:]}"
    if -6 < point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    exponent = point - 1
    exp_sign = "+" if exponent >= 0 else "-"
    head = digits[0] if k == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{sign}{head}e{exp_sign}{abs(exponent)}"


def _as_doubles(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if -_SAFE_INT < value < _SAFE_INT else float(value)
    if isinstance(value, dict):
        return {key: _as_doubles(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_doubles(item) for item in value]
    return value


# orjson gives JCS bytes for a value of exact dict/list/str/int/bool/None with no float: keys
# sorted by code point (UTF-8 byte order), the same escapes as JCS (the two-character ones and
# lowercase \u00xx for other controls, nothing else), integers in decimal. It is refused where
# that could differ: an integer beyond +-(2**53-1) (STRICT_INTEGER raises), a subclass, a
# dataclass or a datetime (passed to ``_refuse``), a non-string key, a lone surrogate; and its
# bytes are not used when they hold a character at or above U+E000 (UTF-8 lead bytes EE..F4),
# whose code-point order may differ from JCS's UTF-16 order. tests/test_canon.py checks the
# equality on arbitrary values.
#
# orjson is imported by the first encoding that can use it, unless the process said it encodes
# only a few small documents (``stdlib_only``): importing orjson (which imports uuid, platform
# and datetime) costs a ``gait gate eval`` process more than it saves. The C JSON encoder gives
# the same bytes wherever orjson's would be used (see ``_jcs``).
_HIGH_LEADS = bytes(range(0xEE, 0xF5))


def _has_high_character(data: bytes) -> bool:
    """A character at or above U+E000 in UTF-8 ``data`` (lead bytes EE..F4)."""
    return len(data.translate(None, _HIGH_LEADS)) != len(data)


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def _load_orjson(value: Any, default: Any, option: int) -> bytes:
    """The first call of ``_dumps``: import orjson, then be orjson.dumps from now on."""
    global _dumps, _options
    import orjson

    _options = (
        orjson.OPT_SORT_KEYS
        | orjson.OPT_STRICT_INTEGER
        | orjson.OPT_PASSTHROUGH_SUBCLASS
        | orjson.OPT_PASSTHROUGH_DATACLASS
        | orjson.OPT_PASSTHROUGH_DATETIME
    )
    _dumps = orjson.dumps
    return _dumps(value, default=default, option=_options)


def _without_orjson(value: Any, default: Any, option: int) -> bytes:
    raise TypeError("orjson not used in this process")


_dumps: Callable[..., bytes] = _load_orjson
_options = 0


def stdlib_only() -> None:
    """Encode with the stdlib's C JSON encoder only, never importing orjson (a one-shot CLI
    process: gait.cli.main). Same bytes: tests/test_canon.py checks both ways."""
    global _dumps
    if _dumps is _load_orjson:
        _dumps = _without_orjson


def _orjson_or_none(value: Any) -> bytes | None:
    try:
        return _dumps(value, default=_refuse, option=_options)
    except TypeError:  # orjson.JSONEncodeError included
        return None


def canonical_bytes_floatless(value: Any) -> bytes:
    """``canonical_bytes`` of a value its caller knows holds no float (NaN included) and no
    object orjson would encode by itself (enum, UUID, numpy): a normalised intent, whose
    normaliser saw every value. Everything else it may hold (subclasses, big integers, high
    keys) falls back to ``canonical_bytes``.
    """
    return _floatless(value, True)


def _floatless(value: Any, exact: bool) -> bytes:
    out = _orjson_or_none(value)
    if out is not None and (out.isascii() or not _has_high_character(out)):
        # orjson's own bytes object keeps its whole output buffer (4 KiB at least): a copy
        # of the exact size for a caller that may keep it, the object itself to hash at once.
        return bytes(memoryview(out)) if exact else out
    return _jcs(value, exact)


def is_plain(value: Any) -> bool:
    """Whether ``value`` is exact dicts, lists, strings, booleans, None and integers within
    +-2**53, keys below U+E000: what ``digest_floatless`` asks of its caller, settled by one walk
    (a caller taking digests of two near copies of one value walks it once)."""
    return _scan(value) == _PLAIN


def digest_floatless(value: Any) -> str:
    """``digest`` through ``canonical_bytes_floatless`` (same caller promise): a normalised
    intent's, which an in-process decision computes before it returns (``sha256_small``)."""
    return sha256_small(_floatless(value, False)).hexdigest()


def canonical_bytes(value: Any) -> bytes:
    """JCS bytes of a JSON value; raises InvalidInput for what JSON cannot hold (NaN, bytes...).

    orjson or the C JSON encoder does the work whenever it provably gives JCS bytes; rfc8785
    covers the rest (tests/test_canon.py checks they agree on arbitrary values).
    """
    return _jcs(value, True)


def _jcs(value: Any, exact: bool) -> bytes:
    """``canonical_bytes``; ``exact=False`` may return orjson's over-allocated bytes object
    (for a digest, which drops it at once)."""
    mode = _scan(value)
    try:
        if mode == _PLAIN:  # no float, no high key: orjson's bytes are JCS whenever it encodes
            out = _orjson_or_none(value)
            if out is not None:
                return bytes(memoryview(out)) if exact else out
            return _encode(value, False).encode("utf-8")
        if mode == _NUMBERS:
            numbers: list[str] = []
            marked = _mark_numbers(value, numbers)
            data = _orjson_or_none(marked) or _encode(marked, False).encode("utf-8")
            return _unmark(data, numbers)
    except (_Unmarkable, UnicodeEncodeError, ValueError, OverflowError, RecursionError):
        pass
    import rfc8785  # only values the fast path cannot take pay for the import

    try:
        return rfc8785.dumps(_as_doubles(value))
    except (
        rfc8785.CanonicalizationError,
        UnicodeEncodeError,
        TypeError,
        ValueError,
        OverflowError,  # an integer beyond the double range
        RecursionError,
    ) as exc:
        raise InvalidInput(
            f"value cannot be canonicalized as JSON: {exc}", code="E_CANONICAL_JSON"
        ) from exc


def _unmark(data: bytes, numbers: list[str]) -> bytes:
    """Each marker ``"\\u0000<n>\\u0000"`` in ``data`` replaced by ``numbers[n]``. The encoder
    escapes every NUL a string holds (``_mark_numbers`` refuses values that hold one), so the
    escaped NUL followed by digits and a closing escaped NUL and quote is always a marker."""
    pieces = data.split(b'"\\u0000')
    out = [pieces[0]]
    for piece in pieces[1:]:
        index, _, rest = piece.partition(b'\\u0000"')
        out.append(numbers[int(index)].encode())
        out.append(rest)
    return b"".join(out)


def sha256_hex(data: bytes) -> str:
    return sha256(data).hexdigest()


def digest(value: Any) -> str:
    """``H(x)`` of FORMATS.md: lowercase hex SHA-256 of the canonical bytes."""
    return sha256(_jcs(value, False)).hexdigest()


def id24(text: str) -> str:
    """Hex of the first 12 bytes of SHA-256 of an ASCII/UTF-8 string (trace, token, event ids)."""
    return sha256_small(text.encode("utf-8")).hexdigest()[:24]


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(f"duplicate key {key!r}")
            seen.add(key)
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _Strict:
    """What ``_json.make_scanner`` reads off a ``json.JSONDecoder``: ``STRICT_DECODER``'s."""

    strict = True
    object_hook = None
    object_pairs_hook = staticmethod(_no_duplicates)
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_reject_constant)


_WHITESPACE = " \t\n\r"  # json.decoder.WHITESPACE
_scan_strict = _make_scanner(_Strict())  # type: ignore[arg-type]


def _decode_strict(text: str) -> Any:
    """``STRICT_DECODER.decode(text)`` with the C scanner alone. A document it refuses is
    parsed again by ``json``'s decoder, for the exception that raises (the scanner takes
    ``JSONDecodeError`` from an imported ``json.decoder``; without one it fails unexplained)."""
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan_strict(text, start)
    except (StopIteration, SystemError):
        value, end = None, -1
    if end < 0 or text[end:].strip(_WHITESPACE):
        return _json_decoder().decode(text)
    return value


def _json_decoder() -> json.JSONDecoder:
    import json

    return json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)


if TYPE_CHECKING:
    STRICT_DECODER: json.JSONDecoder


def __getattr__(name: str) -> Any:
    """``STRICT_DECODER``: a ``json.JSONDecoder`` refusing duplicate keys and NaN/Infinity, made
    (and ``json`` imported) for the first caller that wants the decoder object itself
    (``raw_decode`` of a record stream)."""
    if name == "STRICT_DECODER":
        decoder = _json_decoder()
        globals()[name] = decoder
        return decoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def loads_strict(data: bytes | str, *, what: str = "JSON", code: str = "E_INVALID_JSON") -> Any:
    """Parse JSON refusing non-UTF-8 bytes, duplicate keys and NaN/Infinity."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{what} is not valid UTF-8 (byte {exc.start})", code=code) from exc
    try:
        return _decode_strict(text)
    except _DuplicateKey as exc:
        raise InvalidInput(f"{what} has a {exc}", code=code) from exc
    except (ValueError, RecursionError) as exc:  # json.JSONDecodeError is a ValueError
        raise InvalidInput(f"{what} is not valid JSON: {exc}", code=code) from exc


class _NotPlain(Exception):
    """A value the fast pretty printer leaves to ``json.dumps`` (subclasses, odd keys, cycles)."""


def _pretty(value: Any, out: list[str], newline: str) -> None:
    kind = type(value)
    if kind is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key in sorted(value):
            if type(key) is not str:
                raise _NotPlain
            item = value[key]
            if type(item) is str:  # most values: one append, no call
                out.append(f"{separator}{_encode_str(key)}: {_encode_str(item)}")
            else:
                out.append(f"{separator}{_encode_str(key)}: ")
                _pretty(item, out, inner)
            separator = "," + inner
        out.append(newline + "}")
    elif kind is str:
        out.append(_encode_str(value))
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            if type(item) is str:
                out.append(separator + _encode_str(item))
            else:
                out.append(separator)
                _pretty(item, out, inner)
            separator = "," + inner
        out.append(newline + "]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float:
        if value != value or value in (_INF, -_INF):
            raise _NotPlain  # NaN and infinities: json's own spelling, from json itself
        out.append(float.__repr__(value))
    else:
        raise _NotPlain


def dumps_pretty(value: Any, *, sort_keys: bool = True, ascii_only: bool = False) -> bytes:
    """2-space indented JSON plus newline: traces, tokens, state and regress files, and every
    human-readable JSON file Gait writes. Keys sorted unless ``sort_keys=False`` keeps the
    caller's order; ``ascii_only`` escapes non-ASCII (files whose earlier bytes did).

    The bytes of ``json.dumps(value, indent=2, sort_keys=..., ensure_ascii=...)`` (FORMATS
    fixes them). The default (sorted, UTF-8) is made without json's indenting encoder, which
    runs in pure Python through a generator per container and costs several times more than
    this for a trace. Anything but plain JSON types goes to ``json.dumps`` itself, which also
    raises its usual errors.
    """
    if sort_keys and not ascii_only:
        out: list[str] = []
        try:
            _pretty(value, out, "\n")
        except (_NotPlain, RecursionError):
            pass
        else:
            out.append("\n")
            return "".join(out).encode()
    import json

    text = json.dumps(value, indent=2, sort_keys=sort_keys, ensure_ascii=ascii_only)
    return (text + "\n").encode()


def dumps_pretty_struct(doc: Mapping[str, Any]) -> bytes:
    """``dumps_pretty`` as the reference writes a Go struct: the caller's key order at every
    level, except that objects under a ``details`` key (Go maps) have sorted keys
    (FORMATS.md section 0: regress results, fixture.json, gait.yaml)."""
    return dumps_pretty(_sort_details(doc), sort_keys=False)


def _sort_details(value: Any, inside: bool = False) -> Any:
    from collections.abc import Mapping

    if isinstance(value, Mapping):
        items = sorted(value.items()) if inside else value.items()
        return {k: _sort_details(v, inside or k == "details") for k, v in items}
    if isinstance(value, list):
        return [_sort_details(v, inside) for v in value]
    return value


def dumps_compact(value: Any) -> str:
    """One-line sorted JSON for ``--json`` output."""
    return _encode(value, True)
