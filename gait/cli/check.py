"""``gait check``: is this project's Gait setup complete? The policy must load (exit 6 when it
does not, as the reference); everything else is a finding with the command that fixes it."""

from __future__ import annotations

import argparse
from pathlib import Path

from gait.cli.main import add_common
from gait.cli.output import Outcome
from gait.errors import ExitCode

EXPLAIN = (
    "gait check loads the repository policy (.gait.yaml, or --policy / a path) strictly, then "
    "reports what is missing: .gitignore lines for gait-out/ and private keys, the regress "
    "fixture set (gait.yaml and its runpacks), private keys or runpacks git already tracks, "
    "and .gait/config.yaml when there is one (it loads; its gate.policy exists). It "
    "changes nothing. Exit 0 when the policy loads (--strict: 2 when a finding is not a pass), "
    "6 when it is missing or invalid."
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", help="policy file (same as --policy)")
    parser.add_argument("--policy", default=None, help="repository policy (default .gait.yaml)")
    parser.add_argument(
        "--strict", action="store_true", help="exit 2 when any finding is not a pass (for CI)"
    )
    add_common(parser, EXPLAIN)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Outcome:
    from gait.errors import InvalidInput
    from gait.gate.policy import load_policy
    from gait.project import FAIL, REPO_POLICY, WARN, check_project

    if args.path and args.policy and args.path != args.policy:
        raise InvalidInput("give the policy once: PATH or --policy PATH", code="E_USAGE")
    policy_path = Path(args.policy or args.path or REPO_POLICY)
    if not policy_path.exists():
        raise InvalidInput(
            f"no policy at {policy_path}",
            code="E_POLICY_NOT_FOUND",
            hint="gait init (writes .gait.yaml and .gitignore entries)",
        )
    policy = load_policy(str(policy_path))
    findings = check_project(Path("."))
    warnings = [f for f in findings if f.status in (WARN, FAIL)]
    summary = (
        f"policy ok: {policy_path} default_verdict={policy.default_verdict} "
        f"rules={len(policy.rules)} findings={len(warnings)}"
    )
    payload = {
        "ok": True,
        "policy_path": str(policy_path),
        "policy_digest": policy.digest,
        "default_verdict": policy.default_verdict,
        "rule_count": len(policy.rules),
        "findings": [f.to_json() for f in findings],
        "summary": summary,
        "next_commands": [f.fix for f in warnings if f.fix]
        or [f"gait policy test {policy_path} INTENT.json"],
    }
    lines = [summary]
    for finding in findings:
        lines.append(f"{finding.status}: {finding.id}: {finding.message}")
        if finding.fix and finding.status != "pass":
            lines.append(f"  fix: {finding.fix}")
    exit_code = ExitCode.VERIFY_FAILED if args.strict and warnings else ExitCode.OK
    if exit_code:
        payload["ok"] = False
    return Outcome(payload, exit_code, lines)
