"""Starter policies for ``gait policy init``: strict, evaluated keys only, commented."""

from __future__ import annotations

BASELINE_HIGHRISK = """\
# Gait gate policy: baseline for high-risk tools (writes, deletes, network egress, payments).
# Rules are checked in (priority, name) order. Every rule matching at the FIRST matching
# priority counts and the most restrictive effect among them wins (allow < dry_run <
# require_approval < block), so rules meant to combine share a priority. A destructive target
# in the apply phase always needs at least approval.
# Validate: gait policy validate <file>   Test: gait policy test <file> <intent.json>
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: require_approval
fail_closed:
  enabled: true
  risk_classes: [critical, high]
  required_fields: [targets, arg_provenance]
rules:
  # Shell and process execution: never from an agent.
  - name: block-shell
    priority: 5
    effect: block
    match:
      endpoint_classes: [proc.exec]
    reason_codes: [shell_blocked]
  # Money moves only with two distinct approvers.
  - name: payments-need-two-approvers
    priority: 10
    effect: require_approval
    min_approvals: 2
    match:
      tool_names: [payments.charge, payments.refund, payments.transfer]
    reason_codes: [payment_requires_approval]
  # Files: inside the workspace only, never secrets; deletes need approval and are budgeted.
  - name: files
    priority: 20
    effect: allow
    match:
      target_kinds: [path]
    endpoint:
      path_allowlist: ["/workspace/**", "/tmp/**"]
      # "prefix/**" matches below a prefix; "*" in a glob stays within one path segment.
      path_denylist: ["/etc/**", "/root/**", "/workspace/.ssh/**", "/workspace/.env",
                      "/workspace/*/.env"]
      action: block
    destructive_budget:
      requests: 5
      window: hour
      scope: identity
  # Network: allowlisted domains only; data that came from outside never leaves.
  - name: egress
    priority: 20
    effect: allow
    match:
      target_kinds: [url, host]
    endpoint:
      domain_allowlist: [api.example.com]
      action: require_approval
    dataflow:
      tainted_sources: [external, tool_output]
      action: block
    rate_limit:
      requests: 60
      window: minute
      scope: tool_identity
"""

BASELINE_LOWRISK = """\
# Gait gate policy: permissive baseline for low-risk, read-mostly agents.
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: allow
rules:
  - name: destructive-needs-approval
    priority: 10
    effect: require_approval
    match:
      endpoint_classes: [fs.delete, proc.exec]
  - name: plan-phase-dry-run
    priority: 20
    effect: dry_run
    match:
      tool_annotations:
        destructiveHint: true
"""

BASELINE_MEDIUMRISK = """\
# Gait gate policy: baseline for medium-risk agents. Reads go through, writes wait for a human,
# deletes and shell commands never run; anything unlisted needs approval.
# Validate: gait policy validate <file>   Test: gait policy test <file> <intent.json>
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: require_approval
fail_closed:
  enabled: true
  risk_classes: [critical, high]
  required_fields: [targets]
rules:
  - name: block-deletes-and-shell
    priority: 10
    effect: block
    match:
      endpoint_classes: [fs.delete, proc.exec]
    reason_codes: [destructive_or_shell_blocked]
  - name: writes-need-approval
    priority: 20
    effect: require_approval
    match:
      endpoint_classes: [fs.write]
    reason_codes: [write_requires_approval]
  - name: reads-allowed
    priority: 30
    effect: allow
    match:
      endpoint_classes: [fs.read, net.dns]
      risk_classes: [low, medium]
    reason_codes: [read_allowed]
"""

READ_ONLY = """\
# Gait gate policy: only reads are allowed; everything else is blocked.
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: block
rules:
  - name: reads-only
    priority: 10
    effect: allow
    match:
      endpoint_classes: [fs.read]
"""

TEMPLATES = {
    "baseline-highrisk": BASELINE_HIGHRISK,
    "baseline-lowrisk": BASELINE_LOWRISK,
    "baseline-mediumrisk": BASELINE_MEDIUMRISK,
    "read-only": READ_ONLY,
}
