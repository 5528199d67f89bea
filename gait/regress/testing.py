"""Build runpacks and fixture sets in a few lines: for tests of graders, plugins and benches.

Runpacks are written by gait's own writer (unsigned, fixed times and environment), so a given
call list always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gait.regress.init import init_fixture

START = "2026-03-01T12:00:00Z"
Call = tuple[str, Mapping[str, Any], Any]  # tool name, args, result (or ("error", result))


def run_input(
    run_id: str,
    calls: Sequence[Call],
    *,
    capture_mode: str = "raw",
    receipts: Iterable[Mapping[str, Any]] = (),
    created_at: str = START,
) -> dict[str, Any]:
    """A record-input document (FORMATS.md section 3) for ``calls``."""
    intents, results = [], []
    for n, (tool, args, result) in enumerate(calls, start=1):
        intents.append({"intent_id": f"intent_{n}", "tool_name": tool, "args": dict(args)})
        status = "ok"
        if isinstance(result, tuple) and len(result) == 2 and result[0] == "error":
            status, result = "error", result[1]
        if result is not None:
            results.append({"intent_id": f"intent_{n}", "status": status, "result": result})
    return {
        "capture_mode": capture_mode,
        "run": {
            "run_id": run_id,
            "created_at": created_at,
            "env": {"os": "test", "arch": "test", "runtime": "python"},
            "timeline": [{"event": "start", "ts": created_at}],
        },
        "intents": intents,
        "results": results,
        "refs": {"receipts": [dict(r) for r in receipts]},
    }


def write_run(path: str | Path, run_id: str, calls: Sequence[Call], **options: Any) -> Path:
    """Write a runpack for ``calls`` at ``path``; options as for :func:`run_input`."""
    from gait.runpack.writer import write_record_input

    return write_record_input(run_input(run_id, calls, **options), path).path


def receipt(ref_id: str, content: str = "content", **extra: Any) -> dict[str, Any]:
    import hashlib

    return {
        "ref_id": ref_id,
        "source_type": "knowledge_base",
        "source_locator": f"kb://{ref_id}",
        "query_digest": hashlib.sha256(f"query-{ref_id}".encode()).hexdigest(),
        "content_digest": hashlib.sha256(content.encode()).hexdigest(),
        "retrieved_at": START,
        **extra,
    }


DEFAULT_CALLS: tuple[Call, ...] = (
    ("tool.search", {"query": "refund policy", "top_k": 3}, {"hits": 2}),
    ("tool.fetch", {"url": "https://example.local/policy", "timeout_ms": 1500}, {"status": 200}),
    ("tool.write", {"path": "/tmp/out.txt", "ratio": 0.5}, ("error", {"error": "denied"})),
)


def make_fixture_set(
    directory: str | Path,
    runs: Mapping[str, Sequence[Call]] | None = None,
    *,
    capture_mode: str = "raw",
) -> Path:
    """A fixture set (gait.yaml + fixtures/) with one fixture per run id, via regress init."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    source = root / ".sources"
    for run_id, calls in (runs or {"run_sample": DEFAULT_CALLS}).items():
        path = write_run(source / f"runpack_{run_id}.zip", run_id, calls, capture_mode=capture_mode)
        init_fixture(str(path), directory=root)
    return root / "gait.yaml"
