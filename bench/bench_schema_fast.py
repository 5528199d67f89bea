"""Schema fast path: gait.schema's compiled closures beside fastjsonschema (issue 14 item 1).

Times a validation per document (the best of several rounds, in microseconds, CPU time) on the
conformance schema samples, and checks every verdict against jsonschema (the reference for 2020-12
semantics). Needs ../shared/conformance (or GAIT_CONFORMANCE_DIR) and, for the comparison,
``pip install fastjsonschema`` (it is not a dependency of gait).

Run: ``python bench/bench_schema_fast.py``; prints one JSON summary.
"""

from __future__ import annotations

import json
import os
import time
from functools import partial
from pathlib import Path
from typing import Any

from gait import schema

SAMPLES = {
    "gate_approval_token": "gait.gate.approval_token",
    "gate_intent_request": "gait.gate.intent_request",
    "gate_policy": "gait.gate.policy",
    "gate_result": "gait.gate.result",
    "gate_trace_record": "gait.gate.trace",
    "guard_pack_manifest": "gait.guard.pack_manifest",
    "intent": "gait.runpack.intent",
    "manifest": "gait.runpack.manifest",
    "policy_test_result": "gait.policytest.result",
    "refs": "gait.runpack.refs",
    "registry_pack": "gait.registry.pack",
    "regress_result": "gait.regress.result",
    "result": "gait.runpack.result",
    "run": "gait.runpack.run",
    "scout_inventory_snapshot": "gait.scout.inventory_snapshot",
}


def _samples(root: Path) -> list[tuple[str, bool, Any]]:
    out = []
    for stem, schema_id in SAMPLES.items():
        for valid in (True, False):
            base = root / f"{stem}_{'valid' if valid else 'invalid'}"
            if base.with_suffix(".json").exists():
                out.append((schema_id, valid, json.loads(base.with_suffix(".json").read_text())))
            elif base.with_suffix(".jsonl").exists():
                for line in base.with_suffix(".jsonl").read_text().splitlines():
                    if line.strip():
                        out.append((schema_id, valid, json.loads(line)))
    return out


def _per_call_us(check: Any, docs: list[Any], rounds: int = 7, repeat: int = 200) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(repeat):
            for doc in docs:
                check(doc)
        best = min(best, time.process_time() - start)
    return best / (repeat * len(docs)) * 1e6


def main() -> None:
    root = Path(os.environ.get("GAIT_CONFORMANCE_DIR", "../shared/conformance")) / "schema-samples"
    samples = _samples(root)
    try:
        import fastjsonschema
    except ImportError:
        fastjsonschema = None
    import jsonschema

    by_id: dict[str, list[tuple[bool, Any]]] = {}
    for schema_id, valid, doc in samples:
        by_id.setdefault(schema_id, []).append((valid, doc))
    rows = {}
    totals = {"ours_us": 0.0, "fastjsonschema_us": 0.0, "docs": 0}
    disagreements: list[str] = []
    for schema_id, docs in sorted(by_id.items()):
        document = schema.load_schema(schema_id)
        reference = jsonschema.Draft202012Validator(
            document, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        valid_docs = [doc for valid, doc in docs if reference.is_valid(doc)]
        row: dict[str, Any] = {"documents": len(docs), "valid": len(valid_docs)}
        compiled = schema._compiled(schema.schema_path(schema_id)).check
        row["ours_compiled"] = compiled is not None
        fast = None
        if fastjsonschema is not None:
            try:
                fast = fastjsonschema.compile(document)
            except Exception as exc:  # noqa: BLE001 - a schema it cannot compile is a result
                row["fastjsonschema_error"] = f"{type(exc).__name__}: {str(exc)[:80]}"

        def fast_valid(doc: Any, fast: Any = fast) -> bool:
            try:
                fast(doc)
                return True
            except Exception:  # noqa: BLE001 - JsonSchemaException or a crash: invalid
                return False

        for _, doc in docs:
            want = reference.is_valid(doc)
            if schema.is_valid(schema_id, doc) != want:
                disagreements.append(f"ours {schema_id}")
            if fast is not None and fast_valid(doc) != want:
                disagreements.append(f"fastjsonschema {schema_id}")
        if valid_docs:
            ours = partial(schema.is_valid, schema_id)
            row["ours_us"] = round(_per_call_us(ours, valid_docs), 2)
            if fast is not None:
                row["fastjsonschema_us"] = round(_per_call_us(fast_valid, valid_docs), 2)
                totals["ours_us"] += row["ours_us"] * len(valid_docs)
                totals["fastjsonschema_us"] += row["fastjsonschema_us"] * len(valid_docs)
                totals["docs"] += len(valid_docs)
        rows[schema_id] = row
    summary = {
        "bench": "schema_fast_path_us_per_valid_document",
        "load_avg": os.getloadavg()[0],
        "schemas": rows,
        "mean_us": {
            "ours": round(totals["ours_us"] / max(totals["docs"], 1), 2),
            "fastjsonschema": round(totals["fastjsonschema_us"] / max(totals["docs"], 1), 2),
        },
        "verdicts_differing_from_jsonschema": sorted(set(disagreements)),
    }
    print(json.dumps(summary, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
