"""A runpack's parsed members (``gait.runpack.model.Runpack``, the name callers import): a
dataclass in a module of its own, so that a process which only verifies never builds it."""

from __future__ import annotations

from dataclasses import dataclass, field

from gait.runpack.model import ManifestView

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


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
