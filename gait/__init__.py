"""Gait: signed, replayable runpacks, regressions and policy gates for production AI agents.

The SDK entry points (``gait.record``, ``gait.replay``, ``gait.gate``) load on first use so
that ``import gait`` and ``gait --version`` stay fast. So do the reference Python SDK's names
(``gait.ToolAdapter``, ``gait.gate_tool``, ``gait.run_session``, ...; see ``gait.compat``),
which run on this project's core in-process.
"""

from __future__ import annotations

import sys as _sys

TYPE_CHECKING = False  # typing itself is not loaded by ``import gait``
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "record": ("gait.runpack.recorder", "record"),
    "replay": ("gait.runpack.replay", "replay"),
    "gate": ("gait.gate", None),
}


_COMPAT_MODULES = ("adapter", "client", "decorators", "langchain", "models", "session")


def _import(name: str) -> Any:
    """``importlib.import_module`` without importing importlib (and warnings) with ``gait``."""
    __import__(name)
    return _sys.modules[name]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        if name in _COMPAT_MODULES:
            return _import(f"gait.{name}")
        from gait.compat import EXPORTS

        if name not in EXPORTS:
            raise AttributeError(f"module 'gait' has no attribute {name!r}")
        return getattr(_import(EXPORTS[name]), name)
    module_name, attr = _LAZY[name]
    module = _import(module_name)
    return getattr(module, attr) if attr else module
