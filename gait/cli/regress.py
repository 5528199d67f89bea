"""``gait regress init|run|graders``: a thin wrapper; ``run`` is ``pytest -p gait --gait`` in
this process, so every pytest option works after ``--``."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path
from typing import Any

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome
from gait.cli.verify import add_archive_limits, archive_limits_from
from gait.errors import ExitCode

INIT_EXPLAIN = (
    "gait regress init verifies a runpack, copies it to fixtures/<name>/runpack.zip, writes "
    "fixture.json with the expectations read from that run (tool sequence, verdicts, stub "
    "replay exit code, default graders) and creates or extends gait.yaml. An existing fixture "
    "of that name is kept unless --force."
)
RUN_EXPLAIN = (
    "gait regress run runs pytest in this process with only the gait plugin (pytest -p gait "
    "--gait; xdist with -n): one test item per fixture and grader, graded against each "
    "fixture's runpack, a candidate runpack or the runpack your command: agent records while "
    "its tools replay from the fixture (each fixture with a fresh gate state). It writes "
    "regress_result.json only when the whole set was graded (a -k/--lf/-x subset writes "
    "regress_partial.json), JUnit with --junit, and exits 0 when every grader passes, 5 when "
    "one fails, 6 for invalid gait.yaml or fixtures, 130 when interrupted. --update accepts "
    "completed candidates only, all or nothing. Arguments after -- go to pytest."
)
GRADERS_EXPLAIN = "gait regress graders lists the graders installed through gait.graders."
ADD_EXPLAIN = (
    "gait regress add turns a capture receipt (gait capture --out FILE), a run id or a runpack "
    "into a fixture, exactly as gait regress init does, and keeps gait.yaml's other entries."
)
BOOTSTRAP_EXPLAIN = (
    "gait regress bootstrap runs gait regress init --from RUN, then gait regress run on the "
    "set: one command from an incident's run to a CI result (exit 0 pass, 5 fail)."
)
REPORT_EXPLAIN = (
    "gait regress report reads regress_result.json (and a newer regress_partial.json) and "
    "prints a short summary: status, counts, the failing graders and where their diffs are."
)


def register(parser: argparse.ArgumentParser) -> None:
    sub = add_group(parser)
    init = sub.add_parser("init", help="turn a runpack into a regression fixture")
    _fixture_args(
        init,
        metavar="RUN_ID|PATH",
        help="run id (./gait-out, then GAIT_HOME) or runpack path",
        command_help="the agent to replay against the fixture (written to gait.yaml as "
        "command:), e.g. --command 'python agent.py'; needs a raw-capture run",
    )
    init.add_argument("--dir", default=".", help="fixture set directory (holds gait.yaml)")
    add_archive_limits(init)
    add_common(init, INIT_EXPLAIN)
    init.set_defaults(handler=run_init)

    run = sub.add_parser("run", help="grade every fixture (pytest -p gait --gait)")
    _result_args(run)
    run.add_argument(
        "--update",
        action="store_true",
        help="rewrite failing fixtures' expectations from their candidates",
    )
    run.add_argument(
        "-n",
        "--numprocesses",
        default=None,
        metavar="N",
        help="parallel workers (pytest-xdist: pip install 'pytest-gait[xdist]')",
    )
    _grading_args(run)
    run.add_argument(
        "--record-mode",
        choices=("none", "new_episodes"),
        default=None,
        help="replay misses: none (drift; default) or new_episodes (run the real tool behind "
        "the interlock and record it)",
    )
    run.add_argument(
        "--unsafe-real-tools",
        action="store_true",
        help="one of the four locks new_episodes needs (with allow_tools in gait.yaml and "
        "GAIT_ALLOW_REAL_REPLAY=1)",
    )
    run.add_argument(
        "pytest_args",
        nargs="*",
        metavar="-- PYTEST_ARGS",
        help="passed to pytest unchanged (-k, -x, --lf, --tb=short...)",
    )
    add_common(run, RUN_EXPLAIN)
    run.set_defaults(handler=run_run)

    add = sub.add_parser("add", help="add a fixture from a capture receipt, run id or runpack")
    _fixture_args(
        add,
        metavar="CAPTURE.JSON|RUN_ID|PATH",
        help="capture receipt (gait capture --out), run id or runpack path",
    )
    add.add_argument("--dir", default=".", help="fixture set directory (holds gait.yaml)")
    add_archive_limits(add)
    add_common(add, ADD_EXPLAIN)
    add.set_defaults(handler=run_add)

    boot = sub.add_parser("bootstrap", help="init a fixture from a run, then run the set")
    _fixture_args(boot, metavar="RUN_ID|PATH", help="run id or runpack path")
    _result_args(boot)
    _grading_args(boot)
    add_archive_limits(boot)
    add_common(boot, BOOTSTRAP_EXPLAIN)
    boot.set_defaults(handler=run_bootstrap)

    report = sub.add_parser("report", help="summarise the last regress result")
    report.add_argument("--output", default="regress_result.json", help="result file to read")
    add_common(report, REPORT_EXPLAIN)
    report.set_defaults(handler=run_report)

    graders = sub.add_parser("graders", help="list installed graders")
    add_common(graders, GRADERS_EXPLAIN)
    graders.set_defaults(handler=run_graders)


def _result_args(parser: argparse.ArgumentParser) -> None:
    """Which fixture set a grading run reads and where its results go (run, bootstrap)."""
    parser.add_argument(
        "--config", default="gait.yaml", help="gait.yaml path (default: ./gait.yaml)"
    )
    parser.add_argument("--output", default="regress_result.json", help="result file")
    parser.add_argument("--junit", default=None, metavar="FILE", help="also write JUnit XML")


def _grading_args(parser: argparse.ArgumentParser) -> None:
    """Which graders a grading run enforces (run, bootstrap)."""
    parser.add_argument(
        "--allow-nondeterministic",
        action="store_true",
        help="run non-deterministic graders (they must be pinned in gait.yaml)",
    )
    parser.add_argument(
        "--context-conformance",
        action="store_true",
        help="enforce the context_conformance grader on every fixture",
    )
    parser.add_argument(
        "--allow-context-runtime-drift",
        action="store_true",
        help="with context conformance, accept drift in retrieval times only",
    )


def _fixture_args(
    parser: argparse.ArgumentParser, *, metavar: str, help: str, command_help: str = "as for init"
) -> None:
    """The flags init, add and bootstrap share: where the fixture comes from and how it is made."""
    parser.add_argument("--from", dest="source", required=True, metavar=metavar, help=help)
    parser.add_argument("--name", default=None, help="fixture name (default: from the run id)")
    parser.add_argument(
        "--checkpoint",
        default="latest",
        metavar="latest|INDEX",
        help="which checkpoint when --from is a session chain (<journal>_chain.json)",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing fixture")
    parser.add_argument("--command", default=None, metavar="CMD", help=command_help)


def _fixture_source(source: str, checkpoint: str) -> str:
    """A session chain (``<journal>_chain.json``) stands for one of its checkpoint runpacks, as
    in the reference: ``latest`` or a checkpoint index; anything else is passed on as it is."""
    from gait.runpack.session import is_chain_ref, resolve_checkpoint

    if is_chain_ref(source) and Path(source).is_file():
        return str(resolve_checkpoint(source, checkpoint))
    return source


def run_init(args: argparse.Namespace) -> Outcome:
    from gait.regress.init import init_fixture

    result = init_fixture(
        _fixture_source(args.source, args.checkpoint),
        name=args.name,
        directory=args.dir,
        force=args.force,
        command=args.command,
        limits=archive_limits_from(args),
    )
    payload = result.to_json()
    expected = result.expected
    tools = ",".join(expected.get("expected_tool_sequence", [])) or "-"
    verdicts = ",".join(expected.get("expected_verdict_sequence", [])) or "-"
    lines = [
        f"fixture={result.fixture_dir} run_id={result.run_id}"
        + (" (replaced)" if result.replaced else ""),
        f"config={Path(args.dir, result.config_path).as_posix()}",
        f"expected_tool_sequence={tools}",
        f"expected_verdict_sequence={verdicts}",
        f"expected_replay_exit_code={expected.get('expected_replay_exit_code')}",
        f"graders={','.join(result.graders)}",
    ]
    if result.command:
        shown = result.command if isinstance(result.command, str) else " ".join(result.command)
        lines.append(f"command={shown}")
    else:
        lines.append(
            "note=no command: in gait.yaml, so this fixture is graded only against its own "
            "runpack and cannot drift; add one with --command 'python agent.py'"
        )
    lines.append("next=gait regress run  (or: pytest --gait)")
    return Outcome(payload, ExitCode.OK, lines)


def run_graders(args: argparse.Namespace) -> Outcome:
    from gait.regress.manager import GraderRegistry

    registry = GraderRegistry()
    rows = []
    for name, grader in registry.graders().items():
        rows.append(
            {
                "name": name,
                "default": grader.default,
                "deterministic": grader.deterministic,
                "error_code": grader.error_code,
                "source": registry.source_of(name),
                "description": grader.description,
            }
        )
    lines = [
        f"{r['name']:<20} {'default' if r['default'] else 'opt-in ':<7} "
        f"{'' if r['deterministic'] else '[non-deterministic] '}{r['description']} "
        f"({r['source']})"
        for r in rows
    ]
    return Outcome({"ok": True, "graders": rows}, ExitCode.OK, lines[:40])


def _pytest_args(
    args: argparse.Namespace,
    config_path: Path,
    output: Path,
    fixture_set: str,
    plugins: tuple[str, ...] = (),
) -> list[str]:
    root = config_path.parent.resolve()
    argv = [
        # gait.yaml itself: pytest collects it (pytest_collect_file) and nothing else.
        str(config_path.resolve()),
        "--rootdir",
        str(root),
        "-p",
        "gait",
        "--gait",
        "--gait-only",
        "--gait-config",
        str(config_path.resolve()),
        "--gait-result",
        str(output),
        "-q",
        "--tb=no",
        "-rN",
        "--no-header",
        # No test modules run here, so no assertion rewriting: with it, pytest recompiles every
        # gait and grader module it imports (they ship with its plugin), most of a small run.
        "--assert=plain",
    ]
    extra = list(args.pytest_args or [])
    # pytest's own plugins that a regress run never uses (the first two gc.collect() twice on
    # the way out; unittest, pdb and xml.etree are imports a small run would pay for), and
    # those it uses only when asked: an option of theirs after -- keeps them loaded.
    blocked = ["unraisableexception", "threadexception", "doctest", "pastebin", "legacypath"]
    blocked.append("unittest")
    for plugin, options in ON_REQUEST.items():
        wanted = plugin == "junitxml" and args.junit
        if not wanted and not any(a.startswith(options) for a in extra):
            blocked.append(plugin)
    for builtin in blocked:
        argv += ["-p", f"no:{builtin}"]
    if args.junit:
        argv += [
            "--junitxml",
            str(Path(args.junit).resolve()),
            "-o",
            f"junit_suite_name=gait.regress.{fixture_set}",
        ]
    if args.update:
        argv.append("--gait-update")
    if args.allow_nondeterministic:
        argv.append("--gait-allow-nondeterministic")
    if args.context_conformance:
        argv.append("--gait-context-conformance")
    if args.allow_context_runtime_drift:
        argv.append("--gait-allow-context-runtime-drift")
    if args.record_mode:
        argv += ["--gait-record-mode", args.record_mode]
    if args.unsafe_real_tools:
        argv.append("--gait-unsafe-real-tools")
    for plugin in plugins:
        argv += ["-p", plugin]
    if args.numprocesses is not None:
        from gait.errors import DependencyMissing, InvalidInput

        try:
            import xdist  # noqa: F401
        except ImportError:
            raise DependencyMissing(
                "-n needs pytest-xdist",
                code="E_DEPENDENCY_MISSING",
                hint="pip install 'pytest-gait[xdist]'",
            ) from None
        if not (args.numprocesses == "auto" or str(args.numprocesses).isdigit()):
            raise InvalidInput(
                f"-n must be a number or auto, not {args.numprocesses!r}", code="E_USAGE"
            )
        argv += ["-p", "xdist", "-n", str(args.numprocesses)]
        if not any(a.startswith("--dist") for a in extra):
            # Keep each fixture's graders on one worker: one verification, one command run.
            argv += ["--dist", "loadscope"]
    return argv + extra


# pytest plugins a regress run loads only when the user passes one of their options after --.
ON_REQUEST = {
    "junitxml": ("--junitxml", "--junit-xml", "--junitprefix", "--junit-prefix"),
    "debugging": ("--pdb", "--trace"),
    "stepwise": ("--sw", "--stepwise"),
    "setuponly": ("--setuponly", "--setup-only", "--setup-show"),
    "setupplan": ("--setupplan", "--setup-plan"),
}
AUTOLOAD_ENV = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
AUTOLOAD_SAVED_ENV = "GAIT_REGRESS_SAVED_AUTOLOAD"


class _QuietOnInterrupt(io.TextIOBase):
    """Pass pytest's output through; after an interrupt nothing more (the CLI says it once)."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.stopped = False

    def write(self, text: str) -> int:
        if not self.stopped:
            self.target.write(text)
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def stop(self) -> None:
        self.stopped = True


def run_run(args: argparse.Namespace) -> Outcome:
    import os
    import signal

    import pytest

    from gait.errors import GaitError, Interrupted, InvalidInput
    from gait.regress.config import load_config
    from pytest_gait.plugin import RunBridge

    config_path = Path(args.config)
    if config_path.is_dir():
        config_path = config_path / "gait.yaml"
    regress_config = load_config(config_path)
    if not regress_config.fixtures:
        raise InvalidInput(
            f"{config_path} lists no fixtures",
            code="E_REGRESS_NO_FIXTURES",
            hint="gait regress init --from <run_id|path>",
        )
    output = Path(args.output).resolve()
    argv = _pytest_args(
        args, config_path, output, regress_config.fixture_set, regress_config.pytest_plugins
    )
    bridge = RunBridge()
    err = io.StringIO()
    out = _QuietOnInterrupt(sys.stderr if args.json else sys.stdout)
    bridge.quiet = out.stop

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # Only the plugins this run needs: gait, xdist with -n, and those named in gait.yaml's
    # pytest_plugins or after -- -p NAME. Autoloading every installed plugin costs more than
    # grading a small fixture set. Agents started by command: see the user's own setting.
    saved = os.environ.get(AUTOLOAD_ENV)
    os.environ[AUTOLOAD_SAVED_ENV] = "unset" if saved is None else saved
    os.environ[AUTOLOAD_ENV] = "1"
    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = int(pytest.main(argv, plugins=[bridge]))
            except KeyboardInterrupt:
                bridge.interrupted = True
                code = 2
            if bridge.interrupted:
                out.stopped = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        os.environ.pop(AUTOLOAD_SAVED_ENV, None)
        if saved is None:
            os.environ.pop(AUTOLOAD_ENV, None)
        else:
            os.environ[AUTOLOAD_ENV] = saved
    if bridge.interrupted:
        done = bridge.update.fixtures if bridge.update is not None else []
        what = (
            f"the update of {len(done)} fixture(s) was applied whole, {args.output} not written"
            if done
            else f"{args.output} and the fixtures were left as they were"
        )
        raise Interrupted(
            f"interrupted: {what}, and the agents started were killed",
            code="E_REGRESS_INTERRUPTED",
            hint="gait regress run",
        )
    if bridge.error is not None:
        raise bridge.error
    sys.stderr.write(err.getvalue())
    if bridge.doc is None:
        if code == 4:
            last = [line for line in err.getvalue().splitlines() if line.strip()]
            raise InvalidInput(
                f"pytest refused the arguments: {last[-1] if last else 'usage error'}",
                code="E_USAGE",
                hint="gait regress run --help",
            )
        if code == 5:
            raise InvalidInput("no graders were selected to run", code="E_REGRESS_NO_FIXTURES")
        raise GaitError(f"pytest stopped before grading (exit {code})", code="E_INTERNAL")
    return _run_outcome(args, bridge)


def _run_outcome(args: argparse.Namespace, bridge: Any) -> Outcome:
    from pytest_gait.report import summary_lines

    doc = bridge.doc
    entries = bridge.entries
    failed = [e for e in entries if e.status == "fail"]
    partial = bridge.partial
    shown_output = args.output if partial is None else partial["path"]
    artifacts = [shown_output] + ([args.junit] if args.junit else [])
    fixtures = sorted({e.fixture for e in entries})
    live = sorted({e.fixture for e in entries if e.live})
    payload: dict[str, Any] = {
        "ok": doc["status"] == "pass",
        "status": doc["status"],
        "fixture_set": doc["fixture_set"],
        "graders": len(entries),
        "output": shown_output,
        "artifact_paths": artifacts,
        "complete": partial is None,
        "fixtures": len(fixtures),
        "live_fixtures": len(live),
        "self_checked_fixtures": [f for f in fixtures if f not in live],
    }
    if partial is not None:
        payload["partial"] = {
            "graded": partial["graded"],
            "planned": partial["planned"],
            "selection": sorted(e.name for e in entries),
        }
    if args.junit:
        payload["junit"] = args.junit
    skipped = [e.name for e in entries if e.status == "skip"]
    if skipped:
        payload["skipped"] = skipped
    if failed:
        payload["failed"] = len(failed)
        payload["top_failure_reason"] = (failed[0].reason_codes or ["fail"])[0]
        payload["error_code"] = failed[0].error_code
        payload["failures"] = [
            {"name": e.name, "error_code": e.error_code, "reason_codes": e.reason_codes}
            for e in failed[:20]
        ]
        payload["diffs"] = bridge.diffs
        payload["next_command"] = "gait regress run --json"
        payload["next_commands"] = doc.get("next_commands", [])
    update = bridge.update
    if args.update:
        payload["updated"] = bridge.updated
        payload["not_updatable"] = bridge.not_updatable
        if update is not None:
            payload["updated_fixtures"] = list(update.fixtures)
            payload["refused"] = dict(sorted(update.refused.items()))
            if update.refused:
                payload["ok"] = False
                payload["error_code"] = "E_REGRESS_UPDATE_REFUSED"
    lines = summary_lines(
        entries,
        status=doc["status"],
        output=shown_output,
        updated=bridge.updated,
        not_updatable=bridge.not_updatable,
        update=update if args.update else None,
        cli=True,
    )
    # The CLI prints the first lines only: what to do next goes right after the status.
    early = []
    if partial is not None:
        early.append(
            f"partial run: graded {partial['graded']} of {partial['planned']} graders; "
            f"{args.output} left as it was"
        )
    if failed:
        early.append(f"next={(doc.get('next_commands') or ['gait regress run'])[0]}")
    if args.junit:
        early.append(f"junit={args.junit}")
    lines[1:1] = early
    return Outcome(payload, ExitCode.OK if payload["ok"] else ExitCode.REGRESS_FAILED, lines)


def run_add(args: argparse.Namespace) -> Outcome:
    from gait.errors import InvalidInput
    from gait.regress.capture import load_receipt
    from gait.regress.init import init_fixture

    source = args.source.strip()
    target = source
    path = Path(source)
    if source.lower().endswith(".json") and path.is_file():
        receipt = load_receipt(path)
        if receipt is not None:
            if receipt.artifact_type != "runpack":
                raise InvalidInput(
                    f"capture receipt {source}: artifact_type {receipt.artifact_type!r} cannot "
                    "become a fixture (only runpack)",
                    code="E_CAPTURE_RECEIPT_INVALID",
                    hint="gait capture --from <run_id> --out gait-out/capture.json",
                )
            target = receipt.artifact_path
    target = _fixture_source(target, args.checkpoint)
    result = init_fixture(
        target,
        name=args.name,
        directory=args.dir,
        force=args.force,
        command=args.command,
        limits=archive_limits_from(args),
    )
    payload = {"source": source, **result.to_json()}
    lines = [
        f"regress add ok: fixture={result.fixture_name} run_id={result.run_id}",
        f"fixture={result.fixture_dir}" + (" (replaced)" if result.replaced else ""),
        "next=gait regress run",
    ]
    return Outcome(payload, ExitCode.OK, lines)


def run_bootstrap(args: argparse.Namespace) -> Outcome:
    from gait.regress.init import init_fixture

    config_path = Path(args.config)
    directory = config_path if config_path.is_dir() else config_path.parent
    result = init_fixture(
        _fixture_source(args.source, args.checkpoint),
        name=args.name,
        directory=directory,
        force=args.force,
        command=args.command,
        limits=archive_limits_from(args),
    )
    run_args = argparse.Namespace(
        config=str(config_path),
        output=args.output,
        junit=args.junit,
        update=False,
        numprocesses=None,
        allow_nondeterministic=args.allow_nondeterministic,
        context_conformance=args.context_conformance,
        allow_context_runtime_drift=args.allow_context_runtime_drift,
        record_mode=None,
        unsafe_real_tools=False,
        pytest_args=[],
        json=args.json,
    )
    outcome = run_run(run_args)
    run = outcome.payload
    payload: dict[str, Any] = {
        "ok": run["ok"],
        "run_id": result.run_id,
        "fixture_name": result.fixture_name,
        "fixture_dir": result.fixture_dir,
        "runpack_path": result.runpack_path,
        "config_path": result.config_path,
        "status": run["status"],
        "artifact_paths": run["artifact_paths"],
        "output": run["output"],
        "live_fixtures": run["live_fixtures"],
    }
    for key in ("failed", "top_failure_reason", "junit"):
        if key in run:
            payload[key] = run[key]
    if not run["ok"]:
        payload["next_command"] = (
            "gait regress run --json"
            if args.config == "gait.yaml"
            else f"gait regress run --config {args.config} --json"
        )
    head = (
        f"regress bootstrap {'ok' if run['ok'] else 'failed'}: run_id={result.run_id} "
        f"fixture={result.fixture_name}"
    )
    return Outcome(payload, outcome.exit_code, [head, *outcome.lines])


def run_report(args: argparse.Namespace) -> Outcome:
    from gait.canon import loads_strict
    from gait.errors import InvalidInput
    from gait.regress.results import PARTIAL_NAME

    path = Path(args.output)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(
            f"{path} not found: no regress run has written a result here",
            code="E_REGRESS_RESULT_MISSING",
            hint="gait regress run",
        ) from None
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {path}: {exc.strerror}", code="E_REGRESS_RESULT_INVALID"
        ) from None
    doc = loads_strict(raw, what=str(path), code="E_REGRESS_RESULT_INVALID")
    graders = doc.get("graders") if isinstance(doc, dict) else None
    if not isinstance(graders, list) or doc.get("schema_id") != "gait.regress.result":
        raise InvalidInput(
            f"{path} is not a regress_result.json (schema_id gait.regress.result)",
            code="E_REGRESS_RESULT_INVALID",
            hint="gait regress run",
        )
    failed = [g for g in graders if isinstance(g, dict) and g.get("status") == "fail"]
    skipped = [g for g in graders if isinstance(g, dict) and g.get("status") == "skip"]
    fixtures = sorted(
        {str(g.get("name", "")).split("/", 1)[0] for g in graders if isinstance(g, dict)}
    )
    failing_fixtures = sorted({str(g.get("name", "")).split("/", 1)[0] for g in failed})
    status = str(doc.get("status", ""))
    payload: dict[str, Any] = {
        "ok": status == "pass",
        "output": str(args.output),
        "status": status,
        "fixture_set": doc.get("fixture_set", ""),
        "created_at": doc.get("created_at", ""),
        "fixtures": len(fixtures),
        "graders": len(graders),
        "failed": len(failed),
        "skipped": len(skipped),
        "failing_fixtures": failing_fixtures,
        "failures": [
            {
                "name": g.get("name"),
                "reason_codes": g.get("reason_codes", []),
                "error_code": g.get("error_code", ""),
                "diff_ref": g.get("diff_ref", ""),
            }
            for g in failed[:20]
        ],
    }
    lines = [
        f"regress report: fixture_set={payload['fixture_set']} status={status} "
        f"fixtures={len(fixtures)} graders={len(graders)} failed={len(failed)} "
        f"skipped={len(skipped)}",
    ]
    for g in failed[:10]:
        reasons = ",".join(str(r) for r in g.get("reason_codes", [])) or "fail"
        where = f" diff={g['diff_ref']}" if g.get("diff_ref") else ""
        lines.append(f"FAIL {g.get('name')} {g.get('error_code', '')} {reasons}{where}"[:240])
    if len(failed) > 10:
        lines.append(f"... and {len(failed) - 10} more failing graders (--json lists 20)")
    partial = path.with_name(PARTIAL_NAME)
    if partial.is_file() and partial.stat().st_mtime > path.stat().st_mtime:
        try:
            part = loads_strict(partial.read_bytes(), what=str(partial))
            counts = part.get("counts", {}) if isinstance(part, dict) else {}
            payload["partial"] = {
                "path": partial.as_posix(),
                "status": part.get("status"),
                "graded": counts.get("graded"),
                "planned": counts.get("planned"),
            }
            lines.append(
                f"newer partial run: {partial.as_posix()} graded {counts.get('graded')} of "
                f"{counts.get('planned')} graders, status={part.get('status')} (not the set's)"
            )
        except InvalidInput:
            pass
    if failed:
        payload["next_commands"] = list(doc.get("next_commands") or [])
        first = failing_fixtures[0]
        lines.append(f"next=cat gait-out/regress/{first}/diff.json")
    return Outcome(payload, ExitCode.OK if status == "pass" else ExitCode.REGRESS_FAILED, lines)
