"""JSON Schema (2020-12) validation of every Gait artifact, by schema id.

Schemas are read lazily and each validator is built once: building one compiles every regex and
``$ref`` in the schema, which costs far more than a validation. ``jsonschema`` is imported only
inside functions so that ``gait --version`` never pays for it.

Each schema file names its id in ``x-gait-schema-id`` (the artifact's ``schema_id`` where it has
one); a schema can be asked for by that id or by its file stem (``trace_record``).

``jsonschema`` costs ~140 µs per runpack line, which makes ``gait verify`` of a long run spend
seconds on schemas and milliseconds on hashes. So each schema is also compiled, once, into nested
closures that answer only "valid or not" for the keywords these schemas use, mirroring
jsonschema's own rules keyword by keyword (its ``equal``, ``uniq``, type checks, ``re.search``).
Valid documents never reach jsonschema; invalid ones (and anything the closures did not expect)
go to it for the verdict and the messages, so no answer or message changes. A schema using a
keyword the compiler does not mirror is not compiled at all: a guess could change a verdict.
"""

from __future__ import annotations

import _thread
import os
import sys

# What a gate decision's schema check reads of collections.abc and operator, from the modules
# they re-export (already loaded at start-up, or built in): neither the collections package nor
# operator.py, nor json, re or functools, is imported for it (issue 16 item 6).
from _collections_abc import Mapping, Sequence
from _operator import itemgetter
from pathlib import Path

from gait.errors import InvalidInput
from gait.lazyre import lazy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    _F = TypeVar("_F", bound="Callable[..., Any]")

_SUFFIX = ".schema.json"
_ID_KEY = "x-gait-schema-id"
_LOCK = _thread.allocate_lock()  # threading itself is not needed here


def _cache(function: _F) -> _F:
    """``functools.cache`` for these lookups by one argument (or none), without functools."""
    found: dict[tuple[Any, ...], Any] = {}

    def cached(*args: Any) -> Any:
        try:
            return found[args]
        except KeyError:
            value = found[args] = function(*args)
            return value

    cached.__wrapped__ = function  # type: ignore[attr-defined]
    cached.cache_clear = found.clear  # type: ignore[attr-defined]
    return cached  # type: ignore[return-value]


@_cache
def _schema_dir() -> Path:
    """Where the ``*.schema.json`` files are: package data in a wheel, ``schemas/`` in a checkout.

    The wheel maps ``schemas/`` to ``gait._schemas``; an editable install or a bare checkout has
    no such package (or an empty one), so fall back to the directory beside ``gait/``.
    """
    import gait

    try:
        # The package's folders from its spec: importlib.resources would cost a gate decision
        # more than the lookup (it loads tempfile, shutil and the compression modules), and
        # importlib.util.find_spec loads contextlib and importlib's abstract classes; the
        # import system's own finders answer the same for a subpackage of gait.
        spec = None
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec("gait._schemas", gait.__path__) if find_spec is not None else None
            if spec is not None:
                break
        for location in (spec.submodule_search_locations or []) if spec else []:
            if any(name.endswith(_SUFFIX) for name in os.listdir(location)):
                return Path(location)
    except (ModuleNotFoundError, TypeError, ValueError, OSError):
        pass

    return Path(gait.__file__).resolve().parent.parent / "schemas"


@_cache
def _index() -> dict[str, Path]:
    """Schema id and file stem -> file. Read once; a clash between two files is a bug here."""
    index: dict[str, Path] = {}
    for path in sorted(_schema_dir().glob("*" + _SUFFIX)):
        stem = path.name[: -len(_SUFFIX)]
        schema_id = _load(path).get(_ID_KEY) or stem
        for key in {schema_id, stem}:
            if key in index and index[key] != path:
                raise RuntimeError(f"schema key {key!r} names both {index[key]} and {path}")
            index[key] = path
    return index


def _ids() -> dict[Path, str]:
    ids: dict[Path, str] = {}
    for key, path in _index().items():
        if "." in key or path not in ids:
            ids[path] = key
    return ids


def schema_ids() -> list[str]:
    """Every schema id (``gait.runpack.manifest``...), sorted; file stems are aliases."""
    return sorted(_ids().values())


@_cache
def _direct(schema_id: str) -> Path | None:
    """The file an id names by convention (``gait.gate.intent_request`` is
    ``intent_request.schema.json``, ``gait.runpack.manifest`` is
    ``runpack_manifest.schema.json``) when that file says so: a file or two read instead of
    all of them (verify reads five schemas, not twenty-five files)."""
    parts = schema_id.split(".")
    # gait.gate.intent_request: intent_request; gait.runpack.manifest: runpack_manifest
    for stem in dict.fromkeys((parts[-1], "_".join(parts[-2:]))):
        path = _schema_dir() / f"{stem}{_SUFFIX}"
        try:
            doc = _load(path)
        except (OSError, ValueError, InvalidInput):
            continue
        if schema_id in (stem, doc.get(_ID_KEY)):
            return path
    return None


def schema_path(schema_id: str) -> Path:
    """The file of a schema id or stem; InvalidInput when unknown."""
    if isinstance(schema_id, str) and schema_id:
        found = _direct(schema_id)
        if found is not None:
            return found
    try:
        return _index()[schema_id]
    except (KeyError, TypeError):
        raise InvalidInput(f"unknown schema {schema_id!r}", code="E_SCHEMA_UNKNOWN") from None


@_cache
def _load(path: Path) -> dict[str, Any]:
    """A schema file, parsed (by gait.canon: json's package is not imported for it)."""
    from gait.canon import loads_strict

    with open(path, "rb") as handle:
        data = handle.read()
    doc: dict[str, Any] = loads_strict(data, what=f"schema {path}", code="E_SCHEMA_UNKNOWN")
    return doc


def load_schema(schema_id: str) -> dict[str, Any]:
    """The parsed schema (shared: do not mutate it)."""
    return _load(schema_path(schema_id))


@_cache
def _format_checker() -> Any:
    """date-time checked by our own RFC 3339 parser.

    jsonschema's built-in date-time check silently does nothing unless an optional package is
    installed, and it would accept forms the reference refuses (no seconds fraction limit).
    """
    from jsonschema import FormatChecker

    from gait import timefmt

    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=(InvalidInput,))
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        timefmt.parse(value)
        return True

    return checker


def _validator(path: Path) -> Any:
    with _LOCK:
        return _build(path)


@_cache
def _build(path: Path) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_load(path), format_checker=_format_checker())


def json_path(parts: Any) -> str:
    """``$.a[0]["b c"]``: where in a document a schema error or a regress difference is."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out += f".{part}"
        else:
            import json

            out += "[" + json.dumps(str(part), ensure_ascii=False) + "]"
    return out


def _leaves(error: Any) -> list[Any]:
    """The most specific failures: a oneOf/anyOf failure says more through its sub-errors."""
    if error.context and error.validator in ("oneOf", "anyOf"):
        found: list[Any] = []
        for sub in error.context:
            found.extend(_leaves(sub))
        return found
    return [error]


def _message(error: Any) -> str:
    message = error.message
    if len(message) > 300:
        message = message[:297] + "..."
    return f"{json_path(error.absolute_path)}: {message}"


# --- compiled fast path ------------------------------------------------------------------------

if TYPE_CHECKING:  # typing is not loaded by a gate decision (issue 16 item 6)
    _Check = Callable[[Any], bool]


class _Unsupported(Exception):
    """The schema needs something the compiler does not mirror exactly: leave it to jsonschema."""


class _Compiled:
    """A schema's fast check, or None and why not (kept so tests and profiling can see it).

    A plain class, not a NamedTuple: under ``from __future__ import annotations`` NamedTuple
    turns each field's annotation into a ForwardRef with ``compile()``, and the first
    ``compile()`` in a process builds the interpreter's AST types: 4% of a gate decision's
    process, for two field names.
    """

    __slots__ = ("check", "reason")

    def __init__(self, check: _Check | None, reason: str) -> None:
        self.check = check
        self.reason = reason

    def __repr__(self) -> str:
        return f"_Compiled(check={self.check!r}, reason={self.reason!r})"


# Compiled checks by schema file, filled lazily under _LOCK; read without it once filled.
_FAST: dict[Path, _Compiled] = {}

_SUPPORTED = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "patternProperties", "const",
        "enum", "pattern", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "minItems", "maxItems", "uniqueItems", "items", "prefixItems",
        "$ref", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "format",
        "propertyNames",
    }
)  # fmt: skip
# Keywords jsonschema never validates with; anything else unknown makes a schema uncompilable.
_ANNOTATIONS = frozenset(
    {"title", "description", "$comment", "default", "examples", "deprecated", "readOnly",
     "writeOnly", "$defs"}
)  # fmt: skip
_ROOT_ONLY = frozenset({"$schema", "$id"})
# The keywords each of _Compiler's type groups reads (an untyped group without any of them
# builds nothing, so compiling a leaf does not call the other three builders), in the order
# the groups are built; and the keywords _Compiler.generic reads.
_GROUPS = (
    ("string", frozenset({"minLength", "maxLength", "pattern", "format", "const", "enum"})),
    ("number", frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})),
    ("array", frozenset({"minItems", "maxItems", "uniqueItems", "prefixItems", "items"})),
    (
        "object",
        frozenset(
            {"properties", "patternProperties", "required", "additionalProperties", "propertyNames"}
        ),
    ),
)
_GENERIC = frozenset({"const", "enum", "$ref", "allOf", "anyOf", "oneOf", "not", "if"})
_BARE = _ANNOTATIONS | {"type"}
# What ``[A-Za-z0-9_.$-]+`` (a $ref pointer part) matches, as a set of characters.
_POINTER_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.$-")


def _pointer_part(part: str) -> bool:
    """``re.fullmatch(r"[A-Za-z0-9_.$-]+", part)``, without re."""
    return bool(part) and _POINTER_CHARS.issuperset(part)


def _search(pattern: str) -> Callable[[str], Any]:
    """``re.compile(pattern).search``, compiled the first time it is called.

    Building a validator used to compile every pattern in the schema; a gate decision's intent
    has a handful of the intent schema's fields, and compiling the rest was a fifth of its
    validation. A pattern that does not compile raises when first used: callers treat a check
    that raises as "not answered here", so jsonschema decides (and raises) as it always did.

    The few shapes of pattern an intent's fields use (``_plain_search``) are answered with
    string methods instead where ``re`` is not loaded, so that a decision does not need it for
    them (issue 16 item 6); callers only read the result's truth, which is the search's.
    """
    found: list[Callable[[str], Any]] = []

    def search(text: str) -> Any:
        if not found:
            # Reading a pattern's shape costs more than a compiled pattern from the CLI's table
            # (gait.cli.regexcache) once re is loaded anyway; it saves loading re otherwise.
            plain = None if "re" in sys.modules else _plain_search(pattern)
            if plain is not None:
                found.append(plain)
            else:
                import re

                found.append(re.compile(pattern).search)
        return found[0](text)

    return search


# Pattern shapes read without re (_plain_search). A text pattern's ``\\s`` is what ``str.isspace``
# calls whitespace (both are Py_UNICODE_ISSPACE), so ``str.strip()`` strips exactly ``\\s*``.
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_CLASS_CHARS = _WORD_CHARS | {"-", " ", "."}


def _not_blank(text: str) -> bool:
    """``re.search(r"\\S", text)``: some character is not whitespace."""
    return bool(text) and not text.isspace()


def _plain_search(pattern: str) -> Callable[[str], bool] | None:
    """A predicate true exactly when ``re.search(pattern, text)`` matches, for three shapes of
    pattern, else None (``re`` then decides):

    - ``\\S``;
    - ``^\\s*(?:A|B|...)\\s*$`` and ``^\\s*(?:A|B|...)?\\s*$``, each alternative a run of
      literal word characters, ``\\.`` and classes of such characters (``[pP]``, ``[-_ ]``),
      none of them whitespace at either end: the text, stripped, is one of the alternatives
      (or empty, with ``?``). ``$`` also matches before a final newline, which ``\\s*`` eats;
    - ``^LITERAL`` and ``^LITERAL(?!A$|B$|...)`` with word-character literals: the text starts
      with LITERAL and (for the lookahead) what follows is none of A, B... (``$``: nor any of
      them followed by one newline).
    """
    if pattern == "\\S":
        return _not_blank
    words = _words_shape(pattern)
    if words is not None:
        return words
    return _prefix_shape(pattern)


def _atoms(text: str) -> list[frozenset[str]] | None:
    """``[xX]``, ``\\.`` and word characters, as the set of characters each matches."""
    atoms: list[frozenset[str]] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char == "[":
            end = text.find("]", at + 1)
            members = text[at + 1 : end] if end > at + 1 else ""
            # "-" only first or last, so that it is itself and never a range
            if not members or not _CLASS_CHARS.issuperset(members) or "-" in members[1:-1]:
                return None
            atoms.append(frozenset(members))
            at = end + 1
        elif char == "\\" and text[at + 1 : at + 2] == ".":
            atoms.append(frozenset("."))
            at += 2
        elif char in _WORD_CHARS:
            atoms.append(frozenset(char))
            at += 1
        else:
            return None
    return atoms


def _words_shape(pattern: str) -> Callable[[str], bool] | None:
    head = "^\\s*(?:"
    if not pattern.startswith(head):
        return None
    optional = pattern.endswith(")?\\s*$")
    tail = ")?\\s*$" if optional else ")\\s*$"
    if not pattern.endswith(tail) or len(pattern) <= len(head) + len(tail):
        return None
    body = pattern[len(head) : -len(tail)]
    alternatives: list[tuple[frozenset[str], ...]] = []
    for text in body.split("|"):
        atoms = _atoms(text)
        if not atoms or " " in atoms[0] or " " in atoms[-1]:
            return None
        alternatives.append(tuple(atoms))
    sizes = frozenset(len(atoms) for atoms in alternatives)

    def words(text: str) -> bool:
        core = text.strip()
        if not core:
            return optional
        if len(core) not in sizes:
            return False
        for atoms in alternatives:
            if len(atoms) == len(core) and all(map(frozenset.__contains__, atoms, core)):
                return True
        return False

    return words


def _prefix_shape(pattern: str) -> Callable[[str], bool] | None:
    if not pattern.startswith("^"):
        return None
    literal, _, rest = pattern[1:].partition("(?!")
    if not literal or not _WORD_CHARS.issuperset(literal):
        return None
    if not rest:
        if "(?!" in pattern:
            return None
        return lambda text: text.startswith(literal)
    if not rest.endswith(")"):
        return None
    excluded: set[str] = set()
    for each in rest[:-1].split("|"):
        if not each.endswith("$") or not each[:-1] or not _WORD_CHARS.issuperset(each[:-1]):
            return None
        excluded.update((each[:-1], each[:-1] + "\n"))
    start = len(literal)

    def prefix(text: str) -> bool:
        return text.startswith(literal) and text[start:] not in excluded

    return prefix


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


# jsonschema's type rules: booleans are neither integers nor numbers, 1.0 is an integer, and
# "number" is any numbers.Number (Decimal from a YAML loader, say), checked after the fast cases.
def _is_number(value: Any) -> bool:
    kind = type(value)
    if kind is int or kind is float:
        return True
    if isinstance(value, bool):
        return False
    import numbers

    return isinstance(value, numbers.Number)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPES: dict[str, _Check] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "integer": _is_integer,
    "number": _is_number,
}


# Copies of jsonschema._utils.unbool / equal / uniq: const, enum and uniqueItems must agree with
# its quirks (True is not 1, and uniq's sort-then-compare-neighbours shortcut).
_TRUE, _FALSE = object(), object()


def _unbool(element: Any) -> Any:
    if element is True:
        return _TRUE
    if element is False:
        return _FALSE
    return element


def _equal(one: Any, two: Any) -> bool:
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(_equal(i, j) for i, j in zip(one, two, strict=False))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(
            key in two and _equal(value, two[key]) for key, value in one.items()
        )
    return bool(_unbool(one) == _unbool(two))


def _uniq(container: Any) -> bool:
    try:
        ordered = sorted(_unbool(i) for i in container)
        for i, j in zip(ordered, ordered[1:], strict=False):
            if _equal(i, j):
                return False
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for element in container:
            element = _unbool(element)
            for other in seen:
                if _equal(other, element):
                    return False
            seen.append(element)
    return True


_GOOD_TIMES: dict[str, None] = {}


def _parse_time(text: str) -> Any:
    """timefmt.parse, imported on first use (gait.timefmt pulls in datetime)."""
    global _parse_time
    from gait.timefmt import parse

    _parse_time = parse
    return parse(text)


def _date_time(text: str) -> bool:
    """The format checker's verdict: InvalidInput means invalid; any other error propagates.

    Parsing is most of the cost of a runpack line, and runpack lines repeat their times, so
    strings that parsed are remembered (parse is a pure function; the cache is bounded).
    """
    if text in _GOOD_TIMES:
        return True
    try:
        _parse_time(text)
    except InvalidInput:
        return False
    if len(_GOOD_TIMES) >= 4096:
        _GOOD_TIMES.clear()
    _GOOD_TIMES[text] = None
    return True


def _all_of(checks: list[_Check]) -> _Check:
    checks = [check for check in checks if check is not _always]
    if not checks:
        return _always
    if _never in checks:
        return _never
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda value: first(value) and second(value)
    frozen = tuple(checks)

    def check(value: Any) -> bool:
        for each in frozen:
            if not each(value):
                return False
        return True

    return check


def _count(value: Any, name: str, *, number: bool = False) -> Any:
    """A keyword's numeric argument, or _Unsupported: jsonschema would misbehave on others."""
    ok = _is_number(value) if number else _is_integer(value) and value >= 0
    if not ok or isinstance(value, bool):
        raise _Unsupported(f"{name}: {value!r}")
    return value


class _Compiler:
    """Turns one schema document into closures; local ``$ref``s are compiled once each."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.done: dict[str, _Check] = {}
        self.pending: dict[str, list[_Check]] = {}

    def ref(self, ref: Any) -> _Check:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise _Unsupported(f"$ref {ref!r}")
        if ref in self.done:
            return self.done[ref]
        if ref in self.pending:  # recursive: bind late through a cell
            late = self.pending[ref]
            return lambda value: late[0](value)
        target = self.root
        if ref != "#":
            if not ref.startswith("#/"):
                raise _Unsupported(f"$ref {ref!r}")
            for part in ref[2:].split("/"):
                if not _pointer_part(part) or not isinstance(target, dict):
                    raise _Unsupported(f"$ref {ref!r}")
                if part not in target:
                    raise _Unsupported(f"$ref {ref!r} does not resolve")
                target = target[part]
        cell: list[_Check] = [_never]
        self.pending[ref] = cell
        check = self.compile(target)
        cell[0] = check
        del self.pending[ref]
        self.done[ref] = check
        return check

    def compile(self, schema: Any, *, root: bool = False) -> _Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise _Unsupported(f"schema {schema!r}")
        raw_type = schema.get("type")
        if type(raw_type) is str and raw_type in _TYPES and _BARE.issuperset(schema):
            return _TYPES[raw_type]  # a bare type (a third of a schema's nodes): what the rest
            # of this method returns for it, without building and dropping the four groups
        for key in schema:
            if not (
                key in _SUPPORTED
                or key in _ANNOTATIONS
                or (root and key in _ROOT_ONLY)
                or (isinstance(key, str) and key.startswith("x-"))
            ):
                raise _Unsupported(f"keyword {key!r}")

        types: list[str] | None = None
        if "type" in schema:
            raw = schema["type"]
            types = [raw] if isinstance(raw, str) else raw
            if not isinstance(types, list) or not types or not all(t in _TYPES for t in types):
                raise _Unsupported(f"type {raw!r}")
        only = types[0] if types is not None and len(types) == 1 else None

        # A string-typed schema's string const / enum are checked inside its one string closure.
        same: str | None = None
        names: frozenset[str] | None = None
        if only == "string":
            if isinstance(schema.get("const"), str):
                same = schema["const"]
            options = schema.get("enum")
            if isinstance(options, list) and all(type(each) is str for each in options):
                names = frozenset(options)

        # Each group of type-specific keywords is one closure that also answers the type check
        # when the schema demands exactly that type (one call per value, not one per keyword).
        checks: list[_Check] = []
        fused = False
        for kind, keywords in _GROUPS:
            typed = kind == only or (kind == "number" and only == "integer")
            if not typed and keywords.isdisjoint(schema):
                continue  # the group's builder would return None: none of its keywords
            is_type = _TYPES[only or kind] if typed else _TYPES[kind]
            group = getattr(self, kind)(schema, is_type, typed, same, names)
            if group is not None:
                checks.append(group)
                fused = fused or typed
        if types is not None and not fused:
            if len(types) == 1:
                checks.insert(0, _TYPES[types[0]])
            else:
                alternatives = tuple(_TYPES[t] for t in types)

                def any_type(value: Any) -> bool:
                    for each in alternatives:
                        if each(value):
                            return True
                    return False

                checks.insert(0, any_type)
        if not _GENERIC.isdisjoint(schema):
            checks.extend(self.generic(schema, same is not None, names is not None))
        return _all_of(checks)

    def string(
        self,
        schema: dict[str, Any],
        _: _Check,
        typed: bool,
        same: str | None,
        names: frozenset[str] | None,
    ) -> _Check | None:
        low = _count(schema["minLength"], "minLength") if "minLength" in schema else None
        high = _count(schema["maxLength"], "maxLength") if "maxLength" in schema else None
        search = None
        if "pattern" in schema:
            if not isinstance(schema["pattern"], str):
                raise _Unsupported(f"pattern {schema['pattern']!r}")
            search = _search(schema["pattern"])
        time = False
        if "format" in schema:
            # Only date-time is registered with the format checker; other formats are its call.
            if schema["format"] != "date-time":
                raise _Unsupported(f"format {schema['format']!r}")
            time = True
        if (
            low is None
            and high is None
            and search is None
            and not time
            and same is None
            and names is None
        ):
            return None
        miss = not typed
        # The commonest leaves (a const id, a non-empty name) get a closure of their own.
        if typed and high is None and search is None and not time and names is None:
            if low is None and same is not None:
                return lambda text: isinstance(text, str) and text == same
            if same is None and low is not None:
                return lambda text: isinstance(text, str) and len(text) >= low

        # len() counts code points, as jsonschema does.
        def check(text: Any) -> bool:
            if not isinstance(text, str):
                return miss
            if same is not None and text != same:
                return False
            if names is not None and text not in names:
                return False
            if low is not None and len(text) < low:
                return False
            if high is not None and len(text) > high:
                return False
            if search is not None and not search(text):
                return False
            return not time or _date_time(text)

        return check

    def number(
        self, schema: dict[str, Any], is_kind: _Check, typed: bool, *_: Any
    ) -> _Check | None:
        bounds: list[tuple[Callable[[Any, Any], bool], Any]] = []
        for key, fails in (
            ("minimum", lambda value, limit: value < limit),
            ("maximum", lambda value, limit: value > limit),
            ("exclusiveMinimum", lambda value, limit: value <= limit),
            ("exclusiveMaximum", lambda value, limit: value >= limit),
        ):
            if key in schema:
                bounds.append((fails, _count(schema[key], key, number=True)))
        if not bounds:
            return None
        frozen = tuple(bounds)
        miss = not typed

        def check(value: Any) -> bool:
            if not is_kind(value):
                return miss
            for fails, limit in frozen:
                if fails(value, limit):
                    return False
            return True

        return check

    def array(self, schema: dict[str, Any], _: _Check, typed: bool, *__: Any) -> _Check | None:
        low = _count(schema["minItems"], "minItems") if "minItems" in schema else None
        high = _count(schema["maxItems"], "maxItems") if "maxItems" in schema else None
        unique = schema.get("uniqueItems", False)
        if not isinstance(unique, bool):
            raise _Unsupported(f"uniqueItems {unique!r}")
        prefix_raw = schema.get("prefixItems", [])
        if not isinstance(prefix_raw, list):
            raise _Unsupported("prefixItems")
        prefix = tuple(self.compile(each) for each in prefix_raw)
        items = self.compile(schema["items"]) if "items" in schema else _always
        if low is None and high is None and not unique and not prefix and items is _always:
            return None
        start = len(prefix_raw)
        miss = not typed

        def check(values: Any) -> bool:
            if not isinstance(values, list):
                return miss
            if low is not None and len(values) < low:
                return False
            if high is not None and len(values) > high:
                return False
            for each, value in zip(prefix, values, strict=False):
                if not each(value):
                    return False
            if items is not _always:
                for value in values[start:] if start else values:
                    if not items(value):
                        return False
            return not unique or _uniq(values)

        return check

    def object(self, schema: dict[str, Any], _: _Check, typed: bool, *__: Any) -> _Check | None:
        raw_props = schema.get("properties", {})
        raw_patterns = schema.get("patternProperties", {})
        required = schema.get("required", [])
        if not (
            isinstance(raw_props, dict)
            and isinstance(raw_patterns, dict)
            and isinstance(required, list)
            and all(isinstance(name, str) for name in required)
        ):
            raise _Unsupported("properties/patternProperties/required")
        props = {name: self.compile(sub) for name, sub in raw_props.items()}
        if not all(isinstance(pattern, str) for pattern in raw_patterns):
            raise _Unsupported("patternProperties: a pattern that is not a string")
        patterns = tuple(
            (_search(pattern), self.compile(sub)) for pattern, sub in raw_patterns.items()
        )
        # jsonschema finds additional properties with the patterns joined by "|".
        joined = _search("|".join(raw_patterns)) if raw_patterns else None
        additional: _Check | None = None  # None: no additionalProperties constraint
        if "additionalProperties" in schema:
            extra = schema["additionalProperties"]
            if isinstance(extra, dict):
                additional = self.compile(extra)
            elif isinstance(extra, bool):
                additional = None if extra else _never
            else:
                raise _Unsupported(f"additionalProperties {extra!r}")
            if additional is _always:
                additional = None
        names = self.compile(schema["propertyNames"]) if "propertyNames" in schema else _always
        members = _members(tuple(required), props, patterns, joined, additional, not typed)
        if names is _always:
            return members
        miss = not typed
        rest = members if members is not None else _always

        def check(obj: Any) -> bool:
            if not isinstance(obj, dict):
                return miss
            return all(names(name) for name in obj) and rest(obj)

        return check

    def generic(self, schema: dict[str, Any], same: bool, names: bool) -> list[_Check]:
        """Keywords for any type; ``same``/``names``: const/enum already checked by string()."""
        checks: list[_Check] = []
        if "const" in schema and not same:
            const = schema["const"]
            if isinstance(const, str):
                checks.append(lambda value: bool(value == const))
            else:
                checks.append(lambda value: _equal(value, const))
        if "enum" in schema and not names:
            options = schema["enum"]
            if not isinstance(options, list):
                raise _Unsupported("enum")
            if all(type(each) is str for each in options):
                allowed = frozenset(options)
                checks.append(lambda value: isinstance(value, str) and value in allowed)
            else:
                frozen = tuple(options)
                checks.append(lambda value: any(_equal(each, value) for each in frozen))
        if "$ref" in schema:
            checks.append(self.ref(schema["$ref"]))
        for key in ("allOf", "anyOf", "oneOf"):
            if key in schema:
                if not isinstance(schema[key], list) or not schema[key]:
                    raise _Unsupported(key)
                subs = tuple(self.compile(each) for each in schema[key])
                if key == "allOf":
                    checks.append(_all_of(list(subs)))
                else:
                    checks.append(_of(_any_of if key == "anyOf" else _one, subs))
        if "not" in schema:
            negated = self.compile(schema["not"])
            checks.append(lambda value: not negated(value))
        if "if" in schema:
            test = self.compile(schema["if"])
            then = self.compile(schema["then"]) if "then" in schema else _always
            other = self.compile(schema["else"]) if "else" in schema else _always
            checks.append(lambda value: then(value) if test(value) else other(value))
        return checks


def _members(
    needed: tuple[str, ...],
    props: dict[str, _Check],
    patterns: tuple[tuple[Callable[[str], Any], _Check], ...],
    joined: Callable[[str], Any] | None,
    additional: _Check | None,
    miss: bool,
) -> _Check | None:
    """One loop over an object's keys for required, properties and the rest.

    ``miss`` is the answer for a non-object: True unless the schema says ``type: object``.
    """
    checked = {name: check for name, check in props.items() if check is not _always}
    if not needed and not checked and not patterns and additional is None:
        return None if miss else _TYPES["object"]
    checked_items = tuple(checked.items())
    extra: _Check = additional if additional is not None else _always
    is_pattern: Callable[[str], Any] = joined if joined is not None else _never

    if not patterns and additional is None:

        def check_plain(obj: Any) -> bool:
            if not isinstance(obj, dict):
                return miss
            for name in needed:
                if name not in obj:
                    return False
            for name, each in checked_items:
                if name in obj and not each(obj[name]):
                    return False
            return True

        return check_plain

    if not patterns:
        # Every declared property (constrained or not) is not additional.
        known = {name: checked.get(name, _always) for name in props}

        def check_known(obj: Any) -> bool:
            if not isinstance(obj, dict):
                return miss
            for name in needed:
                if name not in obj:
                    return False
            for name, value in obj.items():
                each = known.get(name)
                if each is None:
                    if not extra(value):
                        return False
                elif not each(value):
                    return False
            return True

        return check_known

    def check(obj: Any) -> bool:
        if not isinstance(obj, dict):
            return miss
        for name in needed:
            if name not in obj:
                return False
        for name, value in obj.items():
            each = props.get(name)
            if each is not None and not each(value):
                return False
            for search, sub in patterns:
                if search(name) and not sub(value):
                    return False
            if (
                each is None
                and additional is not None
                and not is_pattern(name)
                and not extra(value)
            ):
                return False
        return True

    return check


def _of(rule: Callable[[tuple[_Check, ...], Any], bool], subs: tuple[_Check, ...]) -> _Check:
    """``functools.partial(rule, subs)``."""
    return lambda value: rule(subs, value)


def _any_of(subs: tuple[_Check, ...], value: Any) -> bool:
    return any(sub(value) for sub in subs)


def _one(subs: tuple[_Check, ...], value: Any) -> bool:
    found = 0
    for sub in subs:
        if sub(value):
            found += 1
            if found > 1:
                return False
    return found == 1


def _compile(document: Any) -> _Compiled:
    try:
        return _Compiled(_Compiler(document).compile(document, root=True), "")
    except _Unsupported as exc:
        return _Compiled(None, str(exc))
    except RecursionError:
        return _Compiled(None, "schema nests too deeply")


def _compiled(path: Path) -> _Compiled:
    found = _FAST.get(path)
    if found is None:
        with _LOCK:
            found = _FAST.get(path)
            if found is None:
                found = _FAST[path] = _compile(_load(path))
    return found


def _fast_valid(path: Path, instance: Any) -> bool:
    """True only when the compiled check says valid; any surprise is left to jsonschema.

    An exception from a closure (a non-string key under patternProperties, say, or a time
    parse that fails other than with InvalidInput) means jsonschema must answer, and raise,
    exactly as it always did.
    """
    check = _compiled(path).check
    if check is None:
        return False
    try:
        return check(instance)
    except Exception:  # noqa: BLE001 - jsonschema decides what happens next
        return False


def _fast_report() -> dict[str, str]:
    """Schema id -> "" when compiled, else why not: for tests and for anyone profiling."""
    return {schema_id: _compiled(schema_path(schema_id)).reason for schema_id in schema_ids()}


def is_valid(schema_id: str, instance: Any) -> bool:
    """jsonschema's verdict, answered by the compiled check when the schema has one."""
    path = schema_path(schema_id)
    check = _compiled(path).check
    if check is not None:
        try:
            return check(instance)
        except Exception:  # noqa: BLE001 - let jsonschema decide, and raise as it would
            pass
    return bool(_validator(path).is_valid(instance))


def all_valid(schema_id: str, instances: list[Any], *, parsed: bool = False) -> bool:
    """Whether every instance is valid, in one pass of the compiled check (the records of a
    runpack member); False may also mean "not answered here" (no compiled check, a check
    that raised): ask ``errors`` of each then, which answers as jsonschema does.

    A flat object schema (a runpack record's) is first checked by column (``_columns_valid``):
    each key set once, each property's distinct strings once; only a False from it pays for
    the record-by-record pass. ``parsed``: the instances are what a JSON parser returned
    (dicts, lists, str, int, float, bool, None), so a string column's types are read off its
    distinct values (nothing but a str equals a str among those), not off every value."""
    path = schema_path(schema_id)
    check = _compiled(path).check
    if check is None:
        return False
    try:
        flat = _flat(path)
        if (
            flat is not None
            and len(instances) >= _COLUMNS_FROM
            and _columns_valid(flat, instances, parsed)
        ):
            return True
        return all(map(check, instances))
    except Exception:  # noqa: BLE001 - errors() of each instance decides, as jsonschema
        return False


class _Flat:
    """An object schema of properties only: the compiled check of each property, by name
    (a plain class for the reason ``_Compiled`` is one)."""

    __slots__ = ("required", "checks", "closed", "columns")

    def __init__(
        self,
        required: frozenset[str],
        checks: dict[str, _Check],
        closed: bool,  # additionalProperties: false
        columns: dict[str, _Column | None],  # a whole column's check, where there is one
    ) -> None:
        self.required = required
        self.checks = checks
        self.closed = closed
        self.columns = columns


_FLAT: dict[Path, _Flat | None] = {}
_COLUMNS_FROM = 32  # fewer records are checked faster one by one
_FLAT_KEYS = frozenset({"type", "required", "properties", "additionalProperties"})


def _flat(path: Path) -> _Flat | None:
    if path not in _FLAT:
        with _LOCK:
            if path not in _FLAT:
                _FLAT[path] = _flat_of(_load(path))
    return _FLAT[path]


def _flat_of(document: Any) -> _Flat | None:
    """The schema as a ``_Flat``, or None when it says more than type object, required,
    properties and a boolean additionalProperties (the record-by-record check answers)."""
    if not isinstance(document, dict) or document.get("type") != "object":
        return None
    for key in document:
        if not (
            key in _FLAT_KEYS
            or key in _ANNOTATIONS
            or key in _ROOT_ONLY
            or (isinstance(key, str) and key.startswith("x-"))
        ):
            return None
    props = document.get("properties", {})
    required = document.get("required", [])
    closed = document.get("additionalProperties", True)
    if (
        type(closed) is not bool
        or not isinstance(props, dict)
        or not isinstance(required, list)
        or not all(type(name) is str for name in [*props, *required])
    ):
        return None
    compiler = _Compiler(document)
    try:
        checks = {name: compiler.compile(sub) for name, sub in props.items()}
        columns = {name: _column_of(sub) for name, sub in props.items()}
    except (_Unsupported, RecursionError):
        return None
    return _Flat(frozenset(required), checks, not closed, columns)


if TYPE_CHECKING:
    _Column = Callable[[list[Any], bool], bool]
_LEAF_KEYS = frozenset({"type", "const", "enum", "minLength", "maxLength", "pattern", "format"})


def _column_of(schema: Any) -> _Column | None:
    """A whole column's check for a plain string, string enum or object property (builtins
    over the column's distinct values, no call per value), else None (the compiled check per
    value). Exactly the compiled string check's rules (``_Compiler.string``), or stricter: a
    False only sends the records to the record-by-record check."""
    if not isinstance(schema, dict) or any(
        key not in _LEAF_KEYS and key not in _ANNOTATIONS for key in schema
    ):
        return None
    if set(schema) - _ANNOTATIONS == {"type"} and schema["type"] == "object":
        return lambda column, _: set(map(type, column)) == {dict}
    names = schema.get("enum")
    if set(schema) - _ANNOTATIONS == {"enum"}:  # an enum of strings alone (a status)
        if not (isinstance(names, list) and names and all(type(each) is str for each in names)):
            return None
        options = frozenset(names)

        def one_of(values: list[Any], parsed: bool) -> bool:
            distinct = _strings(values, parsed)
            return bool(distinct) and distinct <= options

        return one_of
    if schema.get("type") != "string":
        return None
    same = schema.get("const")
    if ("const" in schema and type(same) is not str) or (
        "enum" in schema
        and not (isinstance(names, list) and all(type(each) is str for each in names))
    ):
        return None
    allowed = frozenset(names) if names is not None else None
    low = _count(schema["minLength"], "minLength") if "minLength" in schema else None
    high = _count(schema["maxLength"], "maxLength") if "maxLength" in schema else None
    search = None
    spelled: _Spelled | None = None
    if "pattern" in schema:
        if not isinstance(schema["pattern"], str):
            return None
        import re

        try:
            search = re.compile(schema["pattern"]).search
        except re.error:
            return None
        spelled = _spelled(schema["pattern"])
    if "format" in schema and schema["format"] != "date-time":
        return None
    time = "format" in schema
    if spelled is not None and "const" not in schema and allowed is None and not time:
        return lambda values, parsed: _spelled_column(spelled, low, high, values, parsed)

    def column(values: list[Any], parsed: bool) -> bool:
        distinct = _strings(values, parsed)
        if not distinct:
            return False
        if "const" in schema and distinct != {same}:
            return False
        if allowed is not None and not distinct <= allowed:
            return False
        if low == 1 and "" in distinct:
            return False
        bulk = spelled is not None and len(distinct) > 8
        if (low is not None and low > 1) or high is not None or bulk:
            lengths = set(map(len, distinct))
            if (low is not None and min(lengths) < low) or (
                high is not None and max(lengths) > high
            ):
                return False
            if bulk and not spelled(distinct, min(lengths), max(lengths)):  # type: ignore[misc]
                return False
        if not bulk and search is not None and not all(map(search, distinct)):
            return False
        return not time or all(map(_date_time, distinct))

    return column


def _spelled_column(
    spelled: _Spelled, low: int | None, high: int | None, values: list[Any], _parsed: bool
) -> bool:
    """A column under a digest or id pattern alone (``_spelled``), read value by value with
    no set of distinct values: such a column's values are mostly distinct, and hashing each
    (every one a new string straight from the parser) cost more than the check. The same
    rules as the distinct-value check: every value a str, lengths within bounds, spelled."""
    if not values or set(map(type, values)) != {str}:
        return False
    lengths = set(map(len, values))
    shortest, longest = min(lengths), max(lengths)
    if (low is not None and shortest < low) or (high is not None and longest > high):
        return False
    return spelled(values, shortest, longest)


def _strings(values: list[Any], parsed: bool) -> set[str]:
    """The distinct values of a column when every value is a str, else an empty set (or a
    TypeError for an unhashable value: "not shown"). Of parsed JSON values only a str equals
    a str, so there the distinct values' types stand for every value's."""
    if parsed:
        # one value throughout (a schema id, a run id, a timestamp): compared, not hashed
        first = values[0] if values else None
        if type(first) is str and values[-1] == first and values.count(first) == len(values):
            return {first}
        distinct = set(values)
        return distinct if set(map(type, distinct)) == {str} else set()
    return set(values) if set(map(type, values)) == {str} else set()


if TYPE_CHECKING:
    _Spelled = Callable[[Sequence[str] | set[str], int, int], bool]
# ``^[class]{m}$``, ``^[class]{m,n}$``, ``^[class]+$``, ``^[class]*$``: a digest or id pattern
_RUN_PATTERN = lazy(r"\^\[([A-Za-z0-9_.-]+)\](?:\{(\d+)(?:,(\d+))?\}|(\+)|(\*))\$")
_ASCII = "".join(map(chr, range(128)))
_CLASS_ITEM = lazy(r"([A-Za-z0-9])-([A-Za-z0-9])|([A-Za-z0-9_.])|(-)$")


def _spelled(pattern: str) -> _Spelled | None:
    """A check of many distinct strings at once for a pattern that only spells a run of
    ASCII characters from one class (``^[A-Fa-f0-9]{64}$``), else None.

    True means every string is made of the class's characters only, with a length the
    quantifier allows: then ``re.search(pattern, s)`` matches each. (The search also matches
    such a run followed by one ``\\n``; a newline is outside every class read here, so such a
    string gets False, and the caller's record-by-record check answers.) The class is read by
    hand and then held against ``re`` itself on every ASCII character: any disagreement and
    the pattern is not read here at all."""
    found = _RUN_PATTERN.fullmatch(pattern)
    if found is None:
        return None
    body, least, most, plus, star = found.groups()
    members: set[int] = set()
    at = 0
    while at < len(body):
        item = _CLASS_ITEM.match(body, at)
        if item is None:
            return None
        if item[1]:
            if ord(item[1]) > ord(item[2]):
                return None
            members.update(range(ord(item[1]), ord(item[2]) + 1))
        else:
            members.add(ord(item[3] or item[4]))
        at = item.end()
    import re

    try:
        one = re.compile(f"[{body}]")
    except re.error:
        return None
    if set(map(ord, one.findall(_ASCII))) != members:
        return None
    low = int(least) if least is not None else (1 if plus else 0)
    high = int(most) if most is not None else (low if least is not None else None)
    keep = bytes(sorted(members))

    def spelled(distinct: Sequence[str] | set[str], shortest: int, longest: int) -> bool:
        if shortest < low or (high is not None and longest > high):
            return False
        text = "".join(distinct)
        if not text.isascii():
            return False
        return not text.encode("ascii").translate(None, keep)

    return spelled


def _columns_valid(flat: _Flat, records: list[Any], parsed: bool = False) -> bool:
    """True only when every record is valid: all plain dicts, each holding the required keys
    (and no other when closed), each property's values passing its check (a string column's
    distinct values once: the checks are pure). False means "not shown".

    The key sets are checked without a tuple per record: each required key is looked up in
    every record (a missing one raises KeyError: False), each optional one counted, and when
    closed the lengths add up to the declared keys found only if no record holds another."""
    if not records:
        return True
    if set(map(type, records)) != {dict}:
        return False
    from itertools import repeat  # built in: no import beyond the first

    count = len(records)
    found = 0  # declared keys over all records
    for name in flat.required:
        if name not in flat.checks:
            if flat.closed or not all(map(dict.__contains__, records, repeat(name))):
                return False
        elif flat.checks[name] is _always and not all(
            map(dict.__contains__, records, repeat(name))
        ):
            return False
    for name, check in flat.checks.items():
        if name in flat.required:
            found += count
            if check is _always:
                continue
            column: Any = list(map(itemgetter(name), records))  # KeyError: not all hold it
        else:
            holding = sum(map(dict.__contains__, records, repeat(name)))
            found += holding
            if not holding or check is _always:
                continue
            column = (
                list(map(itemgetter(name), records))
                if holding == count
                else [record[name] for record in records if name in record]
            )
        whole = flat.columns.get(name)
        if whole is not None:
            if not whole(column, parsed):
                return False
            continue
        if set(map(type, column)) == {str}:
            column = set(column)
        if not all(map(check, column)):
            return False
    return not flat.closed or sum(map(len, records)) == found


def errors(schema_id: str, instance: Any) -> list[str]:
    """Every schema violation as ``<json path>: <message>``, sorted; empty when valid.

    Valid documents are answered by the compiled check; only failures pay for jsonschema, which
    writes the messages (and has the last word on the verdict).
    """
    path = schema_path(schema_id)
    if _fast_valid(path, instance):
        return []
    return _slow_errors(path, instance)


def _slow_errors(path: Path, instance: Any) -> list[str]:
    validator = _validator(path)
    found = {_message(leaf) for error in validator.iter_errors(instance) for leaf in _leaves(error)}
    return sorted(found)


def validate(schema_id: str, instance: Any, *, what: str = "") -> None:
    """Raise InvalidInput (E_SCHEMA_INVALID) naming the first violations on one line."""
    problems = errors(schema_id, instance)
    if not problems:
        return
    shown = "; ".join(problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    subject = what or schema_id
    raise InvalidInput(
        f"{subject} does not match schema {schema_id}: {shown}{more}".replace("\n", " "),
        code="E_SCHEMA_INVALID",
        details={"schema_id": schema_id, "errors": problems},
    )
