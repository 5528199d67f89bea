"""``gait run record|replay|diff|inspect``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome
from gait.errors import ExitCode
from gait.sign.keyring import add_key_options

RECORD_EXPLAIN = (
    "gait run record writes a signed runpack. Without --from, --input is the reference's record "
    "input ({run, intents, results, refs, capture_mode}); with --from openai|anthropic|mcp|otel "
    "it is an existing agent log (JSON or JSON Lines, streamed). Capture is reference (digests "
    "only) unless --capture-mode raw; --redact rules (drop:$.args.key, mask:$.result.x, "
    "mask-regex:RE, drop-regex:RE) run before anything is written. Signs with --private-key, "
    "else the local dev key."
)
REPLAY_EXPLAIN = (
    "gait run replay answers every recorded tool call from the runpack (stub mode): nothing "
    "real runs, output is identical run to run, exit 2 when a call has no recorded result. "
    "Real tools need --real-tools --unsafe-real-tools --allow-tools a,b, GAIT_ALLOW_REAL_REPLAY=1 "
    "(or the variable --unsafe-real-tools-env names), a raw-capture runpack and --tool-registry "
    "module:attr (exit 8 otherwise)."
)
DIFF_EXPLAIN = (
    "gait run diff compares two runpacks step by step (tool sequence, args by JSON path, result "
    "digests, refs, run metadata). Exit 0 when equal, 2 when changed. --privacy metadata "
    "compares digests and names only and never prints payloads; --out writes diff.json, --html "
    "a self-contained page. Both runpacks are verified first."
)
INSPECT_EXPLAIN = (
    "gait run inspect prints a runpack's timeline, a few bounded lines per step; --json gives "
    "all of it. The runpack is verified first."
)


def register(parser: argparse.ArgumentParser) -> None:
    sub = add_group(parser)

    rec = sub.add_parser("record", help="write a runpack from a record input or an agent log")
    rec.add_argument("--input", required=True, metavar="FILE", help="record input or log file")
    rec.add_argument(
        "--from",
        dest="from_format",
        choices=("openai", "anthropic", "mcp", "otel"),
        help="the log format of --input (omit for the reference's record input)",
    )
    rec.add_argument("--capture-mode", choices=("reference", "raw"), default=None)
    rec.add_argument("--run-id", help="run id for an imported log (default run_<file stem>)")
    rec.add_argument("--out-dir", default="gait-out", help="where runpack_<run_id>.zip goes")
    rec.add_argument("--out", metavar="PATH", help="exact runpack path")
    rec.add_argument(
        "--context-evidence-mode",
        choices=("best_effort", "required"),
        default=None,
        help="refs.context_evidence_mode (default: the input's, else best_effort); required "
        "refuses a run without a context_set_digest",
    )
    rec.add_argument(
        "--context-envelope",
        metavar="PATH",
        help="context evidence envelope (gait.context.envelope): its records become the "
        "receipts and its digest refs.context_set_digest",
    )
    rec.add_argument(
        "--unsafe-context-raw",
        action="store_true",
        help="allow context records or receipts with redaction_mode=raw",
    )
    rec.add_argument(
        "--redact",
        action="append",
        default=[],
        metavar="RULE",
        help="drop:PATH, mask:PATH, mask-regex:RE or drop-regex:RE (repeatable)",
    )
    rec.add_argument(
        "--redaction-report", metavar="PATH", help="write the redaction report (JSON) here"
    )
    add_key_options(rec)
    add_common(rec, RECORD_EXPLAIN)
    rec.set_defaults(handler=record)

    rep = sub.add_parser("replay", help="replay a runpack with stubbed tools")
    rep.add_argument("runpack", help="run id or path")
    rep.add_argument("--real-tools", action="store_true", help="run allowed tools for real")
    rep.add_argument("--unsafe-real-tools", action="store_true", help="confirm real tools")
    rep.add_argument("--allow-tools", default="", metavar="A,B", help="tools allowed to run")
    rep.add_argument(
        "--unsafe-real-tools-env",
        default="GAIT_ALLOW_REAL_REPLAY",
        metavar="VAR",
        help="variable that must be 1 for real replay (default GAIT_ALLOW_REAL_REPLAY)",
    )
    rep.add_argument(
        "--tool-registry",
        metavar="MODULE:ATTR",
        help="a mapping of tool name -> callable(args) that real replay runs",
    )
    add_common(rep, REPLAY_EXPLAIN)
    rep.set_defaults(handler=replay)

    dif = sub.add_parser("diff", help="compare two runpacks")
    dif.add_argument("left", help="run id or path")
    dif.add_argument("right", help="run id or path")
    dif.add_argument("--privacy", choices=("full", "metadata"), default="full")
    dif.add_argument("--out", "--output", dest="out", metavar="PATH", help="write diff.json here")
    dif.add_argument("--html", metavar="PATH", help="write a side-by-side HTML page here")
    add_common(dif, DIFF_EXPLAIN)
    dif.set_defaults(handler=diff)

    ins = sub.add_parser("inspect", help="show a runpack's timeline")
    ins.add_argument("runpack", nargs="?", help="run id or path")
    ins.add_argument(
        "--from", dest="from_ref", metavar="RUN", help="run id or path (as the reference)"
    )
    ins.add_argument("--limit", type=int, default=20, help="steps shown in the human output")
    add_common(ins, INSPECT_EXPLAIN)
    ins.set_defaults(handler=inspect)

    from gait.cli import reduce as reduce_cli
    from gait.cli import session as session_cli

    session_cli.register(sub)
    reduce_cli.register(sub)


def _bundle(path: Path) -> str:
    text = path.as_posix()
    return text if path.is_absolute() or text.startswith(".") else f"./{text}"


def record(args: argparse.Namespace) -> Outcome:
    from gait.runpack.recorder import RAW_WARNING, REFERENCE_WARNING
    from gait.runpack.redact import parse_rules
    from gait.runpack.resolve import remember
    from gait.sign.keyring import resolve_signing_key

    rules = parse_rules(args.redact)
    key, key_mode, key_warnings = resolve_signing_key(args)
    report: dict[str, Any] | None = None
    imported: dict[str, Any] | None = None
    evidence_warnings: list[str] = []
    if args.from_format:
        if args.context_envelope is not None or args.unsafe_context_raw:
            from gait.errors import InvalidInput

            raise InvalidInput(
                "--context-envelope and --unsafe-context-raw apply to a record input, not to "
                "an imported log (--from)",
                code="E_USAGE",
                hint="record without --from, or drop the context flags",
            )
        written, mode, report, imported = _record_log(args, rules, key)
    else:
        from gait import gcpause

        with gcpause.paused():  # tens of thousands of acyclic records: nothing to collect
            written, mode, report = _record_input(args, rules, key, evidence_warnings)
    remember(written.path, written.run_id)
    warnings = [RAW_WARNING if mode == "raw" else REFERENCE_WARNING, *evidence_warnings]
    payload: dict[str, Any] = {
        "ok": True,
        "run_id": written.run_id,
        "bundle": _bundle(written.path),
        "capture_mode": mode,
        "manifest_digest": written.manifest_digest,
        "ticket_footer": written.ticket_footer,
        "signature_status": "signed",
        "signature_key_id": key.key_id,
        "signing_mode": key_mode,
        "warnings": warnings,
    }
    if args.from_format:
        payload["source_format"] = args.from_format
    if imported is not None:
        payload["import"] = imported
    if report is not None and (rules or mode == "raw"):
        payload["redaction"] = report
        if args.redaction_report:
            from gait.canon import dumps_pretty
            from gait.fsutil import atomic_write

            atomic_write(args.redaction_report, dumps_pretty(report))
    lines = [
        f"run_id={written.run_id}",
        f"bundle={payload['bundle']}",
        f"capture_mode={mode}",
        f"ticket_footer={written.ticket_footer}",
    ]
    if imported is not None:
        lines.append(f"calls={imported['calls']} results={imported['results']}")
        if imported["skipped_total"]:
            kinds = ",".join(f"{k}:{n}" for k, n in imported["skipped"].items())
            lines.append(f"skipped={imported['skipped_total']} ({kinds})")
        if imported.get("unreadable_calls"):
            lines.append(
                f"unreadable_calls={len(imported['unreadable_calls'])} (recorded with status error)"
            )
    if report is not None and report.get("redactions_total"):
        lines.append(f"redactions={report['redactions_total']} (paths and counts in --json)")
    lines.append(f"next=gait verify {written.run_id},gait run replay {written.run_id}")
    stderr = list(key_warnings)
    if mode == "raw":
        stderr.insert(0, RAW_WARNING)
    return Outcome(payload, ExitCode.OK, lines, stderr)


def _record_input(
    args: argparse.Namespace, rules: list, key: Any, warnings: list[str]
) -> tuple[Any, str, Any]:
    from gait.canon import loads_strict
    from gait.fsutil import read_input
    from gait.runpack.redact import Redactor
    from gait.runpack.writer import write_record_input

    raw = read_input(args.input, "E_RECORD_INPUT_INVALID")
    doc = loads_strict(raw, what=args.input, code="E_RECORD_INPUT_INVALID")
    redactor = Redactor(rules)
    if isinstance(doc, dict):
        from gait.contextproof import record_evidence

        doc, more = record_evidence(
            doc,
            mode=args.context_evidence_mode,
            envelope_path=args.context_envelope,
            unsafe_raw=args.unsafe_context_raw,
        )
        warnings.extend(more)
    written = write_record_input(
        doc,
        args.out or None,
        out_dir=args.out_dir,
        capture_mode=args.capture_mode,
        signing_keys=[key],
        redactor=redactor,
    )
    return written, written.capture_mode, redactor.report.to_json()


def _record_log(args: argparse.Namespace, rules: list, key: Any) -> tuple[Any, str, Any, Any]:
    from gait.runpack.importers import import_log

    mode = args.capture_mode or "reference"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recorder = import_log(
            args.from_format,
            args.input,
            run_id=args.run_id,
            out=args.out,
            out_dir=args.out_dir,
            capture_mode=mode,
            redact=rules,
            signing_key=key,
        )
    return recorder.written, mode, recorder.redaction_report, recorder.import_report


def _load(ref: str, *, prove_canonical: bool = False) -> Any:
    from gait.runpack.reader import load_runpack
    from gait.runpack.resolve import resolve

    return load_runpack(resolve(ref), prove_canonical=prove_canonical)


def _load_registry(spec: str) -> Any:
    import importlib

    from gait.errors import InvalidInput

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise InvalidInput(f"--tool-registry {spec!r} must be module:attr", code="E_USAGE")
    try:
        value = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidInput(
            f"cannot load tool registry {spec}: {exc}", code="E_REPLAY_TOOL_REGISTRY"
        ) from exc
    registry = value() if callable(value) and not hasattr(value, "items") else value
    if not hasattr(registry, "items"):
        raise InvalidInput(
            f"tool registry {spec} is not a mapping of tool name -> callable",
            code="E_REPLAY_TOOL_REGISTRY",
        )
    return registry


def replay(args: argparse.Namespace) -> Outcome:
    from gait.errors import UnsafeOperation
    from gait.runpack.replay import check_real_tool_interlock, real_replay, stub_replay

    real = args.real_tools or args.unsafe_real_tools or args.allow_tools
    if real:
        allowed = check_real_tool_interlock(
            real_tools=args.real_tools,
            unsafe_real_tools=args.unsafe_real_tools,
            allow_tools=args.allow_tools,
            env_var=args.unsafe_real_tools_env,
        )
        if not args.tool_registry:
            raise UnsafeOperation(
                "real tool replay needs a tool registry; gait ships no real tools",
                code="E_REPLAY_REAL_TOOL_DISABLED",
                hint="add --tool-registry module:attr (a mapping of tool name -> callable)",
                details={"missing_interlocks": ["--tool-registry module:attr"]},
            )
        pack = _load(args.runpack)
        report = real_replay(
            pack,
            _load_registry(args.tool_registry),
            real_tools=True,
            unsafe_real_tools=True,
            allow_tools=allowed,
            env_var=args.unsafe_real_tools_env,
        )
    else:
        report = stub_replay(_load(args.runpack))
    payload = report.to_json()
    lines = [
        f"replay={'ok' if report.ok else 'missing_results'} run_id={report.run_id} "
        f"mode={report.mode} capture_mode={report.capture_mode} steps={len(report.steps)}"
    ]
    if report.capture_mode == "reference" and report.mode == "stub":
        lines.append("stubs return recorded digests (reference capture keeps no payloads)")
    for step in report.steps[:8]:
        digest = step.result_digest[:12] or "-"
        lines.append(
            f"  {step.intent_id} {step.tool_name} status={step.status} "
            f"source={step.source} result=sha256:{digest}"
        )
    if len(report.steps) > 8:
        lines.append(f"  ... {len(report.steps) - 8} more steps (--json for all)")
    if report.missing_results:
        shown = ", ".join(report.missing_results[:5])
        lines.append(f"missing results: {shown}")
    return Outcome(payload, report.exit_code, lines)


def diff(args: argparse.Namespace) -> Outcome:
    from gait import gcpause
    from gait.canon import canonical_bytes
    from gait.fsutil import atomic_write
    from gait.runpack.diff import diff_views, load_view
    from gait.runpack.resolve import resolve

    # One run's records at a time: each is verified, then reduced to what diff keeps. The
    # records hold no cycles: the collector would only walk them (a sixth of the time).
    with gcpause.paused():
        left = load_view(resolve(args.left), "left", privacy=args.privacy)
        right = load_view(resolve(args.right), "right", privacy=args.privacy)
        report = diff_views(left, right, privacy=args.privacy)
    payload = report.to_result_json()
    lines = report.summary_lines()
    if args.out:
        atomic_write(args.out, canonical_bytes(report.to_diff_json()) + b"\n")
        payload["diff_path"] = args.out
        lines.append(f"diff.json={args.out}")
    if args.html:
        from gait.runpack.html import render

        atomic_write(args.html, render(report).encode("utf-8"))
        payload["html_path"] = args.html
        lines.append(f"html={args.html}")
    return Outcome(payload, report.exit_code, lines)


def inspect(args: argparse.Namespace) -> Outcome:
    from gait.errors import InvalidInput
    from gait.runpack.inspect import inspect_runpack

    if args.runpack and args.from_ref and args.runpack != args.from_ref:
        raise InvalidInput("give the runpack once: RUN or --from RUN", code="E_USAGE")
    ref = args.runpack or args.from_ref
    if not ref:
        raise InvalidInput(
            "which runpack? gait run inspect RUN", code="E_USAGE", hint="gait run inspect run_demo"
        )
    view = inspect_runpack(_load(ref))
    return Outcome(view.to_json(), ExitCode.OK, view.lines(limit=max(args.limit, 1)))
