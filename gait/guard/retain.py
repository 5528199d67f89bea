"""Retention: delete traces and evidence packs older than their TTL, with a report.

The report (``gait.guard.retention_report``, the reference's) is written before anything is
deleted, and lists every file deleted or kept: nothing is removed that is not in it, and
``dry_run`` removes nothing at all.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gait import __version__, timefmt
from gait.canon import canonical_bytes
from gait.errors import InvalidInput, IOFailure
from gait.fsutil import atomic_write


def parse_duration(text: str, what: str) -> int:
    """Seconds of a Go-style duration (``168h``, ``90m``, ``1h30m``; ``d`` accepted too)."""
    nanos = timefmt.parse_flag_duration(text)
    if nanos is None:
        raise InvalidInput(
            f"{what} {text!r} is not a duration like 168h or 30m",
            code="E_USAGE",
            hint=f"{what} 24h",
        )
    return nanos // 1_000_000_000


def classify(name: str) -> str:
    base = name.lower()
    if base.startswith("trace_") and base.endswith(".json"):
        return "trace"
    for prefix in ("evidence_pack_", "incident_pack_"):
        if base.startswith(prefix) and (base.endswith(".zip") or base.endswith(".gaitenc")):
            return "pack"
    return ""


def apply_retention(
    root: Path,
    *,
    trace_ttl: int,
    pack_ttl: int,
    dry_run: bool,
    report_out: Path | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    if not root.is_dir():
        raise InvalidInput(f"retention root {root} is not a directory", code="E_GUARD_RETAIN_ROOT")
    moment = now or datetime.now(UTC)
    candidates = []
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            kind = classify(name)
            if kind:
                found = Path(dirpath) / name
                candidates.append((found.as_posix(), kind, found.stat().st_mtime))
    candidates.sort()
    deleted: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    for path, kind, mtime in candidates:
        modified = datetime.fromtimestamp(mtime, UTC)
        age = max(0, int((moment - modified).total_seconds()))
        ttl = trace_ttl if kind == "trace" else pack_ttl
        event: dict[str, Any] = {
            "path": path,
            "kind": kind,
            "modified_at": timefmt.from_datetime(modified),
            "age_seconds": age,
            "action": "kept",
        }
        if ttl > 0 and age > ttl:
            event["action"] = "deleted"
            deleted.append(event)
        else:
            kept.append(event)
    report = {
        "schema_id": "gait.guard.retention_report",
        "schema_version": "1.0.0",
        "created_at": timefmt.from_datetime(moment),
        "producer_version": __version__,
        "root_path": root.as_posix(),
        "dry_run": dry_run,
        "trace_ttl_seconds": trace_ttl,
        "pack_ttl_seconds": pack_ttl,
        "scanned_files": len(candidates),
        "deleted_files": deleted,
        "kept_files": kept,
    }
    if report_out is not None:
        atomic_write(report_out, canonical_bytes(report), mode=0o600)  # before any deletion
    if not dry_run:
        for event in deleted:
            try:
                os.remove(event["path"])
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise IOFailure(
                    f"cannot delete expired {event['path']}: {exc.strerror}",
                    code="E_GUARD_RETAIN_DELETE_FAILED",
                    hint="fix its permissions and re-run; the report lists what was due",
                ) from exc
    return report
