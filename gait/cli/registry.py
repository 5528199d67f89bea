"""``gait registry install|list|verify|pack|sign``: signed local packs."""

from __future__ import annotations

import argparse
from pathlib import Path

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome
from gait.errors import ExitCode
from gait.sign.keyring import add_key_options


def register(parser: argparse.ArgumentParser) -> None:
    sub = add_group(parser)

    install = sub.add_parser("install", help="verify a signed pack and install it")
    install.add_argument("pack", help="pack directory or zip (with registry_pack.json)")
    install.add_argument(
        "--allow-publisher",
        action="append",
        default=[],
        metavar="NAME",
        help="accept only these publishers (repeatable); default: any trusted signer",
    )
    install.add_argument(
        "--allow-downgrade", action="store_true", help="install a lower version on purpose"
    )
    add_key_options(install, signing=False)
    add_common(
        install,
        "Verifies a pack (no path escapes, a signature by a key in your trust store, the "
        "publisher allowlist, every file's SHA-256, no downgrade), then installs it atomically "
        "into GAIT_HOME/registry/<name>/<version>. Refusals exit 2 with an E_REGISTRY_* code.",
    )
    install.set_defaults(handler=install_pack)

    listing = sub.add_parser("list", help="list installed packs")
    add_common(listing, "Lists installed packs: name, version, publisher, digest, signer.")
    listing.set_defaults(handler=list_packs)

    verify = sub.add_parser("verify", help="re-verify an installed pack")
    verify.add_argument("name", help="installed pack name")
    verify.add_argument("--allow-publisher", action="append", default=[], metavar="NAME")
    add_key_options(verify, signing=False)
    add_common(
        verify,
        "Re-checks an installed pack's files and signature against the current trust store. "
        "Exit 0 when intact, 2 with every problem listed when not.",
    )
    verify.set_defaults(handler=verify_pack)

    pack = sub.add_parser("pack", help="write and sign registry_pack.json for a directory")
    pack.add_argument("directory", help="the pack's files (policies, grader config, fixtures)")
    pack.add_argument("--name", required=True, help="pack_name")
    pack.add_argument("--version", required=True, help="pack_version (semantic version)")
    pack.add_argument("--publisher", required=True, help="publisher name")
    pack.add_argument("--type", dest="pack_type", default="", help="pack_type (e.g. policy)")
    pack.add_argument("--description", default="")
    pack.add_argument("--source", default="local", help="source (default local)")
    pack.add_argument("--out", default=None, help="write a zip here instead of into DIRECTORY")
    add_key_options(pack, signing=True)
    add_common(
        pack,
        "Lists every file under DIRECTORY by SHA-256 in registry_pack.json and signs it (dev "
        "key by default; --key-mode prod --private-key PATH for production). Writes the "
        "metadata into DIRECTORY, or a deterministic zip with --out.",
    )
    pack.set_defaults(handler=build_pack)

    sign = sub.add_parser("sign", help="add a signature to a pack's registry_pack.json")
    sign.add_argument("pack", help="pack directory (or its registry_pack.json)")
    add_key_options(sign, signing=True)
    add_common(
        sign,
        "Checks the pack's files against its registry_pack.json, then adds (or replaces) this "
        "key's signature; co-signers' signatures are kept.",
    )
    sign.set_defaults(handler=sign_pack)


def _policy(args: argparse.Namespace):  # noqa: ANN202 - TrustPolicy
    from gait.registry.pack import TrustPolicy
    from gait.sign.keyring import explicit_verify_key, key_mode, load_keyring

    mode = key_mode(args)
    explicit = explicit_verify_key(args)
    ring = load_keyring()
    modes = {e.key_id: e.mode for e in ring.entries}
    keys = (explicit,) if explicit else tuple(ring.trusted_keys())
    publishers = frozenset(p.strip() for p in args.allow_publisher if p.strip())
    bound = {e.key_id: frozenset(e.publishers) for e in ring.entries if e.trusted}
    return TrustPolicy(keys, modes, explicit is not None, mode, publishers, bound)


def install_pack(args: argparse.Namespace) -> Outcome:
    from gait.registry.backend import backend_for
    from gait.registry.store import install

    source = backend_for(args.pack).fetch(args.pack)
    result = install(source, _policy(args), allow_downgrade=args.allow_downgrade)
    doc = result.to_json()
    lines = [
        f"registry {result.status}: {result.name} {result.version} "
        f"publisher={doc['publisher']} files={doc['files']}",
        f"signer={result.verified.signer_key_id[:16]} digest=sha256:{result.verified.pack_digest}",
        f"path={result.path}",
    ]
    warnings = []
    if result.unlisted:
        warnings.append(
            f"{len(result.unlisted)} file(s) not listed in registry_pack.json were not installed"
        )
    return Outcome(doc, ExitCode.OK, lines, warnings)


def list_packs(args: argparse.Namespace) -> Outcome:
    from gait.registry.store import list_installed, registry_root

    packs = list_installed()
    lines = [f"registry {registry_root()}: {len(packs)} pack(s)"]
    lines += [
        f"{p['pack_name']} {p['pack_version']} publisher={p['publisher']} "
        f"signer={p['signer_key_id'][:16]}"
        for p in packs[:10]
    ]
    return Outcome({"ok": True, "packs": packs}, ExitCode.OK, lines)


def verify_pack(args: argparse.Namespace) -> Outcome:
    from gait.registry.store import verify_installed

    report = verify_installed(args.name, _policy(args))
    doc = report.to_json()
    if report.ok:
        lines = [f"registry verify=ok {report.name} {report.version}"]
        return Outcome(doc, ExitCode.OK, lines)
    lines = [f"registry verify=failed {report.name} {report.version}"]
    lines += [f"{p['code']}: {p['message']}"[:200] for p in report.problems[:8]]
    return Outcome(doc, ExitCode.VERIFY_FAILED, lines)


def _files_under(root: Path) -> dict[str, bytes]:
    from gait.registry.backend import METADATA, escape_error

    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            raise escape_error(rel, "symbolic link", str(root))
        if path.is_file() and rel != METADATA:
            files[rel] = path.read_bytes()
    return files


def _bind_local_signer(key, publisher: str) -> None:  # noqa: ANN001 - SigningKey
    """Signing with the local dev key binds it to the publisher in this trust store, so a
    local pack/install round trip works with --allow-publisher; other keys are bound only by
    ``gait keys trust --publisher`` (who holds a key is not for the signer to declare)."""
    from gait.sign.keyring import bind_publisher, local_dev_key_id

    if key.key_id == local_dev_key_id():
        bind_publisher(key.key_id, publisher)


def build_pack(args: argparse.Namespace) -> Outcome:
    from gait.errors import InvalidInput
    from gait.fsutil import atomic_write
    from gait.registry.backend import METADATA
    from gait.registry.pack import add_signature, build_metadata, metadata_bytes, zip_members
    from gait.runpack.archive import zip_bytes
    from gait.sign.keyring import resolve_signing_key

    root = Path(args.directory)
    if not root.is_dir():
        raise InvalidInput(f"not a directory: {args.directory}", code="E_USAGE")
    files = _files_under(root)
    if not files:
        raise InvalidInput(f"{args.directory} holds no files to pack", code="E_USAGE")
    key, mode, warnings = resolve_signing_key(args)
    _bind_local_signer(key, args.publisher)
    meta = build_metadata(
        files,
        name=args.name,
        version=args.version,
        publisher=args.publisher,
        source=args.source,
        pack_type=args.pack_type,
        description=args.description,
    )
    signed = add_signature(meta, key)
    if args.out:
        out = atomic_write(args.out, zip_bytes(zip_members(signed, files)))
    else:
        out = atomic_write(root / METADATA, metadata_bytes(signed))
    from gait.registry.pack import pack_digest

    doc = {
        "ok": True,
        "pack_name": args.name,
        "pack_version": args.version,
        "publisher": args.publisher,
        "files": len(files),
        "pack_digest": pack_digest(signed),
        "signer_key_id": key.key_id,
        "signer_mode": mode,
        "path": str(out),
    }
    lines = [
        f"pack {args.name} {args.version}: {len(files)} file(s) signed by {key.key_id[:16]} "
        f"({mode})",
        f"wrote {out}",
        f"next: gait registry install {out}",
    ]
    return Outcome(doc, ExitCode.OK, lines, warnings)


def sign_pack(args: argparse.Namespace) -> Outcome:
    from gait.fsutil import atomic_write
    from gait.registry.backend import METADATA, LocalBackend
    from gait.registry.pack import (
        add_signature,
        check_digests,
        check_paths,
        metadata_bytes,
        pack_digest,
        parse_metadata,
    )
    from gait.sign.keyring import resolve_signing_key

    root = Path(args.pack)
    if root.name == METADATA:
        root = root.parent
    source = LocalBackend().fetch(str(root))
    meta = parse_metadata(source.metadata, str(root))
    check_paths(meta, str(root))
    check_digests(meta, source.files, str(root))
    key, mode, warnings = resolve_signing_key(args)
    _bind_local_signer(key, meta["publisher"])
    signed = add_signature(meta, key)
    out = atomic_write(root / METADATA, metadata_bytes(signed))
    doc = {
        "ok": True,
        "pack_name": meta["pack_name"],
        "pack_version": meta["pack_version"],
        "pack_digest": pack_digest(signed),
        "signer_key_id": key.key_id,
        "signer_mode": mode,
        "signatures": len(signed["signatures"]),
        "path": str(out),
    }
    lines = [f"signed {out} with {key.key_id[:16]} ({mode}); {doc['signatures']} signature(s)"]
    return Outcome(doc, ExitCode.OK, lines, warnings)
