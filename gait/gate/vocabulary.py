"""The closed vocabularies of an IntentRequest (FORMATS.md 5.1, 5.2) and of the policy keys
that match on them: target kinds, provenance sources, endpoint classes, discovery methods,
credential sources and access types, sandbox modes. An intent or a policy naming anything else
is refused, so both read the lists from here.
"""

from __future__ import annotations

TARGET_KINDS = frozenset(
    {"path", "url", "host", "repo", "bucket", "table", "queue", "topic", "other"}
)
PROVENANCE_SOURCES = frozenset({"user", "tool_output", "external", "system"})
ENDPOINT_CLASSES = frozenset(
    {
        "fs.read",
        "fs.write",
        "fs.delete",
        "proc.exec",
        "net.http",
        "net.dns",
        "ui.click",
        "ui.type",
        "ui.navigate",
        "other",
    }
)
DISCOVERY_METHODS = frozenset(
    {"webmcp", "dynamic_mcp", "a2a", "mcp", "static_mcp", "manual", "unknown"}
)
CREDENTIAL_SOURCES = frozenset(
    {
        "aws_iam_user",
        "aws_sts",
        "azure_federated",
        "command",
        "env",
        "gcp_sts",
        "github_oidc",
        "github_pat",
        "kubernetes_service_account",
        "stub",
        "unknown",
        "vault_dynamic",
    }
)
CREDENTIAL_ACCESS_TYPES = frozenset(
    {"cloud_admin", "inherited", "jit", "standing", "static", "unknown"}
)
SANDBOX_ENUMS = {
    "network_mode": frozenset({"disabled", "egress_allowlist", "full"}),
    "env_exposure_mode": frozenset({"allowlist", "full", "none"}),
    "filesystem_isolation": frozenset({"container", "none", "workspace"}),
    "user_mode": frozenset({"default", "root", "unprivileged"}),
}
