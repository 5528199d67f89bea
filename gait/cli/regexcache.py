"""Regular expressions compiled once per installation, as gait.cli.methodcache keeps dataclass
methods.

``re.compile`` parses each pattern and assembles its matcher code in Python (``re._parser``,
``re._compiler``), in every process, and a ``gait gate eval`` process compiles about twenty:
``json``'s and ``dataclasses``' own at import, this project's, the intent schema's ``pattern``
keywords. For the one-shot commands (gait.cli.main ``ONE_SHOT``), ``re._compiler.compile`` is
routed through a table from (pattern, flags) to the arguments that ``_sre.compile`` received
for it (flags, matcher code, group count and names), kept between processes in one ``marshal``
file beside the dataclass methods, named by the interpreter's cache tag and stamped with its
bytecode magic number, its exact version and ``re``'s own magic number. A pattern in the table
is built by ``_sre.compile`` straight from those arguments: the same ``Pattern`` that
``re.compile`` would have returned (``_sre.compile`` checks the code it is given, and an entry
it refuses is compiled again). Only text patterns without ``re.DEBUG`` are kept, and none
that the parser could warn about (``_MAY_WARN``); a pattern that does not compile raises as
before and is never kept.

Why this is safe to keep on disk: as for the method cache, the file sits where Python's own
bytecode for these modules sits, so anyone able to change it could already change that
bytecode; it is never kept under ``GAIT_HOME``. ``PYTHONDONTWRITEBYTECODE`` is honoured (read,
never written). Any problem reading or writing it means compiling as before.
"""

from __future__ import annotations

import sys

from gait.cli import methodcache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_NAME = "regex-code"
_MAX_ENTRIES = 4096  # beyond this, keep only what this process used
_DEBUG = 128  # re.DEBUG
# What re's parser may warn about (possible nested sets and set operations, group names):
# patterns holding any of these are compiled every time, so a warning is shown as before.
_MAY_WARN = ("[[", "--", "&&", "~~", "||", "(?(")
_MAY_WARN_BYTES = (*(marker.encode() for marker in _MAY_WARN), b"(?P")


def _stamp() -> bytes:
    """What the table's entries are only valid for: this bytecode magic number, this exact
    interpreter and this version of ``re``'s matcher code."""
    import re  # noqa: F401 - loads re._constants

    magic = sys.modules["re._constants"].MAGIC
    return methodcache._magic() + f"{sys.hexversion:x}.{magic}\n".encode()


def _read(path: str, stamp: bytes) -> dict[Any, Any]:
    import marshal

    try:
        with open(path, "rb") as handle:
            data = handle.read()
        if not data.startswith(stamp):
            return {}
        table = marshal.loads(data[len(stamp) :])
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    return table if isinstance(table, dict) else {}


def install() -> None:
    """Route ``re``'s compilations through the table (once per process)."""
    import _thread
    import re  # noqa: F401 - loads re._compiler and _sre

    _compiler: Any = sys.modules["re._compiler"]
    _sre: Any = sys.modules["_sre"]

    original = _compiler.compile
    if getattr(original, "__module__", None) == __name__:
        return
    seen: Any = getattr(_compiler, "_sre", None)
    if seen is not _sre:
        return  # a ``re`` that compiles some other way: leave it alone
    path = methodcache._path(_NAME)
    if not path:
        return
    stamp = _stamp()
    known = _read(path, stamp)
    added: dict[Any, Any] = {}
    # thread -> one list per compilation under way in it (a warning shown while a pattern is
    # parsed may import a module that compiles its own): _sre.compile's arguments for each
    calls: dict[int, list[list[tuple[Any, ...]]]] = {}
    thread = _thread.get_ident

    class Recorder:
        """``_sre`` as ``re._compiler`` sees it: ``compile`` also notes its arguments."""

        def __getattr__(self, name: str) -> Any:
            return getattr(_sre, name)

        @staticmethod
        def compile(*args: Any) -> Any:
            under_way = calls.get(thread())
            if under_way:
                under_way[-1].append(args)
            return _sre.compile(*args)

    def compile(p: Any, flags: int = 0) -> Any:
        kind = type(p)
        if (kind is not str and kind is not bytes) or type(flags) is not int or flags & _DEBUG:
            return original(p, flags)
        key = (p, flags)
        entry = known.get(key)
        if type(entry) is tuple:
            try:
                return _sre.compile(p, *entry)
            except (TypeError, ValueError, RuntimeError, OverflowError):
                known.pop(key, None)  # damaged: compiled and written again below
        recorded: list[tuple[Any, ...]] = []
        under_way = calls.setdefault(thread(), [])
        under_way.append(recorded)
        try:
            pattern = original(p, flags)
        finally:
            under_way.pop()
        args = recorded[0] if len(recorded) == 1 else None
        markers = _MAY_WARN if kind is str else _MAY_WARN_BYTES
        if args is not None and args[0] is p and not any(m in p for m in markers):
            final_flags, code, groups, groupindex, indexgroup = args[1:]
            # the code holds re's named opcodes (int subclasses): plain ints for marshal
            added[key] = (int(final_flags), [int(op) for op in code], int(groups))
            added[key] += (dict(groupindex), tuple(indexgroup))
        return pattern

    compile.__module__ = __name__
    _compiler._sre = Recorder()
    _compiler.compile = compile
    if sys.dont_write_bytecode:
        return
    import atexit

    def save() -> None:
        if not added:
            return
        import marshal

        table = {**known, **added} if len(known) + len(added) <= _MAX_ENTRIES else added
        try:
            blob = marshal.dumps(table)
        except ValueError:  # a value marshal cannot write: nothing is kept
            return
        methodcache._write_bytes(path, stamp + blob)

    atexit.register(save)
