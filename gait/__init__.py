"""Gait: signed, replayable runpacks, regressions and policy gates for production AI agents.

The SDK entry points (``gait.record``, ``gait.replay``, ``gait.gate``) load on first use so
that ``import gait`` and ``gait --version`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "record": ("gait.runpack.recorder", "record"),
    "replay": ("gait.runpack.replay", "replay"),
    "gate": ("gait.gate", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'gait' has no attribute {name!r}")
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module
