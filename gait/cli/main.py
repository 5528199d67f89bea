"""The ``gait`` console script: parse, call a core, render, exit.

Command modules are imported only when their command runs, so ``gait --version`` and
``gait --help`` import nothing heavy. Each module under ``gait/cli/`` provides
``register(parser)`` (add arguments, set ``handler``) and handlers returning an ``Outcome``.
"""

from __future__ import annotations

import sys

from gait import __version__

# ``gait --version`` loads this module and nothing else of ours: argparse, json and typing
# (a fifth of what a bare interpreter costs) are imported where they are used.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Any, NoReturn

# name -> (module, one-line help). Kept static so top-level help needs no imports.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("gait.cli.demo", "write and verify an offline demo runpack (first win)"),
    "verify": ("gait.cli.verify", "verify a runpack's hashes, signature and schemas offline"),
    "run": ("gait.cli.run", "record, replay, diff and inspect runpacks"),
    "regress": ("gait.cli.regress", "turn runpacks into fixtures and run regressions"),
    "capture": ("gait.cli.capture", "write a portable receipt of a run for gait regress add"),
    "gate": ("gait.cli.gate", "evaluate a tool-call intent against a policy"),
    "policy": ("gait.cli.policy", "author, validate, format and test gate policies"),
    "approve": ("gait.cli.approve", "sign an approval token for an intent and policy"),
    "delegate": ("gait.cli.delegate", "mint and verify signed delegation tokens"),
    "approve-script": (
        "gait.cli.approve_script",
        "pre-approve a script intent in a signed registry",
    ),
    "list-scripts": ("gait.cli.list_scripts", "list the entries of an approved-script registry"),
    "trace": ("gait.cli.trace", "verify gate trace records and the decision log"),
    "keys": ("gait.cli.keys", "create, trust, rotate and list signing keys"),
    "doctor": ("gait.cli.doctor", "diagnose the installation and environment"),
    "migrate": ("gait.cli.migrate", "rewrite an artifact to the current schema version"),
    "registry": ("gait.cli.registry", "install and verify signed local packs"),
    "export": ("gait.cli.export", "send runpacks and traces to JSONL or OpenTelemetry"),
    "mcp": ("gait.cli.mcp", "gate tool calls at the boundary: MCP proxy, service, trust check"),
    "kill-switch": ("gait.cli.killswitch", "stop tools, agents or paths at once, before any rule"),
    "pack": ("gait.cli.pack", "build, verify, inspect, diff and export PackSpec v1 packs"),
    "guard": ("gait.cli.guard", "evidence packs with a report, retention, at-rest encryption"),
    "incident": ("gait.cli.incident", "bundle a run and everything in its time window"),
    "init": ("gait.cli.init", "start a project: .gait.yaml policy and .gitignore entries"),
    "check": ("gait.cli.check", "check the project's policy, ignore rules and fixtures"),
    "intent": ("gait.cli.intent", "write a valid tool-call intent (intent.json) to start from"),
    "voice": ("gait.cli.voice", "gate spoken commitments: SayTokens and call packs"),
}
# (command, first word) -> module: subcommands that live in their own module.
SUBROUTES: dict[tuple[str, str], str] = {
    ("verify", "session-chain"): "gait.cli.verify_chain",
    ("verify", "chain"): "gait.cli.verify_chain",
    ("gate", "state"): "gait.cli.gate_state",
}


def add_common(parser: argparse.ArgumentParser, explain: str) -> None:
    """``--json`` and ``--explain`` on every leaf command."""
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--explain",
        action="store_const",
        const=explain,
        default=None,
        help="say what the command would do, then exit without doing it",
    )


def add_group(
    parser: argparse.ArgumentParser, title: str = "command"
) -> argparse._SubParsersAction[Any]:
    sub = parser.add_subparsers(dest=f"{parser.prog.replace(' ', '_')}_{title}", metavar=title)
    sub.required = True
    return sub


def _top_help() -> str:
    width = max(len(name) for name in COMMANDS)
    rows = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items())
    return (
        "usage: gait [--version] <command> [options]\n\n"
        "Signed, replayable runpacks, regressions and policy gates for AI agents.\n\n"
        f"commands:\n{rows}\n\n"
        "Start with: gait demo        Every command takes --json and --explain.\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if not args_in or args_in[0] in ("-h", "--help", "help"):
        print(_top_help(), end="")
        return 0
    if args_in[0] in ("--version", "-V", "-v", "version"):
        return _version(args_in)
    return _run(args_in)


def _version(args_in: list[str]) -> int:
    """``gait version [--json]`` as the reference prints it; nothing heavy is imported."""
    if "--explain" in args_in:
        print("gait version prints the installed gait version (--json: {ok, version}).")
        return 0
    if "--json" in args_in:
        from gait.cli.output import correlation_id

        doc = {"correlation_id": correlation_id(args_in), "ok": True, "version": __version__}
        import json

        print(json.dumps(doc, sort_keys=True, separators=(",", ":")))
        return 0
    print(f"gait {__version__}")
    return 0


def _explain_text(
    parser: argparse.ArgumentParser, tokens: list[str], as_json: bool = False
) -> str | None:
    """The ``--explain`` text of the leaf command ``tokens`` name, without parsing its
    required arguments (``gait verify --explain`` must not demand a runpack). None for a
    command whose ``--explain --json`` runs and explains its decision (``gait gate eval``
    sets ``explain_json_runs``, as the reference)."""
    import argparse

    current = parser
    for token in tokens:
        subs = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or token not in subs[0].choices:
            break
        current = subs[0].choices[token]
    if as_json and current.get_default("explain_json_runs"):
        return None
    for action in current._actions:
        if "--explain" in action.option_strings:
            return action.const
    return None


def _parse_plain(name: str, module: Any, args_in: list[str]) -> Any:
    """The command line read without argparse (gait.cli.fastparse), or None: then argparse
    reads it, and every error and usage text is its own."""
    from gait.cli import fastparse

    spec = fastparse.record(name, module.register)
    return None if spec is None else fastparse.parse(spec, args_in)


# Modules that a lean process imports only because another module imports them for a rare use:
# ``inspect`` (dataclasses: a signature for the __doc__ of a class without a docstring; a gate
# decision's dataclasses all have one; a tenth of a ``gait gate eval`` process), ``copy`` and
# its ``weakref`` (dataclasses: deep copies in ``asdict``/``replace``), ``urllib.parse`` and its
# ``ipaddress`` (pathlib: only for ``Path.as_uri``; gait.gocompat: URL targets), ``ntpath``
# (pathlib's Windows flavour, whose import also tries ``nt`` five times along sys.path),
# ``fnmatch`` (pathlib: only for glob and match) and ``warnings`` (pathlib: only for deprecated
# calls; a warning raised from C code reads it through sys.modules and so runs it).
DEFERRED = ("inspect", "copy", "ipaddress", "urllib.parse", "ntpath", "fnmatch", "warnings")
# Functions that modules on a lean path take from a deferred module when they are imported
# (``from urllib.parse import urlsplit``): they get a stand-in that runs the module and calls
# the real function, so only a call runs the module.
HANDED_OUT: dict[str, tuple[str, ...]] = {"urllib.parse": ("quote_from_bytes", "urlsplit")}


def _defer_modules() -> None:
    """Run each of ``DEFERRED`` on first use instead of when it is imported.

    The module is put in ``sys.modules`` unexecuted; the first read of a name it defines runs
    it, in that same module object, so every holder of it sees the whole module. (The stdlib's
    ``LazyLoader`` does not help here: any later import reads ``__spec__``, and that runs it.)
    Nothing is imported for this: the finders and ``module_from_spec`` are the import system's
    own (``importlib.util`` would load contextlib and importlib's abstract classes).
    """
    for name in DEFERRED:
        _defer(name)


def _defer_archive_modules() -> None:
    for name in DEFERRED_FOR_ARCHIVES:
        _defer(name)


def _defer(name: str) -> None:
    if name in sys.modules:
        return
    parent_name, _, child = name.rpartition(".")
    path = None
    if parent_name:
        __import__(parent_name)
        parent = sys.modules[parent_name]
        path = getattr(parent, "__path__", None)
        if path is None:
            return
    spec = None
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        spec = find_spec(name, path) if find_spec is not None else None
        if spec is not None:
            break
    if spec is None or spec.loader is None:
        return
    loader = spec.loader
    handed_out = HANDED_OUT.get(name, ())
    module_type = type(sys)

    class Unexecuted(module_type):  # type: ignore[valid-type,misc]
        """A module whose code runs the first time a name it should define is read."""

        def __getattr__(self, attr: str) -> object:
            if attr == "__path__":  # the import system asking whether this is a package
                raise AttributeError(attr)
            if attr in handed_out and type(self) is Unexecuted:
                return _stand_in(self, attr)
            self.execute()
            return getattr(self, attr)

        def execute(self) -> None:
            import _imp

            _imp.acquire_lock()  # the import lock: a second thread waits for the first one
            try:
                if type(self) is Unexecuted:
                    self.__class__ = module_type  # type: ignore[assignment]
                    loader.exec_module(self)
            finally:
                _imp.release_lock()

    module = sys.modules["_frozen_importlib"].module_from_spec(spec)
    module.__class__ = Unexecuted
    sys.modules[name] = module
    if parent_name:
        setattr(sys.modules[parent_name], child, module)  # as the import system binds it


def _stand_in(module: Any, attr: str) -> Callable[..., Any]:
    """A function that runs ``module`` (if nothing has yet) and calls its ``attr``."""

    def call(*args: Any, **kwargs: Any) -> Any:
        if hasattr(type(module), "execute"):
            module.execute()
        return vars(module)[attr](*args, **kwargs)

    call.__name__ = call.__qualname__ = attr
    return call


# Commands whose process is one short decision (a process per tool call): inspect and ipaddress
# run only if something reads them (DEFERRED), the cyclic garbage collector is off from the
# command's first import on (imports and one decision leave little garbage, and its passes
# walked every object the imports had made) and stays off in a process that ends without
# teardown, regular expressions and dataclass methods come from gait.cli.regexcache and
# gait.cli.methodcache,
# canonical JSON is encoded without importing orjson (gait.canon.stdlib_only), and the process
# ends without tearing the interpreter down (see entry()).
ONE_SHOT = frozenset({"gate", "policy"})
# Commands a process runs once over a runpack (issue 14 item 6): DEFERRED is deferred and the
# process ends without teardown as for ONE_SHOT, but the collector stays on (a record or diff of
# a big run may make cyclic garbage; the diff pauses the collector itself where it pays).
LEAN = frozenset({"verify", "run diff", "run record"})
# What a lean command's process imports only through zipfile, for uses a runpack never has:
# ``shutil`` and the ``bz2``/``lzma`` it loads (zipfile: ``extract``, and members compressed
# with bzip2 or LZMA, which the archive checks refuse before reading them) and
# ``importlib.util`` (zipfile: ``PyZipFile``). Not deferred for ONE_SHOT: a decision never
# imports zipfile, and looking them up would cost it.
DEFERRED_FOR_ARCHIVES = ("shutil", "bz2", "lzma", "importlib.util")
# Lean commands whose process also runs with the collector off and the regex table, as ONE_SHOT
# (issue 14 item 6): a verify parses records that hold no cycles (its parse already pauses the
# collector) and otherwise makes little garbage, so a collection only walks what the imports
# made. orjson stays: a big member's records parse faster with it than with the C decoder.
QUIET_COLLECTOR = frozenset({"verify"})


def _lean(args_in: list[str]) -> bool:
    """Whether the command defers DEFERRED and skips interpreter teardown (ONE_SHOT or LEAN)."""
    if not args_in:
        return False
    return args_in[0] in ONE_SHOT or " ".join(args_in[:2]) in LEAN or args_in[0] in LEAN


def _run(args_in: list[str]) -> int:
    one_shot = args_in[0] in ONE_SHOT
    if not one_shot and args_in[0] not in QUIET_COLLECTOR:
        if _lean(args_in):
            _defer_modules()
            _defer_archive_modules()
        return _run_command(args_in)
    import gc

    collecting = gc.isenabled()
    gc.disable()  # before the imports: they make most of the objects a collection would walk
    try:
        _defer_modules()
        if not one_shot:
            _defer_archive_modules()
        from gait.cli import methodcache, regexcache

        regexcache.install()  # before json and dataclasses compile their patterns at import
        methodcache.install()  # before gait.canon's imports define dataclasses
        if one_shot:
            from gait import canon

            canon.stdlib_only()  # a few small documents: orjson's costs more than it saves
        else:
            _orjson_without_datetime_py()
        return _run_command(args_in)
    finally:
        # Back on for a caller in this process, but not in a process that ends here without
        # teardown (entry()): every object made while it was off is young, and the first
        # allocation after gc.enable() would walk them all.
        if collecting and not _ENDING:
            gc.enable()


def _orjson_without_datetime_py() -> None:
    """Import orjson (a verify parses its records with it) without running ``datetime.py``.

    orjson's module set-up takes the datetime C API from ``datetime.datetime_CAPI``, which
    imports ``datetime.py``: that defines the whole pure-Python datetime before replacing it
    with the C types of ``_datetime`` (2% of a small verify). ``_datetime`` holds the same
    capsule, so orjson is imported with it standing in for ``datetime`` and ``datetime`` is
    then removed from ``sys.modules``: a later ``import datetime`` runs the real module, whose
    classes are these same C types (the ones orjson recognises). Nothing else is imported
    while it stands in but what orjson itself imports (uuid), which does not read datetime.

    orjson reads ``uuid.NAMESPACE_DNS``, and ``uuid``'s import calls ``platform.system()``
    only to set two flags (AIX, Linux). On Linux that is ``os.uname().sysname``, so there a
    module answering just that stands in for ``platform`` while ``uuid`` is imported (the
    real one compiles patterns and defines classes at import, about 1 ms of a verify: issue
    14 item 6), and is then removed from ``sys.modules`` and from ``uuid``: a later
    ``import platform`` runs the real module.
    """
    if "datetime" in sys.modules or "orjson" in sys.modules:
        return
    try:
        import _datetime  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - a build without the C module
        return
    stand_ins: dict[str, object] = {"datetime": _datetime}
    if sys.platform == "linux" and "platform" not in sys.modules and "uuid" not in sys.modules:
        import os

        sysname = os.uname().sysname
        if sysname == "Linux":  # platform.system() is then exactly this
            stand_in = type(sys)("platform")
            stand_in.system = lambda: sysname  # type: ignore[attr-defined]
            stand_ins["platform"] = stand_in
    sys.modules.update(stand_ins)  # type: ignore[arg-type]
    try:
        import orjson  # noqa: F401
    except ImportError:
        pass  # the command's own import reports it
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
        names = getattr(sys.modules.get("uuid"), "__dict__", {})
        if "platform" in stand_ins and names.get("platform") is stand_ins["platform"]:
            del names["platform"]  # uuid reads it only at its import


def _run_command(args_in: list[str]) -> int:
    from gait.cli import methodcache

    methodcache.install()
    from gait.errors import DependencyMissing, ExitCode, GaitError, InvalidInput

    as_json = "--json" in args_in
    try:
        from gait.cli.output import correlation_id, debug_enabled, emit, emit_error
    except ImportError as exc:
        print(
            f"gait: E_DEPENDENCY_MISSING: {exc} (pip install --force-reinstall pytest-gait)",
            file=sys.stderr,
        )
        return ExitCode.DEPENDENCY_MISSING
    try:
        name = args_in[0]
        if name not in COMMANDS:
            raise InvalidInput(f"unknown command {name!r}", code="E_USAGE", hint="gait --help")
        route = SUBROUTES.get((name, args_in[1] if len(args_in) > 1 else ""))
        module = _import(route or COMMANDS[name][0])
        args = None if "--explain" in args_in else _parse_plain(name, module, args_in)
        if args is None:
            from gait.cli.parser import ArgumentParser

            parser = ArgumentParser(prog="gait")
            sub = parser.add_subparsers(dest="command")
            cmd = sub.add_parser(name, help=COMMANDS[name][1], description=COMMANDS[name][1])
            module.register(cmd)
            if "--explain" in args_in:
                text = _explain_text(parser, args_in, as_json)
                if text:
                    print(text)
                    return ExitCode.OK
            args = parser.parse_args(args_in)
        args.correlation_id = correlation_id(args_in)
        handler: Callable[[argparse.Namespace], Any] = args.handler
        outcome = handler(args)
        return emit(outcome, as_json=as_json, argv=args_in)
    except GaitError as error:
        return emit_error(error, as_json=as_json, argv=args_in)
    except KeyboardInterrupt:
        print("gait: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        raise  # the reader went away (``gait ... | head``): entry() ends quietly
    except ImportError as exc:
        if debug_enabled():
            raise
        missing = DependencyMissing(f"a dependency is missing or broken: {exc}", hint="gait doctor")
        return emit_error(missing, as_json=as_json, argv=args_in)
    except Exception as exc:  # noqa: BLE001 - the one place unexpected errors become exit 1
        if debug_enabled():
            raise
        internal = GaitError(
            f"unexpected {type(exc).__name__}: {exc}",
            code="E_INTERNAL",
            hint="re-run with GAIT_DEBUG=1 for a traceback and report it",
        )
        return emit_error(internal, as_json=as_json, argv=args_in)


def _import(name: str) -> Any:
    """``importlib.import_module`` without importing importlib (and warnings) for it."""
    __import__(name)
    return sys.modules[name]


# What a shell reports for a process ended by SIGPIPE (128 + 13).
EXIT_BROKEN_PIPE = 141


# Set by entry() for a command whose process ends without teardown once it is done (_lean).
_ENDING = False


def entry() -> NoReturn:
    global _ENDING
    code: int | str | None = None
    done = False
    _ENDING = _lean(sys.argv[1:3])
    try:
        try:
            code = main()
        except SystemExit as exit_:  # argparse's --help
            code = exit_.code
        finally:
            _ignore_late_signals()
        done = True
        sys.stdout.flush()  # output to a pipe is buffered: a closed pipe shows here
    except KeyboardInterrupt:
        if not done and code is None:  # before the command could catch it itself
            print("gait: interrupted", file=sys.stderr)
            code = 130  # ExitCode.INTERRUPTED, without importing the error tree here
    except BrokenPipeError:
        _end_on_closed_pipe()
    if type(code) is int and _lean(sys.argv[1:3]):
        _exit_without_teardown(code)
    sys.exit(code)


def _exit_without_teardown(code: int) -> None:
    """End a one-shot command's process as soon as its work is done and reported.

    Tearing the interpreter down (clearing every module, a last garbage collection) cost a gate
    decision as much as the decision itself. What teardown would still do that matters is done
    here: exit handlers run and the standard streams are flushed; the command's files are
    already written and closed (atomic writes, locks released). Only when no other thread runs
    (``zipfile`` imports ``threading``; a thread still running, or a threading exit hook, to
    wait for means the ordinary exit).
    """
    threading = sys.modules.get("threading")
    if threading is not None and (
        threading.active_count() != 1 or getattr(threading, "_threading_atexits", None)
    ):
        return
    import atexit
    import os

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _ignore_late_signals() -> None:
    """Ctrl-C or SIGTERM after the command has finished and reported (its files written, its
    agents reaped) changes nothing: the command's own exit code stands, instead of the
    interpreter dying of the signal on its way out."""
    # What ``signal`` wraps: loaded with the interpreter, unlike the enums ``signal`` builds.
    import _signal  # type: ignore[import-not-found]

    for signum in (_signal.SIGINT, _signal.SIGTERM):
        try:
            _signal.signal(signum, _signal.SIG_IGN)
        except (ValueError, OSError):  # not the main thread
            pass


def _end_on_closed_pipe() -> NoReturn:
    """``gait ... --json | head``: the reader has what it wanted. End as a process killed by
    SIGPIPE would (status 141), with nothing on stderr: point stdout at devnull so the
    interpreter's final flush cannot raise again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(EXIT_BROKEN_PIPE)


if __name__ == "__main__":
    entry()
