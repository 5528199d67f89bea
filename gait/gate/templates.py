"""Starter policies for ``gait policy init``: strict, evaluated keys only, commented."""

from __future__ import annotations

BASELINE_HIGHRISK = """\
# Gait gate policy: baseline for high-risk tools (writes, deletes, network egress, payments).
# Rules are checked in (priority, name) order; every rule matching at the first matching
# priority counts, and the most restrictive effect wins (allow < dry_run < require_approval
# < block). Validate with: gait policy validate <file>; test with: gait policy test.
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: require_approval
fail_closed:
  enabled: true
  risk_classes: [critical, high]
  required_fields: [targets, arg_provenance]
rules:
  - name: block-secrets-paths
    priority: 1
    effect: block
    match:
      target_kinds: [path]
    endpoint:
      path_denylist: ["/etc/**", "**/.ssh/**", "**/.env"]
      action: block
    reason_codes: [secrets_path_blocked]
    violations: [sensitive_path]
  - name: block-shell
    priority: 5
    effect: block
    match:
      endpoint_classes: [proc.exec]
    reason_codes: [shell_blocked]
  - name: payments-need-two-approvers
    priority: 10
    effect: require_approval
    min_approvals: 2
    match:
      tool_names: [payments.charge, payments.refund, payments.transfer]
    reason_codes: [payment_requires_approval]
  - name: deletes-need-approval
    priority: 20
    effect: require_approval
    match:
      endpoint_classes: [fs.delete]
    destructive_budget:
      requests: 5
      window: hour
      scope: identity
  - name: egress-allowlist
    priority: 30
    effect: allow
    match:
      endpoint_classes: [net.http, net.dns]
    endpoint:
      domain_allowlist: [api.example.com]
      action: require_approval
    dataflow:
      tainted_sources: [external, tool_output]
      action: require_approval
    rate_limit:
      requests: 60
      window: minute
      scope: tool_identity
  - name: workspace-writes
    priority: 40
    effect: allow
    match:
      endpoint_classes: [fs.write]
      workspace_prefixes: [/workspace]
      provenance_sources: [user, system]
  - name: reads
    priority: 50
    effect: allow
    match:
      endpoint_classes: [fs.read]
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
    "read-only": READ_ONLY,
}
