"""``gait verify session-chain --chain FILE`` and ``gait verify chain --run --trace --pack``.

Routed here by ``gait.cli.main`` when ``verify``'s first word is ``session-chain`` or ``chain``,
so ``gait verify <runpack>`` keeps its own parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome
from gait.errors import ExitCode

SESSION_EXPLAIN = (
    "gait verify session-chain checks a session chain file: checkpoint indexes without gaps, "
    "each prev_checkpoint_digest naming the checkpoint before it, checkpoint digests, sequence "
    "ranges, and every checkpoint runpack against the manifest digest the chain recorded. "
    "Exit 0 ok, 2 with the failing link named."
)
CHAIN_EXPLAIN = (
    "gait verify chain gives one verdict over a run (--run), the gate traces of that run "
    "(--trace, repeatable: files or directories) and its evidence pack (--pack: a PackSpec "
    "pack, guard evidence pack or runpack), and checks that the pack holds that very run."
)


def _keys(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=("standard", "strict"), default="standard")
    parser.add_argument("--require-signature", action="store_true")
    parser.add_argument("--public-key", metavar="PATH")
    parser.add_argument("--public-key-env", metavar="VAR")
    parser.add_argument("--private-key", metavar="PATH", help="derive the public key")
    parser.add_argument("--private-key-env", metavar="VAR")


def register(parser: argparse.ArgumentParser) -> None:
    sub = add_group(parser)
    sc = sub.add_parser("session-chain", help="verify a session checkpoint chain")
    sc.add_argument("--chain", required=True)
    _keys(sc)
    add_common(sc, SESSION_EXPLAIN)
    sc.set_defaults(handler=session_chain)

    ch = sub.add_parser("chain", help="one verdict over a run, its traces and its pack")
    ch.add_argument("--run", required=True, help="run id or runpack path")
    ch.add_argument("--trace", action="append", default=[], help="trace file or directory")
    ch.add_argument("--pack", help="evidence pack of the run")
    _keys(ch)
    add_common(ch, CHAIN_EXPLAIN)
    ch.set_defaults(handler=chain)


def _key_choice(args: argparse.Namespace) -> tuple[list[Any], bool, bool]:
    from gait.errors import InvalidInput
    from gait.sign.keyring import load_keyring, verify_key_from

    require = args.require_signature or args.profile == "strict"
    explicit = verify_key_from(args.public_key, args.public_key_env, "public key") or (
        verify_key_from(args.private_key, args.private_key_env, "private key")
    )
    if args.profile == "strict" and explicit is None:
        raise InvalidInput(
            "strict verify profile requires --public-key/--public-key-env or a private key",
            code="E_USAGE",
            hint="add --public-key gait_public.key",
        )
    if explicit is not None:
        return [explicit], True, require
    return list(load_keyring().trusted_keys()), False, require


def session_chain(args: argparse.Namespace) -> Outcome:
    from gait.runpack.session import verify_chain

    keys, explicit, require = _key_choice(args)
    report = verify_chain(args.chain, keys=keys, explicit_keys=explicit, require_signature=require)
    payload = report.to_json()
    if report.ok:
        lines = [
            f"verify session-chain: ok ({args.chain}) checkpoints={report.checkpoints_checked}"
        ]
    else:
        lines = [f"verify session-chain failed: {args.chain}"]
        lines += [
            f"{report.error_code()}: {e}" for e in report.linkage_errors + report.checkpoint_errors
        ]
        lines.append(f"next=gait run session status --journal <journal of {report.session_id}>")
    return Outcome(payload, ExitCode.OK if report.ok else ExitCode.VERIFY_FAILED, lines)


def _trace_files(paths: list[str]) -> list[Path]:
    from gait.errors import InvalidInput

    files: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            files += sorted(p for p in path.rglob("trace_*.json") if p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise InvalidInput(f"no such trace file or directory: {text}", code="E_USAGE")
    return files


def chain(args: argparse.Namespace) -> Outcome:
    from gait.gate.trace import verify_trace_file
    from gait.pack.spec import PackVerifyOptions, verify_pack
    from gait.runpack.resolve import resolve
    from gait.runpack.verify import VerifyOptions, verify_runpack

    keys, explicit, require = _key_choice(args)
    failures: list[tuple[str, str]] = []
    run_path = resolve(args.run)
    run = verify_runpack(
        run_path,
        VerifyOptions(keys=tuple(keys), explicit_keys=explicit, require_signature=require),
    )
    if not run.ok:
        failures.append(("E_CHAIN_RUN_INVALID", f"run {args.run}: {', '.join(run.error_codes)}"))
    run_doc = run.to_json()
    trace_docs = []
    for path in _trace_files(args.trace):
        check = verify_trace_file(path, keys, explicit=explicit)
        ok = check.ok or (check.skipped and not require)
        trace_docs.append(
            {"path": str(path), "ok": ok, "trace_id": check.trace_id, "verdict": check.verdict}
        )
        if not ok:
            failures.append(("E_CHAIN_TRACE_INVALID", f"trace {path}: {check.error or 'invalid'}"))
        trace_run = _trace_run_id(path)
        if trace_run and trace_run != run.run_id:
            trace_docs[-1]["ok"] = False
            failures.append(
                (
                    "E_CHAIN_TRACE_MISMATCH",
                    f"trace {path} belongs to run {trace_run}, not {run.run_id}",
                )
            )
    payload: dict[str, Any] = {"run": run_doc}
    if trace_docs:
        payload["traces"] = trace_docs
    if args.pack:
        result = verify_pack(
            args.pack,
            PackVerifyOptions(keys=tuple(keys), explicit_keys=explicit, require_signature=require),
        )
        pack_ok = result.ok(require)
        payload["pack"] = {"ok": pack_ok, "path": args.pack, **result.to_json()}
        if not pack_ok:
            failures.append((result.error_code(), f"pack {args.pack}: {result.failing_link()}"))
        holds = _pack_holds_run(args.pack, run.manifest_digest, run.run_id)
        payload["pack"]["holds_run"] = holds
        if not holds:
            failures.append(
                ("E_CHAIN_PACK_MISMATCH", f"pack {args.pack} does not hold run {run.run_id}")
            )
    ok = not failures
    payload["ok"] = ok
    if failures:
        payload["error_code"] = failures[0][0]
        payload["failing_link"] = failures[0][1]
        payload["failures"] = [{"code": c, "detail": d} for c, d in failures]
    lines = [f"verify chain: {'ok' if ok else 'FAILED'} run={run.run_id} traces={len(trace_docs)}"]
    lines += [f"{code}: {detail}" for code, detail in failures]
    if not ok:
        lines.append(f"next=gait verify {args.run} --json")
    return Outcome(payload, ExitCode.OK if ok else ExitCode.VERIFY_FAILED, lines)


def _pack_holds_run(pack: str, manifest_digest: str, run_id: str) -> bool:
    """True when the pack embeds (or is) the runpack with that manifest digest."""
    from gait.errors import GaitError
    from gait.pack.zipread import read_zip

    try:
        members = read_zip(pack)
    except GaitError:
        return False
    if "pack_manifest.json" not in members.data:
        return _manifest_digest(members.data.get("manifest.json", b"")) == manifest_digest
    for name, data in members.data.items():
        if name.endswith(".zip"):
            try:
                from gait.pack.zipread import read_zip_bytes

                inner = read_zip_bytes(data, what=name)
            except GaitError:
                continue
            if _manifest_digest(inner.data.get("manifest.json", b"")) == manifest_digest:
                return True
    return False


def _trace_run_id(path: Path) -> str:
    """The run a trace names (its context's run_id), if it names one."""
    import json

    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return ""
    return str(doc.get("run_id") or "") if isinstance(doc, dict) else ""


def _manifest_digest(raw: bytes) -> str:
    import json

    try:
        doc = json.loads(raw)
    except ValueError:
        return ""
    return str(doc.get("manifest_digest", "")) if isinstance(doc, dict) else ""
