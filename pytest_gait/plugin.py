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
from typing import TYPE_CHECKING, Any, cast

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
        "--gait-context-conformance",
        action="store_true",
        default=False,
        help="enforce the context_conformance grader on every fixture",
    )
    group.addoption(
        "--gait-allow-context-runtime-drift",
        action="store_true",
        default=False,
        help="accept runtime-only context drift when context conformance is enforced",
    )
    group.addoption(
        "--gait-record-mode",
        default=None,
        choices=("none", "new_episodes"),
        help="replay misses of command: agents: none (drift, the default) or new_episodes "
        "(run the real tool behind the interlock and record it)",
    )
    group.addoption(
        "--gait-unsafe-real-tools",
        action="store_true",
        default=False,
        help="one of the four real-tool locks that new_episodes needs",
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
        self.update: Any = None
        self.partial: dict[str, Any] | None = None
        self.interrupted = False
        self.quiet: Any = lambda: None

    def pytest_addhooks(self, pluginmanager: pytest.PytestPluginManager) -> None:
        """Register this plugin under its entry-point name before pytest reads ``-p gait``:
        pytest then finds it registered instead of scanning every installed distribution's
        entry points for the name (a measurable share of a small run)."""
        import sys

        if pluginmanager.get_plugin("gait") is None and not pluginmanager.is_blocked("gait"):
            pluginmanager.register(sys.modules[__name__], "gait")


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
        self._collected = False
        self.update: Any = None
        self.interrupted = False
        self.final_entries: list[Entry] = []
        self._shared_work: Path | None = None

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
                record_mode=opt("gait_record_mode") or "",
                unsafe_real_tools=opt("gait_unsafe_real_tools"),
                # The controller (or the only process) checks every fixture once; workers
                # grade what it accepted.
                check_fixtures=not self.is_worker,
                context_conformance=opt("gait_context_conformance"),
                allow_context_runtime_drift=opt("gait_allow_context_runtime_drift"),
            )
            self.engine.plan()
        except GaitError as exc:
            if self.bridge is not None:
                self.bridge.error = exc
            # Not an interrupt: pytest reports pytest.exit through pytest_keyboard_interrupt.
            self.config.pluginmanager.unregister(self)
            next_step = f"\nnext: {exc.hint}" if exc.hint else ""
            # The error's contract exit code (6 for bad input), as `gait regress run` exits.
            pytest.exit(
                f"gait: {exc.code}: {exc.message}{next_step}", returncode=int(exc.exit_code)
            )

    def _work_dir(self) -> Path | None:
        factory = getattr(self.config, "_tmp_path_factory", None)
        if factory is not None:
            return factory.mktemp("gait-candidates", numbered=True)
        shared = getattr(self.config, "workerinput", {}).get("gait_work")
        if shared:
            import tempfile

            return Path(tempfile.mkdtemp(prefix="worker.", dir=shared))
        return None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist: workers make their candidates inside a directory this process owns. A
        worker's own scratch directory outlives the worker, and once its process is gone any
        other gait process may clean it up while this one still reads the candidates."""
        if self._shared_work is None:
            from gait.fsutil import scratch_dir

            self._shared_work = self._work_dir() or scratch_dir("gait-regress")
        node.workerinput["gait_work"] = str(self._shared_work)

    def _bridge_plugin(self, plugin: Any) -> None:
        """A conftest.py (or any pytest plugin) with gait hookimpls adds graders too."""
        if plugin is None or plugin is self or isinstance(plugin, RunBridge):
            return
        pm = self.registry.pm
        names = ("gait_grader_register", "gait_grade")
        if pm.is_registered(plugin):
            return
        # pluggy's documented way to ask whether an attribute is a gait hook implementation.
        if any(pm.parse_hookimpl_opts(plugin, n) is not None for n in names if hasattr(plugin, n)):
            self.registry.register(plugin)

    def pytest_plugin_registered(self, plugin: Any) -> None:
        if self.registry is not None:
            self._bridge_plugin(plugin)

    # collection ---------------------------------------------------------------------------
    # The fixture set is collected where pytest meets its gait.yaml (``pytest_collect_file``),
    # so path arguments narrow gait items as they narrow tests. When pytest was given no paths
    # and its walk does not reach gait.yaml (testpaths elsewhere), the session gets the set.

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> Any:
        if self._collected or file_path != self.engine.config.path.resolve():
            return None
        self._collected = True
        return GaitSuite.from_parent(parent, path=file_path)

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Any:
        report = yield
        if not isinstance(collector, pytest.Session) or not report.passed:
            return report
        if self.config.getoption("gait_only"):
            report.result[:] = [r for r in report.result if self._on_the_way(r)]
        if not self._reachable():
            self._collected = True
            suite = GaitSuite.from_parent(
                collector,
                name=self.engine.config.path.name,
                path=self.engine.config.path,
                nodeid=_rel(self.engine.config.path, self.config.rootpath),
            )
            report.result.append(suite)
        return report

    def _on_the_way(self, node: Any) -> bool:
        path = getattr(node, "path", None)
        target = self.engine.config.path.resolve()
        return path is not None and (Path(path) == target or Path(path) in target.parents)

    def _reachable(self) -> bool:
        """Whether pytest's own walk of its arguments meets gait.yaml. Paths the user typed
        narrow gait items like any test (``pytest test_x.py --gait`` runs no fixture);
        without paths (testpaths, the invocation directory) the set is always collected."""
        if self.config.args_source == pytest.Config.ArgsSource.ARGS:
            return True
        target = self.engine.config.path.resolve()
        for arg in self.config.args:
            path = Path(arg.split("::", 1)[0])
            if not path.is_absolute():
                path = self.config.invocation_params.dir / path
            path = path.resolve()
            if path == target or path in target.parents:
                return True
        return False

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

    def pytest_keyboard_interrupt(self) -> None:
        self.interrupted = True
        if self.bridge is not None:
            self.bridge.interrupted = True
            self.bridge.quiet()  # the CLI says it in one line; pytest's report would be noise

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            return
        if self.interrupted or exitstatus == pytest.ExitCode.INTERRUPTED:
            # Nothing is written: the result file, the diffs and the fixtures stay as they were.
            self.engine.resolver.kill_running() if self.engine is not None else None
            if self.bridge is not None:
                self.bridge.interrupted = True
            return
        if not self.entries:
            return
        from gait.regress.results import (
            PARTIAL_NAME,
            apply_updates,
            build_result,
            remove_stale_diffs,
            write_diffs,
            write_partial,
            write_result,
        )

        entries = list(self.entries.values())
        planned = set(self._planned())
        update = None
        if self.config.getoption("gait_update"):
            update = apply_updates(self.engine.config, entries)
            if self.bridge is not None:
                self.bridge.update = update  # known even if a signal stops what follows
            if update.fixtures:
                entries = self._regrade(entries, update.fixtures)
                if update.ok and all(e.status != "fail" for e in entries):
                    session.exitstatus = pytest.ExitCode.OK
        full = {e.name for e in entries} >= planned
        doc = build_result(self.engine.config, entries, created_at=self.engine.created_at())
        result_opt = Path(self.config.getoption("gait_result"))
        output = (
            result_opt
            if result_opt.is_absolute()
            else self.config.invocation_params.dir / result_opt
        )
        artifacts = output.parent
        partial = None
        if full:
            write_result(output, doc)
        else:
            partial = write_partial(output, doc, planned=sorted(planned), entries=entries)
        diffs = write_diffs(artifacts, entries, self.diffs)
        remove_stale_diffs(artifacts, entries)
        self._copy_candidates(artifacts, {entry.fixture for entry in entries})
        updated = update.changed if update is not None else []
        not_updatable = update.not_updatable if update is not None else []
        result = Path(self.config.getoption("gait_result"))
        shown = str(result if full else result.with_name(PARTIAL_NAME))
        self.summary = (doc, shown, updated, not_updatable)
        self.update = update
        self.final_entries = entries
        if self.bridge is not None:
            self.bridge.doc = doc
            self.bridge.entries = sorted(entries, key=lambda e: e.name)
            self.bridge.output = str(output)
            self.bridge.diffs = diffs
            self.bridge.updated = updated
            self.bridge.not_updatable = not_updatable
            self.bridge.update = update
            self.bridge.partial = (
                None
                if full
                else {"path": str(partial), "graded": len(entries), "planned": len(planned)}
            )

    def _planned(self) -> list[str]:
        return [f"{fixture}/{grader}" for fixture, grader in self.engine.items()]

    def _regrade(self, entries: list[Entry], fixtures: list[str]) -> list[Entry]:
        """Grade the updated fixtures again, against the candidates just accepted (no agent
        runs again), so the result says whether the accepted update now passes."""
        from gait.regress.candidates import command_label
        from gait.regress.config import load_config
        from gait.regress.context import Candidate
        from gait.regress.engine import RegressEngine

        engine = RegressEngine(
            load_config(self.engine.config.path),
            self.registry,
            work_dir=self._work_dir(),
            allow_nondeterministic=self.config.getoption("gait_allow_nondeterministic"),
            check_fixtures=False,  # checked before grading; an accepted runpack was verified
            context_conformance=self.config.getoption("gait_context_conformance"),
            allow_context_runtime_drift=self.config.getoption("gait_allow_context_runtime_drift"),
        )
        for name in fixtures:
            source = self.candidates.get(name)
            if source:
                engine.resolver._done[name] = Candidate(
                    Path(source), command_label(name), "command", exit_code=0
                )
        regraded: dict[str, list[Entry]] = {name: [] for name in fixtures}
        for fixture, grader in engine.items():
            if fixture in regraded:
                regraded[fixture].append(engine.grade(fixture, grader))
        keep = [e for e in entries if e.fixture not in regraded]
        for name, fresh in regraded.items():
            graded = {e.grader for e in entries if e.fixture == name}
            keep += [e for e in fresh if e.grader in graded]
            self.diffs.pop(name, None)
        return keep

    def _copy_candidates(self, artifacts: Path, graded: set[str]) -> None:
        """Each command's candidate (and its replay-miss sidecar) lands beside diff.json; a
        graded fixture whose agent wrote none this time keeps none from an earlier run, which
        diff.json would otherwise point at."""
        from gait.fsutil import atomic_write
        from gait.regress.candidates import MISSES_FILE, command_label

        for fixture in sorted(graded | set(self.candidates)):
            target = artifacts / command_label(fixture)
            source = self.candidates.get(fixture)
            written = Path(source) if source else None
            pairs = [
                (written, target),
                (written and written.with_name(MISSES_FILE), target.with_name(MISSES_FILE)),
            ]
            for src, dst in pairs:
                try:
                    if src is not None and src.is_file():
                        atomic_write(dst, src.read_bytes())
                    else:
                        dst.unlink(missing_ok=True)
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
            self.final_entries,
            status=doc["status"],
            output=output,
            updated=updated,
            not_updatable=not_updatable,
            update=self.update,
        ):
            terminalreporter.line(line)


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:
        return path.as_posix()


def _session(config: pytest.Config) -> GaitSession:
    """The session plugin: pytest_configure registers it before anything is collected."""
    return cast("GaitSession", config.pluginmanager.get_plugin(SESSION_PLUGIN))


class GaitSuite(pytest.File):
    """The fixture set (gait.yaml): one child per fixture, sorted by name."""

    def collect(self) -> list[pytest.Collector]:
        session = _session(self.config)
        children: list[pytest.Collector] = []
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
        session = _session(self.config)
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
            if entry.exception is not None:
                raise entry.exception  # pytest shows the grader's own traceback (and --pdb)
            raise GraderCrashed(entry.message)

    def runtest(self) -> None:
        entry = self.gait_entry
        if entry is not None and entry.status == "fail":
            raise RegressFailure(entry.name)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, RegressFailure | GraderCrashed) and self.gait_entry:
            from pytest_gait.report import failure_text

            return failure_text(
                self.gait_entry,
                verbosity=self.config.getoption("verbose"),
                cli=_session(self.config).bridge is not None,
            )
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.fixture}::{self.grader}"
