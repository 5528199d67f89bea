"""Runpack members as read from or written to a zip (FORMATS.md section 3).

Records stay plain dicts holding exactly the keys of the artifact, because their bytes are
hashed: a dataclass round trip would drop or reorder what another implementation wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SCHEMA_VERSION = "1.0.0"
MANIFEST = "manifest.json"
RUN = "run.json"
INTENTS = "intents.jsonl"
RESULTS = "results.jsonl"
REFS = "refs.json"
DATA_MEMBERS = (INTENTS, REFS, RESULTS, RUN)
MEMBER_ORDER = (INTENTS, MANIFEST, REFS, RESULTS, RUN)
SCHEMA_IDS = {
    MANIFEST: "gait.runpack.manifest",
    RUN: "gait.runpack.run",
    INTENTS: "gait.runpack.intent",
    RESULTS: "gait.runpack.result",
    REFS: "gait.runpack.refs",
}
CAPTURE_MODES = ("reference", "raw")
MANIFEST_KEYS = (
    "schema_id",
    "schema_version",
    "created_at",
    "producer_version",
    "run_id",
    "capture_mode",
    "files",
    "manifest_digest",
    "signatures",
)


class ManifestView:
    """What a run's manifest says of it, for anything holding the parsed manifest."""

    manifest: dict[str, Any]

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id", ""))

    @property
    def capture_mode(self) -> str:
        return str(self.manifest.get("capture_mode", "reference"))


@dataclass
class Runpack(ManifestView):
    """A runpack's parsed members (a docstring, so dataclasses need not run inspect)."""

    manifest: dict[str, Any]
    run: dict[str, Any]
    intents: list[dict[str, Any]]
    results: list[dict[str, Any]]
    refs: dict[str, Any]
    members: dict[str, bytes] = field(default_factory=dict)
    # Members the loader proved canonical while parsing them (name -> those very bytes), so
    # diff's canonical-form check need not re-serialize them; empty for hand-built runpacks.
    canonical_members: dict[str, bytes] = field(default_factory=dict, repr=False)

    def results_by_intent(self) -> dict[str, dict[str, Any]]:
        return {str(r.get("intent_id")): r for r in self.results}
