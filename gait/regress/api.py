"""What a grader is, what it is given and what it returns.

These types are the public contract for grader authors (third-party distributions included), so
they stay small and free of pytest: the same grader runs under ``gait regress run``, under
``pytest --gait`` and from plain Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gait.errors import RegressFailed

if TYPE_CHECKING:
    from gait.regress.context import GradeContext

PASS = "pass"
FAIL = "fail"
SKIP = "skip"

# PRD.md names the schema grader's code E_REGRESS_GRADER_FAIL_SCHEMA; the reference's other
# graders get short, stable suffixes. Any other grader: its name in upper case.
CODE_SUFFIXES = {
    "schema_validation": "SCHEMA",
    "expected_exit_code": "EXIT_CODE",
    "trajectory": "TRAJECTORY",
    "diff": "DIFF",
}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def error_code_for(grader: str, suffix: str = "") -> str:
    """``E_REGRESS_GRADER_FAIL_<SUFFIX>`` for a grader name (stable: a public API)."""
    tail = suffix or CODE_SUFFIXES.get(grader) or re.sub(r"[^A-Z0-9]+", "_", grader.upper())
    return f"E_REGRESS_GRADER_FAIL_{tail.strip('_')}"


@dataclass
class GradeResult:
    """One grader's verdict on one fixture.

    ``details`` goes into regress_result.json as is, so it must be JSON and deterministic: no
    absolute paths, times or timings. ``message`` and ``divergence`` feed the bounded failure
    report (first differing step, expected vs actual) and stay out of the result file.
    """

    status: str
    reason_codes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    divergence: list[str] = field(default_factory=list)
    # The reference's context_conformance field of a result element (none, runtime_only,
    # semantic or missing); only its context_conformance grader sets it.
    context_conformance: str = ""

    @classmethod
    def passed(cls, *reason_codes: str, details: Mapping[str, Any] | None = None) -> GradeResult:
        return cls(PASS, list(reason_codes), dict(details or {}))

    @classmethod
    def failed(
        cls,
        *reason_codes: str,
        details: Mapping[str, Any] | None = None,
        message: str = "",
        divergence: list[str] | None = None,
    ) -> GradeResult:
        return cls(FAIL, list(reason_codes), dict(details or {}), message, list(divergence or []))

    @property
    def ok(self) -> bool:
        return self.status == PASS


@dataclass(frozen=True)
class FixturePatch:
    """What ``--update`` changes in one fixture: fixture.json keys, and/or its runpack."""

    meta: Mapping[str, Any] = field(default_factory=dict)
    replace_runpack: bool = False


@dataclass(frozen=True)
class Grader:
    """A grader declaration, returned by a ``gait_grader_register`` hook implementation.

    ``default`` graders run on every fixture without being named anywhere (an installed
    third-party grader is picked up with no configuration); others run where gait.yaml or
    fixture.json names them under ``graders``. A non-deterministic grader is skipped unless
    explicitly allowed and must be pinned in gait.yaml.
    """

    name: str
    grade: Callable[[GradeContext], GradeResult] | None = None
    description: str = ""
    deterministic: bool = True
    default: bool = True
    code_suffix: str = ""
    update: Callable[[GradeContext, GradeResult], FixturePatch | None] | None = None
    options: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"grader name {self.name!r} must match {_NAME.pattern}")

    @property
    def error_code(self) -> str:
        return error_code_for(self.name, self.code_suffix)


class GradeInputError(RegressFailed):
    """A grader could not get its input (runpack unreadable, candidate missing): a failure with
    a reason code, not a crash. Inside regress the fixture fails with the grader's code and this
    reason; raised anywhere else it is a regress failure like any other GaitError."""

    default_code = "E_REGRESS_GRADE_INPUT"

    def __init__(self, reason_code: str, message: str, details: Mapping[str, Any] | None = None):
        super().__init__(message, details=dict(details or {}))
        self.reason_code = reason_code
