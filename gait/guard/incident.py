"""Incident bundles: the run plus every trace, approval and regress result of a time window.

``gait incident pack --from RUN --window 2h`` anchors the window on the run's creation time
(``[created_at - window, created_at + window]``, as the reference does), gathers the gate
traces, approval audits, credential evidence and regress results found beside the runpack (and
under its ``traces/`` folder, where ``gait gate eval`` writes them) whose ``created_at`` falls in
it, records the policy digests seen, and writes one signed evidence pack.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from gait import timefmt
from gait.canon import canonical_bytes, loads_strict
from gait.errors import GaitError
from gait.guard.pack import GuardInputs, build_guard_pack
from gait.runpack.reader import load_runpack
from gait.sign.keys import SigningKey


def _candidates(root: Path, pattern: str) -> list[Path]:
    found = set(root.glob(pattern)) | set(root.glob(f"traces/{pattern}"))
    return sorted(p for p in found if p.is_file())


def _doc(path: Path) -> dict[str, Any] | None:
    try:
        doc = loads_strict(path.read_bytes(), what=str(path))
    except (OSError, GaitError):
        return None
    return doc if isinstance(doc, dict) else None


def _inside(doc: dict[str, Any], start: Any, end: Any) -> bool:
    try:
        moment = timefmt.to_datetime(str(doc.get("created_at", "")))
    except GaitError:
        return False
    return bool(start <= moment <= end)


def build_incident_pack(
    runpack: Path,
    *,
    window_seconds: int,
    out: str | Path | None = None,
    case_id: str = "",
    template: str = "incident_response",
    render_pdf: bool = False,
    pdf_font: str | None = None,
    key: SigningKey | None = None,
) -> tuple[Path, dict[str, Any], dict[str, Any], list[str]]:
    run = load_runpack(runpack)
    window = window_seconds if window_seconds > 0 else 24 * 3600
    anchor = timefmt.to_datetime(str(run.run.get("created_at") or timefmt.EPOCH_1980))
    start, end = anchor - timedelta(seconds=window), anchor + timedelta(seconds=window)
    root = runpack.parent
    traces, trace_ids, policies = [], set(), set()
    for path in _candidates(root, "trace_*.json"):
        doc = _doc(path)
        if doc is None or doc.get("schema_id") != "gait.gate.trace" or not _inside(doc, start, end):
            continue
        traces.append(path)
        trace_ids.add(str(doc.get("trace_id", "")))
        if doc.get("policy_digest"):
            policies.add(str(doc["policy_digest"]))
    regress = [
        p
        for p in _candidates(root, "regress*.json")
        if (d := _doc(p)) is not None and d.get("schema_id") == "gait.regress.result"
        and _inside(d, start, end)
    ]  # fmt: skip
    approvals = [
        p
        for p in _candidates(root, "approval_audit_*.json")
        if (d := _doc(p)) is not None
        and (str(d.get("trace_id", "")) in trace_ids or _inside(d, start, end))
    ]
    credentials = [
        p
        for p in _candidates(root, "credential_evidence_*.json")
        if (d := _doc(p)) is not None
        and (str(d.get("trace_id", "")) in trace_ids or _inside(d, start, end))
    ]
    stamp_from, stamp_to = timefmt.from_datetime(start), timefmt.from_datetime(end)
    policy_doc = {
        "run_id": run.run_id,
        "window_from": stamp_from,
        "window_to": stamp_to,
        "policy_digests": sorted(policies),
    }
    incident_window = {
        "from": stamp_from,
        "to": stamp_to,
        "window_seconds": window,
        "selection_anchor": run.run_id,
    }
    target = Path(out) if out else None
    path, manifest, warnings = build_guard_pack(
        GuardInputs(
            runpack=runpack,
            traces=traces,
            regress=regress,
            approval_audits=approvals,
            credential_evidence=credentials,
            extra={"policy_digests.json": canonical_bytes(policy_doc)},
            case_id=case_id,
            template=template,
            incident_window=incident_window,
            render_pdf=render_pdf,
            pdf_font=pdf_font,
        ),
        out=target,
        key=key,
    )
    if out is None:
        final = path.with_name(f"incident_pack_{manifest['pack_id']}.zip")
        path.replace(final)
        path = final
    summary = {
        "trace_count": len(traces),
        "regress_count": len(regress),
        "approval_audit_count": len(approvals),
        "credential_evidence_count": len(credentials),
        "policy_digests": sorted(policies),
        "window_from": stamp_from,
        "window_to": stamp_to,
    }
    return path, manifest, summary, warnings
