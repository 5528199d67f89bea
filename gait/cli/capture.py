"""``gait capture --from RUN --out FILE``: a portable receipt for ``gait regress add``."""

from __future__ import annotations

import argparse

from gait.cli.main import add_common
from gait.cli.output import Outcome
from gait.errors import ExitCode

EXPLAIN = (
    "gait capture resolves a run id, runpack path or gate trace, verifies it, and writes a "
    "capture receipt (gait.capture.receipt JSON, default gait-out/capture.json) that a later "
    "step turns into a regression fixture with gait regress add --from <receipt>."
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="RUN_ID|PATH",
        help="run id, runpack path or trace record path",
    )
    parser.add_argument(
        "--out", default="gait-out/capture.json", metavar="FILE", help="receipt to write"
    )
    add_common(parser, EXPLAIN)
    parser.set_defaults(handler=run_capture)


def run_capture(args: argparse.Namespace) -> Outcome:
    from gait.regress.capture import resolve_capture, write_receipt

    receipt = resolve_capture(args.source)
    write_receipt(receipt, args.out)
    payload = receipt.to_json()
    lines = [
        f"capture ok: type={receipt.artifact_type} path={receipt.artifact_path}",
        f"receipt: {receipt.output_path}",
    ]
    if receipt.artifact_type == "runpack":
        lines.append(f"next=gait regress add --from {receipt.output_path}")
    return Outcome(payload, ExitCode.OK, lines)
