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
    "hookimpl",
    "hookspec",
]
