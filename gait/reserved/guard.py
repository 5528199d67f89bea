"""Guard (v1.1): evidence packs for incident review and audit.

An evidence pack is a zip whose ``pack_manifest.json`` lists every file by SHA-256 and points
at the v1 runpacks and trace records it was built from (by path and digest, never by copying
their schemas), so a pack stays verifiable with v1 tools alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

SCHEMA_ID = "gait.guard.pack_manifest"
MANIFEST_NAME = "pack_manifest.json"


@runtime_checkable
class EvidencePackBuilder(Protocol):
    """Builds ``evidence_pack_<pack_id>.zip`` from local artifacts."""

    name: str

    def build(
        self,
        runpacks: Sequence[Path],
        traces: Sequence[Path],
        out_dir: Path,
        *,
        case_id: str = "",
        template_id: str = "",
    ) -> Mapping[str, Any]:
        """Write the pack; return its ``pack_manifest`` (schema ``gait.guard.pack_manifest``)."""
        ...
