"""Case reduction: the smallest runpack that still shows the failure, with a report.

A long run that failed is a poor regression case; the one call that failed is a good one. The
reducer keeps one intent (the first, by intent id, that triggers the predicate), its result when
the predicate needs it, the refs that call names and the timeline entries about it, writes that
as a new runpack and re-checks the predicate on what it wrote.

Predicates: the reference's ``missing_result`` and ``non_ok_status``; ours ``verdict`` (a named
tool's call whose recorded verdict is the given one, e.g. the call the gate blocked) and
``replay_miss`` (a call the recorded runpack ``--against`` cannot answer in stub replay).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gait import timefmt
from gait.errors import InvalidInput
from gait.runpack.model import Runpack
from gait.sign.keys import SigningKey

PREDICATES = ("missing_result", "non_ok_status", "verdict", "replay_miss")


@dataclass
class Predicate:
    name: str
    tool: str = ""
    verdict: str = ""
    against: Runpack | None = None
    _recorded: set[tuple[str, str]] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        if self.name not in PREDICATES:
            raise InvalidInput(
                f"unsupported predicate {self.name!r} (one of {', '.join(PREDICATES)})",
                code="E_REDUCE_PREDICATE_INVALID",
            )
        if self.name == "verdict" and not self.verdict:
            raise InvalidInput(
                "--predicate verdict needs --verdict (and usually --tool)",
                code="E_REDUCE_PREDICATE_INVALID",
            )
        if self.name == "replay_miss":
            if self.against is None:
                raise InvalidInput(
                    "--predicate replay_miss needs --against RECORDED_RUN",
                    code="E_REDUCE_PREDICATE_INVALID",
                )
            answered = {str(r.get("intent_id")) for r in self.against.results}
            self._recorded = {
                (str(i.get("tool_name", "")), str(i.get("args_digest", "")))
                for i in self.against.intents
                if str(i.get("intent_id")) in answered
            }

    def to_json(self) -> dict[str, str]:
        doc = {"name": self.name}
        if self.tool:
            doc["tool"] = self.tool
        if self.verdict:
            doc["verdict"] = self.verdict
        return doc


def _ok(status: Any) -> bool:
    return isinstance(status, str) and status.strip().lower() in ("ok", "success")


def _verdict_of(result: dict[str, Any]) -> str:
    payload = result.get("result")
    if isinstance(payload, dict) and isinstance(payload.get("verdict"), str):
        return str(payload["verdict"]).strip().lower()
    return "allow" if _ok(result.get("status")) else "error"


def _triggers(pack: Runpack, pred: Predicate) -> Callable[[dict[str, Any]], bool]:
    results: dict[str, list[dict[str, Any]]] = {}
    for res in pack.results:
        results.setdefault(str(res.get("intent_id", "")), []).append(res)

    def check(intent: dict[str, Any]) -> bool:
        mine = results.get(str(intent.get("intent_id", "")), [])
        if pred.tool and intent.get("tool_name") != pred.tool:
            return False
        if pred.name == "missing_result":
            return not mine
        if pred.name == "non_ok_status":
            return any(not _ok(r.get("status")) for r in mine)
        if pred.name == "verdict":
            return any(_verdict_of(r) == pred.verdict for r in mine)
        key = (str(intent.get("tool_name", "")), str(intent.get("args_digest", "")))
        return key not in pred._recorded

    return check


def select_intent(pack: Runpack, pred: Predicate) -> str:
    check = _triggers(pack, pred)
    for intent in sorted(pack.intents, key=lambda i: str(i.get("intent_id", ""))):
        if intent.get("intent_id") and check(intent):
            return str(intent["intent_id"])
    raise InvalidInput(
        f"predicate {pred.name} is not triggered by run {pack.run_id}",
        code="E_REDUCE_PREDICATE_NOT_TRIGGERED",
        hint="pick another --predicate, or check the run with gait run inspect",
    )


def _ref_ids(value: Any, out: set[str]) -> None:
    if isinstance(value, dict):
        for key, nested in value.items():
            if "ref" in str(key).strip().lower() and isinstance(nested, str) and nested.strip():
                out.add(nested.strip())
            _ref_ids(nested, out)
    elif isinstance(value, list):
        for nested in value:
            _ref_ids(nested, out)
    elif isinstance(value, str) and value.startswith("ref_"):
        out.add(value)


def reduced_run_id(run_id: str, pred: Predicate) -> str:
    base = run_id.strip() if run_id.strip().startswith("run_") else f"run_{run_id.strip()}"
    return f"{base}_reduced_{pred.name.replace('_', '')}"


def _strip(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("run_id", "schema_id", "schema_version")}


def reduce_runpack(
    source: Path,
    pack: Runpack,
    pred: Predicate,
    *,
    out: Path | None = None,
    key: SigningKey | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Write the reduced runpack; return its path and the reduction report."""
    from gait.runpack.reader import load_runpack
    from gait.runpack.writer import write_record_input

    selected = select_intent(pack, pred)
    new_id = reduced_run_id(pack.run_id, pred)
    intents = [_strip(i) for i in pack.intents if i.get("intent_id") == selected][:1]
    results: list[dict[str, Any]] = []
    if pred.name != "missing_result":
        check_result: Callable[[dict[str, Any]], bool] = {
            "non_ok_status": lambda r: not _ok(r.get("status")),
            "verdict": lambda r: _verdict_of(r) == pred.verdict,
        }.get(pred.name, lambda r: True)
        results = [
            _strip(r) for r in pack.results if r.get("intent_id") == selected and check_result(r)
        ][:1]
    refs_used: set[str] = set()
    for record in intents:
        _ref_ids(record.get("args"), refs_used)
    for record in results:
        _ref_ids(record.get("result"), refs_used)
    refs = dict(pack.refs) if isinstance(pack.refs, dict) else {}
    receipts = [r for r in refs.get("receipts") or [] if isinstance(r, dict)]
    kept = sorted(
        (r for r in receipts if r.get("ref_id") in refs_used), key=lambda r: str(r["ref_id"])
    )
    new_refs = {k: v for k, v in refs.items() if k not in ("run_id", "schema_id", "receipts")}
    new_refs.pop("schema_version", None)
    new_refs["receipts"] = kept
    if "context_ref_count" in new_refs:
        new_refs["context_ref_count"] = len(kept)
    new_refs.pop("context_set_digest", None)  # the digest covered receipts no longer here
    run = {k: v for k, v in pack.run.items() if k not in ("schema_id", "schema_version")}
    run["run_id"] = new_id
    run["timeline"] = [
        e
        for e in pack.run.get("timeline") or []
        if isinstance(e, dict) and (not e.get("ref") or e.get("ref") == selected)
    ]
    target = out or source.parent / f"runpack_{pack.run_id}_reduced_{pred.name}.zip"
    written = write_record_input(
        {
            "run": run,
            "intents": intents,
            "results": results,
            "refs": new_refs,
            "capture_mode": pack.capture_mode,
        },
        target,
        signing_keys=[key] if key else None,
    )
    reduced = load_runpack(written.path, verify=False)
    still = select_intent(reduced, pred) == selected  # raises when it no longer triggers
    created = str(pack.run.get("created_at") or timefmt.EPOCH_1980)
    report = {
        "schema_id": "gait.runpack.reduce_report",
        "schema_version": "1.0.0",
        "created_at": timefmt.canonical(created),
        "producer_version": str(pack.run.get("producer_version", "")),
        "run_id": pack.run_id,
        "reduced_run_id": new_id,
        "predicate": pred.name,
        "selected_intent_id": selected,
        "original_intent_count": len(pack.intents),
        "reduced_intent_count": len(intents),
        "original_result_count": len(pack.results),
        "reduced_result_count": len(results),
        "original_ref_count": len(receipts),
        "reduced_ref_count": len(kept),
        "still_failing": still,
    }
    if pred.name in ("verdict", "replay_miss") or pred.tool:
        report["predicate_detail"] = pred.to_json()
    report["source_manifest_digest"] = str(pack.manifest.get("manifest_digest", ""))
    report["reduced_manifest_digest"] = written.manifest_digest
    return written.path, report
