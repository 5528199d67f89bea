"""What ``@dataclass`` gives a class, for the classes a one-shot process defines, without it.

``@dataclass`` builds each class at import by running Python over its fields (and writing and
compiling methods: gait.cli.methodcache keeps those), about 0.6 M instructions for a class of ten
fields, and importing ``dataclasses`` loads ``re``, ``inspect``, ``copy`` and ``functools``. A
``gait gate eval`` process defined some twenty of them to make one decision (issue 16 item 6).

A class here is a plain class with ``__slots__`` and its own explicit ``__init__``; it names its
fields once, in ``_fields`` (the ``__init__`` parameters, in order, that equality, ``repr`` and
pickling read), and gets from these bases what its dataclass had:

- ``Plain``: ``__eq__`` over ``_fields`` between instances of the very same class (else
  ``NotImplemented``), a ``repr`` of ``Name(field=value, ...)``, unhashable (as a dataclass with
  ``eq`` and without ``frozen``), pickling and copying by calling the class with the fields;
- ``Frozen``: the same, immutable (assigning or deleting an attribute raises
  ``FrozenInstanceError``, an ``AttributeError`` as ``dataclasses``' is) and hashable over
  ``_fields``. Its ``__init__`` sets attributes with ``object.__setattr__``, as a frozen
  dataclass's does;
- ``replace(obj, **changes)``: ``dataclasses.replace`` (a new instance through ``__init__``).

Derived attributes a class computes in its ``__init__`` are slots outside ``_fields``: like a
dataclass's ``field(init=False, repr=False, compare=False)``, never compared or shown.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T", bound="Plain")


class FrozenInstanceError(AttributeError):
    """An attribute of a frozen instance was assigned or deleted."""


class Plain:
    """Equality, ``repr`` and pickling over ``_fields`` (see the module's docstring)."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self._fields])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join([f"{name}={getattr(self, name)!r}" for name in self._fields])
        return f"{self.__class__.__qualname__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, self._values())


class Frozen(Plain):
    """``Plain``, immutable and hashable (a frozen dataclass)."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._values())


def replace(obj: T, **changes: Any) -> T:
    """``dataclasses.replace``: a new instance with ``changes`` over ``obj``'s fields."""
    fields = obj._fields
    for name in changes:
        if name not in fields:
            raise TypeError(f"{obj.__class__.__qualname__} has no field {name!r}")
    values = {name: getattr(obj, name) for name in fields}
    values.update(changes)
    return obj.__class__(**values)
