"""One rule for turning Python values (SDK objects included) into JSON values.

The recorder digests and stores what a tool was called with and what it returned; the gating
adapters read the model's tool calls. Both get real client-library objects (pydantic models
from openai, anthropic and mcp, dataclasses, attrs classes) far more often than plain dicts,
and both must never turn a value they did not understand into "nothing" or into its type name:
two different results would then get the same digest and ``gait run diff`` would call them
equal.

The rule, in order (first match wins; containers are converted recursively):

=============================  ==============================================================
value                          JSON value
=============================  ==============================================================
None, bool, int, str           itself
float                          itself; NaN and Infinity are refused (no JSON form)
pydantic model (v2)            ``model_dump(mode="json", by_alias=True)`` (field names as on
                               the wire, e.g. MCP's ``isError``), then this rule again
pydantic model (v1)            ``value.json()`` read strictly (duplicate keys refused)
dataclass instance             ``{field name: value}`` for every field (``dataclasses.fields``)
attrs instance                 ``{attribute name: value}`` for every attribute
enum member                    its ``value``
Mapping                        object; keys: str as is, int/float/bool/enum/None via this rule
                               printed as JSON text, anything else refused
list, tuple, other Sequence    array (str and bytes excluded)
set, frozenset                 array sorted by canonical JSON bytes (deterministic)
bytes, bytearray, memoryview   standard base64 text
datetime, date, time           ``isoformat()``
timedelta                      seconds as a number (``total_seconds()``)
Decimal                        its exact decimal text (``str``), never a lossy float
UUID, pathlib path             ``str``
=============================  ==============================================================

Anything else is *lenient* (the recorder): an object whose public ``__dict__`` attributes are
readable is stored as those attributes; one whose class defines its own ``__repr__`` is stored as
that text. Both are guesses, so each warns once per type (``UnserializableValueWarning``) with
how to make it exact (give the type ``model_dump`` or make it a dataclass). An object with neither
is refused (``E_RECORD_INPUT_INVALID`` naming the type and where it sits), never replaced by its
type name. *Strict* (the adapters) refuses anything outside the table with
``E_ADAPTER_INPUT_INVALID``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import enum
import json
import math
import threading
import uuid
import warnings
from collections.abc import Mapping, Sequence, Set
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from gait.errors import InvalidInput

_WARNED: set[str] = set()
_WARN_LOCK = threading.Lock()
_MAX_DEPTH = 200


class UnserializableValueWarning(UserWarning):
    """A value was recorded by a guess (its attributes or its repr); once per type."""


def type_name(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _float(value: float, code: str, where: str) -> float:
    # Non-finite floats have no JSON form: storing null would give NaN, Infinity and None the
    # same digest and hide what the tool really returned, so they are refused (issue 11).
    if math.isfinite(value):
        return value
    raise InvalidInput(
        f"{where}: {value} has no JSON form (NaN and Infinity cannot be recorded)",
        code=code,
        hint='return a finite number, null or a string such as "NaN" from the tool',
    )


def to_json_value(
    value: Any,
    *,
    strict: bool = False,
    code: str = "E_RECORD_INPUT_INVALID",
    where: str = "$",
) -> Any:
    """``value`` as JSON data by the module's rule; raises ``InvalidInput`` (``code``) for what
    it cannot read (always in strict mode; in lenient mode only for opaque objects)."""
    return _convert(value, strict, code, where, 0)


def _refuse(value: Any, code: str, where: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"{where}: cannot read a {type_name(value)} ({why})",
        code=code,
        hint="pass plain data, a pydantic model, a dataclass or an attrs instance",
    )


def _convert(value: Any, strict: bool, code: str, where: str, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise InvalidInput(f"{where}: nested deeper than {_MAX_DEPTH} levels", code=code)
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, enum.Enum):
        return _convert(value.value, strict, code, where, depth + 1)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _float(float(value), code, where)
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        try:
            try:
                dumped = dump(mode="json", by_alias=True)
            except TypeError:  # a model_dump of its own, without pydantic's keywords
                dumped = dump()
        except Exception as exc:  # noqa: BLE001 - a broken model is the caller's input error
            raise _refuse(value, code, where, f"model_dump failed: {exc}") from exc
        return _convert(dumped, strict, code, where, depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _convert(getattr(value, f.name), strict, code, f"{where}.{f.name}", depth + 1)
            for f in dataclasses.fields(value)
        }
    attrs_fields = getattr(type(value), "__attrs_attrs__", None)
    if attrs_fields is not None:
        return {
            a.name: _convert(getattr(value, a.name), strict, code, f"{where}.{a.name}", depth + 1)
            for a in attrs_fields
        }
    legacy = getattr(value, "json", None)
    if callable(legacy) and hasattr(type(value), "__fields__") and hasattr(value, "dict"):
        from gait.canon import loads_strict

        try:
            text = legacy()
        except Exception as exc:  # noqa: BLE001
            raise _refuse(value, code, where, f"json() failed: {exc}") from exc
        # JSON text: a duplicate key or NaN in it is refused, never last-key-wins or null
        return _convert(
            loads_strict(text, what=f"{where} json()", code=code), strict, code, where, depth + 1
        )
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = _key(key, strict, code, where)
            out[name] = _convert(item, strict, code, f"{where}.{name}", depth + 1)
        return out
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (Set, frozenset)):
        from gait.canon import canonical_bytes

        items = [_convert(v, strict, code, f"{where}[]", depth + 1) for v in value]
        return sorted(items, key=canonical_bytes)
    if isinstance(value, Sequence):
        return [_convert(v, strict, code, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (uuid.UUID, PurePath)):
        return str(value)
    if strict:
        raise _refuse(value, code, where, "not a model, dataclass, attrs class, mapping or list")
    return _fallback(value, code, where, depth)


def _key(key: Any, strict: bool, code: str, where: str) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float, enum.Enum)):
        return json.dumps(_convert(key, strict, code, where, 0))
    if isinstance(key, (uuid.UUID, PurePath, Decimal)):
        return str(key)
    raise _refuse(key, code, where, "a mapping key must be text, a number or an enum")


def _fallback(value: Any, code: str, where: str, depth: int) -> Any:
    kind = type(value)
    public = {
        k: v for k, v in (getattr(value, "__dict__", None) or {}).items() if not k.startswith("_")
    }
    if public:
        _warn_once(kind, "its public attributes")
        return {
            k: _convert(v, False, code, f"{where}.{k}", depth + 1)
            for k, v in sorted(public.items())
        }
    own_repr: object = kind.__repr__  # object: the check is identity, not the signature
    own_str: object = kind.__str__
    if own_repr is not object.__repr__ or own_str is not object.__str__:
        text = str(value) if own_str is not object.__str__ else repr(value)
        if " at 0x" not in text:  # an address differs run to run: no stable digest
            _warn_once(kind, "its text")
            return text
    raise _refuse(
        value, code, where, "it has no readable content: no model_dump, no fields, no repr"
    )


def _warn_once(kind: type, how: str) -> None:
    name = f"{kind.__module__}.{kind.__qualname__}"
    with _WARN_LOCK:
        if name in _WARNED:
            return
        _WARNED.add(name)
    warnings.warn(
        f"gait recorded a {name} by {how}; give the type model_dump() or make it a dataclass "
        "for an exact record",
        UnserializableValueWarning,
        stacklevel=4,
    )


def receiver(fn: Any, signature: Any) -> str:
    """The name of a tool method's ``self``/``cls`` parameter, else "": the object a method is
    bound to is not an argument the model gave (it may hold clients and credentials, and it is
    rarely JSON), so the recorder and the gate leave it out. ``signature`` is ``fn``'s."""
    owner = fn.__qualname__.rsplit(".", 2)
    first = next(iter(signature.parameters.values()), None)
    if len(owner) < 2 or owner[-2] == "<locals>" or first is None:
        return ""
    if first.name in ("self", "cls") and first.kind is first.POSITIONAL_OR_KEYWORD:
        return str(first.name)
    return ""
