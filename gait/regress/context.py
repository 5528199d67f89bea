"""What a grader sees: the fixture, its expectations, its options, and the runpacks it compares.

Runpacks are loaded (verified first) once per process and shared by every grader of a fixture,
so N graders cost one verification, not N. A runpack that cannot be used raises GradeInputError,
which the engine turns into a failing result with a reason code instead of a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gait.regress.api import GradeInputError

if TYPE_CHECKING:
    from gait.regress.config import FixtureSpec, RegressConfig
    from gait.runpack.model import Runpack
    from gait.runpack.verify import VerifyReport


@dataclass
class Candidate:
    """The runpack a fixture's expectations are checked against, and how it was obtained."""

    path: Path | None
    label: str
    origin: str  # fixture | candidate_runpack | candidate | command
    error_reason: str = ""
    error: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class RunpackCache:
    """Verified runpacks by absolute path, for one process (one pytest worker)."""

    def __init__(self) -> None:
        self._reports: dict[Path, VerifyReport] = {}
        self._packs: dict[Path, Runpack | Exception] = {}

    def report(self, path: Path) -> VerifyReport:
        from gait.runpack.verify import VerifyOptions, verify_runpack

        key = path.resolve()
        if key not in self._reports:
            # Unsigned fixtures are the norm (the reference's init copies them as is); the
            # hashes, manifest digest and member schemas are what make a fixture sound.
            self._reports[key] = verify_runpack(key, VerifyOptions())
        return self._reports[key]

    def load(self, path: Path) -> Runpack:
        """The parsed runpack, or the InvalidInput/VerificationFailed that refused it."""
        from gait.errors import GaitError
        from gait.runpack.reader import load_runpack, verification_error

        key = path.resolve()
        if key not in self._packs:
            try:
                report = self.report(key)
                if not report.ok:
                    raise verification_error(path, report)
                self._packs[key] = load_runpack(key, verify=False)
            except GaitError as exc:
                self._packs[key] = exc
        found = self._packs[key]
        if isinstance(found, Exception):
            raise found
        return found

    def forget(self, path: Path) -> None:
        key = path.resolve()
        self._reports.pop(key, None)
        self._packs.pop(key, None)


class GradeContext:
    """Handed to ``gait_grade``: read-only views plus cached runpack access."""

    def __init__(
        self,
        *,
        config: RegressConfig,
        fixture: FixtureSpec,
        grader: str,
        options: Mapping[str, Any],
        candidate: Candidate,
        cache: RunpackCache,
        pin: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.fixture = fixture
        self.grader = grader
        self.options = dict(options)
        self.candidate = candidate
        self.cache = cache
        self.pin = dict(pin or {})

    @property
    def expectations(self) -> Mapping[str, Any]:
        """fixture.json as read (expected_* keys, diff_allow_changed_files...)."""
        return self.fixture.meta

    @property
    def fixture_label(self) -> str:
        return self.fixture.runpack

    @property
    def candidate_label(self) -> str:
        return self.candidate.label

    @property
    def candidate_is_fixture(self) -> bool:
        return self.candidate.origin == "fixture"

    def verify_report(self) -> VerifyReport:
        return self.cache.report(self.fixture.runpack_path)

    def fixture_runpack(self) -> Runpack:
        try:
            return self.cache.load(self.fixture.runpack_path)
        except Exception as exc:  # noqa: BLE001 - GaitError from verify/read
            raise GradeInputError(
                "fixture_runpack_invalid",
                f"fixture runpack {self.fixture.runpack} is not usable: {_message(exc)}",
            ) from exc

    def candidate_runpack(self) -> Runpack:
        cand = self.candidate
        if cand.error_reason:
            raise GradeInputError(cand.error_reason, cand.error, cand.details)
        if cand.origin == "fixture" or cand.path is None:
            return self.fixture_runpack()
        try:
            return self.cache.load(cand.path)
        except Exception as exc:  # noqa: BLE001
            raise GradeInputError(
                "candidate_runpack_invalid",
                f"candidate runpack {cand.label} is not usable: {_message(exc)}",
                {"candidate_runpack": cand.label},
            ) from exc


def _message(exc: BaseException) -> str:
    return str(getattr(exc, "message", "") or exc).splitlines()[0][:300]
