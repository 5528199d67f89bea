"""A readable view of one runpack: run metadata and its steps in timeline order.

Human lines are bounded (one line per step, a capped number of steps) so an agent or a ticket
can take them whole; ``to_json`` carries everything, payloads included only in raw capture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gait.canon import canonical_bytes
from gait.runpack.model import Runpack

PREVIEW = 48


@dataclass
class InspectView:
    runpack: Runpack
    steps: list[dict[str, Any]]
    events: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        pack = self.runpack
        return {
            "ok": True,
            "run_id": pack.run_id,
            "capture_mode": pack.capture_mode,
            "created_at": pack.run.get("created_at", ""),
            "producer_version": pack.run.get("producer_version", ""),
            "manifest_digest": pack.manifest.get("manifest_digest", ""),
            "signed": bool(pack.manifest.get("signatures")),
            "env": pack.run.get("env", {}),
            "steps_total": len(self.steps),
            "steps": self.steps,
            "timeline": self.events,
            "receipts": pack.refs.get("receipts", []),
        }

    def lines(self, limit: int = 10) -> list[str]:
        pack = self.runpack
        env = pack.run.get("env", {})
        ok = sum(1 for s in self.steps if s["status"] == "ok")
        errors = sum(1 for s in self.steps if s["status"] == "error")
        missing = sum(1 for s in self.steps if s["status"] == "missing_result")
        lines = [
            f"run_id={pack.run_id} capture_mode={pack.capture_mode} "
            f"created_at={pack.run.get('created_at', '')} "
            f"env={env.get('os', '?')}/{env.get('arch', '?')}/{env.get('runtime', '?')}",
            f"steps={len(self.steps)} ok={ok} error={errors} missing_result={missing} "
            f"receipts={len(pack.refs.get('receipts', []))} "
            f"signed={'yes' if pack.manifest.get('signatures') else 'no'}",
        ]
        shown = self.steps[:limit]
        for step in shown:
            line = f"#{step['index']} {step['ts'] or '-'} {step['intent_id']} {step['tool_name']}"
            line += f" -> {step['status']}"
            if "args" in step:
                line += f" args={_preview(step['args'])}"
            else:
                line += f" args=sha256:{step['args_digest'][:12]}"
            lines.append(line[:200])
        if len(self.steps) > len(shown):
            lines.append(f"... {len(self.steps) - len(shown)} more steps (--json for all)")
        return lines


def _preview(value: Any) -> str:
    text = canonical_bytes(value).decode("utf-8")
    return text if len(text) <= PREVIEW else text[: PREVIEW - 3] + "..."


def inspect_runpack(pack: Runpack) -> InspectView:
    """Steps in intent order, each with its timeline time and result."""
    results = pack.results_by_intent()
    events = [e for e in pack.run.get("timeline", []) if isinstance(e, dict)]
    times = {str(e.get("ref")): str(e.get("ts", "")) for e in events if e.get("ref")}
    steps = []
    for index, intent in enumerate(pack.intents):
        intent_id = str(intent.get("intent_id", ""))
        result = results.get(intent_id)
        step: dict[str, Any] = {
            "index": index,
            "intent_id": intent_id,
            "tool_name": intent.get("tool_name", ""),
            "ts": times.get(intent_id, ""),
            "args_digest": intent.get("args_digest", ""),
            "status": result.get("status", "ok") if result else "missing_result",
            "result_digest": result.get("result_digest", "") if result else "",
        }
        if "args" in intent:
            step["args"] = intent["args"]
        if result and "result" in result:
            step["result"] = result["result"]
        steps.append(step)
    return InspectView(pack, steps, events)
