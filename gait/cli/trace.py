"""``gait trace verify``: check trace signatures and the decision log's chain."""

from __future__ import annotations

import argparse
from pathlib import Path

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome
from gait.errors import ExitCode

EXPLAIN = (
    "gait trace verify checks a trace record's Ed25519 signature over its re-read fields, or, "
    "for a directory, every trace in it and the signed, hash-chained decision log: it names "
    "each trace that is missing or altered, a log line edited or reordered, and last entries "
    "removed (the signed head record). A trace without its log line (its decision died before "
    "the commit point) is a trace_uncommitted warning, not a failure."
)


def register(parser: argparse.ArgumentParser) -> None:
    from gait.cli.verify import add_private_key_verify_options
    from gait.sign.keyring import add_key_options

    sub = add_group(parser)
    verify = sub.add_parser("verify", help="verify a trace file or a trace directory")
    verify.add_argument("path", nargs="?", help="trace JSON file, or a directory of traces")
    verify.add_argument(
        "--path", dest="path_flag", metavar="PATH", help="the same, as the reference spells it"
    )
    add_key_options(verify, signing=False)
    add_private_key_verify_options(verify)
    add_common(verify, EXPLAIN)
    verify.set_defaults(handler=run_verify)


def _keys(args: argparse.Namespace) -> tuple[list, bool]:
    from gait.cli.verify import private_verify_key
    from gait.errors import GaitError
    from gait.sign.keyring import dev_signing_key, explicit_verify_key, trusted_verify_keys

    explicit = explicit_verify_key(args) or private_verify_key(args)
    if explicit is not None:
        return [explicit], True
    keys = []
    try:
        keys = list(trusted_verify_keys())
        dev = dev_signing_key(create=False)
        if dev is not None and all(k.key_id != dev.key_id for k in keys):
            keys.append(dev.public())
    except GaitError:
        pass
    return keys, False


def run_verify(args: argparse.Namespace) -> Outcome:
    from gait.errors import InvalidInput
    from gait.gate.trace import verify_directory, verify_trace_file

    if args.path and args.path_flag and args.path != args.path_flag:
        raise InvalidInput("give the trace once: PATH or --path PATH", code="E_USAGE")
    args.path = args.path or args.path_flag
    if not args.path:
        raise InvalidInput(
            "which trace? gait trace verify PATH",
            code="E_USAGE",
            hint="gait trace verify gait-out/traces",
        )
    path = Path(args.path)
    keys, explicit = _keys(args)
    if path.is_dir():
        report = verify_directory(path, keys, explicit=explicit)
        payload = {
            "ok": report.ok,
            "path": args.path,
            "traces_checked": report.traces_checked,
            "log_entries": report.entries,
            "problems": report.problems,
            "warnings": report.warnings,
        }
        lines = [
            f"trace verify {args.path}: {'ok' if report.ok else 'FAILED'} "
            f"traces={report.traces_checked} log_entries={report.entries}"
        ]
        lines += [f"  {p['kind']}: {p['path']}: {p['detail']}" for p in report.problems]
        lines += [f"  warning {w['kind']}: {w['path']}: {w['detail']}" for w in report.warnings]
        return Outcome(
            {k: v for k, v in payload.items() if v or k == "ok"},
            ExitCode.OK if report.ok else ExitCode.VERIFY_FAILED,
            lines,
        )
    if not path.exists():
        raise InvalidInput(f"no such trace file or directory: {args.path}", code="E_USAGE")
    check = verify_trace_file(path, keys, explicit=explicit)
    status = "verified" if check.ok else ("skipped" if check.skipped else "failed")
    payload = {
        "ok": check.ok,
        "path": args.path,
        "trace_id": check.trace_id,
        "verdict": check.verdict,
        "key_id": check.key_id,
        "signature_status": status,
        "error": check.error,
    }
    payload = {k: v for k, v in payload.items() if v or k == "ok"}
    if not check.ok:
        payload["signature_error"] = payload.pop("error", "signature invalid")
    line = f"trace {check.trace_id or args.path}: signature {status}"
    if check.error:
        line += f" ({check.error})"
    return Outcome(payload, ExitCode.OK if check.ok else ExitCode.VERIFY_FAILED, [line])
