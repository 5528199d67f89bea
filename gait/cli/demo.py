"""``gait demo``: the offline first win."""

from __future__ import annotations

import argparse

from gait.cli.main import add_common
from gait.cli.output import Outcome
from gait.errors import ExitCode

EXPLAIN = (
    "gait demo runs a deterministic toy agent with three stubbed tool calls (no network, no "
    "keys needed), writes ./gait-out/runpack_run_demo.zip signed with your local dev key, "
    "copies it to GAIT_HOME so 'gait verify run_demo' works anywhere, and verifies it."
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", default="gait-out", help="where to write the runpack")
    parser.add_argument(
        "--policy",
        action="store_true",
        help="instead, evaluate a destructive demo intent against a demo policy (no trace)",
    )
    add_common(parser, EXPLAIN)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Outcome:
    if args.policy:
        return run_policy_demo(args)
    return run_standard(args)


def run_policy_demo(args: argparse.Namespace) -> Outcome:
    """The gate's first win: a high-risk delete is blocked, deterministically, offline."""
    from pathlib import Path

    from gait.canon import dumps_pretty
    from gait.demo import DEMO_POLICY, demo_delete_intent
    from gait.fsutil import atomic_write
    from gait.gate.policy import load_policy
    from gait.gate.policytest import run_policy_test

    out = Path(args.out_dir)
    intent_path = atomic_write(out / "intent_demo_delete.json", dumps_pretty(demo_delete_intent()))
    policy_path = atomic_write(out / "policy_demo_high_risk.yaml", DEMO_POLICY.encode())
    result = run_policy_test(load_policy(policy_path), demo_delete_intent())
    shown_intent, shown_policy = f"./{intent_path.as_posix()}", f"./{policy_path.as_posix()}"
    next_commands = [
        f"gait gate eval --policy {shown_policy} --intent {shown_intent} --simulate --json",
        f"gait gate eval --policy {shown_policy} --intent {shown_intent} --json",
        f"gait policy test {shown_policy} {shown_intent} --json",
    ]
    payload = {
        "ok": True,
        "mode": "policy",
        "bundle": shown_intent,
        "pack_path": shown_policy,
        "policy_verdict": result["verdict"],
        "matched_rule": result.get("matched_rule", ""),
        "reason_codes": result["reason_codes"],
        "intent_digest": result["intent_digest"],
        "policy_digest": result["policy_digest"],
        "next_commands": next_commands,
    }
    lines = [
        "mode=policy",
        f"bundle={shown_intent}",
        f"pack_path={shown_policy}",
        "verify=ok",
        f"policy_verdict={result['verdict']}",
        f"matched_rule={result.get('matched_rule', '')}",
        f"reason_codes={','.join(result['reason_codes'])}",
        f"next={','.join(next_commands)}",
    ]
    return Outcome(payload, ExitCode.OK, lines)


def run_standard(args: argparse.Namespace) -> Outcome:
    from gait.demo import RUN_ID, demo_input
    from gait.runpack.resolve import remember
    from gait.runpack.verify import VerifyOptions, verify_runpack
    from gait.runpack.writer import default_path, write_record_input
    from gait.sign.keyring import DEV_WARNING, ensure_dev_key, load_keyring

    key, created = ensure_dev_key()
    written = write_record_input(
        demo_input(),
        default_path(RUN_ID, args.out_dir),
        signing_keys=[key],
        evidence_mode_default="",
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
        f"gait regress bootstrap --from {RUN_ID} --json --junit ./gait-out/junit.xml",
        "gait demo --policy",
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
    return Outcome(payload, ExitCode.OK if report.ok else ExitCode.VERIFY_FAILED, lines, warnings)
