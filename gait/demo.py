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
