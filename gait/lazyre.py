"""Regular expressions compiled on first use.

Compiling a pattern costs a process per tool call about as much as a small decision; a module on
the ``gait gate eval`` path compiled six that a plain decision never matches (issue 16 item 6).
``lazy(pattern)`` stands for ``re.compile(pattern)``: the first use of ``match``, ``search``,
``fullmatch``, ``sub``, ``findall``, ``finditer`` or ``split`` compiles it and puts the compiled
pattern's own bound methods in its slots, so every later call goes straight to them.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_METHODS = ("match", "search", "fullmatch", "sub", "findall", "finditer", "split")


class _Lazy:
    __slots__ = ("_pattern", "_flags", *_METHODS)

    def __init__(self, pattern: str, flags: int) -> None:
        self._pattern = pattern
        self._flags = flags

    def __getattr__(self, name: str) -> Any:  # an unfilled slot: the first use
        compiled = re.compile(self._pattern, self._flags)
        for method in _METHODS:
            setattr(self, method, getattr(compiled, method))
        return getattr(compiled, name)


def lazy(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(pattern, flags)``, compiled when first matched."""
    return _Lazy(pattern, flags)  # type: ignore[return-value]
