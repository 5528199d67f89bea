"""``gait run reduce`` and ``gait run receipt`` (the reference's flags, plus our predicates)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gait.cli.main import add_common
from gait.cli.output import Outcome
from gait.errors import ExitCode

REDUCE_EXPLAIN = (
    "gait run reduce --from RUN --predicate P writes the smallest runpack that still triggers "
    "P (one intent, its failing result, the refs it names) and a reduction report "
    "(<out>.reduce_report.json). Predicates: missing_result, non_ok_status (the reference's), "
    "verdict (--tool NAME --verdict block|require_approval|error...), replay_miss "
    "(--against RECORDED: a call the recorded run cannot answer in stub replay) and grader "
    "(--grader NAME [--fixture NAME] [--config gait.yaml]: the fixture's grader fails with the "
    "run as its candidate; delta debugging keeps the fewest calls on which it still fails "
    "with the same reason codes)."
)
RECEIPT_EXPLAIN = (
    "gait run receipt --from RUN verifies the runpack and prints its ticket footer again, "
    "without re-running anything."
)


def register(run_sub: argparse._SubParsersAction[Any]) -> None:
    from gait.sign.keyring import add_key_options

    red = run_sub.add_parser("reduce", help="minimize a failing run to one call")
    red.add_argument("source", nargs="?", help="same as --from")
    red.add_argument("--from", dest="from_ref", help="run id or runpack path")
    red.add_argument("--predicate", default="missing_result")
    red.add_argument("--tool", default="", help="only calls of this tool")
    red.add_argument("--verdict", default="", help="for --predicate verdict")
    red.add_argument("--against", help="recorded run for --predicate replay_miss")
    red.add_argument("--grader", default="", help="for --predicate grader: the grader's name")
    red.add_argument("--fixture", default="", help="for --predicate grader: the fixture")
    red.add_argument("--config", default="gait.yaml", help="for --predicate grader: gait.yaml")
    red.add_argument("--out", help="reduced runpack path")
    red.add_argument("--report-out", help="report path (default <out>.reduce_report.json)")
    add_key_options(red)
    add_common(red, REDUCE_EXPLAIN)
    red.set_defaults(handler=reduce)

    rec = run_sub.add_parser("receipt", help="print a runpack's ticket footer")
    rec.add_argument("source", nargs="?", help="same as --from")
    rec.add_argument("--from", dest="from_ref", help="run id or runpack path")
    add_common(rec, RECEIPT_EXPLAIN)
    rec.set_defaults(handler=receipt)


def _source(args: argparse.Namespace, command: str) -> str:
    from gait.errors import InvalidInput

    value = args.from_ref or args.source
    if not value:
        raise InvalidInput(
            "missing required --from <run_id|path>",
            code="E_USAGE",
            hint=f"gait run {command} --help",
        )
    return value


def reduce(args: argparse.Namespace) -> Outcome:
    from gait.canon import dumps_compact
    from gait.fsutil import atomic_write
    from gait.runpack.reader import load_runpack
    from gait.runpack.reduce import Predicate, reduce_runpack
    from gait.runpack.resolve import resolve
    from gait.sign.keyring import resolve_signing_key

    source = resolve(_source(args, "reduce"))
    pack = load_runpack(source)
    against = load_runpack(resolve(args.against)) if args.against else None
    pred = Predicate(
        args.predicate.strip().lower(),
        tool=args.tool.strip(),
        verdict=args.verdict.strip().lower(),
        against=against,
        grader=args.grader.strip(),
        fixture=args.fixture.strip(),
        config=args.config,
    )
    key, _mode, warnings = resolve_signing_key(args)
    out, report = reduce_runpack(
        source, pack, pred, out=Path(args.out) if args.out else None, key=key
    )
    report_path = Path(args.report_out or f"{out}.reduce_report.json")
    atomic_write(report_path, dumps_compact(report).encode())
    payload = {
        "ok": True,
        "input": str(source),
        "output": str(out),
        "report_path": str(report_path),
        "run_id": report["run_id"],
        "reduced_run_id": report["reduced_run_id"],
        "predicate": report["predicate"],
        "report": report,
    }
    kept = report.get("selected_intent_ids", [report["selected_intent_id"]])
    lines = [
        f"run reduce ok: {source} -> {out}",
        f"kept {len(kept)} of {report['original_intent_count']} intents "
        f"({', '.join(kept) or 'none'}; predicate {report['predicate']} still holds)",
        f"report={report_path}",
        f"next=gait regress init --from {out}",
    ]
    return Outcome(payload, ExitCode.OK, lines, warnings)


def receipt(args: argparse.Namespace) -> Outcome:
    from gait.errors import VerificationFailed
    from gait.runpack.reader import default_options
    from gait.runpack.resolve import resolve
    from gait.runpack.verify import verify_runpack
    from gait.runpack.writer import ticket_footer

    path = resolve(_source(args, "receipt"))
    report = verify_runpack(path, default_options())
    integrity = report.missing_files or report.hash_mismatches
    if integrity or report.signature_status == "failed":
        raise VerificationFailed(
            f"runpack {path} failed verification ({', '.join(report.error_codes)})",
            code="E_VERIFY_FAILED" if not report.error_codes else report.error_codes[0],
            hint=f"gait verify {path} --json",
        )
    footer = ticket_footer(report.run_id, report.manifest_digest)
    payload = {
        "ok": True,
        "run_id": report.run_id,
        "path": str(path),
        "manifest_digest": report.manifest_digest,
        "ticket_footer": footer,
    }
    return Outcome(payload, ExitCode.OK, [footer])
