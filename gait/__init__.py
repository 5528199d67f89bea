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
# The reference SDK's names that are not capitalised (gait.compat.EXPORTS; tests/test_cli_startup
# .py holds them equal). Any other such name is a submodule being imported (``from gait import
# timefmt`` asks this module first) or absent: answered without importing gait.compat for it.
_COMPAT_FUNCTIONS = frozenset(
    {
        "capture_demo_runpack",
        "capture_intent",
        "create_regress_fixture",
        "evaluate_gate",
        "flush_traces",
        "gate_tool",
        "record_runpack",
        "run_session",
        "write_trace",
    }
)


def _import(name: str) -> Any:
    """``importlib.import_module`` without importing importlib (and warnings) with ``gait``."""
    __import__(name)
    return _sys.modules[name]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        if name in _COMPAT_MODULES:
            return _import(f"gait.{name}")
        if not name[:1].isupper() and name not in _COMPAT_FUNCTIONS:
            raise AttributeError(f"module 'gait' has no attribute {name!r}")
        from gait.compat import EXPORTS

        if name not in EXPORTS:
            raise AttributeError(f"module 'gait' has no attribute {name!r}")
        return getattr(_import(EXPORTS[name]), name)
    module_name, attr = _LAZY[name]
    module = _import(module_name)
    return getattr(module, attr) if attr else module
