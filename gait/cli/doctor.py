"""``gait doctor``: diagnose the installation and environment."""

from __future__ import annotations

import argparse
from pathlib import Path

from gait.cli.main import add_common
from gait.cli.output import Outcome

EXPLAIN = (
    "gait doctor checks Python, each dependency (imported for real), the pytest plugin, the "
    "schemas, GAIT_HOME and the output directory (writable), the trust store, signing keys and "
    "mode, dev keys trusted in production mode, the clock and free disk space. It prints one "
    "line per problem with a fix command where one is safe to paste. Exit 0, or 7 when a "
    "dependency or part of the installation is missing (--strict: 2 on any failed check). "
    "--production-readiness adds the checks of .gait/config.yaml a production gate needs "
    "(--workdir) and exits 2 when any check fails. It changes nothing."
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key-mode",
        choices=("dev", "prod"),
        default=None,
        help="check for this mode (default: GAIT_MODE, else dev)",
    )
    parser.add_argument(
        "--output-dir", default="gait-out", help="where commands write outputs (default gait-out)"
    )
    parser.add_argument(
        "--min-free-mb",
        type=int,
        default=None,
        help="free space required for outputs, in MiB (default 100)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 2 when any check fails (for CI)"
    )
    parser.add_argument(
        "--production-readiness",
        action="store_true",
        help="also check .gait/config.yaml for production (oss-prod, prod keys, retention, "
        "mcp_serve boundary); exit 2 when any check fails",
    )
    parser.add_argument(
        "--workdir", default=".", help="project directory holding .gait/config.yaml (default .)"
    )
    add_common(parser, EXPLAIN)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Outcome:
    from gait.doctor import DEFAULT_MIN_FREE_MB, FAIL, PASS, WARN, Options, run_doctor
    from gait.errors import InvalidInput

    mode = (args.key_mode or _env_mode()).strip().lower()
    if mode not in ("dev", "prod"):
        raise InvalidInput(f"key mode must be dev or prod, not {mode!r}", code="E_USAGE")
    min_free = DEFAULT_MIN_FREE_MB if args.min_free_mb is None else args.min_free_mb
    if min_free < 0:
        raise InvalidInput("--min-free-mb must be 0 or more", code="E_USAGE")
    report = run_doctor(
        Options(
            mode=mode,
            output_dir=Path(args.output_dir),
            min_free_mb=min_free,
            production_readiness=args.production_readiness,
            workdir=Path(args.workdir),
        )
    )
    marks = {PASS: "ok  ", WARN: "warn", FAIL: "FAIL"}
    lines = [report.summary()]
    problems = [c for c in report.checks if c.status != PASS]
    for check in problems[:8]:
        lines.append(f"{marks[check.status]} {check.id}: {check.message}"[:240])
        if check.fix:
            lines.append(f"     fix: {check.fix}"[:240])
    if not problems:
        lines.append(f"all {len(report.checks)} checks passed")
    code = report.exit_code(strict=args.strict, production=args.production_readiness)
    return Outcome(report.to_json(), code, lines[:12])


def _env_mode() -> str:
    import os

    return os.environ.get("GAIT_MODE", "") or "dev"
