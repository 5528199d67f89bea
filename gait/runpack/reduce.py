"""Case reduction: the smallest runpack that still shows the failure, with a report.

A long run that failed is a poor regression case; the one call that failed is a good one. The
reducer keeps one intent (the first, by intent id, that triggers the predicate), its result when
the predicate needs it, the refs that call names and the timeline entries about it, writes that
as a new runpack and re-checks the predicate on what it wrote.

Predicates: the reference's ``missing_result`` and ``non_ok_status``; ours ``verdict`` (a named
tool's call whose recorded verdict is the given one, e.g. the call the gate blocked),
``replay_miss`` (a call the recorded runpack ``--against`` cannot answer in stub replay) and
``grader`` (a regress fixture's grader fails on the run: delta debugging over the run's calls
finds a smallest subset on which that grader still fails with the same reason codes; every
call left is needed, removing any one of them makes the grader pass or fail differently).
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

PREDICATES = ("missing_result", "non_ok_status", "verdict", "replay_miss", "grader")
MAX_EVALUATIONS = 400  # grader runs one reduction may spend; past it, the smallest so far


@dataclass
class Predicate:
    name: str
    tool: str = ""
    verdict: str = ""
    against: Runpack | None = None
    grader: str = ""
    fixture: str = ""
    config: str = "gait.yaml"
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
        if self.name == "grader" and not self.grader:
            raise InvalidInput(
                "--predicate grader needs --grader NAME (and --fixture NAME when gait.yaml "
                "has more than one fixture)",
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
        if self.grader:
            doc["grader"] = self.grader
        if self.fixture:
            doc["fixture"] = self.fixture
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


def _subset(
    pack: Runpack,
    new_id: str,
    keep: set[str],
    keep_result: Callable[[dict[str, Any]], bool],
    *,
    one_each: bool,
) -> tuple[dict[str, Any], int, int]:
    """(record input, intent count, kept ref count) of ``pack`` cut down to the intents
    ``keep``, the results ``keep_result`` accepts for them, the refs they name and their
    timeline entries."""
    intents = [_strip(i) for i in pack.intents if str(i.get("intent_id", "")) in keep]
    results = [
        _strip(r) for r in pack.results if str(r.get("intent_id", "")) in keep and keep_result(r)
    ]
    if one_each:
        intents, results = intents[:1], results[:1]
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
        if isinstance(e, dict) and (not e.get("ref") or e.get("ref") in keep)
    ]
    doc = {
        "run": run,
        "intents": intents,
        "results": results,
        "refs": new_refs,
        "capture_mode": pack.capture_mode,
    }
    return doc, len(results), len(kept)


def _report(
    pack: Runpack, pred: Predicate, new_id: str, selected: list[str], counts: tuple[int, int]
) -> dict[str, Any]:
    refs = pack.refs if isinstance(pack.refs, dict) else {}
    created = str(pack.run.get("created_at") or timefmt.EPOCH_1980)
    return {
        "schema_id": "gait.runpack.reduce_report",
        "schema_version": "1.0.0",
        "created_at": timefmt.canonical(created),
        "producer_version": str(pack.run.get("producer_version", "")),
        "run_id": pack.run_id,
        "reduced_run_id": new_id,
        "predicate": pred.name,
        "selected_intent_id": selected[0] if selected else "",
        "original_intent_count": len(pack.intents),
        "reduced_intent_count": len(selected),
        "original_result_count": len(pack.results),
        "reduced_result_count": counts[0],
        "original_ref_count": len([r for r in refs.get("receipts") or [] if isinstance(r, dict)]),
        "reduced_ref_count": counts[1],
    }


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

    if pred.name == "grader":
        return reduce_by_grader(source, pack, pred, out=out, key=key)
    selected = select_intent(pack, pred)
    new_id = reduced_run_id(pack.run_id, pred)
    keep_result: Callable[[dict[str, Any]], bool] = {
        "missing_result": lambda r: False,
        "non_ok_status": lambda r: not _ok(r.get("status")),
        "verdict": lambda r: _verdict_of(r) == pred.verdict,
    }.get(pred.name, lambda r: True)
    doc, result_count, ref_count = _subset(pack, new_id, {selected}, keep_result, one_each=True)
    target = out or source.parent / f"runpack_{pack.run_id}_reduced_{pred.name}.zip"
    written = write_record_input(doc, target, signing_keys=[key] if key else None)
    reduced = load_runpack(written.path, verify=False)
    still = select_intent(reduced, pred) == selected  # raises when it no longer triggers
    report = _report(pack, pred, new_id, [selected], (result_count, ref_count))
    report["still_failing"] = still
    if pred.name in ("verdict", "replay_miss") or pred.tool:
        report["predicate_detail"] = pred.to_json()
    report["source_manifest_digest"] = str(pack.manifest.get("manifest_digest", ""))
    report["reduced_manifest_digest"] = written.manifest_digest
    return written.path, report


# ---------------------------------------------------------------------------------------------
# A fixture's grader as the predicate


class GraderJudge:
    """One grader of one regress fixture, run on candidate runpacks the reducer writes.

    The fixture (its runpack and fixture.json expectations) stays as gait.yaml says; only the
    candidate the grader judges changes, exactly as ``candidate_runpack:`` would change it.
    """

    def __init__(self, pred: Predicate) -> None:
        from gait.regress.config import load_config
        from gait.regress.context import RunpackCache
        from gait.regress.manager import get_registry

        self.config = load_config(pred.config)
        names = [f.name for f in self.config.fixtures]
        fixture = pred.fixture or (names[0] if len(names) == 1 else "")
        if fixture not in names:
            raise InvalidInput(
                f"{pred.config}: no fixture {pred.fixture!r} (fixtures: {', '.join(names)})"
                if pred.fixture
                else f"{pred.config} has {len(names)} fixtures; name one with --fixture",
                code="E_REDUCE_PREDICATE_INVALID",
                hint="gait regress run --json lists each fixture and its failing graders",
            )
        self.fixture = self.config.fixture(fixture)
        self.registry = get_registry()
        try:
            self.grader = self.registry.get(pred.grader)
        except InvalidInput as exc:
            raise InvalidInput(
                f"--grader: {exc.message}", code="E_REDUCE_PREDICATE_INVALID", hint=exc.hint
            ) from None
        if not self.grader.deterministic:
            raise InvalidInput(
                f"grader {pred.grader!r} is not deterministic: reducing against it would "
                "keep calls by chance",
                code="E_REDUCE_PREDICATE_INVALID",
            )
        merged = dict(self.config.grader_options)
        merged.update(self.fixture.grader_options)
        options = merged.get(self.grader.name)
        self.options = options if isinstance(options, dict) else {}
        self.cache = RunpackCache()
        self.evaluations = 0

    def judge(self, path: Path) -> tuple[str, list[str]]:
        """(status, reason codes) of the grader with ``path`` as the candidate; a grader that
        raises is reported as status ``error`` (never the failure being reduced)."""
        from gait.regress.api import GradeInputError
        from gait.regress.context import Candidate, GradeContext

        self.evaluations += 1
        ctx = GradeContext(
            config=self.config,
            fixture=self.fixture,
            grader=self.grader.name,
            options=self.options,
            candidate=Candidate(path=path, label="reduced candidate", origin="candidate_runpack"),
            cache=self.cache,
            pin=self.config.pins.get(self.grader.name),
        )
        try:
            result = self.registry.grade(self.grader, ctx)
        except GradeInputError as exc:
            return "fail", [exc.reason_code]
        except Exception:  # noqa: BLE001 - a crash is not the failure being reduced
            return "error", []
        if result is None or not hasattr(result, "status"):
            return "error", []
        return str(result.status), sorted({str(c) for c in result.reason_codes})


def ddmin(items: list[str], fails: Callable[[list[str]], bool], budget: int) -> list[str]:
    """Zeller's delta debugging: a 1-minimal sublist of ``items`` (order kept) on which
    ``fails`` holds, given that it holds on ``items``; stops early once ``budget`` calls of
    ``fails`` are spent (the smallest failing sublist found so far is returned)."""
    spent = 0

    def test(subset: list[str]) -> bool:
        nonlocal spent
        spent += 1
        return fails(subset)

    if test([]):
        return []
    current, parts = list(items), 2
    while len(current) >= 2 and spent < budget:
        size = -(-len(current) // parts)
        chunks = [current[i : i + size] for i in range(0, len(current), size)]
        for chunk in chunks:
            if spent < budget and test(chunk):
                current, parts = chunk, 2
                break
        else:
            for chunk in chunks:
                drop = set(chunk)
                rest = [item for item in current if item not in drop]
                if len(chunks) > 2 and spent < budget and test(rest):
                    current, parts = rest, max(parts - 1, 2)
                    break
            else:
                if parts >= len(current):
                    break
                parts = min(len(current), parts * 2)
    return current


def reduce_by_grader(
    source: Path,
    pack: Runpack,
    pred: Predicate,
    *,
    out: Path | None = None,
    key: SigningKey | None = None,
) -> tuple[Path, dict[str, Any]]:
    from gait.fsutil import scratch
    from gait.runpack.writer import write_record_input

    judge = GraderJudge(pred)
    status, original = judge.judge(source)
    if status != "fail":
        raise InvalidInput(
            f"grader {pred.grader!r} does not fail on run {pack.run_id} "
            f"(fixture {judge.fixture.name!r}: {status})",
            code="E_REDUCE_PREDICATE_NOT_TRIGGERED",
            hint="gait regress run --json names the graders that fail, and on which fixture",
        )
    new_id = reduced_run_id(pack.run_id, pred)
    order = [str(i.get("intent_id", "")) for i in pack.intents if i.get("intent_id")]

    with scratch("gait-reduce") as work:
        trial = 0

        def fails(subset: list[str]) -> bool:
            nonlocal trial
            trial += 1
            doc, _, _ = _subset(pack, new_id, set(subset), lambda r: True, one_each=False)
            path = write_record_input(doc, Path(work) / f"trial_{trial}.zip").path
            got, codes = judge.judge(path)
            return got == "fail" and set(original) <= set(codes)

        kept = ddmin(order, fails, MAX_EVALUATIONS)
    keep = set(kept)
    doc, result_count, ref_count = _subset(pack, new_id, keep, lambda r: True, one_each=False)
    target = out or source.parent / f"runpack_{pack.run_id}_reduced_{pred.name}.zip"
    written = write_record_input(doc, target, signing_keys=[key] if key else None)
    final_status, final_codes = judge.judge(written.path)
    report = _report(pack, pred, new_id, kept, (result_count, ref_count))
    report["still_failing"] = final_status == "fail" and set(original) <= set(final_codes)
    report["predicate_detail"] = {**pred.to_json(), "fixture": judge.fixture.name}
    report["selected_intent_ids"] = kept
    report["reason_codes"] = original
    report["reduced_reason_codes"] = final_codes
    report["evaluations"] = judge.evaluations
    report["budget_exhausted"] = judge.evaluations - 2 >= MAX_EVALUATIONS
    report["source_manifest_digest"] = str(pack.manifest.get("manifest_digest", ""))
    report["reduced_manifest_digest"] = written.manifest_digest
    if not report["still_failing"]:
        raise InvalidInput(
            f"the reduced run {written.path} no longer fails grader {pred.grader!r}",
            code="E_REDUCE_PREDICATE_NOT_TRIGGERED",
            hint="the grader depends on more than the calls kept; report this with the run",
        )
    return written.path, report
