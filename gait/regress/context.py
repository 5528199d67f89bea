"""What a grader sees: the fixture, its expectations, its options, and the runpacks it compares.

Runpacks are loaded (verified first) once per process and shared by every grader of a fixture,
so N graders cost one verification, not N. A runpack that cannot be used raises GradeInputError,
which the engine turns into a failing result with a reason code instead of a crash.
"""

from __future__ import annotations

import os
from collections import OrderedDict
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
    error_code: str = ""  # the E_* code every grader of the fixture reports for error_reason
    misses: list[dict[str, Any]] = field(default_factory=list)  # unserved replay misses
    exit_code: int | None = None  # the command's, when one ran
    misses_path: Path | None = None

    @property
    def completed(self) -> bool:
        """A candidate ``--update`` may accept: produced, and (for a command) exit 0 with every
        tool call served from the fixture."""
        if self.error_reason or self.path is None:
            return False
        if self.origin != "command":
            return True
        return self.exit_code == 0 and not self.misses

    def refusal(self) -> str:
        """Why ``--update`` refuses this candidate ('' when it accepts it)."""
        if self.completed:
            return ""
        if self.misses:
            return f"{len(self.misses)} replay miss(es): {self.misses[0].get('message', '')}"
        if self.error:
            return self.error
        if self.exit_code not in (None, 0):
            return f"the agent exited {self.exit_code}"
        return "no candidate runpack"


class RunpackCache:
    """Verified runpacks by path, for one process (one pytest worker).

    Each zip is read once: verification and parsing share the members read.
    """

    # Graders of one fixture run back to back (items are sorted; xdist loadscope keeps them
    # on one worker), so a few recent runpacks are all a process needs. Holding every
    # runpack of a large set would only grow the heap and slow the garbage collector.
    LIMIT = 32

    def __init__(self) -> None:
        self._reports: OrderedDict[str, VerifyReport] = OrderedDict()
        self._packs: OrderedDict[str, Runpack | Exception] = OrderedDict()
        self._members: dict[str, Any] = {}

    def _trim(self) -> None:
        for cache in (self._reports, self._packs):
            while len(cache) > self.LIMIT:
                key, _ = cache.popitem(last=False)
                self._members.pop(key, None)

    def report(self, path: Path) -> VerifyReport:
        key = os.path.abspath(path)
        if key not in self._reports:
            self._reports[key] = _verify(key, self._members)
            self._trim()
        else:
            self._reports.move_to_end(key)
        return self._reports[key]

    def load(self, path: Path) -> Runpack:
        """The parsed runpack, or the InvalidInput/VerificationFailed that refused it."""
        from gait.errors import GaitError
        from gait.runpack.reader import verification_error

        key = os.path.abspath(path)
        if key not in self._packs:
            try:
                report = self.report(Path(key))
                if not report.ok:
                    raise verification_error(path, report)
                self._packs[key] = _parse(key, self._members.pop(key, None))
            except GaitError as exc:
                self._packs[key] = exc
            self._trim()
        else:
            self._packs.move_to_end(key)
        found = self._packs[key]
        if isinstance(found, Exception):
            raise found
        return found

    def forget(self, path: Path) -> None:
        key = os.path.abspath(path)
        for cache in (self._reports, self._packs, self._members):
            cache.pop(key, None)


def _verify(path: str, keep: dict[str, Any]) -> VerifyReport:
    """verify_runpack's checks on members read once (kept for parsing); unsigned fixtures are
    the norm (the reference's init copies them as is), so no keys: hashes, manifest digest
    and member schemas are what make a fixture sound."""
    from gait.runpack import verify
    from gait.runpack.archive import read_members

    members = read_members(path)
    report = verify.verify_members(path, members, verify.VerifyOptions())
    keep[path] = members
    return report


def _parse(path: str, members: Any) -> Runpack:
    from gait.runpack.reader import load_runpack, runpack_from_members

    if members is None:
        return load_runpack(path, verify=False)
    return runpack_from_members(members)


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
