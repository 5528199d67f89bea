"""Reserved v1.1 interfaces: schemas ship now, implementations later (PRD FR-16).

Each module names the artifact's schema id (its JSON Schema is in ``schemas/``) and the Python
protocol a v1.1 implementation will satisfy. Defining them now means Scout, Guard, remote
registries and an MCP proxy can arrive without changing a v1 runpack, trace or pack schema:
they refer to v1 artifacts only by id and digest.
"""

from gait.reserved.guard import EvidencePackBuilder
from gait.reserved.mcp import MCPAdapter
from gait.reserved.registry import RegistryBackend
from gait.reserved.scout import InventoryProvider

RESERVED_SCHEMA_IDS = (
    "gait.scout.inventory_snapshot",
    "gait.guard.pack_manifest",
    "gait.registry.pack",
    "gait.mcp.adapter_contract",
)

__all__ = [
    "RESERVED_SCHEMA_IDS",
    "EvidencePackBuilder",
    "InventoryProvider",
    "MCPAdapter",
    "RegistryBackend",
]
