"""Build, verify and inspect guard evidence packs (the reference's ``gait.guard.pack_manifest``).

Compatibility rules taken from the reference: members are JCS documents named as it names
them; ``control_index`` and ``evidence_pointers`` are computed over the members before those two
files are added; ``pack_id`` = ``pack_`` + the first 16 hex of the JCS digest of
``{run_id, contents}``; a signature signs the digest of the manifest without ``signatures``.
The reference verifier only hashes the listed members, so the extra members written here
(``source/runpack.zip``, ``traces/…``, ``summary.html``) keep packs verifiable there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gait import __version__, timefmt
from gait.canon import canonical_bytes, digest, loads_strict, sha256_hex
from gait.errors import GaitError, InvalidInput, VerificationFailed
from gait.fsutil import atomic_write, read_input
from gait.pack.spec import (
    PackVerifyOptions,
    PackVerifyResult,
    check_signatures,
    normalized_runpack_zip,
)
from gait.pack.zipread import read_zip
from gait.runpack.archive import Members, zip_bytes
from gait.sign.keys import SigningKey
from gait.sign.signature import sign_digest

SCHEMA_ID = "gait.guard.pack_manifest"
MANIFEST_NAME = "pack_manifest.json"
DEFAULT_TEMPLATE = "soc2"
TEMPLATES: dict[str, list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]] = {
    # template -> [(control id, title, entry types, path fragments)]
    "soc2": [
        ("CC6.6", "Change Management Evidence", ("trace", "evidence"),
         ("approval_audit_", "credential_evidence_")),
        ("CC7.2", "Operational Monitoring", ("report",),
         ("regress_summary.json", "trace_summary.json")),
        ("CC8.1", "Incident Evidence Integrity", ("runpack", "evidence"),
         ("runpack_summary.json", "referenced_runpacks.json")),
    ],
    "pci": [
        ("PCI-10", "Audit Trail and Monitoring", ("trace", "report"), ("trace_summary.json",)),
        ("PCI-7", "Access and Approval Controls", ("evidence",),
         ("approval_audit_", "credential_evidence_")),
        ("PCI-12", "Incident Handling Evidence", ("runpack", "report"),
         ("runpack_summary.json", "regress_summary.json")),
    ],
    "incident_response": [
        ("IR-CHAIN", "Reconstruction Chain", ("runpack", "trace", "evidence"),
         ("runpack_summary.json", "trace_summary.json", "approval_audit_",
          "credential_evidence_")),
        ("IR-ROOTCAUSE", "Root Cause and Regression", ("report",),
         ("regress_summary.json", "policy_digests.json")),
    ],
}  # fmt: skip
_MANIFEST_KEYS = (
    "schema_id",
    "schema_version",
    "created_at",
    "producer_version",
    "pack_id",
    "run_id",
    "case_id",
    "template_id",
    "generated_at",
    "control_index",
    "evidence_pointers",
    "incident_window",
    "rendered_artifacts",
    "contents",
    "signatures",
)


def template_id(value: str) -> str:
    text = value.strip().lower()
    if not text:
        return DEFAULT_TEMPLATE
    return text if text in TEMPLATES else "incident_response"


def entry_type(path: str) -> str:
    return {
        "runpack_summary.json": "runpack",
        "trace_summary.json": "trace",
        "regress_summary.json": "report",
        "control_index.json": "report",
        "evidence_pointers.json": "report",
        "policy_digests.json": "report",
        "summary.pdf": "report",
    }.get(path, "evidence")


def entries(files: Mapping[str, bytes]) -> list[dict[str, str]]:
    return [
        {"path": p, "sha256": sha256_hex(files[p]), "type": entry_type(p)} for p in sorted(files)
    ]


def control_index(template: str, contents: list[dict[str, str]]) -> list[dict[str, Any]]:
    controls = []
    for control_id, title, kinds, fragments in TEMPLATES.get(template, TEMPLATES[DEFAULT_TEMPLATE]):
        paths = sorted(
            {
                e["path"]
                for e in contents
                if e["type"] in kinds or any(f in e["path"] for f in fragments)
            }
        )
        controls.append({"control_id": control_id, "title": title, "evidence_paths": paths})
    return controls


def evidence_pointers(contents: list[dict[str, str]]) -> list[dict[str, str]]:
    return [
        {"pointer_id": f"ev_{i:03d}", "path": e["path"], "type": e["type"], "sha256": e["sha256"]}
        for i, e in enumerate(sorted(contents, key=lambda e: e["path"]), start=1)
    ]


def guard_pack_id(run_id: str, contents: list[dict[str, str]]) -> str:
    return "pack_" + digest({"run_id": run_id, "contents": contents})[:16]


def _canonical_file(path: Path, what: str) -> tuple[bytes, Any]:
    raw = read_input(path, "E_GUARD_INPUT_MISSING", what)
    doc = loads_strict(raw, what=f"{what} {path}", code="E_GUARD_INPUT_INVALID")
    return canonical_bytes(doc), doc


def _time(value: Any) -> str:
    if isinstance(value, str) and value:
        try:
            return timefmt.canonical(value)
        except InvalidInput:
            return timefmt.EPOCH_1980
    return timefmt.EPOCH_1980


@dataclass
class GuardInputs:
    runpack: Path
    traces: Sequence[Path] = ()
    regress: Sequence[Path] = ()
    approval_audits: Sequence[Path] = ()
    credential_evidence: Sequence[Path] = ()
    inventory: Sequence[Path] = ()
    extra: Mapping[str, bytes] = field(default_factory=dict)
    case_id: str = ""
    template: str = DEFAULT_TEMPLATE
    incident_window: dict[str, Any] | None = None
    render_pdf: bool = False
    render_html: bool = True
    pdf_font: str | None = None
    embed_sources: bool = True


def discover_v12(directory: Path) -> tuple[list[Path], list[Path]]:
    """Approval audits and credential evidence beside the runpack (the reference's discovery),
    and in its ``traces/`` folder, where ``gait gate eval`` writes them."""

    def find(pattern: str) -> list[Path]:
        return sorted(set(directory.glob(pattern)) | set(directory.glob(f"traces/{pattern}")))

    return find("approval_audit_*.json"), find("credential_evidence_*.json")


def build_guard_pack(
    inputs: GuardInputs, *, out: str | Path | None = None, key: SigningKey | None = None
) -> tuple[Path, dict[str, Any], list[str]]:
    """Write the evidence pack; returns (path, manifest, warnings)."""
    from gait.guard.report import build_report
    from gait.runpack.reader import runpack_from_members

    members = read_zip(inputs.runpack, what="runpack")
    if "manifest.json" not in members.data:
        raise InvalidInput(f"{inputs.runpack} is not a runpack", code="E_GUARD_INPUT_INVALID")
    run = runpack_from_members(members)
    files: dict[str, bytes] = {}
    files["runpack_summary.json"] = canonical_bytes(
        {
            "run_id": run.run_id,
            "manifest_digest": run.manifest.get("manifest_digest", ""),
            "capture_mode": run.capture_mode,
            "intent_count": len(run.intents),
            "result_count": len(run.results),
            "receipt_count": len((run.refs or {}).get("receipts") or []),
        }
    )
    receipts = [r for r in (run.refs or {}).get("receipts") or [] if isinstance(r, dict)]
    files["referenced_runpacks.json"] = canonical_bytes(
        {
            "run_id": run.run_id,
            "references": len(receipts),
            "receipts": sorted(
                (
                    {
                        "ref_id": r.get("ref_id", ""),
                        "source_type": r.get("source_type", ""),
                        "source_locator": r.get("source_locator", ""),
                        "content_digest": r.get("content_digest", ""),
                        "retrieved_at": _time(r.get("retrieved_at")),
                    }
                    for r in receipts
                ),
                key=lambda r: str(r["ref_id"]),
            ),
        }
    )
    for index, path in enumerate(sorted(set(inputs.inventory)), start=1):
        files[f"inventory_snapshot_{index:02d}.json"] = _canonical_file(path, "inventory")[0]
    trace_docs = []
    for path in sorted(set(inputs.traces)):
        raw = path.read_bytes() if path.is_file() else b""
        if not raw:
            raise InvalidInput(f"cannot read trace {path}", code="E_GUARD_INPUT_MISSING")
        doc = loads_strict(raw, what=f"trace {path}", code="E_GUARD_INPUT_INVALID")
        trace_docs.append((path, doc, raw))
    if trace_docs:
        lines = sorted(
            (
                {
                    "trace_id": str(d.get("trace_id", "")),
                    "tool_name": str(d.get("tool_name", "")),
                    "verdict": str(d.get("verdict", "")),
                }
                for _, d, _ in trace_docs
            ),
            key=lambda t: t["trace_id"],
        )
        counts: dict[str, int] = {}
        for line in lines:
            counts[line["verdict"]] = counts.get(line["verdict"], 0) + 1
        files["trace_summary.json"] = canonical_bytes(
            {"traces": lines, "verdict_counts": counts, "total": len(lines)}
        )
    regress_docs = [
        (p, _canonical_file(p, "regress result")[1]) for p in sorted(set(inputs.regress))
    ]
    if regress_docs:
        rows: list[dict[str, Any]] = sorted(
            (
                {
                    "fixture_set": str(d.get("fixture_set", "")),
                    "status": str(d.get("status", "")),
                    "graders": len(d.get("graders") or []),
                }
                for _, d in regress_docs
            ),
            key=lambda r: (r["fixture_set"], r["status"]),
        )
        status_counts: dict[str, int] = {}
        for row in rows:
            status_counts[row["status"]] = status_counts.get(row["status"], 0) + 1
        files["regress_summary.json"] = canonical_bytes(
            {"results": rows, "status_counts": status_counts, "total": len(rows)}
        )
    approvals = list(inputs.approval_audits)
    credentials = list(inputs.credential_evidence)
    if not approvals and not credentials:
        approvals, credentials = discover_v12(inputs.runpack.parent)
    approval_docs = []
    for index, path in enumerate(sorted(set(approvals)), start=1):
        data, doc = _canonical_file(path, "approval audit")
        files[f"approval_audit_{index:02d}.json"] = data
        approval_docs.append(doc)
    for index, path in enumerate(sorted(set(credentials)), start=1):
        files[f"credential_evidence_{index:02d}.json"] = _canonical_file(path, "credential")[0]
    for name, data in inputs.extra.items():
        files[name] = data
    if inputs.embed_sources:
        files["source/runpack.zip"] = normalized_runpack_zip(members)
        for path, _doc, raw in trace_docs:
            files[f"traces/{path.name}"] = raw
    template = template_id(inputs.template)
    created = _time(run.run.get("created_at")) if isinstance(run.run, dict) else timefmt.EPOCH_1980
    warnings: list[str] = []
    report = build_report(
        run=run,
        runpack_members=members,
        trace_docs=[(p.name, d) for p, d, _ in trace_docs],
        regress_docs=[(p.name, d) for p, d in regress_docs],
        approval_docs=approval_docs,
        files=files,
        case_id=inputs.case_id.strip(),
        template=template,
        generated_at=created,
        incident_window=inputs.incident_window,
    )
    rendered: list[dict[str, str]] = []
    if inputs.render_pdf:
        from gait.guard.pdf import render_pdf

        pdf, pdf_warnings = render_pdf(report, font=inputs.pdf_font)
        warnings += pdf_warnings
        files["summary.pdf"] = pdf
    if inputs.render_html:
        from gait.guard.report import render_html

        files["summary.html"] = render_html(report).encode()
    for fmt, name in (("pdf", "summary.pdf"), ("html", "summary.html")):
        if name in files:
            rendered.append({"format": fmt, "path": name, "sha256": sha256_hex(files[name])})
    contents = entries(files)
    controls = control_index(template, contents)
    pointers = evidence_pointers(contents)
    files["control_index.json"] = canonical_bytes(controls)
    files["evidence_pointers.json"] = canonical_bytes(pointers)
    contents = entries(files)
    manifest: dict[str, Any] = {
        "schema_id": SCHEMA_ID,
        "schema_version": "1.0.0",
        "created_at": created,
        "producer_version": __version__,
        "pack_id": guard_pack_id(run.run_id, contents),
        "run_id": run.run_id,
        "template_id": template,
        "generated_at": created,
        "control_index": controls,
        "evidence_pointers": pointers,
        "contents": contents,
    }
    if inputs.case_id.strip():
        manifest["case_id"] = inputs.case_id.strip()
    if inputs.incident_window:
        manifest["incident_window"] = inputs.incident_window
    if rendered:
        manifest["rendered_artifacts"] = rendered
    if key is not None:
        manifest["signatures"] = [sign_digest(key, digest(manifest))]
    files[MANIFEST_NAME] = canonical_bytes(manifest)
    default_name = f"evidence_pack_{manifest['pack_id']}.zip"
    target = Path(out) if out else inputs.runpack.parent / default_name
    atomic_write(target, zip_bytes(sorted(files.items())), mode=0o600)
    return target, manifest, warnings


# ---------------------------------------------------------------------------------------------
# Verify / inspect (also reached through gait pack verify|inspect)


def normalize_guard_manifest(raw: Any) -> dict[str, Any]:
    """The manifest as the reference re-marshals it: its keys only, times re-printed."""
    if not isinstance(raw, dict):
        raise VerificationFailed(
            "guard pack manifest is not an object", code="E_GUARD_MANIFEST_INVALID"
        )
    out = {k: raw[k] for k in _MANIFEST_KEYS if k in raw}
    for key in ("created_at", "generated_at"):
        out[key] = _time(raw.get(key)) if raw.get(key) else timefmt.ZERO_TIME
    for key in ("case_id", "template_id", "control_index", "evidence_pointers"):
        if not out.get(key):
            out.pop(key, None)
    for key in ("rendered_artifacts", "signatures"):
        if not out.get(key):
            out.pop(key, None)
    window = raw.get("incident_window")
    if isinstance(window, dict):
        out["incident_window"] = {
            "from": _time(window.get("from")),
            "to": _time(window.get("to")),
            "window_seconds": window.get("window_seconds", 0),
        }
        if window.get("selection_anchor"):
            out["incident_window"]["selection_anchor"] = window["selection_anchor"]
    if not isinstance(out.get("contents"), list):
        raise VerificationFailed(
            "guard pack manifest has no contents", code="E_GUARD_MANIFEST_INVALID"
        )
    return out


def verify_guard_pack(
    path: str | Path, members: Members, raw: Any, opts: PackVerifyOptions
) -> PackVerifyResult:
    manifest = normalize_guard_manifest(raw)
    contents = [e for e in manifest["contents"] if isinstance(e, dict)]
    result = PackVerifyResult(
        pack_id=str(manifest.get("pack_id", "")),
        pack_type="guard",
        source_ref=str(manifest.get("run_id", "")),
        files_checked=len(contents),
        legacy_type="guard",
    )
    declared = {MANIFEST_NAME}
    for entry in contents:
        name = str(entry.get("path", ""))
        declared.add(name)
        actual = members.sha256.get(name)
        if actual is None:
            result.missing_files.append(name)
        elif actual.lower() != str(entry.get("sha256", "")).lower():
            result.hash_mismatches.append(
                {"path": name, "expected": str(entry.get("sha256", "")), "actual": actual}
            )
    result.undeclared_files = sorted(n for n in members.data if n not in declared)
    if result.integrity_ok():
        expected = guard_pack_id(result.source_ref, contents)
        if expected != result.pack_id:
            raise VerificationFailed(
                f"guard pack_id {result.pack_id} does not match its contents ({expected})",
                code="E_GUARD_PACK_ID_MISMATCH",
                hint="the manifest's contents were edited; rebuild the pack",
            )
    body = {k: v for k, v in manifest.items() if k != "signatures"}
    check_signatures(result, list(manifest.get("signatures") or []), digest(body), opts)
    return result


def inspect_guard_pack(members: Members, raw: Any) -> dict[str, Any]:
    manifest = normalize_guard_manifest(raw)
    doc: dict[str, Any] = {
        "pack_id": manifest.get("pack_id", ""),
        "pack_type": "guard",
        "source_ref": manifest.get("run_id", ""),
        "manifest": manifest,
        "legacy_type": "guard",
    }
    for name in ("runpack_summary.json", "trace_summary.json", "regress_summary.json"):
        if name in members.data:
            try:
                doc[name.removesuffix(".json")] = loads_strict(members.data[name])
            except GaitError:
                pass
    return doc
