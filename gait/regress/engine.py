"""Grade fixtures: choose each fixture's graders, run one (fixture, grader) pair, shape its entry.

No pytest here: the pytest plugin turns each pair into a test item and calls ``grade``; plain
Python can call ``run_all``. A grader that raises becomes a ``grader_error`` entry for that pair
only; a grader that cannot get its input fails with a reason code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gait.errors import InvalidInput
from gait.fsutil import scratch_dir
from gait.regress.api import FAIL, PASS, SKIP, GradeInputError, Grader, GradeResult
from gait.regress.candidates import CandidateResolver
from gait.regress.config import FixtureSpec, RegressConfig
from gait.regress.context import GradeContext, RunpackCache
from gait.regress.manager import GraderRegistry

GRADER_ERROR_CODE = "E_REGRESS_GRADER_ERROR"
UNPINNED_CODE = "E_REGRESS_GRADER_UNPINNED"
NONDETERMINISTIC_SKIPPED = "nondeterministic_not_allowed"
CONTEXT_CONFORMANCE = "context_conformance"  # graders/context.py (the starter plugin)


@dataclass
class Entry:
    """One grader's result on one fixture, as the result file and the reports need it."""

    fixture: str
    grader: str
    status: str
    reason_codes: list[str]
    details: dict[str, Any]
    error_code: str = ""
    nondeterministic: bool = False
    crashed: bool = False
    message: str = ""
    divergence: list[str] = field(default_factory=list)
    candidate: str = ""
    update: dict[str, Any] | None = None
    refused: str = ""  # why --update will not accept this fixture's candidate
    live: bool = False  # graded against a command's or a given candidate, not only itself
    exception: BaseException | None = field(default=None, compare=False, repr=False)
    context_conformance: str = ""  # the reference's result field (context_conformance grader)

    @property
    def name(self) -> str:
        return f"{self.fixture}/{self.grader}"

    def to_result(self) -> dict[str, Any]:
        """The regress_result.json element: the reference's fields, then ours."""
        out: dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "reason_codes": list(self.reason_codes),
        }
        if self.context_conformance:
            out["context_conformance"] = self.context_conformance
        out["details"] = self.details
        if self.error_code:
            out["error_code"] = self.error_code
        if self.nondeterministic:
            out["nondeterministic"] = True
        return out

    def to_wire(self) -> dict[str, Any]:
        """Everything, as plain JSON types: what a pytest-xdist worker sends to the controller."""
        return {
            "fixture": self.fixture,
            "grader": self.grader,
            "status": self.status,
            "reason_codes": list(self.reason_codes),
            "details": self.details,
            "error_code": self.error_code,
            "nondeterministic": self.nondeterministic,
            "crashed": self.crashed,
            "message": self.message,
            "divergence": list(self.divergence),
            "candidate": self.candidate,
            "update": self.update,
            "refused": self.refused,
            "live": self.live,
            "context_conformance": self.context_conformance,
        }

    @classmethod
    def from_wire(cls, doc: Mapping[str, Any]) -> Entry:
        return cls(**dict(doc))


def _unique_sorted(values: list[Any]) -> list[str]:
    return sorted({str(v).strip() for v in values if str(v).strip()})


class RegressEngine:
    """One regress run's state in one process: config, graders, caches, produced candidates."""

    def __init__(
        self,
        config: RegressConfig,
        registry: GraderRegistry,
        *,
        work_dir: Path | None = None,
        allow_nondeterministic: bool = False,
        update: bool = False,
        record_mode: str = "",
        unsafe_real_tools: bool = False,
        check_fixtures: bool = True,
        context_conformance: bool = False,
        allow_context_runtime_drift: bool = False,
    ) -> None:
        self.config = config
        self.check_fixtures = check_fixtures
        # --context-conformance / --allow-context-runtime-drift (the reference's run flags)
        self.context_conformance = context_conformance
        self.allow_context_runtime_drift = allow_context_runtime_drift
        self.registry = registry
        self.allow_nondeterministic = allow_nondeterministic
        self.update = update
        self.record_mode = record_mode
        self.unsafe_real_tools = unsafe_real_tools
        self._work_dir = work_dir
        self.cache = RunpackCache()
        self._resolver: CandidateResolver | None = None
        self._plan: list[tuple[FixtureSpec, list[str]]] | None = None

    @property
    def resolver(self) -> CandidateResolver:
        if self._resolver is None:
            # kept after the run (its candidates may be read); the next run removes it once
            # this process is gone
            work = self._work_dir or scratch_dir("gait-regress")
            self._resolver = CandidateResolver(
                self.config,
                work,
                record_mode=self.record_mode,
                unsafe_real_tools=self.unsafe_real_tools,
            )
        return self._resolver

    # planning ---------------------------------------------------------------------------
    def options_for(self, fixture: FixtureSpec) -> dict[str, Any]:
        merged = dict(self.config.grader_options)
        merged.update(fixture.grader_options)
        return merged

    def graders_for(self, fixture: FixtureSpec) -> list[str]:
        options = self.options_for(fixture)
        names = set(self.registry.default_names())
        if self._context_conformance_active():
            names.add(CONTEXT_CONFORMANCE)
        for name, value in options.items():
            self.registry_get(name, fixture)
            if value is False:
                names.discard(name)
            else:
                names.add(name)
        return sorted(names)

    def _context_conformance_active(self) -> bool:
        """As the reference: the flag, or any fixture.json naming a context expectation, runs
        the context conformance grader on every fixture."""
        if self.context_conformance:
            return True
        for spec in self.config.fixtures:
            meta = spec.meta
            if str(meta.get("context_conformance") or "").strip():
                return True
            if str(meta.get("expected_context_set_digest") or "").strip():
                return True
            if meta.get("allow_context_runtime_drift"):
                return True
        return False

    def registry_get(self, name: str, fixture: FixtureSpec | None = None) -> Grader:
        try:
            return self.registry.get(name)
        except InvalidInput as exc:
            where = f"fixture {fixture.name!r}: " if fixture else ""
            raise InvalidInput(f"{where}{exc.message}", code=exc.code, hint=exc.hint) from None

    def plan(self) -> list[tuple[FixtureSpec, list[str]]]:
        """Every fixture (sorted by name) with its graders (sorted); validates names and pins."""
        if self._plan is None:
            if self.config.command and self.config.candidate:
                raise InvalidInput(
                    f"{self.config.path}: give either command or candidate, not both",
                    code="E_REGRESS_CONFIG_INVALID",
                )
            for name in self.config.grader_options:
                try:
                    self.registry.get(name)
                except InvalidInput as exc:
                    raise InvalidInput(
                        f"{self.config.path.name} graders: {exc.message}",
                        code=exc.code,
                        hint=exc.hint,
                    ) from None
            if self.check_fixtures:
                self._check_fixture_runpacks()
            if self.config.command:
                self._check_command()
            plan = [(fixture, self.graders_for(fixture)) for fixture in self.config.fixtures]
            used = sorted({name for _, names in plan for name in names})
            for name in sorted(self.config.pins):
                self.registry_get(name)
            if self.allow_nondeterministic:
                for name in used:
                    grader = self.registry.get(name)
                    if not grader.deterministic:
                        self.check_pin(grader)
            self._plan = plan
        return self._plan

    def _check_fixture_runpacks(self) -> None:
        """Refuse the set, before anything is graded, when a fixture's own runpack does not
        verify: the reference stops its run there too (no result, exit 6), and grading against
        a tampered or broken expectation would only report noise. Each verification is cached,
        so the graders then reuse it."""
        from gait.errors import GaitError

        for fixture in self.config.fixtures:
            try:
                report = self.cache.report(fixture.runpack_path)
            except GaitError as exc:
                problem = exc.message
            else:
                failing = [c for c in report.checks if c.status == "fail"]
                if failing:
                    detail = f" ({failing[0].detail})" if failing[0].detail else ""
                    problem = f"check {failing[0].name} failed{detail}"
                elif report.run_id and report.run_id != fixture.run_id:
                    problem = f"its run_id is {report.run_id!r}, fixture.json's {fixture.run_id!r}"
                else:
                    continue
            shown = _shown_path(fixture.runpack_path)
            raise InvalidInput(
                f"fixture {fixture.name!r}: runpack {fixture.runpack} fails verification: "
                + problem,
                code="E_REGRESS_FIXTURE_INVALID",
                hint=f"gait verify {shown}; restore it, or re-create the fixture: "
                f"gait regress init --from <run> --name {fixture.name} --force",
            )

    def _check_command(self) -> None:
        """Refuse, before anything runs, what would make every command: fixture fail the same
        way: a command that is not there, a bad match_on or record mode, a fixture whose
        runpack cannot serve the agent its tool results."""
        import shutil

        from gait.regress.init import NEEDS_RESULTS
        from gait.runpack.replay import RECORD_MODES, MatchOn

        config = self.config
        head = config.command[0]
        if head != "{python}":
            where = config.root / head if ("/" in head or os.sep in head) else None
            found = where.is_file() if where is not None else shutil.which(head) is not None
            if not found:
                raise InvalidInput(
                    f"{config.path.name}: command {head!r} not found",
                    code="E_REGRESS_COMMAND_NOT_FOUND",
                    hint="fix command: in gait.yaml ('{python} agent.py' runs this Python)",
                )
        mode = self.record_mode or config.record_mode
        if mode not in RECORD_MODES:
            raise InvalidInput(
                f"record mode must be one of {', '.join(RECORD_MODES)}, not {mode!r}",
                code="E_REGRESS_CONFIG_INVALID",
            )
        for fixture in config.fixtures:
            MatchOn.parse(
                fixture.match_on if fixture.match_on is not None else config.match_on,
                f"{config.path.name}: fixture {fixture.name!r} match_on",
            )
            capture = _capture_mode(fixture.runpack_path)
            if capture not in ("raw", None):
                raise InvalidInput(
                    f"fixture {fixture.name!r}: its runpack was recorded in {capture} capture "
                    "(digests only), so command: cannot serve the agent its tool results",
                    code=NEEDS_RESULTS,
                    hint="re-record the run with raw capture (redaction rules still apply) and "
                    f"gait regress init --from <run> --name {fixture.name} --force",
                )

    def check_pin(self, grader: Grader) -> dict[str, str]:
        from gait.canon import digest

        pin = self.config.pins.get(grader.name)
        if not pin:
            raise InvalidInput(
                f"non-deterministic grader {grader.name!r} is not pinned: gait.yaml needs "
                f"pins: {{{grader.name}: {{model, version, config_digest}}}}",
                code=UNPINNED_CODE,
                hint="pin the model, its version and the digest of the grader's options",
            )
        options = self.config.grader_options.get(grader.name)
        expected = digest(options if isinstance(options, dict) else {})
        if pin["config_digest"] != expected:
            raise InvalidInput(
                f"non-deterministic grader {grader.name!r}: pinned config_digest does not match "
                f"its options in gait.yaml (their digest is {expected})",
                code=UNPINNED_CODE,
            )
        return dict(pin)

    def items(self) -> list[tuple[str, str]]:
        return [(fixture.name, name) for fixture, names in self.plan() for name in names]

    # grading ----------------------------------------------------------------------------
    def context(self, fixture: FixtureSpec, grader: Grader) -> GradeContext:
        options = self.options_for(fixture).get(grader.name)
        options = options if isinstance(options, dict) else {}
        if grader.name == CONTEXT_CONFORMANCE:
            options = dict(options)
            if self.context_conformance:
                options["enforce"] = True
            if self.allow_context_runtime_drift:
                options["allow_runtime_drift"] = True
        return GradeContext(
            config=self.config,
            fixture=fixture,
            grader=grader.name,
            options=options,
            candidate=self.resolver.get(fixture),
            cache=self.cache,
            pin=self.config.pins.get(grader.name),
        )

    def grade(self, fixture_name: str, grader_name: str) -> Entry:
        fixture = self.config.fixture(fixture_name)
        grader = self.registry.get(grader_name)
        base = {"fixture": fixture.name, "run_id": fixture.run_id}
        if not grader.deterministic and not self.allow_nondeterministic:
            return Entry(
                fixture.name,
                grader.name,
                SKIP,
                [NONDETERMINISTIC_SKIPPED],
                dict(base),
                nondeterministic=True,
                message=f"non-deterministic grader {grader.name!r} skipped "
                "(--gait-allow-nondeterministic to run it)",
            )
        ctx = self.context(fixture, grader)
        # A command that wrote no candidate has none to name (its label is where it would be).
        produced = ctx.candidate.path is not None or ctx.candidate.origin != "command"
        candidate = ctx.candidate_label if produced else ""
        crashed = False
        caught: BaseException | None = None
        try:
            result = self.registry.grade(grader, ctx)
            if result is None:
                raise TypeError(f"no gait_grade implementation answered for {grader.name!r}")
            if not isinstance(result, GradeResult):
                raise TypeError(f"returned {type(result).__name__}, not GradeResult")
        except GradeInputError as exc:
            details = dict(exc.details)
            if ctx.candidate.origin != "fixture" and candidate:
                details.setdefault("candidate_runpack", candidate)
            result = GradeResult.failed(exc.reason_code, details=details, message=exc.message)
        except Exception as exc:  # noqa: BLE001 - one grader's crash must not stop the others
            crashed = True
            caught = exc
            text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            result = GradeResult.failed(
                "grader_error",
                details={"error": text},
                message=f"grader {grader.name!r} raised {text}",
            )
        status = result.status if result.status in (PASS, FAIL, SKIP) else FAIL
        details = dict(result.details)
        details.update(base)
        entry = Entry(
            fixture.name,
            grader.name,
            status,
            _unique_sorted(result.reason_codes),
            _plain(details),
            nondeterministic=not grader.deterministic,
            crashed=crashed,
            message=result.message,
            divergence=[str(line) for line in result.divergence],
            candidate=candidate,
            live=ctx.candidate.origin != "fixture",
            exception=caught,
            context_conformance=str(getattr(result, "context_conformance", "") or ""),
        )
        if status == FAIL:
            entry.error_code = GRADER_ERROR_CODE if crashed else grader.error_code
            if ctx.candidate.error_code:
                entry.error_code = ctx.candidate.error_code
            elif ctx.candidate.misses and "replay_miss" in entry.reason_codes:
                entry.error_code = "E_REGRESS_REPLAY_MISS"
            entry.refused = ctx.candidate.refusal() or (
                f"grader {grader.name!r} raised" if crashed else ""
            )
            if self.update and not entry.refused:
                entry.update = self._patch(grader, ctx, result)
        return entry

    def _patch(
        self, grader: Grader, ctx: GradeContext, result: GradeResult
    ) -> dict[str, Any] | None:
        if grader.update is None:
            return None
        try:
            patch = grader.update(ctx, result)
        except GradeInputError:
            return None
        if patch is None:
            return None
        source = ""
        if (
            patch.replace_runpack
            and ctx.candidate.path is not None
            and not ctx.candidate_is_fixture
        ):
            source = str(ctx.candidate.path.resolve())
        return {"meta": _plain(dict(patch.meta)), "replace_runpack_from": source}

    def fixture_diff(self, fixture_name: str) -> dict[str, Any] | None:
        """diff.json content for a failing fixture: fixture runpack vs candidate, or None."""
        fixture = self.config.fixture(fixture_name)
        candidate = self.resolver.get(fixture)
        try:
            left = self.cache.load(fixture.runpack_path)
            right = (
                left
                if candidate.origin == "fixture" or candidate.path is None
                else (self.cache.load(candidate.path))
            )
            if candidate.error_reason:
                return None
            from gait.runpack.diff import diff_runpacks

            diff_json: dict[str, Any] | None = _plain(diff_runpacks(left, right).to_diff_json())
            return diff_json
        except Exception:  # noqa: BLE001 - the diff is a convenience; grading already reported
            return None

    def created_at(self) -> str:
        """The first fixture's run's created_at (what the reference puts in the envelope)."""
        from gait import timefmt
        from gait.canon import loads_strict
        from gait.errors import GaitError
        from gait.runpack.archive import read_members

        if not self.config.fixtures:
            return timefmt.EPOCH_1980
        try:
            run = loads_strict(read_members(self.config.fixtures[0].runpack_path).data["run.json"])
            return timefmt.canonical(run["created_at"])
        except (GaitError, KeyError, TypeError):
            return timefmt.EPOCH_1980

    def run_all(self) -> list[Entry]:
        """Grade every planned pair in order, without pytest (plain Python use, benchmarks)."""
        return [self.grade(fixture, grader) for fixture, grader in self.items()]


def _shown_path(path: Path) -> str:
    """A path as the user typed it: relative to the working directory when under it."""
    try:
        return Path(os.path.abspath(path)).relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def _capture_mode(path: Path) -> str | None:
    """The manifest's capture mode, read cheaply (None when unreadable: verify reports that)."""
    from gait.canon import loads_strict
    from gait.errors import GaitError
    from gait.runpack.archive import read_members

    try:
        manifest = loads_strict(read_members(path).data["manifest.json"])
    except (GaitError, KeyError, OSError):
        return None
    mode = manifest.get("capture_mode") if isinstance(manifest, dict) else None
    return str(mode) if mode else "reference"


def _plain(value: Any) -> Any:
    """Detach details from caller objects: tuples become lists, keys become strings."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    return value
