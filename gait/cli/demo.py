"""``gait demo``: the offline first win."""

from __future__ import annotations

import argparse

from gait.cli.main import add_common
from gait.cli.output import Outcome

EXPLAIN = (
    "gait demo runs a deterministic toy agent with three stubbed tool calls (no network, no "
    "keys needed), writes ./gait-out/runpack_run_demo.zip signed with your local dev key, "
    "copies it to GAIT_HOME so 'gait verify run_demo' works anywhere, and verifies it."
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", default="gait-out", help="where to write the runpack")
    add_common(parser, EXPLAIN)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Outcome:
    from gait.demo import RUN_ID, demo_input
    from gait.runpack.build import normalize_input
    from gait.runpack.resolve import remember
    from gait.runpack.verify import VerifyOptions, verify_runpack
    from gait.runpack.writer import default_path, write_runpack
    from gait.sign.keyring import DEV_WARNING, ensure_dev_key, load_keyring

    key, created = ensure_dev_key()
    mode, run_rec, intents, results, refs = normalize_input(demo_input(), evidence_mode_default="")
    written = write_runpack(
        default_path(RUN_ID, args.out_dir),
        capture_mode=mode,
        run=run_rec,
        intents=intents,
        results=results,
        refs=refs,
        signing_keys=[key],
    )
    remember(written.path, RUN_ID)
    keyring = load_keyring()
    report = verify_runpack(
        written.path, VerifyOptions(keys=tuple(keyring.trusted_keys()), keyring=keyring)
    )
    bundle = f"./{written.path.as_posix()}" if not written.path.is_absolute() else str(written.path)
    verdict = "ok" if report.ok else "failed"
    next_commands = [
        f"gait verify {RUN_ID} --json",
        f"gait run replay {RUN_ID}",
        f"gait regress init --from {RUN_ID}",
    ]
    payload = {
        "ok": report.ok,
        "mode": "standard",
        "run_id": RUN_ID,
        "bundle": bundle,
        "manifest_digest": written.manifest_digest,
        "ticket_footer": written.ticket_footer,
        "verify": verdict,
        "signature_status": report.signature_status,
        "signer_key_id": report.signer_key_id,
        "next_commands": next_commands,
    }
    lines = [
        "mode=standard",
        f"run_id={RUN_ID}",
        f"bundle={bundle}",
        f"ticket_footer={written.ticket_footer}",
        f"verify={verdict}",
        f"next={','.join(next_commands)}",
    ]
    warnings = [DEV_WARNING + " (created it now)"] if created else []
    return Outcome(payload, 0 if report.ok else 2, lines, warnings)
