"""``gait run diff --html``: one self-contained side-by-side page (no scripts, no network).

Everything is escaped; in ``--privacy metadata`` the page is built from the same metadata-only
records as the JSON, so no payload can reach it.
"""

from __future__ import annotations

import html
from typing import Any

from gait.canon import canonical_bytes
from gait.runpack.diff import DiffReport

MAX_ROWS = 2000
_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d1d1f}
h1{font-size:20px}table{border-collapse:collapse;width:100%;table-layout:fixed}
td,th{border:1px solid #ddd;padding:4px 6px;vertical-align:top;word-wrap:break-word}
th{background:#f4f4f6;text-align:left}pre{margin:0;white-space:pre-wrap;font:12px monospace}
tr.same td{color:#777}tr.changed td{background:#fff8e1}tr.added td{background:#e8f5e9}
tr.removed td{background:#fdecea}.flags span{margin-right:12px}.k{font-weight:600}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _json(value: Any) -> str:
    if value is None:
        return ""
    text = canonical_bytes(value).decode("utf-8")
    return _e(text if len(text) <= 4000 else text[:3997] + "...")


def _side(side: dict[str, Any] | None, privacy: str) -> str:
    if side is None:
        return "<td>&mdash;</td>"
    parts = [
        f"<span class=k>{_e(side.get('tool_name', ''))}</span> {_e(side.get('intent_id', ''))}",
        f"status={_e(side.get('status', ''))}",
        f"args=sha256:{_e(str(side.get('args_digest', ''))[:16])}",
        f"result=sha256:{_e(str(side.get('result_digest', ''))[:16])}",
    ]
    if privacy == "full":
        for key in ("args", "result"):
            if key in side:
                parts.append(f"<pre>{key}: {_json(side[key])}</pre>")
    return "<td>" + "<br>".join(parts) + "</td>"


def render(report: DiffReport) -> str:
    """The page as text; deterministic for the same two runpacks and privacy mode."""
    s = report.summary
    doc = report.to_diff_json()
    flags = "".join(
        f"<span>{_e(k)}=<b>{_e(str(bool(s.get(k))).lower())}</b></span>"
        for k in (
            "manifest_changed",
            "intents_changed",
            "results_changed",
            "refs_changed",
            "tool_sequence_changed",
            "run_metadata_changed",
        )
    )
    rows = []
    for step in report.steps[:MAX_ROWS]:
        changes = "".join(
            f"<li><code>{_e(c.path)}</code> {_e(c.kind)}"
            + (
                f": <code>{_json(c.left)}</code> &rarr; <code>{_json(c.right)}</code>"
                if c.show_values and c.kind == "changed"
                else ""
            )
            + "</li>"
            for c in step.changes[:50]
        )
        rows.append(
            f"<tr class={_e(step.status)}><td>{step.index}</td><td>{_e(step.status)}</td>"
            f"{_side(step.left, report.privacy)}{_side(step.right, report.privacy)}"
            f"<td><ul>{changes}</ul></td></tr>"
        )
    more = len(report.steps) - MAX_ROWS
    if more > 0:
        rows.append(f"<tr><td colspan=5>... {more} more steps (see diff.json)</td></tr>")
    other = "".join(
        f"<li>{_e(section)}: <code>{_e(c['path'])}</code> {_e(c['kind'])}</li>"
        for section in ("manifest", "refs", "run")
        for c in doc[section][:50]
    )
    title = f"gait run diff {s['run_id_left']} vs {s['run_id_right']}"
    verdict = "equal" if report.equal else "changed"
    first = report.first_divergent_step
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_e(title)}: {verdict}</h1>"
        f"<p>privacy={_e(report.privacy)} &middot; first divergent step: "
        f"{_e(first if first is not None else 'none')}</p>"
        f"<p class=flags>{flags}</p>"
        "<table><colgroup><col style=width:4em><col style=width:6em><col><col><col></colgroup>"
        "<tr><th>#</th><th>status</th>"
        f"<th>{_e(s['run_id_left'])}</th><th>{_e(s['run_id_right'])}</th><th>changes</th></tr>"
        + "".join(rows)
        + "</table>"
        + (f"<h2>Other changes</h2><ul>{other}</ul>" if other else "")
        + "</body></html>\n"
    )
