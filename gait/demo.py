"""The offline first win: a deterministic toy agent making three stubbed tool calls.

Its content is fixed by FORMATS.md section 4, so the demo runpack is the same bytes on every
machine except for the producer version, the runtime and the dev key's signature.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gait import __version__

RUN_ID = "run_demo"
START = "2026-02-05T00:00:00Z"
FINISH = "2026-02-05T00:00:02Z"
CALLS = (
    ("tool.search", {"query": "gait demo: offline verification"}),
    ("tool.fetch", {"url": "https://example.local/demo"}),
    ("tool.summarize", {"input_ref": "ref_1"}),
)


def _stub_tool(n: int) -> dict[str, Any]:
    return {"ok": True, "message": f"demo result {n}"}


def demo_input(*, producer_version: str = __version__, runtime: str = "python") -> dict[str, Any]:
    """The demo run in the record-input shape every capture path shares."""
    intents, results, receipts = [], [], []
    for n, (tool, args) in enumerate(CALLS, start=1):
        intents.append({"intent_id": f"intent_{n}", "tool_name": tool, "args": args})
        results.append({"intent_id": f"intent_{n}", "status": "ok", "result": _stub_tool(n)})
        receipts.append(
            {
                "ref_id": f"ref_{n}",
                "source_type": "demo",
                "source_locator": tool,
                "query_digest": hashlib.sha256(f"query-{n}".encode()).hexdigest(),
                "content_digest": hashlib.sha256(f"content-{n}".encode()).hexdigest(),
                "retrieved_at": START,
                "redaction_mode": "reference",
            }
        )
    return {
        "capture_mode": "reference",
        "run": {
            "run_id": RUN_ID,
            "created_at": START,
            "producer_version": producer_version,
            "env": {"os": "demo", "arch": "demo", "runtime": runtime},
            "timeline": [{"event": "start", "ts": START}, {"event": "finish", "ts": FINISH}],
        },
        "intents": intents,
        "results": results,
        "refs": {"receipts": receipts},
    }


DEMO_POLICY = """\
# Demo policy for high-risk tools: destructive deletes are blocked outright.
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: require_approval
rules:
  - name: block-destructive-tool-delete
    priority: 10
    effect: block
    match:
      tool_names: [tool.delete]
      risk_classes: [high, critical]
    reason_codes: [destructive_tool_blocked]
"""


def demo_delete_intent() -> dict[str, Any]:
    """The high-risk intent of the policy demo (FORMATS.md section 5.2's example)."""
    return {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": START,
        "producer_version": __version__,
        "tool_name": "tool.delete",
        "args": {"path": "/tmp/demo/delete-me.txt"},
        "targets": [{"kind": "path", "value": "/tmp/demo/delete-me.txt", "operation": "delete"}],
        "context": {"identity": "demo.user", "workspace": "/tmp/demo", "risk_class": "high"},
    }
