"""Dataclass methods compiled once per installation, the way Python keeps module bytecode.

``@dataclass`` writes the source of each class's ``__init__``, ``__repr__``, ``__eq__``... and
compiles it with ``exec`` every time the class is defined. A ``gait gate eval`` process defines
about twenty dataclasses: their hundred compilations were a fifth of its instructions, more than
the decision and the signature together. For CLI processes, the ``exec`` that ``dataclasses``
calls is shadowed (a global of that module only) by one that compiles each source text once and
reuses the code object, as ``exec`` on the text would have built it (filename ``<string>``, no
inherited ``__future__`` flags). The code objects are kept between processes in one ``marshal``
file in the package's ``__pycache__`` (under ``sys.pycache_prefix`` when set), named by the
interpreter's cache tag and stamped with its bytecode magic number. Each code object is kept
as its own ``marshal`` bytes and unmarshalled only when its source text is asked for: the file
holds the methods of every command run so far (hundreds), and a process reads the whole table
but builds only the dozen or so code objects its own classes need.

Why this is safe to keep on disk: an entry is looked up by the exact source text
``dataclasses`` generated in this process, so an entry can never be stale, only absent; the file
sits where Python's own bytecode for these modules sits, so anyone able to change it could
already change that bytecode. ``PYTHONDONTWRITEBYTECODE`` (``sys.dont_write_bytecode``) is
honoured: the file is then read but never written. Any problem reading or writing it means
compiling as before.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType
    from typing import Any

_NAME = "dataclass-methods"
_MAX_ENTRIES = 4096  # beyond this (many upgrades), keep only what this process used


def _path(name: str = _NAME) -> str | None:
    """Where the file ``name`` of this interpreter's cache tag goes (gait.cli.regexcache keeps
    its table beside this one)."""
    try:
        import gait

        folder = os.path.dirname(os.path.abspath(gait.__file__))
    except (ImportError, AttributeError, TypeError):
        return None
    tag = sys.implementation.cache_tag
    if tag is None:
        return None
    if sys.flags.optimize:  # as bytecode: code compiled under -O is kept apart
        tag = f"{tag}.opt-{sys.flags.optimize}"
    if sys.pycache_prefix:
        base = os.path.join(sys.pycache_prefix, folder.lstrip(os.sep))
    else:
        base = os.path.join(folder, "__pycache__")
    return os.path.join(base, f"{name}.{tag}.marshal")


def _magic() -> bytes:
    """``importlib.util.MAGIC_NUMBER``, read where importlib.util reads it (importing
    importlib.util loads contextlib and importlib's abstract classes)."""
    magic: bytes = sys.modules["_frozen_importlib_external"].MAGIC_NUMBER
    return magic


def _read(path: str) -> dict[str, bytes]:
    """Source text -> that text's code object as ``marshal`` bytes (an older file that holds
    the code objects themselves reads as empty, and is rewritten)."""
    import marshal

    try:
        with open(path, "rb") as handle:
            data = handle.read()
        magic = _magic()
        if not data.startswith(magic):
            return {}
        table = marshal.loads(data[len(magic) :])
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    if not isinstance(table, dict):
        return {}
    return {text: blob for text, blob in table.items() if type(text) is str and type(blob) is bytes}


def _code(blob: bytes) -> CodeType | None:
    import marshal
    from types import CodeType

    try:
        code = marshal.loads(blob)
    except (ValueError, EOFError, TypeError):
        return None
    return code if type(code) is CodeType else None


def _write(path: str, table: dict[str, bytes]) -> None:
    import marshal

    _write_bytes(path, _magic() + marshal.dumps(table))


def _write_bytes(path: str, data: bytes) -> None:
    """``data`` to ``path`` through a temporary file and a rename; any failure leaves it out."""
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temp, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except (OSError, ValueError):
        try:
            os.unlink(temp)
        except OSError:
            pass


def install() -> None:
    """Route ``dataclasses``' compilations through the cache (once per process), from when
    something imports ``dataclasses``: a process that defines no dataclass (a ``gait gate eval``
    decision, issue 16 item 6) neither imports it nor reads the file."""
    dataclasses = sys.modules.get("dataclasses")
    if dataclasses is not None:
        _install(dataclasses)
    elif _WhenImported not in sys.meta_path:
        sys.meta_path.insert(0, _WhenImported)


class _WhenImported:
    """First on ``sys.meta_path`` until ``dataclasses`` is imported: it finds that module's spec
    as the finders after it would, and has the cache installed once the module has run (before
    anything can define a dataclass with it). Every other import passes through untouched."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> Any:
        if name != "dataclasses":
            return None
        try:
            sys.meta_path.remove(_WhenImported)
        except ValueError:
            pass
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Installing(spec.loader)
        return spec


class _Installing:
    """``dataclasses``' own loader (its other attributes, e.g. ``get_source``, pass through),
    installing the cache right after the module has run."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        module.__loader__ = module.__spec__.loader = self._loader
        _install(module)


def _install(dataclasses: Any) -> None:
    import builtins

    if getattr(dataclasses, "exec", None) is not None:
        return  # already installed (or dataclasses defines its own exec: leave it alone)
    path = _path()
    known = _read(path) if path else {}
    used: dict[str, CodeType | None] = {}  # None: read from the file (its bytes are in known)
    run = builtins.exec

    def exec_(source: object, globals: object = None, locals: object = None, **kw: Any) -> None:
        if type(source) is str and globals is not None:
            blob = known.get(source)
            code = _code(blob) if blob is not None else None
            if code is None:
                code = compile(source, "<string>", "exec", dont_inherit=True)
                known.pop(source, None)  # a damaged entry is written again
            used[source] = code if blob is None or source not in known else None
            source = code
        run(source, globals, locals, **kw)  # type: ignore[arg-type]

    dataclasses.exec = exec_
    if path and not sys.dont_write_bytecode:
        import atexit

        def save() -> None:
            new = {text: code for text, code in used.items() if code is not None}
            if not new:
                return
            import marshal

            blobs = {text: marshal.dumps(code) for text, code in new.items()}
            if len(known) + len(blobs) <= _MAX_ENTRIES:
                _write(path, {**known, **blobs})
            else:  # keep only what this process used
                _write(path, {text: known[text] for text in used if text in known} | blobs)

        atexit.register(save)
