"""``gait keys init|trust|list|rotate``: key files in the reference format, and the trust store."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome
from gait.errors import ExitCode


def register(parser: argparse.ArgumentParser) -> None:
    sub = add_group(parser)
    init = sub.add_parser("init", help="create a signing key pair")
    init.add_argument(
        "--key-mode",
        choices=("dev", "prod"),
        default=None,
        help="dev: the local dev key in GAIT_HOME; otherwise a key pair in --out-dir",
    )
    _add_out_dir(init)
    init.add_argument("--force", action="store_true", help="overwrite existing key files")
    add_common(
        init,
        "Creates a key pair: <prefix>_private.key (mode 0600) and <prefix>_public.key in "
        "--out-dir (default gait-out/keys, prefix gait), and trusts the public key as a "
        "production signer; with --key-mode dev, the local dev key in GAIT_HOME/keys instead. "
        "Warns when the directory is not git-ignored.",
    )
    init.set_defaults(handler=init_keys)

    trust = sub.add_parser("trust", help="add a public key to the trust store")
    trust.add_argument("pubkey", help="public key file (base64, 32 bytes)")
    trust.add_argument(
        "--key-mode",
        choices=("dev", "prod"),
        default="dev",
        help="dev (default) or prod: only prod keys count in production mode",
    )
    trust.add_argument("--label", default="")
    trust.add_argument(
        "--publisher",
        action="append",
        default=[],
        metavar="NAME",
        help="registry publisher this key signs for (repeatable); packs declaring a publisher "
        "are accepted only from keys trusted for it",
    )
    add_common(
        trust, "Adds a public key to GAIT_HOME/keyring.json so signatures by it are trusted."
    )
    trust.set_defaults(handler=trust_key)

    untrust = sub.add_parser("untrust", help="stop trusting a key id")
    untrust.add_argument("key_id")
    add_common(untrust, "Marks a key as untrusted; its signatures still verify but are untrusted.")
    untrust.set_defaults(handler=untrust_key)

    listing = sub.add_parser("list", help="list keys in the trust store")
    add_common(listing, "Lists key ids, modes and status from the trust store; never key material.")
    listing.set_defaults(handler=list_keys)

    rotate = sub.add_parser("rotate", help="create a new prod key; the old one stays trusted")
    _add_out_dir(rotate)
    add_common(
        rotate,
        "Writes a new prod key pair named <prefix>_<UTC time>_*.key in --out-dir, trusts it "
        "and marks the previous active prod key as rotated (still trusted for old artifacts). "
        "Point --private-key at the new file afterwards.",
    )
    rotate.set_defaults(handler=rotate_keys)


def _add_out_dir(parser: argparse.ArgumentParser) -> None:
    """The reference's ``--out-dir DIR --prefix P``; ``--out`` is this project's older name."""
    parser.add_argument(
        "--out-dir",
        "--out",
        dest="out",
        default=None,
        metavar="DIR",
        help="directory for the key files (default gait-out/keys)",
    )
    parser.add_argument("--prefix", default="gait", help="key file name prefix (default gait)")


def _prefix(args: argparse.Namespace) -> str:
    from gait.errors import InvalidInput

    prefix = (args.prefix or "").strip()
    if not prefix or "/" in prefix or "\\" in prefix or prefix in (".", ".."):
        raise InvalidInput(
            f"--prefix {args.prefix!r} must be a plain, non-empty file name prefix",
            code="E_USAGE",
            hint="gait keys init --prefix gait",
        )
    return prefix


def _not_ignored_warning(private_path: Path) -> str | None:
    """Inside a git checkout, a key directory that git would track is a leak waiting to happen."""
    import shutil
    import subprocess

    git = shutil.which("git")
    if git is None:
        return None
    try:
        proc = subprocess.run(
            [git, "check-ignore", "-q", "--no-index", str(private_path.resolve())],
            cwd=private_path.parent,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 1:  # 0 ignored, 128 not a checkout (or git failed)
        return None
    return (
        f"{private_path.parent} is inside a git checkout and not git-ignored: a committed private "
        "key is a leaked key; add the directory to .gitignore (gait init does) or use "
        "--out-dir outside the checkout"
    )


def _entry_json(entry) -> dict:  # noqa: ANN001 - KeyEntry
    return {
        "key_id": entry.key_id,
        "mode": entry.mode,
        "trusted": entry.trusted,
        "status": entry.status,
        "label": entry.label,
        "rotated_to": entry.rotated_to,
        "publishers": list(entry.publishers),
    }


def _write_pair(out: Path, prefix: str, force: bool):  # noqa: ANN202
    from gait.errors import InvalidInput
    from gait.fsutil import atomic_write, create_exclusive
    from gait.sign.keys import SigningKey

    private_path, public_path = out / f"{prefix}_private.key", out / f"{prefix}_public.key"
    if private_path.exists() and not force:
        raise InvalidInput(
            f"{private_path} exists; refusing to overwrite a private key",
            code="E_KEY_EXISTS",
            hint="pass --force, or gait keys rotate",
        )
    key = SigningKey.generate()
    if force:
        atomic_write(private_path, key.to_text().encode(), mode=0o600)
    elif not create_exclusive(private_path, key.to_text().encode(), mode=0o600):
        # another process created it between the check above and now: exactly one wins
        raise InvalidInput(
            f"{private_path} exists; refusing to overwrite a private key",
            code="E_KEY_EXISTS",
            hint="pass --force, or gait keys rotate",
        )
    atomic_write(public_path, key.public().to_text().encode())
    return key, private_path, public_path


def init_keys(args: argparse.Namespace) -> Outcome:
    from gait.sign.keyring import ensure_dev_key, key_mode, trust_key

    # As the reference, a plain `gait keys init` writes a key pair to gait-out/keys; only an
    # explicit dev mode (flag or GAIT_MODE=dev) means the local dev key.
    mode = key_mode(args) if args.key_mode or os.environ.get("GAIT_MODE") else "prod"
    warnings: list[str] = []
    if mode == "dev":
        from gait.errors import InvalidInput
        from gait.sign.keyring import dev_key_paths

        if args.out or args.prefix != "gait":
            raise InvalidInput(
                "--out-dir/--prefix name a key pair to write; the dev key lives in GAIT_HOME/keys",
                code="E_USAGE",
                hint="gait keys init --out-dir DIR (a key pair), or gait keys init --key-mode dev",
            )
        key, created = ensure_dev_key()
        private_path, public_path = dev_key_paths()
    else:
        out = Path(args.out or "gait-out/keys")
        key, private_path, public_path = _write_pair(out, _prefix(args), args.force)
        trust_key(key.public(), mode="prod", label=str(public_path))
        created = True
        warning = _not_ignored_warning(private_path)
        if warning:
            warnings.append(warning)
    payload = {
        "ok": True,
        "mode": mode,
        "key_id": key.key_id,
        "private_key_path": str(private_path),
        "public_key_path": str(public_path),
        "created": created,
    }
    if mode == "prod":
        payload["prefix"] = _prefix(args)  # as the reference reports it
    lines = [
        f"keys={mode} key_id={key.key_id}",
        f"private_key={private_path} (mode 0600, never printed)",
        f"public_key={public_path} (trusted)",
    ]
    if warnings:
        payload["warnings"] = warnings
    return Outcome(payload, ExitCode.OK, lines, warnings)


def trust_key(args: argparse.Namespace) -> Outcome:
    from gait.sign.keyring import trust_key as add
    from gait.sign.keys import VerifyKey, read_key_text

    key = VerifyKey.from_text(read_key_text(args.pubkey, "public key"))
    publishers = sorted({p.strip() for p in args.publisher if p.strip()})
    add(key, mode=args.key_mode, label=args.label or Path(args.pubkey).name, publishers=publishers)
    payload = {"ok": True, "key_id": key.key_id, "mode": args.key_mode, "trusted": True}
    line = f"trusted key_id={key.key_id} mode={args.key_mode}"
    if publishers:
        payload["publishers"] = publishers
        line += f" publishers={','.join(publishers)}"
    return Outcome(payload, ExitCode.OK, [line])


def untrust_key(args: argparse.Namespace) -> Outcome:
    from gait.errors import InvalidInput
    from gait.sign.keyring import update_keyring

    def change(ring) -> None:  # noqa: ANN001
        entry = ring.find(args.key_id)
        if entry is None:
            raise InvalidInput(
                f"key id {args.key_id} is not in the trust store",
                code="E_KEY_NOT_FOUND",
                hint="gait keys list",
            )
        entry.trusted = False

    update_keyring(change)
    return Outcome(
        {"ok": True, "key_id": args.key_id, "trusted": False},
        ExitCode.OK,
        [f"untrusted key_id={args.key_id}"],
    )


def list_keys(args: argparse.Namespace) -> Outcome:
    from gait.sign.keyring import keyring_path, load_keyring

    ring = load_keyring()
    entries = [_entry_json(e) for e in ring.entries]
    lines = [f"trust store: {keyring_path()} ({len(entries)} keys)"]
    lines += [
        f"{e['key_id'][:16]} mode={e['mode']} status={e['status']} "
        f"trusted={'yes' if e['trusted'] else 'no'} {e['label']}".rstrip()
        for e in entries[:10]
    ]
    return Outcome({"ok": True, "keys": entries}, ExitCode.OK, lines)


def rotate_keys(args: argparse.Namespace) -> Outcome:
    from gait import timefmt
    from gait.sign.keyring import KeyEntry, update_keyring

    stamp = timefmt.now()[:19].replace("-", "").replace(":", "") + "Z"
    out = Path(args.out or "gait-out/keys")
    key, private_path, public_path = _write_pair(out, f"{_prefix(args)}_{stamp}", False)
    rotated: list[str] = []

    def change(ring) -> None:  # noqa: ANN001
        for entry in ring.entries:
            if entry.mode == "prod" and entry.status == "active":
                entry.status = "rotated"
                entry.rotated_to = key.key_id
                rotated.append(entry.key_id)
        ring.upsert(
            KeyEntry(
                key_id=key.key_id,
                public_key=key.public().to_text().strip(),
                mode="prod",
                label=str(public_path),
                added_at=timefmt.now(),
            )
        )

    update_keyring(change)
    payload = {
        "ok": True,
        "key_id": key.key_id,
        "rotated": rotated,
        "private_key_path": str(private_path),
        "public_key_path": str(public_path),
    }
    lines = [
        f"rotated to key_id={key.key_id}",
        f"previous keys stay trusted: {len(rotated)}",
        f"private_key={private_path} (mode 0600)",
        f"next: sign with --private-key {private_path} (the old key file is not replaced)",
    ]
    warnings = [w for w in [_not_ignored_warning(private_path)] if w]
    if warnings:
        payload["warnings"] = warnings
    return Outcome(payload, ExitCode.OK, lines, warnings)
