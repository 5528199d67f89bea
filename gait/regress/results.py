"""regress_result.json, per-fixture diff.json files, and ``--update``: written once, by one
process (the pytest-xdist controller when there are workers), from entries in any order.

Identical inputs give identical bytes: entries are sorted by name, details hold no absolute
paths or times, and ``created_at`` is the first fixture's run's, as in the reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from gait import __version__
from gait.canon import dumps_pretty_struct
from gait.fsutil import atomic_write, commit_files
from gait.regress.api import FAIL
from gait.regress.config import RegressConfig
from gait.regress.engine import Entry
from gait.regress.init import config_bytes_with_run_ids, ordered_meta, validate_meta

RESULT_SCHEMA = "gait.regress.result"
DEFAULT_OUTPUT = "regress_result.json"
ARTIFACT_DIR = "gait-out/regress"


def diff_path(fixture: str) -> str:
    return f"{ARTIFACT_DIR}/{fixture}/diff.json"


def build_result(
    config: RegressConfig,
    entries: Iterable[Entry],
    *,
    created_at: str,
    producer_version: str = __version__,
) -> dict[str, Any]:
    ordered = sorted(entries, key=lambda e: e.name)
    failing = sorted({e.fixture for e in ordered if e.status == FAIL})
    graders = []
    for entry in ordered:
        item = entry.to_result()
        if entry.status == FAIL:
            item["diff_ref"] = diff_path(entry.fixture)
        graders.append(item)
    doc: dict[str, Any] = {
        "schema_id": RESULT_SCHEMA,
        "schema_version": "1.0.0",
        "created_at": created_at,
        "producer_version": producer_version,
        "fixture_set": config.fixture_set,
        "status": FAIL if failing else "pass",
        "graders": graders,
    }
    if failing:
        doc["next_commands"] = next_commands(config, ordered)
    return doc


def next_commands(config: RegressConfig, entries: list[Entry]) -> list[str]:
    first = next(e for e in entries if e.status == FAIL)
    fixture = config.fixture(first.fixture)
    commands = [f"cat {diff_path(first.fixture)}"]
    if first.candidate and first.candidate != fixture.runpack:
        commands.append(f"gait run diff {fixture.runpack} {first.candidate} --json")
    commands.append("gait regress run --update  # accept the new behaviour as expected")
    return commands


def result_bytes(doc: Mapping[str, Any]) -> bytes:
    return dumps_pretty_struct(doc)


def write_result(path: Path, doc: Mapping[str, Any]) -> Path:
    return atomic_write(path, result_bytes(doc))


PARTIAL_NAME = "regress_partial.json"


def write_partial(
    output: Path, doc: Mapping[str, Any], *, planned: list[str], entries: Iterable[Entry]
) -> Path:
    """A run that graded a subset (-k, --lf, -x, a path) leaves regress_result.json alone and
    says what it graded here: a subset's "pass" must never read as the set's."""
    graded = sorted(entries, key=lambda e: e.name)
    names = {e.name for e in graded}
    counts = {
        "planned": len(planned),
        "graded": len(graded),
        "passed": sum(e.status == "pass" for e in graded),
        "failed": sum(e.status == FAIL for e in graded),
        "skipped": sum(e.status == "skip" for e in graded),
        "not_graded": sum(name not in names for name in planned),
    }
    partial = {
        "schema_id": "gait.regress.partial",
        "schema_version": "1.0.0",
        "created_at": doc["created_at"],
        "producer_version": doc["producer_version"],
        "fixture_set": doc["fixture_set"],
        "complete": False,
        "status": doc["status"],
        "counts": counts,
        "selection": sorted(names),
        "graders": doc["graders"],
    }
    path = output.with_name(PARTIAL_NAME)
    atomic_write(path, dumps_pretty_struct(partial))
    return path


def remove_stale_diffs(out_dir: Path, entries: Iterable[Entry]) -> list[str]:
    """A fixture that passes now keeps no diff.json from an earlier failure."""
    status: dict[str, bool] = {}
    for entry in entries:
        status[entry.fixture] = status.get(entry.fixture, True) and entry.status != FAIL
    removed = []
    for fixture, passing in sorted(status.items()):
        path = out_dir / diff_path(fixture)
        if passing and path.is_file():
            path.unlink()
            removed.append(diff_path(fixture))
    return removed


def write_diffs(
    out_dir: Path,
    entries: Iterable[Entry],
    diffs: Mapping[str, Mapping[str, Any] | None],
) -> list[str]:
    """One ``diff.json`` per failing fixture: the runpack diff plus the failing graders."""
    by_fixture: dict[str, list[Entry]] = {}
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.status == FAIL:
            by_fixture.setdefault(entry.fixture, []).append(entry)
    written = []
    for fixture, failed in sorted(by_fixture.items()):
        doc: dict[str, Any] = {
            "fixture": fixture,
            "run_id": failed[0].details.get("run_id", ""),
            "candidate_runpack": failed[0].candidate,
            "failures": [
                {
                    "grader": e.grader,
                    "reason_codes": e.reason_codes,
                    "error_code": e.error_code,
                    "message": e.message,
                    "divergence": e.divergence,
                }
                for e in failed
            ],
        }
        diff = diffs.get(fixture)
        if diff is not None:
            doc["runpack_diff"] = diff
        rel = diff_path(fixture)
        atomic_write(out_dir / rel, dumps_pretty_struct(doc))
        written.append(rel)
    return written


@dataclass
class UpdateReport:
    changed: list[str] = field(default_factory=list)
    not_updatable: list[str] = field(default_factory=list)
    fixtures: list[str] = field(default_factory=list)  # fixtures updated
    refused: dict[str, str] = field(default_factory=dict)  # fixture -> why it was left as is

    @property
    def ok(self) -> bool:
        return not self.refused


def plan_updates(entries: Iterable[Entry]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Per failing fixture: the patch that accepts its candidate, or why it is refused.

    A fixture is accepted whole or not at all: one refused grader (the agent crashed, a replay
    miss went unserved, a grader raised or has nothing to update from) refuses the fixture.
    """
    patches: dict[str, dict[str, Any]] = {}
    refused: dict[str, str] = {}
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.status != FAIL or entry.fixture in refused:
            continue
        why, update = entry.refused, entry.update
        if not why and not update:
            why = f"grader {entry.grader!r} cannot be updated ({', '.join(entry.reason_codes)})"
        if why or not update:
            refused[entry.fixture] = why
            patches.pop(entry.fixture, None)
            continue
        patch = patches.setdefault(entry.fixture, {"meta": {}, "replace_runpack_from": ""})
        patch["meta"].update(update.get("meta") or {})
        if update.get("replace_runpack_from"):
            patch["replace_runpack_from"] = update["replace_runpack_from"]
    return patches, refused


def apply_updates(config: RegressConfig, entries: Iterable[Entry]) -> UpdateReport:
    """Accept failing fixtures' candidates, all or nothing for the whole run.

    Every new file (fixture.json, runpack.zip, gait.yaml) is prepared and validated before the
    first one replaces anything; the renames then run with SIGINT/SIGTERM held back, so an
    interrupted update leaves every fixture either as it was or (rename step reached) updated.
    """
    from gait.canon import loads_strict
    from gait.regress.config import CONFIG_NAME, load_fixture_meta
    from gait.runpack.archive import read_members

    report = UpdateReport()
    patches, report.refused = plan_updates(entries)
    report.not_updatable = [f"{name}: {why}" for name, why in sorted(report.refused.items())]
    staged: list[tuple[Path, bytes]] = []
    run_ids: dict[str, str] = {}
    for name, patch in sorted(patches.items()):
        fixture = config.fixture(name)
        meta = dict(load_fixture_meta(fixture.meta_path))
        before = dict(meta)
        source = patch["replace_runpack_from"]
        if source:
            data = Path(source).read_bytes()
            manifest = loads_strict(read_members(source).data["manifest.json"])
            new_run_id = manifest["run_id"]
            if new_run_id != meta["run_id"]:
                meta["run_id"] = new_run_id
                run_ids[name] = new_run_id
            if data != fixture.runpack_path.read_bytes():
                staged.append((fixture.runpack_path, data))
                report.changed.append(f"{fixture.runpack}: replaced by the candidate")
        meta.update(patch["meta"])
        for key in sorted(set(meta) | set(before)):
            if meta.get(key) != before.get(key):
                report.changed.append(
                    f"{PurePosixPath(fixture.runpack).parent}/fixture.json: {key}: "
                    f"{_short(before.get(key))} -> {_short(meta.get(key))}"
                )
        if meta != before:
            validate_meta(meta, str(fixture.meta_path))
            staged.append((fixture.meta_path, dumps_pretty_struct(ordered_meta(meta))))
        report.fixtures.append(name)
    if run_ids:
        staged.append(
            (
                config.root / CONFIG_NAME,
                config_bytes_with_run_ids(config.root, run_ids),
            )
        )
        report.changed.append("gait.yaml: fixture run ids updated")
    commit_files(staged)
    return report


def _short(value: Any, width: int = 80) -> str:
    from gait.canon import dumps_compact

    text = "(absent)" if value is None else dumps_compact(value)
    return text if len(text) <= width else text[: width - 3] + "..."
