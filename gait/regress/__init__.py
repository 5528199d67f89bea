"""Regressions from runpacks: gait.yaml, fixtures, grader hooks and the grading engine.

Grader authors need only this module::

    from gait.regress import Grader, GradeResult, hookimpl

    def grade(ctx):
        tools = ctx.candidate_runpack().intents
        ...

    @hookimpl
    def gait_grader_register():
        return [Grader("my_check", grade, description="...")]

and an entry point in the ``gait.graders`` group naming the module.
"""

from __future__ import annotations

from typing import Any

from gait.regress.api import (
    FAIL,
    PASS,
    SKIP,
    FixturePatch,
    GradeInputError,
    Grader,
    GradeResult,
    error_code_for,
)
from gait.regress.context import GradeContext
from gait.regress.hookspecs import ENTRY_POINT_GROUP, hookimpl, hookspec
from gait.regress.manager import GraderRegistry, get_registry


def grade_fixture_set(
    path: str = "gait.yaml", *, allow_nondeterministic: bool = False
) -> list[Any]:
    """Grade every fixture of a gait.yaml without pytest: a list of ``Entry`` (fixture, grader,
    status, reason_codes, details, error_code), sorted by fixture then grader."""
    from gait.regress.config import load_config
    from gait.regress.engine import RegressEngine

    engine = RegressEngine(
        load_config(path), get_registry(), allow_nondeterministic=allow_nondeterministic
    )
    return engine.run_all()


__all__ = [
    "ENTRY_POINT_GROUP",
    "FAIL",
    "PASS",
    "SKIP",
    "FixturePatch",
    "GradeContext",
    "GradeInputError",
    "GradeResult",
    "Grader",
    "GraderRegistry",
    "error_code_for",
    "get_registry",
    "grade_fixture_set",
    "hookimpl",
    "hookspec",
]
