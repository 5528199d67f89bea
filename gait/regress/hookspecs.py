"""Grader hook specifications (pluggy project ``gait``).

Modelled on pytest's own hookspecs: a plugin is any module or object with ``@hookimpl``
functions named like these. Plugins come from the ``gait.graders`` entry-point group, from a
conftest.py when running under pytest, or from ``manager.register(obj)`` in plain Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from gait.regress.api import Grader, GradeResult
    from gait.regress.context import GradeContext

PROJECT = "gait"
ENTRY_POINT_GROUP = "gait.graders"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def gait_grader_register() -> Sequence[Grader]:
    """Declare graders: return a list of :class:`gait.regress.api.Grader`.

    Called once per plugin manager; every plugin's declarations are merged and a name declared
    twice is an error (names are a public API: they appear in regress_result.json).
    """
    return ()  # a specification: pluggy calls the implementations, never this body


@hookspec(firstresult=True)
def gait_grade(grader: Grader, ctx: GradeContext) -> GradeResult | None:
    """Grade one fixture with one grader; the first non-None result wins.

    The built-in implementation (``trylast``) calls ``grader.grade(ctx)``; a plugin can answer
    first for graders declared without a ``grade`` function, or wrap grading with
    ``@hookimpl(wrapper=True)`` (timing, retries for a pinned model...).
    """
