"""``gait incident pack --from RUN --window DURATION``."""

from __future__ import annotations

import argparse

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome

EXPLAIN = (
    "gait incident pack --from RUN --window 24h gathers the run, the gate traces, approval "
    "audits, credential evidence and regress results created within the window around the "
    "run's start (found beside the runpack and in its traces/ folder) and the policy digests "
    "they name into one signed evidence pack incident_pack_<id>.zip (template "
    "incident_response; --render-pdf adds the PDF report)."
)


def register(parser: argparse.ArgumentParser) -> None:
    from gait.cli.guard import add_pack_inputs

    sub = add_group(parser)
    pk = sub.add_parser("pack", help="bundle a run and its incident window")
    pk.add_argument("--from", dest="from_ref", required=True, help="run id or runpack path")
    pk.add_argument("--window", default="24h", help="duration around the run's start")
    pk.add_argument("--out")
    pk.add_argument("--template", default="incident_response")
    add_pack_inputs(pk)
    add_common(pk, EXPLAIN)
    pk.set_defaults(handler=pack)


def pack(args: argparse.Namespace) -> Outcome:
    from gait.cli.guard import _built, guard_signing_key
    from gait.guard.incident import build_incident_pack
    from gait.guard.retain import parse_duration
    from gait.runpack.resolve import resolve

    runpack = resolve(args.from_ref)
    key, mode, warnings = guard_signing_key(args)
    path, manifest, summary, render_warnings = build_incident_pack(
        runpack,
        window_seconds=parse_duration(args.window, "--window"),
        out=args.out,
        case_id=args.case_id,
        template=args.template,
        render_pdf=args.render_pdf,
        pdf_font=args.pdf_font,
        key=key,
    )
    outcome = _built(path, manifest, mode, key, warnings + render_warnings)
    outcome.payload.update({k: v for k, v in summary.items() if v or k.endswith("_count")})
    outcome.lines.insert(
        1,
        f"window {summary['window_from']} .. {summary['window_to']}: "
        f"traces={summary['trace_count']} approvals={summary['approval_audit_count']} "
        f"regress={summary['regress_count']}",
    )
    return outcome
