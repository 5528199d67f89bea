"""``gait guard pack|verify|retain|encrypt|decrypt`` (the reference's flags) and
``gait incident pack`` (in gait.cli.incident)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome
from gait.errors import ExitCode

PACK_EXPLAIN = (
    "gait guard pack --run RUN builds evidence_pack_<id>.zip for one run: runpack summary, "
    "the runpack itself, gate traces (--trace), regress results (--regress), approval audits "
    "and credential evidence (--approval-audit, --credential-evidence; found beside the "
    "runpack when not given), inventory snapshots (--inventory), a control index for "
    "--template soc2|pci|incident_response, an HTML report and with --render-pdf a PDF report. "
    "Signed with the dev key by default (--key-mode dev), or --key-mode prod --private-key."
)
VERIFY_EXPLAIN = (
    "gait guard verify checks an evidence pack offline: every listed member's SHA-256, members "
    "not listed, the pack id and the manifest signature. Exit 0 ok, 2 failed."
)
RETAIN_EXPLAIN = (
    "gait guard retain deletes trace_*.json older than --trace-ttl and evidence/incident packs "
    "older than --pack-ttl under --root, writing the retention report (--report-out) before "
    "deleting; --dry-run deletes nothing and reports what would go."
)
CRYPT_EXPLAIN = (
    "gait guard encrypt|decrypt seals an artifact with AES-256-GCM. The 32-byte key (base64) "
    "comes from --key-env VAR or from the output of --key-command CMD (--key-command-args a,b). "
    "A wrong key or an edited file fails with E_GUARD_DECRYPT_FAILED and writes nothing."
)

# guard verify reports pack verification failures under its own names (gait/error_codes.py).
_GUARD_CODES = {
    "E_PACK_MEMBER_MISSING": "E_GUARD_MEMBER_MISSING",
    "E_PACK_HASH_MISMATCH": "E_GUARD_HASH_MISMATCH",
    "E_PACK_UNDECLARED_MEMBER": "E_GUARD_UNDECLARED_MEMBER",
    "E_PACK_SIGNATURE_INVALID": "E_GUARD_SIGNATURE_INVALID",
    "E_PACK_SIGNATURE_REQUIRED": "E_GUARD_SIGNATURE_REQUIRED",
}


def _csv(values: list[str], pattern: str = "*.json") -> list[Path]:
    """Comma-separated paths; a directory stands for its files matching ``pattern``."""
    out: set[Path] = set()
    for value in values:
        for part in (p.strip() for p in value.split(",")):
            if part:
                path = Path(part)
                out.update(path.rglob(pattern) if path.is_dir() else [path])
    return sorted(out)


def add_pack_inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--case-id", default="")
    parser.add_argument("--render-pdf", action="store_true", help="also draw summary.pdf")
    parser.add_argument("--pdf-font", help="TrueType font for text outside Latin-1")
    parser.add_argument("--key-mode", choices=("dev", "prod"), default=None)
    parser.add_argument("--private-key", metavar="PATH")
    parser.add_argument("--private-key-env", metavar="VAR")


def register(parser: argparse.ArgumentParser) -> None:
    sub = add_group(parser)
    pk = sub.add_parser("pack", help="build an evidence pack for one run")
    pk.add_argument("--run", required=True, help="run id or runpack path")
    pk.add_argument("--out", help="output path (default evidence_pack_<id>.zip beside the run)")
    for flag in ("inventory", "trace", "regress", "approval-audit", "credential-evidence"):
        pk.add_argument(f"--{flag}", action="append", default=[], help="paths, comma-separated")
    pk.add_argument("--template", default="soc2", help="soc2 | pci | incident_response")
    pk.add_argument("--no-html", action="store_true", help="leave out summary.html")
    add_pack_inputs(pk)
    add_common(pk, PACK_EXPLAIN)
    pk.set_defaults(handler=pack)

    ver = sub.add_parser("verify", help="verify an evidence pack")
    ver.add_argument("pack", nargs="?")
    ver.add_argument("--path", dest="path_flag")
    ver.add_argument("--profile", choices=("standard", "strict"), default="standard")
    ver.add_argument("--require-signature", action="store_true")
    for flag in ("public-key", "public-key-env", "private-key", "private-key-env"):
        ver.add_argument(f"--{flag}")
    add_common(ver, VERIFY_EXPLAIN)
    ver.set_defaults(handler=verify)

    ret = sub.add_parser("retain", help="delete expired traces and packs, with a report")
    ret.add_argument("--root", default=".")
    ret.add_argument("--trace-ttl", default="168h")
    ret.add_argument("--pack-ttl", default="720h")
    ret.add_argument("--report-out")
    ret.add_argument("--dry-run", action="store_true")
    add_common(ret, RETAIN_EXPLAIN)
    ret.set_defaults(handler=retain)

    for name, handler in (("encrypt", encrypt), ("decrypt", decrypt)):
        cmd = sub.add_parser(name, help=f"{name} an artifact (AES-256-GCM)")
        cmd.add_argument("--in", dest="input", required=True)
        cmd.add_argument("--out")
        cmd.add_argument("--key-env")
        cmd.add_argument("--key-command")
        cmd.add_argument("--key-command-args", default="")
        add_common(cmd, CRYPT_EXPLAIN)
        cmd.set_defaults(handler=handler)


def guard_signing_key(args: argparse.Namespace) -> tuple[Any, str, list[str]]:
    from gait.sign.keyring import resolve_signing_key

    return resolve_signing_key(args)


def pack(args: argparse.Namespace) -> Outcome:
    from gait.guard.pack import GuardInputs, build_guard_pack
    from gait.runpack.resolve import resolve

    runpack = resolve(args.run)
    key, mode, warnings = guard_signing_key(args)
    path, manifest, render_warnings = build_guard_pack(
        GuardInputs(
            runpack=runpack,
            traces=_csv(args.trace, "trace_*.json"),
            regress=_csv(args.regress),
            approval_audits=_csv(args.approval_audit, "approval_audit_*.json"),
            credential_evidence=_csv(args.credential_evidence),
            inventory=_csv(args.inventory),
            case_id=args.case_id,
            template=args.template,
            render_pdf=args.render_pdf,
            render_html=not args.no_html,
            pdf_font=args.pdf_font,
        ),
        out=args.out,
        key=key,
    )
    return _built(path, manifest, mode, key, warnings + render_warnings)


def _built(
    path: Path, manifest: dict[str, Any], mode: str, key: Any, warnings: list[str]
) -> Outcome:
    payload: dict[str, Any] = {
        "ok": True,
        "pack_path": str(path),
        "pack_id": manifest["pack_id"],
        "run_id": manifest["run_id"],
        "template_id": manifest.get("template_id", ""),
        "controls": len(manifest.get("control_index", [])),
        "rendered_artifacts": len(manifest.get("rendered_artifacts", [])),
        "signing_mode": mode,
        "signature_key_id": key.key_id,
    }
    if warnings:
        payload["warnings"] = warnings
    lines = [
        f"evidence pack: {path}",
        f"pack_id={manifest['pack_id']} run_id={manifest['run_id']} "
        f"template={manifest.get('template_id', '')} signed_by={key.key_id[:16]} ({mode})",
    ]
    for item in manifest.get("rendered_artifacts", []):
        lines.append(f"report={item['path']} sha256:{item['sha256'][:16]}")
    lines.append(f"next=gait guard verify {path}")
    return Outcome(payload, ExitCode.OK, lines, warnings)


def verify(args: argparse.Namespace) -> Outcome:
    from gait.cli.pack import verify_options
    from gait.errors import InvalidInput
    from gait.pack.spec import verify_pack

    target = args.path_flag or args.pack
    if not target:
        raise InvalidInput("expected <evidence_pack.zip>", code="E_USAGE")
    opts, require = verify_options(args)
    result = verify_pack(target, opts)
    ok = result.ok(require)
    payload: dict[str, Any] = {"ok": ok, "path": target, "pack_id": result.pack_id}
    payload["run_id"] = result.source_ref
    payload.update(result.to_json())
    payload.pop("source_ref", None)
    if not ok:
        payload["error_code"] = _GUARD_CODES[result.error_code()]
        payload["failing_link"] = result.failing_link()
    lines = [
        f"guard verify {'ok' if ok else 'failed'}: {target}",
        f"pack_id={result.pack_id} run_id={result.source_ref} files_checked="
        f"{result.files_checked} signature={result.signature_status}",
    ]
    if not ok:
        lines.append(f"{payload['error_code']}: {payload['failing_link']}")
    return Outcome(payload, ExitCode.OK if ok else ExitCode.VERIFY_FAILED, lines)


def retain(args: argparse.Namespace) -> Outcome:
    from gait.guard.retain import apply_retention, parse_duration

    report = apply_retention(
        Path(args.root),
        trace_ttl=parse_duration(args.trace_ttl, "--trace-ttl"),
        pack_ttl=parse_duration(args.pack_ttl, "--pack-ttl"),
        dry_run=args.dry_run,
        report_out=Path(args.report_out) if args.report_out else None,
    )
    payload = {"ok": True, **report}
    verb = "would delete" if args.dry_run else "deleted"
    lines = [f"retention: {verb} {len(report['deleted_files'])} of {report['scanned_files']} files"]
    lines += [
        f"  {verb}: {e['path']} ({e['kind']}, {e['age_seconds']}s old)"
        for e in report["deleted_files"][:10]
    ]
    return Outcome(payload, ExitCode.OK, lines)


def encrypt(args: argparse.Namespace) -> Outcome:
    from gait.guard.crypto import encrypt as seal
    from gait.guard.crypto import resolve_key

    key, source = resolve_key(args.key_env, args.key_command, args.key_command_args.split(","))
    path, artifact = seal(Path(args.input), Path(args.out) if args.out else None, key, source)
    payload = {
        "ok": True,
        "path": str(path),
        "algorithm": artifact["algorithm"],
        "plain_sha256": artifact["plain_sha256"],
        "plain_size": artifact["plain_size"],
        "key_mode": source["mode"],
        "key_ref": source.get("ref", ""),
    }
    return Outcome(
        payload, ExitCode.OK, [f"encrypted: {path} (aes-256-gcm, key from {source['mode']})"]
    )


def decrypt(args: argparse.Namespace) -> Outcome:
    from gait.guard.crypto import decrypt as open_
    from gait.guard.crypto import resolve_key

    key, _source = resolve_key(args.key_env, args.key_command, args.key_command_args.split(","))
    path, doc = open_(Path(args.input), Path(args.out) if args.out else None, key)
    payload = {
        "ok": True,
        "path": str(path),
        "plain_sha256": doc["plain_sha256"],
        "plain_size": doc["plain_size"],
    }
    return Outcome(payload, ExitCode.OK, [f"decrypted: {path} sha256:{doc['plain_sha256'][:16]}"])
