"""``gait pack build|verify|inspect|diff|export`` (PackSpec v1, the reference's flags)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome
from gait.errors import ExitCode

OUTPUT_SCHEMA = {"schema_id": "gait.pack.output", "schema_version": "1.0.0"}
BUILD_EXPLAIN = (
    "gait pack build wraps a runpack (--type run --from RUN), a gate authorization bundle "
    "(--type authorization --from authorization_bundle.json) or a voice call record and its "
    "runpack (--type call --from call_record.json) in a PackSpec v1 pack "
    "pack_<pack_id>.zip that the reference implementation verifies too. --key-mode none (the "
    "default) leaves it unsigned unless --private-key/--private-key-env is given; dev signs "
    "with the local dev key; prod needs an explicit key. --type job is refused (E_PACK_TYPE_"
    "UNSUPPORTED): it needs the reference's job runtime."
)
VERIFY_EXPLAIN = (
    "gait pack verify checks a pack offline: manifest schema and pack_id, every member's "
    "SHA-256, members the manifest does not list, the payload contract of its type and the "
    "signature. It also verifies plain runpacks and guard evidence packs. Exit 0 ok, 2 failed."
)
INSPECT_EXPLAIN = "gait pack inspect prints a pack's manifest, payload and run lineage."
DIFF_EXPLAIN = (
    "gait pack diff compares two packs (or runpacks) member by member: added, removed and "
    "changed files, manifest delta and context drift. Exit 0 same, 2 changed."
)
EXPORT_EXPLAIN = (
    "gait pack export verifies a pack and writes OTEL-style JSON lines (--otel-out, appended) "
    "and/or PostgreSQL upsert SQL for a pack index (--postgres-sql-out)."
)


def _key_flags(parser: argparse.ArgumentParser, *, signing: bool) -> None:
    if signing:
        parser.add_argument("--key-mode", choices=("none", "dev", "prod"), default="none")
    parser.add_argument("--private-key", metavar="PATH", help="private key file (base64)")
    parser.add_argument("--private-key-env", metavar="VAR", help="variable holding the key")
    if not signing:
        parser.add_argument("--public-key", metavar="PATH", help="public key file")
        parser.add_argument("--public-key-env", metavar="VAR", help="variable holding it")


def register(parser: argparse.ArgumentParser) -> None:
    sub = add_group(parser)

    bld = sub.add_parser("build", help="build a PackSpec v1 pack")
    bld.add_argument("source", nargs="?", help="same as --from")
    bld.add_argument("--type", dest="pack_type", default="run", help="run|call|authorization")
    bld.add_argument("--from", dest="from_ref", help="run id, runpack path or bundle path")
    bld.add_argument("--out", metavar="PATH", help="output path (default pack_<pack_id>.zip)")
    bld.add_argument("--job-root", default="./gait-out/jobs", help=argparse.SUPPRESS)
    _key_flags(bld, signing=True)
    add_common(bld, BUILD_EXPLAIN)
    bld.set_defaults(handler=build)

    ver = sub.add_parser("verify", help="verify a pack, runpack or guard evidence pack")
    ver.add_argument("pack", nargs="?", help="pack zip")
    ver.add_argument("--path", dest="path_flag", help="same as the positional pack")
    ver.add_argument("--profile", choices=("standard", "strict"), default="standard")
    ver.add_argument("--require-signature", action="store_true")
    _key_flags(ver, signing=False)
    add_common(ver, VERIFY_EXPLAIN)
    ver.set_defaults(handler=verify)

    ins = sub.add_parser("inspect", help="show what a pack holds")
    ins.add_argument("pack", nargs="?", help="pack zip")
    ins.add_argument("--path", dest="path_flag")
    add_common(ins, INSPECT_EXPLAIN)
    ins.set_defaults(handler=inspect)

    dif = sub.add_parser("diff", help="compare two packs")
    dif.add_argument("left")
    dif.add_argument("right")
    dif.add_argument("--output", metavar="PATH", help="write the diff JSON here")
    add_common(dif, DIFF_EXPLAIN)
    dif.set_defaults(handler=diff)

    exp = sub.add_parser("export", help="export pack metadata to OTEL JSONL or PostgreSQL SQL")
    exp.add_argument("pack", nargs="?")
    exp.add_argument("--path", dest="path_flag")
    exp.add_argument("--otel-out", metavar="PATH")
    exp.add_argument("--postgres-sql-out", metavar="PATH")
    exp.add_argument("--postgres-table", default="gait_pack_index")
    exp.add_argument(
        "--postgres-include-ddl",
        default="true",
        choices=("true", "false"),
        help="include CREATE TABLE/INDEX (default true)",
    )
    add_common(exp, EXPORT_EXPLAIN)
    exp.set_defaults(handler=export)


def _out(payload: dict[str, Any]) -> dict[str, Any]:
    return {**OUTPUT_SCHEMA, **payload}


def _path_arg(args: argparse.Namespace) -> str:
    from gait.errors import InvalidInput

    value = args.path_flag or args.pack
    if not value:
        raise InvalidInput(
            "expected <pack.zip>", code="E_USAGE", hint="gait pack verify <pack.zip>"
        )
    return value


def signing_key_for(args: argparse.Namespace) -> tuple[Any, str, list[str]]:
    """(key or None, mode, warnings) for pack-like builds: none | dev | prod."""
    from gait.sign.keyring import DEV_WARNING, dev_signing_key, explicit_signing_key, load_keyring

    mode = args.key_mode
    key = explicit_signing_key(args)
    if mode == "none":
        return key, ("prod" if key else "none"), []
    if mode == "dev":
        if key is not None:
            return key, "dev", []
        return dev_signing_key(), "dev", [DEV_WARNING]
    from gait.errors import InvalidInput, SigningKeyRequired

    if key is None:
        raise SigningKeyRequired(
            "--key-mode prod needs a signing key",
            code="E_SIGN_KEY_REQUIRED",
            hint="pass --private-key PATH or --private-key-env VAR",
        )
    entry = load_keyring().find(key.key_id)
    if entry is not None and entry.mode == "dev":
        raise InvalidInput(
            "production mode refuses a dev key",
            code="E_SIGN_DEV_KEY_IN_PROD",
            hint="gait keys init --key-mode prod",
        )
    return key, "prod", []


def _resolve_run(ref: str) -> Path:
    from gait.runpack.resolve import resolve

    return resolve(ref)


def build(args: argparse.Namespace) -> Outcome:
    from gait.errors import InvalidInput
    from gait.pack.spec import build_authorization_pack, build_call_pack, build_run_pack

    source = args.from_ref or args.source
    if not source:
        raise InvalidInput("--from is required", code="E_USAGE", hint="gait pack build --from RUN")
    kind = args.pack_type.strip().lower()
    if kind == "job":
        raise InvalidInput(
            "--type job needs the reference's durable job runtime (not in this project)",
            code="E_PACK_TYPE_UNSUPPORTED",
            hint="build a run pack instead: gait pack build --type run --from <run_id>",
        )
    if kind not in ("run", "call", "authorization"):
        raise InvalidInput(
            "--type must be run, call or authorization",
            code="E_USAGE",
            hint="gait pack build --help",
        )
    key, mode, warnings = signing_key_for(args)
    if kind == "run":
        from gait.runpack.session import is_chain_ref, resolve_checkpoint

        path = resolve_checkpoint(source) if is_chain_ref(source) else _resolve_run(source)
        built = build_run_pack(path, out=args.out, key=key)
    elif kind == "call":
        record = Path(source)
        if not record.is_file():
            raise InvalidInput(
                f"call record not found: {source}",
                code="E_PACK_NOT_FOUND",
                hint="gait pack build --type call --from call_record.json",
            )
        built = build_call_pack(record, out=args.out, key=key)
    else:
        bundle = Path(source)
        if not bundle.is_file():
            raise InvalidInput(f"authorization bundle not found: {source}", code="E_PACK_NOT_FOUND")
        built = build_authorization_pack(bundle, out=args.out, key=key)
    payload = _out(
        {
            "ok": True,
            "operation": "build",
            "path": str(built.path),
            "pack_id": built.manifest["pack_id"],
            "pack_type": built.manifest["pack_type"],
            "source_ref": built.manifest["source_ref"],
            "signing_mode": mode,
        }
    )
    if key is not None:
        payload["signature_key_id"] = key.key_id
    if warnings:
        payload["warnings"] = warnings
    lines = [
        f"pack build ok: {built.path} ({built.manifest['pack_type']})",
        f"pack_id={built.manifest['pack_id']}",
        f"signed={'yes key_id=' + key.key_id[:16] if key else 'no'}",
        f"next=gait pack verify {built.path}",
    ]
    return Outcome(payload, ExitCode.OK, lines, warnings)


def verify_options(args: argparse.Namespace) -> tuple[Any, bool]:
    from gait.errors import InvalidInput
    from gait.pack.spec import PackVerifyOptions
    from gait.sign.keyring import load_keyring, verify_key_from

    require = args.require_signature or args.profile == "strict"
    explicit = verify_key_from(args.public_key, args.public_key_env, "public key") or (
        verify_key_from(args.private_key, args.private_key_env, "private key")
    )
    if args.profile == "strict" and explicit is None:
        raise InvalidInput(
            "strict verify profile requires --public-key/--public-key-env or a private key source",
            code="E_USAGE",
            hint="gait pack verify <pack.zip> --profile strict --public-key gait_public.key",
        )
    if explicit is not None:
        return PackVerifyOptions(
            keys=(explicit,), explicit_keys=True, require_signature=require
        ), require
    keys = tuple(load_keyring().trusted_keys())
    return PackVerifyOptions(keys=keys, explicit_keys=False, require_signature=require), require


def verify(args: argparse.Namespace) -> Outcome:
    from gait.pack.spec import verify_pack

    target = _path_arg(args)
    opts, require = verify_options(args)
    result = verify_pack(target, opts)
    ok = result.ok(require)
    payload = _out(
        {
            "ok": ok,
            "operation": "verify",
            "path": target,
            "pack_id": result.pack_id,
            "pack_type": result.pack_type,
            "source_ref": result.source_ref,
            "verify": result.to_json(),
        }
    )
    if not ok:
        payload["error_code"] = result.error_code()
        payload["failing_link"] = result.failing_link()
    lines = [
        f"pack verify {'ok' if ok else 'failed'}: {target} ({result.pack_type or '?'})",
        f"pack_id={result.pack_id} files_checked={result.files_checked} "
        f"signature={result.signature_status}",
    ]
    if not ok:
        lines.append(f"{result.error_code()}: {result.failing_link()}")
        lines.append(f"next=gait pack inspect {target}")
    return Outcome(payload, ExitCode.OK if ok else ExitCode.VERIFY_FAILED, lines)


def inspect(args: argparse.Namespace) -> Outcome:
    from gait.pack.spec import inspect_pack

    target = _path_arg(args)
    result = inspect_pack(target)
    payload = _out(
        {
            "ok": True,
            "operation": "inspect",
            "path": target,
            "pack_id": result.get("pack_id", ""),
            "pack_type": result.get("pack_type", ""),
            "source_ref": result.get("source_ref", ""),
            "inspect": result,
        }
    )
    lines = [f"pack inspect ok: {result.get('pack_id', '')} ({result.get('pack_type', '')})"]
    lines.append(f"source_ref={result.get('source_ref', '')}")
    manifest = result.get("manifest")
    if isinstance(manifest, dict):
        for entry in manifest.get("contents", [])[:8]:
            lines.append(f"  {entry['path']} sha256:{entry['sha256'][:16]}")
    return Outcome(payload, ExitCode.OK, lines)


def diff(args: argparse.Namespace) -> Outcome:
    from gait.canon import canonical_bytes
    from gait.fsutil import atomic_write
    from gait.pack.spec import diff_packs

    result = diff_packs(args.left, args.right)
    if args.output:
        atomic_write(args.output, canonical_bytes(result))
    changed = result["summary"]["changed"]
    payload = _out({"ok": not changed, "operation": "diff", "diff": {"Result": result}})
    if args.output:
        payload["path"] = args.output
    summary = result["summary"]
    lines = [f"pack diff {'changed' if changed else 'ok'}"]
    for key in ("added_files", "removed_files", "changed_files"):
        if summary.get(key):
            lines.append(f"{key}={','.join(summary[key])}")
    lines.append(f"context_drift={summary['context_drift_classification']}")
    return Outcome(payload, ExitCode.VERIFY_FAILED if changed else ExitCode.OK, lines)


def export(args: argparse.Namespace) -> Outcome:
    from gait.errors import InvalidInput
    from gait.fsutil import atomic_write
    from gait.pack.export import append_otel, export_record, postgres_sql

    target = _path_arg(args)
    if not args.otel_out and not args.postgres_sql_out:
        raise InvalidInput(
            "at least one export output is required (--otel-out or --postgres-sql-out)",
            code="E_USAGE",
            hint="gait pack export <pack.zip> --otel-out pack.otel.jsonl",
        )
    record = export_record(target)
    sql = None
    if args.postgres_sql_out:
        sql = postgres_sql(
            record, table=args.postgres_table, ddl=args.postgres_include_ddl == "true"
        )
    if args.otel_out:
        append_otel(args.otel_out, record)
    if sql is not None:
        atomic_write(args.postgres_sql_out, sql.encode(), mode=0o600)
    payload = _out(
        {
            "ok": True,
            "operation": "export",
            "path": target,
            "pack_id": record["pack_id"],
            "pack_type": record["pack_type"],
            "source_ref": record["source_ref"],
            "export": record,
        }
    )
    if args.otel_out:
        payload["otel_path"] = args.otel_out
    if args.postgres_sql_out:
        payload["postgres_sql_path"] = args.postgres_sql_out
    lines = [f"pack export ok: {target}"]
    if args.otel_out:
        lines.append(f"otel: {args.otel_out}")
    if args.postgres_sql_out:
        lines.append(f"postgres_sql: {args.postgres_sql_out}")
    return Outcome(payload, ExitCode.OK, lines)
