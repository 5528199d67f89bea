"""A verified run's outline, read as it inflates: what ``regress init`` needs of a run
(ids, tool names, verdicts, which results carry a payload) without holding its records.

``load_runpack`` keeps every record (a 100,000-call run is over 500 MiB in Python objects);
the outline keeps a few small values a record, so reading a fixture's source stays within the
memory the hardening issue allows whatever the runpack holds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gait.canon import loads_strict
from gait.regress.sequences import result_verdict
from gait.runpack import model
from gait.runpack.archive import Limits, read_members
from gait.runpack.lines import RecordStream, collector_paused
from gait.runpack.model import ManifestView, Runpack

# Ids longer than this are kept as a digest: equal ids keep equal keys, and a hostile run of
# megabyte-long ids costs 16 bytes each.
_LONG_ID = 48


def _id_key(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _LONG_ID:
        return hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return value


@dataclass
class RunOutline(ManifestView):
    """A run as regress init reads it. ``intents`` holds (id key, shown id, tool name) in
    order; ``results`` maps each result's ``str(intent_id)`` key to whether it has a payload
    (the last record of an id wins, as ``Runpack.results_by_intent``)."""

    manifest: dict[str, Any]
    refs: dict[str, Any]
    intents: list[tuple[Any, str, str]] = field(default_factory=list)
    results: dict[Any, bool] = field(default_factory=dict)
    verdicts: list[str] = field(default_factory=list)

    def tool_sequence(self) -> list[str]:
        return [tool for _, _, tool in self.intents if tool]

    def missing_result_ids(self) -> list[str]:
        """Intents no result answers, in run order (a stub replay exits 2 on any)."""
        return [shown for key, shown, _ in self.intents if key not in self.results]


class _Collector:
    """Takes records a block at a time (a ``RecordStream`` consumer) into an outline."""

    def __init__(self) -> None:
        self.intents: list[tuple[Any, str, str]] = []
        self.results: dict[Any, bool] = {}
        self.verdicts: list[str] = []
        self._names: dict[str, str] = {}  # one string per distinct tool name

    def take_intents(self, _first: int, records: list[Any]) -> None:
        names = self._names
        for record in records:
            if isinstance(record, dict):
                shown = str(record.get("intent_id", ""))
                tool = str(record.get("tool_name", "")).strip()
                self.intents.append((_id_key(shown), shown, names.setdefault(tool, tool)))

    def take_results(self, _first: int, records: list[Any]) -> None:
        for record in records:
            if isinstance(record, dict):
                self.results[_id_key(str(record.get("intent_id")))] = "result" in record
                self.verdicts.append(result_verdict(record))

    def outline(self, manifest: Any, refs: Any) -> RunOutline:
        return RunOutline(
            manifest=manifest if isinstance(manifest, dict) else {},
            refs=refs if isinstance(refs, dict) else {},
            intents=self.intents,
            results=self.results,
            verdicts=self.verdicts,
        )


def outline_of(runpack: Runpack) -> RunOutline:
    """The outline of a run already in memory (a grader's candidate), read as a stream is."""
    collector = _Collector()
    collector.take_intents(1, runpack.intents)
    collector.take_results(1, runpack.results)
    return collector.outline(runpack.manifest, runpack.refs)


def read_outline(path: str | Path, limits: Limits | None = None) -> RunOutline:
    """The outline of a runpack that ``verify_runpack`` has accepted with the same limits
    (they bound every member; nothing here re-checks hashes or signatures)."""
    bounds = limits or Limits()
    collector = _Collector()
    consumers = {model.INTENTS: collector.take_intents, model.RESULTS: collector.take_results}

    def sink(name: str) -> RecordStream | None:
        consume = consumers.get(name)
        if consume is None:
            return None
        return RecordStream(name, consume, line_bytes=bounds.line_bytes, values=bounds.json_values)

    with collector_paused():
        members = read_members(
            path, bounds, keep=frozenset({model.MANIFEST, model.REFS}), sinks=sink
        )
    docs = [
        loads_strict(members.data[name], what=name) if name in members.data else {}
        for name in (model.MANIFEST, model.REFS)
    ]
    return collector.outline(*docs)
