"""Scout (v1.1): what tools, agents and MCP servers a workspace exposes, and gate coverage.

A provider turns one source (a repo, an MCP config, a cloud account) into an
``inventory_snapshot`` document; comparing snapshots and matching them against gate traces
(coverage) are pure functions over those documents, so providers stay small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

SCHEMA_ID = "gait.scout.inventory_snapshot"
ITEM_KINDS = ("tool", "agent", "mcp_server", "skill", "credential_ref", "other")


@runtime_checkable
class InventoryProvider(Protocol):
    """One inventory source."""

    name: str

    def snapshot(self, workspace: str) -> Mapping[str, Any]:
        """An ``inventory_snapshot`` document (schema ``gait.scout.inventory_snapshot``)."""
        ...


@runtime_checkable
class CoverageAnalyzer(Protocol):
    """Which inventoried tools a policy gates, from snapshots and trace records only."""

    def diff(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> Mapping[str, Any]:
        """Items added, removed and changed between two snapshots (by item ``id``)."""
        ...

    def coverage(
        self, snapshot: Mapping[str, Any], traces: Sequence[Mapping[str, Any]]
    ) -> Mapping[str, Any]:
        """Tool items with and without a gate decision in ``traces``."""
        ...
