"""Gait: signed, replayable runpacks, regressions and policy gates for production AI agents.

The SDK entry points (``gait.record``, ``gait.replay``, ``gait.gate``) load on first use so
that ``import gait`` and ``gait --version`` stay fast. So do the reference Python SDK's names
(``gait.ToolAdapter``, ``gait.gate_tool``, ``gait.run_session``, ...; see ``gait.compat``),
which run on this project's core in-process.
"""

from __future__ import annotations

import importlib

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


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        if name in _COMPAT_MODULES:
            return importlib.import_module(f"gait.{name}")
        from gait.compat import EXPORTS

        if name not in EXPORTS:
            raise AttributeError(f"module 'gait' has no attribute {name!r}")
        return getattr(importlib.import_module(EXPORTS[name]), name)
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module
