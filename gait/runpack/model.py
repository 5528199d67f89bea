"""Runpack members as read from or written to a zip (FORMATS.md section 3).

Records stay plain dicts holding exactly the keys of the artifact, because their bytes are
hashed: a dataclass round trip would drop or reorder what another implementation wrote.
"""

from __future__ import annotations

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


def __getattr__(name: str) -> Any:
    """``Runpack`` is defined (a dataclass, built by running Python over its fields) on first
    use, in gait.runpack.pack: a ``gait verify`` process reads this module's names and
    schema ids but never builds a Runpack (issue 14 item 6)."""
    if name == "Runpack":
        from gait.runpack.pack import Runpack

        return Runpack
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    from gait.runpack.pack import Runpack as Runpack
