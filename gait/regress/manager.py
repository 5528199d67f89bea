"""The grader plugin manager: ``pluggy.PluginManager("gait")`` fed by the ``gait.graders``
entry-point group, the same path for the starter graders and for any third party.

Kept separate from pytest's plugin manager so that graders work without pytest; the pytest
plugin bridges the two (conftest.py modules with gait hooks are registered here too).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pluggy

from gait.errors import InvalidInput
from gait.regress import hookspecs
from gait.regress.api import Grader, GradeResult
from gait.regress.context import GradeContext


class _Builtin:
    """The fallback ``gait_grade``: call the declaration's own ``grade`` function."""

    @hookspecs.hookimpl(trylast=True)
    def gait_grade(self, grader: Grader, ctx: GradeContext) -> GradeResult | None:
        if grader.grade is None:
            return None
        return grader.grade(ctx)


class GraderRegistry:
    """A plugin manager plus the merged grader declarations, computed once and cached."""

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.pm.register(_Builtin(), "gait-builtin")
        self._graders: dict[str, Grader] | None = None
        self._sources: dict[str, str] = {}
        if load_entry_points:
            self._load_entry_points()

    def _load_entry_points(self) -> None:
        try:
            self.pm.load_setuptools_entrypoints(hookspecs.ENTRY_POINT_GROUP)
        except Exception as exc:  # noqa: BLE001 - a broken third-party package must not crash us
            raise InvalidInput(
                f"a {hookspecs.ENTRY_POINT_GROUP} entry point failed to load: "
                f"{type(exc).__name__}: {exc}",
                code="E_REGRESS_GRADER_PLUGIN",
                hint="pip show the package named in the error, or uninstall it",
            ) from exc

    def register(self, plugin: Any, name: str | None = None) -> None:
        """Add a plugin (module or object with gait hookimpls); declarations are recomputed."""
        if self.pm.is_registered(plugin):
            return
        self.pm.register(plugin, name)
        self._graders = None

    def graders(self) -> dict[str, Grader]:
        if self._graders is None:
            self._graders = self._collect()
        return self._graders

    def _collect(self) -> dict[str, Grader]:
        found: dict[str, Grader] = {}
        for impl in self.pm.hook.gait_grader_register.get_hookimpls():
            source = impl.plugin_name
            try:
                declared = impl.function() or []
            except Exception as exc:  # noqa: BLE001 - name the plugin instead of a traceback
                raise InvalidInput(
                    f"grader plugin {source!r} failed in gait_grader_register: "
                    f"{type(exc).__name__}: {exc}",
                    code="E_REGRESS_GRADER_PLUGIN",
                ) from exc
            if not isinstance(declared, Iterable):  # a bare Grader was a TypeError traceback
                raise InvalidInput(
                    f"grader plugin {source!r} returned {type(declared).__name__}, "
                    "not a list of gait.regress.Grader",
                    code="E_REGRESS_GRADER_PLUGIN",
                )
            for grader in declared:
                if not isinstance(grader, Grader):
                    raise InvalidInput(
                        f"grader plugin {source!r} returned {type(grader).__name__}, "
                        "not gait.regress.Grader",
                        code="E_REGRESS_GRADER_PLUGIN",
                    )
                if grader.name in found:
                    raise InvalidInput(
                        f"grader {grader.name!r} is declared by both "
                        f"{self._sources[grader.name]!r} and {source!r}",
                        code="E_REGRESS_GRADER_PLUGIN",
                    )
                found[grader.name] = grader
                self._sources[grader.name] = source
        return dict(sorted(found.items()))

    def source_of(self, name: str) -> str:
        self.graders()
        return self._sources.get(name, "")

    def get(self, name: str) -> Grader:
        known = self.graders()
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, list(known), n=1)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            raise InvalidInput(
                f"unknown grader {name!r}{guess}; known graders: {', '.join(known) or '(none)'}",
                code="E_REGRESS_GRADER_UNKNOWN",
                hint="pip install the package that provides it, or fix the name in gait.yaml",
            )
        return known[name]

    def default_names(self) -> list[str]:
        return [name for name, grader in self.graders().items() if grader.default]

    def grade(self, grader: Grader, ctx: GradeContext) -> GradeResult | None:
        graded: GradeResult | None = self.pm.hook.gait_grade(grader=grader, ctx=ctx)
        return graded


_SHARED: GraderRegistry | None = None


def get_registry() -> GraderRegistry:
    """The process-wide registry (entry points are read once per process)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = GraderRegistry()
    return _SHARED
