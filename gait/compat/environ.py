"""Environment variables read on every in-process decision, at a dict lookup's cost.

The SDK honours ``GAIT_HOME`` and ``GAIT_SDK_TRACES`` (and key variables) as they are at each
call, so a test or an agent that changes them mid-run is obeyed. ``os.environ.get`` costs
about 1 us per read (2 us for an unset name: its ``KeyError`` is raised and caught), a tenth
of a whole decision. On POSIX CPython ``os.environ`` keeps its values in a dict of encoded
bytes (``os.environ._data``) that every change through ``os.environ`` updates; reading it
gives the same answer as ``os.environ.get`` (tests/test_compat_fastpaths.py checks set, unset,
changed and non-UTF-8 values). Anywhere else, ``os.environ.get`` itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

_ENVIRON = os.environ
_DATA = getattr(_ENVIRON, "_data", None)


def _make_reader() -> Callable[[str], str | None]:
    if os.name != "posix" or type(_DATA) is not dict:
        return lambda name: os.environ.get(name)
    data: dict[bytes, bytes] = _DATA
    encoding = sys.getfilesystemencoding()
    keys: dict[str, bytes] = {}

    def read(name: str) -> str | None:
        if os.environ is not _ENVIRON:  # replaced wholesale (not just changed): ask it
            return os.environ.get(name)
        key = keys.get(name)
        if key is None:
            key = keys[name] = name.encode(encoding, "surrogateescape")
        value = data.get(key)
        return None if value is None else value.decode(encoding, "surrogateescape")

    return read


getenv = _make_reader()
"""``os.environ.get(name)`` (None when unset)."""
