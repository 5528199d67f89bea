"""The compliance report: one model, rendered as PDF (gait.guard.pdf) and as HTML (here).

It answers, for one run, what a compliance lead asks: what ran, what was decided and by whom,
what was approved, what verifies, and the digest of every artifact the answers rest on. Every
statement is computed from the artifacts in the pack, checked here, never copied from a claim.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gait.canon import sha256_hex
from gait.runpack.archive import Members
from gait.runpack.model import Runpack


@dataclass
class Report:
    title: str
    facts: list[tuple[str, str]]
    verdicts: list[tuple[str, str, str]]  # (what, status, detail)
    ran: list[list[str]]
    decided: list[list[str]]
    approved: list[list[str]]
    artifacts: list[tuple[str, str]]
    notes: list[str] = field(default_factory=list)

    RAN_HEAD = ("#", "intent", "tool", "status")
    DECIDED_HEAD = ("trace", "tool", "verdict", "policy", "signed by")
    APPROVED_HEAD = ("trace", "approver", "reason", "token", "valid")


def _short(text: Any, width: int = 16) -> str:
    value = str(text or "")
    return value if len(value) <= width else value[:width] + "..."


def _runpack_verdict(path_label: str, members: Members) -> tuple[str, str, str]:
    from gait.runpack.reader import default_options
    from gait.runpack.verify import verify_members

    report = verify_members(path_label, members, default_options())
    status = "verified" if report.ok else "FAILED"
    sig = report.signature_status
    if report.signer_key_id:
        sig += f" by key {report.signer_key_id[:16]}"
    detail = f"{report.files_checked} members hash-checked; signature {sig}"
    if not report.ok:
        detail += f"; {', '.join(report.error_codes)}"
    return ("runpack integrity", status, detail)


def _trace_checks(trace_docs: Sequence[tuple[str, Any]]) -> list[tuple[str, Any, Any]]:
    from gait.gate.trace import signable_trace
    from gait.sign.keyring import load_keyring
    from gait.sign.signature import check_signature

    keys = load_keyring().trusted_keys()
    out = []
    for name, doc in trace_docs:
        check = None
        if isinstance(doc, dict) and isinstance(doc.get("signature"), dict):
            try:
                body = signable_trace(doc)
                from gait.canon import digest

                check = check_signature(doc["signature"], digest(body), keys, explicit=False)
            except Exception:  # noqa: BLE001 - a malformed trace is reported, never a crash
                check = None
        out.append((name, doc, check))
    return out


def build_report(
    *,
    run: Runpack,
    runpack_members: Members,
    trace_docs: Sequence[tuple[str, Any]],
    regress_docs: Sequence[tuple[str, Any]],
    approval_docs: Sequence[Any],
    files: Mapping[str, bytes],
    case_id: str,
    template: str,
    generated_at: str,
    incident_window: Mapping[str, Any] | None,
) -> Report:
    facts = [
        ("Run", run.run_id),
        ("Case", case_id or "(none)"),
        ("Template", template),
        ("Run created", generated_at),
        ("Runpack manifest", f"sha256:{run.manifest.get('manifest_digest', '')}"),
        ("Capture mode", run.capture_mode),
    ]
    if incident_window:
        facts.append(
            ("Incident window", f"{incident_window.get('from')} .. {incident_window.get('to')}")
        )
    verdicts = [_runpack_verdict(f"runpack {run.run_id}", runpack_members)]
    results = {str(r.get("intent_id")): str(r.get("status", "")) for r in run.results}
    ran = [
        [str(i), str(it.get("intent_id", "")), str(it.get("tool_name", "")),
         results.get(str(it.get("intent_id")), "no result")]
        for i, it in enumerate(run.intents, start=1)
    ]  # fmt: skip
    decided = []
    checks = _trace_checks(trace_docs)
    ok_traces = 0
    for _name, doc, check in checks:
        d = doc if isinstance(doc, dict) else {}
        if check is not None and check.ok:
            ok_traces += 1
            signer = f"key {check.key_id[:16]} (verified)"
        elif check is not None and check.skipped:
            signer = f"key {_short((d.get('signature') or {}).get('key_id'))} (not in trust store)"
        else:
            signer = "signature INVALID"
        decided.append(
            [str(d.get("trace_id", "")), str(d.get("tool_name", "")), str(d.get("verdict", "")),
             _short(d.get("policy_digest")), signer]
        )  # fmt: skip
    if checks:
        status = "verified" if ok_traces == len(checks) else "NOT ALL VERIFIED"
        verdicts.append(("gate traces", status, f"{ok_traces} of {len(checks)} signatures verify"))
    approved = []
    for audit in approval_docs:
        a = audit if isinstance(audit, dict) else {}
        entries = [e for e in a.get("entries") or [] if isinstance(e, dict)]
        if not entries:
            approved.append([str(a.get("trace_id", "")), "(no approval)", "", "", "no"])
        for e in entries:
            approved.append(
                [str(a.get("trace_id", "")), str(e.get("approver_identity", "")),
                 str(e.get("reason_code", "")), str(e.get("token_id", "")),
                 "yes" if e.get("valid") else "no"]
            )  # fmt: skip
    if approval_docs:
        granted = sum(1 for a in approval_docs if isinstance(a, dict) and a.get("approved"))
        verdicts.append(
            ("approvals", f"{granted} of {len(approval_docs)} granted", "from approval audits")
        )
    for name, doc in regress_docs:
        d = doc if isinstance(doc, dict) else {}
        status = str(d.get("status", ""))
        verdicts.append(
            (f"regress {name}", "passed" if status == "pass" else f"status {status or '?'}",
             f"{len(d.get('graders') or [])} graders, fixture set {d.get('fixture_set', '')}")
        )  # fmt: skip
    artifacts = [(name, sha256_hex(files[name])) for name in sorted(files)]
    notes = [
        "Every digest is SHA-256 of the member's bytes; the pack manifest lists the same digests "
        "and its signature covers them (gait guard verify <pack> checks all of it offline).",
    ]
    return Report(
        title="Gait evidence report",
        facts=facts,
        verdicts=verdicts,
        ran=ran,
        decided=decided,
        approved=approved,
        artifacts=artifacts,
        notes=notes,
    )


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> str:
    if not rows:
        return f"<p class=empty>{html.escape(empty)}</p>"
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Report) -> str:
    """A self-contained page (no scripts, no external assets) with the same content as the PDF."""
    facts = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in report.facts
    )
    verdicts = _table(("check", "result", "detail"), report.verdicts, "nothing checked")
    artifacts = _table(("artifact", "sha256"), report.artifacts, "no artifacts")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#111}"
        "table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}"
        "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:.85rem}"
        "td{font-family:ui-monospace,monospace;word-break:break-all}.empty{color:#666}"
    )
    notes = "".join(f"<p>{html.escape(n)}</p>" for n in report.notes)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(report.title)}</title><style>{style}</style></head><body>"
        f"<h1>{html.escape(report.title)}</h1><table>{facts}</table>"
        f"<h2>What verifies</h2>{verdicts}"
        f"<h2>What ran</h2>{_table(Report.RAN_HEAD, report.ran, 'no tool calls recorded')}"
        "<h2>What was decided, and by whom</h2>"
        f"{_table(Report.DECIDED_HEAD, report.decided, 'no gate traces in this pack')}"
        "<h2>What was approved</h2>"
        f"{_table(Report.APPROVED_HEAD, report.approved, 'no approval audits in this pack')}"
        f"<h2>Artifacts and digests</h2>{artifacts}{notes}</body></html>\n"
    )
