"""``gait verify <run_id|path>``."""

from __future__ import annotations

from gait.cli.main import add_common
from gait.cli.output import Outcome
from gait.sign.keyring import add_key_options

TYPE_CHECKING = False
if TYPE_CHECKING:  # a plain command line is read without argparse (gait.cli.fastparse)
    import argparse

    from gait.runpack.archive import Limits
    from gait.sign.keys import VerifyKey

EXPLAIN = (
    "gait verify checks a runpack offline: the zip's structure, every member's SHA-256 against "
    "the manifest, the manifest digest, the Ed25519 signature and whether its signer is in your "
    "trust store, and each member's schema. It writes nothing."
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runpack", help="run id (looked up in ./gait-out, then GAIT_HOME) or path")
    add_key_options(parser, signing=False)
    add_private_key_verify_options(parser)
    parser.add_argument(
        "--require-signature", action="store_true", help="an unsigned runpack fails"
    )
    parser.add_argument(
        "--require-trusted", action="store_true", help="a signer outside the trust store fails"
    )
    parser.add_argument(
        "--profile",
        choices=("standard", "strict"),
        default="standard",
        help="strict = --require-signature --require-trusted",
    )
    add_archive_limits(parser)
    add_common(parser, EXPLAIN)
    parser.set_defaults(handler=run)


def add_archive_limits(parser: argparse.ArgumentParser) -> None:
    """The hostile-zip limits of every command that reads a runpack zip it did not write
    (verify, regress init/add/bootstrap): the same flags, the same defaults."""
    limits = parser.add_argument_group("hostile-zip limits (refused with E_VERIFY_ARCHIVE)")
    limits.add_argument(
        "--max-member-mib", type=int, default=256, metavar="MIB", help="one member (default 256)"
    )
    limits.add_argument(
        "--max-total-mib", type=int, default=1024, metavar="MIB", help="all members (default 1024)"
    )
    limits.add_argument(
        "--max-ratio", type=int, default=200, metavar="N", help="inflated/compressed (default 200)"
    )
    limits.add_argument(
        "--max-line-mib",
        type=int,
        default=10,
        metavar="MIB",
        help="one .jsonl line or .json member (default 10)",
    )
    limits.add_argument(
        "--max-json-values",
        type=int,
        default=500_000,
        metavar="N",
        help="JSON values in one line or member, records in one .jsonl member (default 500000)",
    )


def archive_limits_from(args: argparse.Namespace) -> Limits:
    from gait.runpack.verify import archive_limits

    return archive_limits(
        args.max_member_mib,
        args.max_total_mib,
        args.max_ratio,
        args.max_line_mib,
        args.max_json_values,
    )


def add_private_key_verify_options(parser: argparse.ArgumentParser) -> None:
    """The reference verifies with a private key too (its public half is derived)."""
    parser.add_argument("--private-key", metavar="PATH", help="verify with this key's public half")
    parser.add_argument("--private-key-env", metavar="VAR", help="variable holding that key")


def private_verify_key(args: argparse.Namespace) -> VerifyKey | None:
    from gait.errors import InvalidInput
    from gait.sign.keyring import verify_key_from

    key = verify_key_from(
        getattr(args, "private_key", None), getattr(args, "private_key_env", None), "private key"
    )
    if key is not None and (
        getattr(args, "public_key", None) or getattr(args, "public_key_env", None)
    ):
        raise InvalidInput(
            "give a public key or a private key to verify with, not both", code="E_USAGE"
        )
    return key


def run(args: argparse.Namespace) -> Outcome:
    from gait.runpack.resolve import resolve
    from gait.runpack.verify import verification_options, verify_runpack
    from gait.sign.keyring import explicit_verify_key, key_mode, load_keyring

    path = resolve(args.runpack)
    keyring = load_keyring()
    explicit = explicit_verify_key(args) or private_verify_key(args)
    options = verification_options(
        mode=key_mode(args),
        profile=args.profile,
        require_signature=args.require_signature,
        require_trusted=args.require_trusted,
        key=explicit,
        keyring=keyring,
        limits=archive_limits_from(args),
    )
    shown = args.runpack if "/" in args.runpack or "\\" in args.runpack else str(path)
    report = verify_runpack(path, options)
    report.path = shown
    return Outcome(report.to_json(), report.exit_code, summary_lines(report))


def summary_lines(report) -> list[str]:  # noqa: ANN001 - VerifyReport
    status = "ok" if report.ok else "failed"
    lines = [f"verify={status} run_id={report.run_id} files_checked={report.files_checked}"]
    lines.append(f"manifest=sha256:{report.manifest_digest}")
    if report.signature_status == "verified":
        trust = "trusted" if report.signer_trusted else "NOT in trust store"
        lines.append(
            f"signature=verified signer={report.signer_key_id[:16]} ({trust}, "
            f"mode={report.signing_mode or 'unknown'})"
        )
    elif report.signature_status == "missing":
        lines.append(
            "signature=missing: this runpack is unsigned; its integrity is checked but not who "
            "made it (--require-signature makes this a failure)"
        )
    elif report.signature_status == "skipped" and report.unknown_signers:
        signers = ", ".join(k[:16] for k in report.unknown_signers)
        lines.append(
            f"signature=skipped: UNKNOWN SIGNER {signers}: not in your trust store, so who "
            "signed this runpack is not established (only its integrity is checked)"
        )
        lines.append("next=gait keys trust <signer_public.key> (if you trust that signer)")
    else:
        errors = ", ".join(report.signature_errors) or report.signature_note
        lines.append(f"signature={report.signature_status}: {errors}")
    for check in [c for c in report.checks if c.status == "fail"][:5]:
        lines.append(f"{check.code}: {check.name}: {check.detail}"[:200])
    commands = report.to_json().get("next_commands", [])
    if commands:
        lines.append(f"next={commands[0]}")
    return lines
