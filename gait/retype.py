"""A replayed tool result back in the type the tool declares it returns.

A runpack keeps what a tool returned as JSON (``gait.values``: a pydantic model as its fields, a
datetime as ISO text, a tuple as an array). A typed agent replayed from it would get dicts
where it reads attributes and fail for a reason that is not drift, so the ``gait.record.tool``
decorator rebuilds the value from the function's return annotation. The rule mirrors
``gait.values`` in reverse: pydantic models validate themselves (v2 ``model_validate``, v1
``parse_obj``), dataclasses are built field by field, enums by value, and the stdlib types the
forward rule writes as text or numbers are parsed back. Containers, ``Optional`` and unions are
followed; anything else (plain JSON types, ``Any``, a missing or unresolvable annotation) is handed
back as recorded. A value that does not fit its annotation is handed back as recorded too, with a
warning once per tool: the agent then sees what the runpack holds, as before.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import enum
import types
import typing
import uuid
import warnings
from collections import abc
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

_STREAMS = {
    abc.Iterator,
    abc.Iterable,
    abc.Generator,
    abc.AsyncIterator,
    abc.AsyncIterable,
    abc.AsyncGenerator,
}
_SEQUENCES = {list, abc.Sequence, abc.MutableSequence, abc.Iterable, abc.Collection}
_MAPPINGS = {dict, abc.Mapping, abc.MutableMapping}
_PARSED: dict[type, Callable[[Any], Any]] = {
    _dt.datetime: _dt.datetime.fromisoformat,
    _dt.date: _dt.date.fromisoformat,
    _dt.time: _dt.time.fromisoformat,
    _dt.timedelta: lambda seconds: _dt.timedelta(seconds=seconds),
    Decimal: lambda text: Decimal(str(text)),
    uuid.UUID: uuid.UUID,
    bytes: lambda text: base64.b64decode(text, validate=True),
    bytearray: lambda text: bytearray(base64.b64decode(text, validate=True)),
}


class ReplayTypeWarning(UserWarning):
    """A replayed result did not fit the type its tool declares; it was handed back as JSON."""


def declared_return(fn: Callable[..., Any]) -> Any:
    """The return annotation of ``fn``, resolved; ``Any`` when there is none or it cannot be
    resolved (a forward reference to a class local to a function)."""
    try:
        return typing.get_type_hints(fn).get("return", Any)
    except Exception:  # noqa: BLE001 - any failure to resolve means "no usable annotation"
        return Any


def stream_item(hint: Any) -> Any:
    """What a generator annotated ``Iterator[X]`` (or Generator, AsyncIterator...) yields."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in _STREAMS and args:
        return args[0]
    return Any


def retyped(hint: Any, value: Any, tool_name: str) -> Any:
    """``value`` rebuilt as ``hint``, or ``value`` itself (with a warning) if it does not fit."""
    try:
        return _build(hint, value)
    except Exception as exc:  # noqa: BLE001 - a type's own validation can raise anything
        warnings.warn(
            f"replayed result of {tool_name} does not fit its declared type {hint!r} "
            f"({type(exc).__name__}: {exc}); handed back as recorded JSON",
            ReplayTypeWarning,
            stacklevel=4,
        )
        return value


def _build(hint: Any, value: Any) -> Any:
    if value is None or hint is Any or hint is None or isinstance(hint, (str, typing.TypeVar)):
        return value
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _build(typing.get_args(hint)[0], value)
    if origin is typing.Union or origin is types.UnionType:
        return _union(typing.get_args(hint), value)
    if origin is not None:
        return _container(origin, typing.get_args(hint), value)
    if not isinstance(hint, type):
        return value  # Literal, NewType, TypedDict and other typing forms: JSON as recorded
    validate = getattr(hint, "model_validate", None) or getattr(hint, "parse_obj", None)
    if callable(validate) and isinstance(value, Mapping):
        return validate(value)
    if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        return _dataclass(hint, value)
    if issubclass(hint, enum.Enum):
        return hint(value)
    for kind, parse in _PARSED.items():
        if hint is kind:
            return value if isinstance(value, kind) else parse(value)
    if issubclass(hint, PurePath):
        return hint(value)
    if hint in (tuple, set, frozenset) and isinstance(value, list):
        return hint(value)
    return value


def _union(options: tuple[Any, ...], value: Any) -> Any:
    failures = []
    for option in options:
        if option is type(None):
            continue
        try:
            return _build(option, value)
        except Exception as exc:  # noqa: BLE001 - try the next member of the union
            failures.append(exc)
    if failures:
        raise failures[0]
    return value


def _container(origin: Any, args: tuple[Any, ...], value: Any) -> Any:
    if isinstance(value, list):
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(_build(args[0], item) for item in value)
            if len(args) != len(value):
                raise ValueError(f"{len(value)} items for a tuple of {len(args)}")
            return tuple(_build(arg, item) for arg, item in zip(args, value, strict=True))
        item = args[0] if args else Any
        items = [_build(item, element) for element in value]
        if origin in (set, frozenset):
            return origin(items)
        if origin in _SEQUENCES:
            return items
        return value
    if isinstance(value, Mapping) and origin in _MAPPINGS:
        key, item = args if len(args) == 2 else (Any, Any)
        return {_key(key, k): _build(item, v) for k, v in value.items()}
    return value


def _key(hint: Any, key: str) -> Any:
    """Keys the forward rule printed as JSON text (ints, enums) read back."""
    if hint is int:
        return int(key)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(key)
    return key


def _dataclass(cls: type, value: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init and f.name in value]
    return cls(**{f.name: _build(hints.get(f.name, Any), value[f.name]) for f in fields})
