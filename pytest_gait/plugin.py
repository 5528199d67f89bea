"""The gait pytest plugin: ``pytest --gait`` collects one item per fixture and grader.

Registered as the ``pytest11`` entry point ``gait``. Without ``--gait`` it only adds its options:
nothing from ``gait.regress`` is imported and no hook beyond option parsing and configure runs.

With ``--gait`` a ``GaitSession`` plugin object does the work, in the shape pytest's own plugins
use (cacheprovider, junitxml): collection appends a ``GaitSuite`` to the session, items grade
in ``setup`` (so a grader crash is a pytest *error*, a failed expectation a *failure*), each
report carries its regress entry, and one process (the xdist controller, or the only process)
writes regress_result.json, the diff files and any ``--gait-update`` from those reports.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_gait.recorder import gait_recorder  # noqa: F401

if TYPE_CHECKING:
    from gait.regress.config import FixtureSpec
    from gait.regress.engine import Entry

SESSION_PLUGIN = "gait-session"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gait", "gait regressions (runpack fixtures graded as test items)")
    group.addoption(
        "--gait",
        action="store_true",
        default=False,
        help="collect and run the gait.yaml fixture set's graders",
    )
    group.addoption(
        "--gait-config",
        default=None,
        metavar="PATH",
        help="gait.yaml to use (default: rootdir/gait.yaml, then ./gait.yaml)",
    )
    group.addoption(
        "--gait-result",
        default="regress_result.json",
        metavar="PATH",
        help="where to write regress_result.json (default: ./regress_result.json)",
    )
    group.addoption(
        "--gait-update",
        action="store_true",
        default=False,
        help="rewrite failing fixtures' expectations from their candidates",
    )
    group.addoption(
        "--gait-allow-nondeterministic",
        action="store_true",
        default=False,
        help="run graders that declare themselves non-deterministic (pins required)",
    )
    group.addoption(
        "--gait-only",
        action="store_true",
        default=False,
        help="collect only gait items (what `gait regress run` uses)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("gait"):
        return
    session = GaitSession(config)
    config.pluginmanager.register(session, SESSION_PLUGIN)
    session.start()


class RunBridge:
    """Handed to ``pytest.main(plugins=[...])`` by ``gait regress run``: receives the outcome
    (or the configuration error) of the in-process run."""

    def __init__(self) -> None:
        self.error: Exception | None = None
        self.doc: dict[str, Any] | None = None
        self.entries: list[Entry] = []
        self.output: str = ""
        self.diffs: list[str] = []
        self.updated: list[str] = []
        self.not_updatable: list[str] = []


class GaitSession:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self.bridge = next(
            (p for p in config.pluginmanager.get_plugins() if isinstance(p, RunBridge)), None
        )
        self.entries: dict[str, Entry] = {}
        self.diffs: dict[str, dict[str, Any] | None] = {}
        self.candidates: dict[str, str] = {}
        self._diff_sent: set[str] = set()
        self.engine: Any = None
        self.registry: Any = None

    # configuration ------------------------------------------------------------------------
    def start(self) -> None:
        from gait.errors import GaitError
        from gait.regress.config import find_config, load_config
        from gait.regress.engine import RegressEngine
        from gait.regress.manager import GraderRegistry

        opt = self.config.getoption
        try:
            path = find_config(
                opt("gait_config"), self.config.rootpath, self.config.invocation_params.dir
            )
            regress_config = load_config(path)
            self.registry = GraderRegistry()
            for plugin in self.config.pluginmanager.get_plugins():
                self._bridge_plugin(plugin)
            self.engine = RegressEngine(
                regress_config,
                self.registry,
                work_dir=self._work_dir(),
                allow_nondeterministic=opt("gait_allow_nondeterministic"),
                update=opt("gait_update"),
            )
            self.engine.plan()
        except GaitError as exc:
            if self.bridge is not None:
                self.bridge.error = exc
            raise pytest.UsageError(f"gait: {exc.code}: {exc.message}") from None

    def _work_dir(self) -> Path | None:
        factory = getattr(self.config, "_tmp_path_factory", None)
        if factory is None:
            return None
        return factory.mktemp("gait-candidates", numbered=True)

    def _bridge_plugin(self, plugin: Any) -> None:
        """A conftest.py (or any pytest plugin) with gait hookimpls adds graders too."""
        if plugin is None or plugin is self or isinstance(plugin, RunBridge):
            return
        names = ("gait_grader_register", "gait_grade")
        if any(hasattr(getattr(plugin, n, None), "gait_impl") for n in names):
            self.registry.register(plugin)

    def pytest_plugin_registered(self, plugin: Any) -> None:
        if self.registry is not None:
            self._bridge_plugin(plugin)

    # collection ---------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Any:
        report = yield
        if isinstance(collector, pytest.Session) and report.passed:
            suite = GaitSuite.from_parent(
                collector,
                name="gait",
                path=self.engine.config.path,
                nodeid=_rel(self.engine.config.path, self.config.rootpath),
            )
            if self.config.getoption("gait_only"):
                report.result[:] = [suite]
            else:
                report.result.append(suite)
        return report

    def grade(self, fixture: str, grader: str) -> Entry:
        return self.engine.grade(fixture, grader)

    # reporting ----------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        if not isinstance(item, GaitItem) or call.when != "setup":
            return report
        entry = getattr(item, "gait_entry", None)
        if entry is None:
            return report
        report.gait_entry = entry.to_wire()
        if entry.status == "fail":
            if entry.fixture not in self._diff_sent:
                self._diff_sent.add(entry.fixture)
                report.gait_diff = self.engine.fixture_diff(entry.fixture)
            cand = self.engine.resolver.get(self.engine.config.fixture(entry.fixture))
            if cand.origin == "command" and cand.path is not None:
                report.gait_candidate_path = str(cand.path.resolve())
        if entry.crashed and report.failed:
            from pytest_gait.report import failure_text

            report.longrepr = failure_text(entry)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        wire = getattr(report, "gait_entry", None)
        if not wire:
            return
        from gait.regress.engine import Entry

        entry = Entry.from_wire(wire)
        self.entries[entry.name] = entry
        diff = getattr(report, "gait_diff", None)
        if diff is not None or entry.fixture not in self.diffs:
            if self.diffs.get(entry.fixture) is None:
                self.diffs[entry.fixture] = diff
        cand = getattr(report, "gait_candidate_path", None)
        if cand:
            self.candidates.setdefault(entry.fixture, cand)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker or not self.entries:
            return
        from gait.regress.results import apply_updates, build_result, write_diffs, write_result

        entries = list(self.entries.values())
        doc = build_result(self.engine.config, entries, created_at=self.engine.created_at())
        output = Path(self.config.getoption("gait_result"))
        if not output.is_absolute():
            output = self.config.invocation_params.dir / output
        write_result(output, doc)
        artifacts = output.parent
        diffs = write_diffs(artifacts, entries, self.diffs)
        self._copy_candidates(artifacts)
        updated, not_updatable = [], []
        if self.config.getoption("gait_update"):
            update = apply_updates(self.engine.config, entries)
            updated, not_updatable = update.changed, update.not_updatable
        self.summary = (doc, str(self.config.getoption("gait_result")), updated, not_updatable)
        if self.bridge is not None:
            self.bridge.doc = doc
            self.bridge.entries = sorted(entries, key=lambda e: e.name)
            self.bridge.output = str(output)
            self.bridge.diffs = diffs
            self.bridge.updated = updated
            self.bridge.not_updatable = not_updatable

    def _copy_candidates(self, artifacts: Path) -> None:
        from gait.fsutil import atomic_write
        from gait.regress.candidates import command_label

        for fixture, source in sorted(self.candidates.items()):
            try:
                atomic_write(artifacts / command_label(fixture), Path(source).read_bytes())
            except OSError:
                continue

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        summary = getattr(self, "summary", None)
        if summary is None or self.bridge is not None:
            return  # `gait regress run` prints the same summary itself
        from pytest_gait.report import summary_lines

        doc, output, updated, not_updatable = summary
        terminalreporter.section("gait regress")
        for line in summary_lines(
            self.entries.values(),
            status=doc["status"],
            output=output,
            updated=updated,
            not_updatable=not_updatable,
        ):
            terminalreporter.line(line)


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:
        return path.as_posix()


class GaitSuite(pytest.Collector):
    """The fixture set (gait.yaml): one child per fixture, sorted by name."""

    def collect(self) -> list[pytest.Collector]:
        session: GaitSession = self.config.pluginmanager.get_plugin(SESSION_PLUGIN)
        children = []
        for fixture, graders in session.engine.plan():
            children.append(
                GaitFixture.from_parent(
                    self,
                    name=fixture.name,
                    path=fixture.dir,
                    nodeid=_rel(fixture.dir, self.config.rootpath),
                    fixture=fixture,
                    graders=graders,
                )
            )
        return children


class GaitFixture(pytest.Collector):
    """One fixture directory: one item per grader (``fixtures/<name>::<grader>``)."""

    def __init__(self, *, fixture: FixtureSpec, graders: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fixture = fixture
        self.graders = graders

    def collect(self) -> list[pytest.Item]:
        return [
            GaitItem.from_parent(self, name=grader, fixture=self.fixture.name, grader=grader)
            for grader in self.graders
        ]


class GraderCrashed(Exception):
    """A grader raised: the item errors (pytest ``E``); the other items still run."""


class RegressFailure(AssertionError):
    """A grader's expectation failed: the item fails (pytest ``F``)."""


class GaitItem(pytest.Item):
    def __init__(self, *, fixture: str, grader: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fixture = fixture
        self.grader = grader
        self.gait_entry: Entry | None = None

    def setup(self) -> None:
        session: GaitSession = self.config.pluginmanager.get_plugin(SESSION_PLUGIN)
        entry = session.grade(self.fixture, self.grader)
        self.gait_entry = entry
        self.user_properties.extend(
            [
                ("gait.fixture", entry.fixture),
                ("gait.grader", entry.grader),
                ("gait.status", entry.status),
                ("gait.reason_codes", ",".join(entry.reason_codes)),
            ]
        )
        if entry.error_code:
            self.user_properties.append(("gait.failure_code", entry.error_code))
        if entry.nondeterministic:
            self.user_properties.append(("gait.nondeterministic", "true"))
        if entry.status == "skip":
            pytest.skip(entry.message or "skipped")
        if entry.crashed:
            raise GraderCrashed(entry.message)

    def runtest(self) -> None:
        entry = self.gait_entry
        if entry is not None and entry.status == "fail":
            raise RegressFailure(entry.name)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, RegressFailure | GraderCrashed) and self.gait_entry:
            from pytest_gait.report import failure_text

            return failure_text(self.gait_entry)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.fixture}::{self.grader}"
