"""Step-aligned, deterministic diff of two runpacks (FORMATS.md section 6.5).

The summary flags follow the reference exactly so that the same two runpacks give the same
verdict here and there: records are keyed by ``intent_id`` and compared without ``run_id``,
``producer_version`` and ``created_at``; the manifest is compared with its file hashes blanked.
On top of that this module aligns the two tool sequences step by step (added, removed and
changed steps, argument and result changes by JSON path) for people and for ``diff.json``.

Two deliberate additions: ``tool_sequence_changed`` (the same records in another order is a
different trajectory, which keyed comparison cannot see) makes a diff non-equal, and run.json
differences (timeline times, environment) are reported but never make a diff non-equal, since
two recordings of the same behaviour always differ there.

Privacy ``metadata`` compares digests, names and statuses only: payloads (``args``,
``result``) are neither compared nor printed, in the JSON, the human lines or the HTML.
"""

from __future__ import annotations

import difflib
import json
import marshal
from dataclasses import dataclass, field
from typing import Any

from gait import __version__
from gait.canon import canonical_bytes, loads_strict
from gait.errors import InvalidInput
from gait.runpack import model
from gait.runpack.lines import canonical_records
from gait.runpack.model import Runpack

PRIVACY_MODES = ("full", "metadata")
ENVELOPE_SKIP = ("run_id", "producer_version", "created_at")
INTENT_KEYS = ("schema_id", "schema_version", "intent_id", "tool_name", "args_digest", "args")
RESULT_KEYS = ("schema_id", "schema_version", "intent_id", "status", "result_digest", "result")
REFS_KEYS = (
    "schema_id",
    "schema_version",
    "receipts",
    "context_set_digest",
    "context_evidence_mode",
    "context_ref_count",
)
RUNTIME_RECEIPT_KEYS = ("retrieved_at", "freshness_sla_seconds")
ALIGN_LIMIT = 4000
NONDETERMINISTIC = "E_DIFF_NONDETERMINISTIC_INPUT"


@dataclass
class Change:
    path: str
    kind: str
    left: Any = None
    right: Any = None
    show_values: bool = True

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "kind": self.kind}
        if self.show_values:
            if self.kind != "added":
                out["left"] = self.left
            if self.kind != "removed":
                out["right"] = self.right
        return out


@dataclass
class Step:
    index: int
    status: str
    left: dict[str, Any] | None
    right: dict[str, Any] | None
    changes: list[Change] = field(default_factory=list)

    @property
    def intent_id(self) -> str:
        side = self.left or self.right or {}
        return str(side.get("intent_id", ""))

    @property
    def tool_name(self) -> str:
        side = self.left or self.right or {}
        return str(side.get("tool_name", ""))

    def to_json(self, *, brief: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.intent_id:
            out["intent_id"] = self.intent_id
        if brief and self.status == "same":
            return out
        out["left"] = self.left
        out["right"] = self.right
        out["changes"] = [c.to_json() for c in self.changes]
        return out


@dataclass
class DiffReport:
    privacy: str
    left: Runpack
    right: Runpack
    summary: dict[str, Any]
    steps: list[Step]
    run_changes: list[Change]
    refs_changes: list[Change]
    manifest_changes: list[Change]

    @property
    def equal(self) -> bool:
        s = self.summary
        return not (
            s["manifest_changed"]
            or s["intents_changed"]
            or s["results_changed"]
            or s["refs_changed"]
            or s.get("tool_sequence_changed")
        )

    @property
    def exit_code(self) -> int:
        return 0 if self.equal else 2

    @property
    def first_divergent_step(self) -> int | None:
        return next((s.index for s in self.steps if s.status != "same"), None)

    def to_result_json(self) -> dict[str, Any]:
        """The ``--json`` document: the reference's fields, then ours."""
        return {"ok": self.equal, "privacy": self.privacy, "summary": dict(self.summary)}

    def to_diff_json(self) -> dict[str, Any]:
        """``diff.json``: deterministic (``created_at`` is the left run's), never in a runpack."""
        return {
            "schema_id": "gait.runpack.diff",
            "schema_version": model.SCHEMA_VERSION,
            "created_at": str(self.left.run.get("created_at") or self.left.manifest["created_at"]),
            "producer_version": __version__,
            "privacy": self.privacy,
            "equal": self.equal,
            "left": _run_ref(self.left),
            "right": _run_ref(self.right),
            "summary": dict(self.summary),
            "first_divergent_step": self.first_divergent_step,
            "steps": [s.to_json(brief=True) for s in self.steps],
            "run": [c.to_json() for c in self.run_changes],
            "refs": [c.to_json() for c in self.refs_changes],
            "manifest": [c.to_json() for c in self.manifest_changes],
        }

    def summary_lines(self, limit: int = 10) -> list[str]:
        """A bounded human summary naming the first divergent step."""
        s = self.summary
        lines = [
            f"diff={'equal' if self.equal else 'changed'} left={s['run_id_left']} "
            f"right={s['run_id_right']} privacy={self.privacy}",
            " ".join(
                f"{k}={str(bool(s.get(k))).lower()}"
                for k in (
                    "manifest_changed",
                    "intents_changed",
                    "results_changed",
                    "refs_changed",
                    "tool_sequence_changed",
                )
            ),
        ]
        changed = [st for st in self.steps if st.status != "same"]
        if changed:
            first = changed[0]
            lines.append(
                f"first divergent step: #{first.index} {first.intent_id} {first.tool_name} "
                f"({first.status})"
            )
        budget = max(limit - len(lines) - 1, 1)
        for step in changed[:budget]:
            lines.append(_step_line(step))
        if len(changed) > budget:
            lines.append(f"... {len(changed) - budget} more changed steps (--json or --out)")
        for label, changes in (("run", self.run_changes), ("refs", self.refs_changes)):
            if changes and len(lines) < limit + 1:
                paths = ", ".join(c.path for c in changes[:4])
                more = f" (+{len(changes) - 4})" if len(changes) > 4 else ""
                lines.append(f"{label}: {paths}{more}")
        return lines


def _run_ref(pack: Runpack) -> dict[str, Any]:
    return {
        "run_id": pack.run_id,
        "manifest_digest": str(pack.manifest.get("manifest_digest", "")),
        "capture_mode": pack.capture_mode,
    }


def _short(value: Any, width: int = 40) -> str:
    text = canonical_bytes(value).decode("utf-8") if value is not None else "null"
    return text if len(text) <= width else text[: width - 3] + "..."


def _step_line(step: Step) -> str:
    head = f"#{step.index} {step.status} {step.intent_id} {step.tool_name}"
    parts = []
    for change in step.changes[:3]:
        if change.show_values and change.kind == "changed" and change.path.endswith("_digest"):
            parts.append(f"{change.path} {str(change.left)[:12]} -> {str(change.right)[:12]}")
        elif change.show_values and change.kind == "changed":
            parts.append(f"{change.path} {_short(change.left)} -> {_short(change.right)}")
        else:
            parts.append(f"{change.path} {change.kind}")
    if len(step.changes) > 3:
        parts.append(f"+{len(step.changes) - 3} more")
    line = head + (": " + "; ".join(parts) if parts else "")
    return line if len(line) <= 200 else line[:197] + "..."


# --- canonical-form check --------------------------------------------------------------------


def check_canonical(pack: Runpack, label: str) -> None:
    """Refuse members whose bytes are not the canonical form their digests assume.

    A diff of non-canonical members would depend on formatting (whitespace, key order,
    number spelling), so two equal runs could diff as changed: exit 6, naming the member.
    Members that ``load_runpack`` proved canonical while parsing them (``canonical_members``,
    holding those very bytes) are not serialized again.
    """
    proven = pack.canonical_members
    for name in (model.MANIFEST, model.RUN, model.REFS):
        raw = pack.members.get(name)
        if raw is None or (name in proven and proven[name] is raw):
            continue
        if canonical_bytes(loads_strict(raw, what=f"{label} {name}")) != raw:
            raise _nondeterministic(label, name)
    for name, records in ((model.INTENTS, pack.intents), (model.RESULTS, pack.results)):
        raw = pack.members.get(name, b"")
        if name in proven and proven[name] is raw:
            continue
        if canonical_records(raw) is not None:  # chunked proof; line by line only to say where
            continue
        if raw and not raw.endswith(b"\n"):
            raise _nondeterministic(label, name, "last line has no newline")
        lines = raw.split(b"\n")[:-1]
        if len(lines) != len(records):
            raise _nondeterministic(label, name, "blank or partial lines")
        for number, (line, record) in enumerate(zip(lines, records, strict=True), start=1):
            if canonical_bytes(record) != line:
                raise _nondeterministic(label, f"{name} line {number}")


def _nondeterministic(label: str, where: str, why: str = "") -> InvalidInput:
    reason = why or "bytes are not canonical JSON (RFC 8785)"
    return InvalidInput(
        f"{label} runpack member {where}: {reason}; a diff would depend on formatting",
        code=NONDETERMINISTIC,
        hint="re-write the runpack with gait (gait run record --input ...) and diff again",
    )


# --- comparison --------------------------------------------------------------------------------


def _known(record: dict[str, Any], keys: tuple[str, ...], drop: tuple[str, ...]) -> dict[str, Any]:
    return {k: record[k] for k in keys if k in record and k not in drop}


_COMPARE = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _same(left: dict[str, Any], right: dict[str, Any]) -> bool:
    """Whether two records' comparison keys (``_COMPARE`` encodings) are equal.

    Plain sorted JSON is enough here: both runpacks passed ``check_canonical``, so their
    records are parsed from canonical text and equal text means equal canonical bytes.
    Equal marshal bytes (version 2: no object references, so only values, types and order
    count) mean equal values of equal types, hence equal JSON, and cost a fraction of an
    encode; anything else (at most one pair per diff, or odd values) is settled by encoding.
    """
    try:
        if left == right and marshal.dumps(left, 2) == marshal.dumps(right, 2):
            return True
    except ValueError:
        pass
    return _COMPARE.encode(left) == _COMPARE.encode(right)


def _compare_records(
    left: list[dict[str, Any]],
    right: list[dict[str, Any]],
    keys: tuple[str, ...],
    drop: tuple[str, ...],
) -> tuple[bool, list[Any], list[Any]]:
    """(changed, left-only ids, right-only ids) of records keyed by intent id (the last
    record of an id counts), compared on ``keys`` minus ``drop``."""
    kept = tuple(k for k in keys if k not in drop)
    lmap = {str(r.get("intent_id", "")): r for r in left}
    rmap = {str(r.get("intent_id", "")): r for r in right}
    left_only = sorted(set(lmap) - set(rmap))
    right_only = sorted(set(rmap) - set(lmap))
    if left_only or right_only:
        return True, left_only, right_only
    for key, a in lmap.items():
        b = rmap[key]
        if not _same({k: a[k] for k in kept if k in a}, {k: b[k] for k in kept if k in b}):
            return True, left_only, right_only
    return False, left_only, right_only


def _manifest_shape(manifest: dict[str, Any]) -> dict[str, Any]:
    shape: dict[str, Any] = {
        k: manifest[k] for k in ("schema_id", "schema_version", "capture_mode") if k in manifest
    }
    shape["files"] = [
        {"path": f.get("path", ""), "sha256": ""}
        for f in manifest.get("files", [])
        if isinstance(f, dict)
    ]
    return shape


def _refs_shape(refs: dict[str, Any]) -> dict[str, Any]:
    return {k: refs[k] for k in REFS_KEYS if k in refs}


def classify_context_drift(left: dict[str, Any], right: dict[str, Any]) -> str:
    """``none``, ``runtime_only`` (only retrieval times/SLAs moved) or ``semantic``."""
    if canonical_bytes(left) == canonical_bytes(right):
        return "none"

    def strip(refs: dict[str, Any]) -> dict[str, Any]:
        out = dict(refs)
        out["receipts"] = [
            {k: v for k, v in r.items() if k not in RUNTIME_RECEIPT_KEYS}
            for r in refs.get("receipts", [])
            if isinstance(r, dict)
        ]
        return out

    return (
        "runtime_only"
        if canonical_bytes(strip(left)) == canonical_bytes(strip(right))
        else ("semantic")
    )


def _json_path(parts: list[Any], root: str = "$") -> str:
    path = root
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            path += f".{part}"
        else:
            path += "[" + canonical_bytes(str(part)).decode("utf-8") + "]"
    return path


def _kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _walk(left: Any, right: Any, path: str, show: bool, out: list[Change]) -> None:
    if _kind(left) != _kind(right):
        out.append(Change(path, "type_changed", left, right, show))
    elif isinstance(left, dict):
        for key in sorted(set(left) | set(right)):
            child = _json_path([key], path)
            if key not in right:
                out.append(Change(child, "removed", left[key], None, show))
            elif key not in left:
                out.append(Change(child, "added", None, right[key], show))
            else:
                _walk(left[key], right[key], child, show, out)
    elif isinstance(left, list):
        for index in range(max(len(left), len(right))):
            child = f"{path}[{index}]"
            if index >= len(right):
                out.append(Change(child, "removed", left[index], None, show))
            elif index >= len(left):
                out.append(Change(child, "added", None, right[index], show))
            else:
                _walk(left[index], right[index], child, show, out)
    elif left != right:
        out.append(Change(path, "changed", left, right, show))


def value_changes(left: Any, right: Any, root: str = "$", *, show: bool = True) -> list[Change]:
    """Changes by JSON path, sorted, so the output is stable.

    A small walker over JSON values rather than deepdiff: payloads here are parsed JSON only,
    and importing deepdiff alone takes longer (0.4-0.8 s) than the whole diff's budget.
    """
    if (
        left == right
        and _kind(left) == _kind(right)
        and (not isinstance(left, (dict, list)) or canonical_bytes(left) == canonical_bytes(right))
    ):
        return []
    out: list[Change] = []
    _walk(left, right, root, show, out)
    return sorted(out, key=lambda c: c.path)


MAX_TIMELINE_CHANGES = 50


def run_metadata_changes(left: dict[str, Any], right: dict[str, Any]) -> list[Change]:
    """run.json differences; the timeline event by event, capped, since times always move."""
    skip = (*ENVELOPE_SKIP, "timeline")
    changes = value_changes(
        {k: v for k, v in left.items() if k not in skip},
        {k: v for k, v in right.items() if k not in skip},
    )
    lt, rt = left.get("timeline") or [], right.get("timeline") or []
    if not isinstance(lt, list) or not isinstance(rt, list):
        return changes + value_changes(lt, rt, "$.timeline")
    timeline: list[Change] = []
    for index in range(max(len(lt), len(rt))):
        if len(timeline) >= MAX_TIMELINE_CHANGES:
            break
        a = lt[index] if index < len(lt) else None
        b = rt[index] if index < len(rt) else None
        if a == b and type(a) is type(b):
            continue
        path = f"$.timeline[{index}]"
        if a is None or b is None:
            timeline.append(Change(path, "added" if a is None else "removed", a, b))
        else:
            timeline.extend(value_changes(a, b, path))
    return sorted(changes + timeline[:MAX_TIMELINE_CHANGES], key=lambda c: c.path)


def _side(
    intent: dict[str, Any] | None, result: dict[str, Any] | None, privacy: str, index: int
) -> dict[str, Any] | None:
    if intent is None:
        return None
    side: dict[str, Any] = {
        "index": index,
        "intent_id": intent.get("intent_id", ""),
        "tool_name": intent.get("tool_name", ""),
        "args_digest": intent.get("args_digest", ""),
    }
    if result is not None:
        side["status"] = result.get("status", "")
        side["result_digest"] = result.get("result_digest", "")
    else:
        side["status"] = "missing_result"
    if privacy == "full":
        if "args" in intent:
            side["args"] = intent["args"]
        if result is not None and "result" in result:
            side["result"] = result["result"]
    return side


_SIG_KEYS = ("intent_id", "tool_name", "args_digest", "status", "result_digest")


def _sig(side: dict[str, Any], privacy: str) -> tuple[Any, ...]:
    get = side.get
    base = (
        get("intent_id", ""),
        get("tool_name", ""),
        get("args_digest", ""),
        get("status", ""),
        get("result_digest", ""),
    )  # _SIG_KEYS, spelled out: this runs once per step
    if privacy == "full":
        # Payload presence matters too (raw vs reference capture of the same call).
        return (*base, "args" in side, "result" in side)
    return base


def _step_changes(left: dict[str, Any], right: dict[str, Any], privacy: str) -> list[Change]:
    changes = []
    for key in _SIG_KEYS:
        if left.get(key) != right.get(key):
            changes.append(Change(f"$.{key}", "changed", left.get(key), right.get(key)))
    if privacy == "full":
        for key in ("args", "result"):
            if key in left and key in right:
                changes.extend(value_changes(left[key], right[key], f"$.{key}"))
            elif key in left or key in right:
                kind = "removed" if key in left else "added"
                changes.append(Change(f"$.{key}", kind, show_values=False))
    return sorted(changes, key=lambda c: c.path)


def align_steps(
    left: list[dict[str, Any]], right: list[dict[str, Any]], privacy: str
) -> list[Step]:
    """Pair steps in order: common prefix and suffix first, then a bounded sequence match."""
    lsig = [_sig(s, privacy) for s in left]
    rsig = [_sig(s, privacy) for s in right]
    start = 0
    while start < len(left) and start < len(right) and lsig[start] == rsig[start]:
        start += 1
    end_l, end_r = len(left), len(right)
    while end_l > start and end_r > start and lsig[end_l - 1] == rsig[end_r - 1]:
        end_l -= 1
        end_r -= 1
    pairs: list[tuple[int | None, int | None]] = [(i, i) for i in range(start)]
    mid_l, mid_r = list(range(start, end_l)), list(range(start, end_r))
    if len(mid_l) <= ALIGN_LIMIT and len(mid_r) <= ALIGN_LIMIT:
        matcher = difflib.SequenceMatcher(
            a=[left[i]["tool_name"] for i in mid_l],
            b=[right[j]["tool_name"] for j in mid_r],
            autojunk=False,
        )
        for tag, a0, a1, b0, b1 in matcher.get_opcodes():
            if tag == "equal":
                pairs.extend((mid_l[a0 + k], mid_r[b0 + k]) for k in range(a1 - a0))
                continue
            common = min(a1 - a0, b1 - b0) if tag == "replace" else 0
            pairs.extend((mid_l[a0 + k], mid_r[b0 + k]) for k in range(common))
            pairs.extend((mid_l[k], None) for k in range(a0 + common, a1))
            pairs.extend((None, mid_r[k]) for k in range(b0 + common, b1))
    else:
        common = min(len(mid_l), len(mid_r))
        pairs.extend((mid_l[k], mid_r[k]) for k in range(common))
        pairs.extend((i, None) for i in mid_l[common:])
        pairs.extend((None, j) for j in mid_r[common:])
    pairs.extend((end_l + k, end_r + k) for k in range(len(left) - end_l))
    steps = []
    for index, (i, j) in enumerate(pairs):
        a = left[i] if i is not None else None
        b = right[j] if j is not None else None
        if a is None:
            steps.append(Step(index, "added", None, b))
        elif b is None:
            steps.append(Step(index, "removed", a, None))
        elif lsig[i] == rsig[j]:  # type: ignore[index]
            steps.append(Step(index, "same", a, b))
        else:
            steps.append(Step(index, "changed", a, b, _step_changes(a, b, privacy)))
    return steps


def _sides(pack: Runpack, privacy: str) -> list[dict[str, Any]]:
    results = pack.results_by_intent()
    return [
        _side(intent, results.get(str(intent.get("intent_id", ""))), privacy, i)  # type: ignore[misc]
        for i, intent in enumerate(pack.intents)
    ]


def diff_runpacks(left: Runpack, right: Runpack, *, privacy: str = "full") -> DiffReport:
    """Compare two verified runpacks; pure and deterministic."""
    if privacy not in PRIVACY_MODES:
        raise InvalidInput(f"privacy must be full or metadata, not {privacy!r}", code="E_USAGE")
    check_canonical(left, "left")
    check_canonical(right, "right")
    metadata = privacy == "metadata"
    intent_drop = ENVELOPE_SKIP + (("args",) if metadata else ())
    result_drop = ENVELOPE_SKIP + (("result",) if metadata else ())
    intents_changed, li, ri = _compare_records(
        left.intents, right.intents, INTENT_KEYS, intent_drop
    )
    results_changed, lr, rr = _compare_records(
        left.results, right.results, RESULT_KEYS, result_drop
    )
    lrefs, rrefs = _refs_shape(left.refs), _refs_shape(right.refs)
    drift = classify_context_drift(lrefs, rrefs)
    lman, rman = _manifest_shape(left.manifest), _manifest_shape(right.manifest)
    manifest_changed = canonical_bytes(lman) != canonical_bytes(rman)
    steps = align_steps(_sides(left, privacy), _sides(right, privacy), privacy)
    left_tools = [str(i.get("tool_name", "")) for i in left.intents]
    right_tools = [str(i.get("tool_name", "")) for i in right.intents]
    left_ids = [str(i.get("intent_id", "")) for i in left.intents]
    right_ids = [str(i.get("intent_id", "")) for i in right.intents]
    summary: dict[str, Any] = {
        "run_id_left": left.run_id,
        "run_id_right": right.run_id,
        "manifest_changed": manifest_changed,
        "intents_changed": intents_changed,
        "results_changed": results_changed,
        "refs_changed": drift != "none",
        "context_drift_classification": drift,
        "tool_sequence_changed": left_tools != right_tools
        or (sorted(left_ids) == sorted(right_ids) and left_ids != right_ids),
        "steps_left": len(left.intents),
        "steps_right": len(right.intents),
        "steps_changed": sum(1 for s in steps if s.status != "same"),
        "first_divergent_step": next((s.index for s in steps if s.status != "same"), None),
    }
    for key, values in (
        ("left_only_intents", li),
        ("right_only_intents", ri),
        ("left_only_results", lr),
        ("right_only_results", rr),
    ):
        if values:
            summary[key] = values
    files = sorted({f["path"] for f in lman["files"]} ^ {f["path"] for f in rman["files"]})
    if files:
        summary["files_changed"] = files
    run_changes = run_metadata_changes(left.run, right.run)
    summary["run_metadata_changed"] = bool(run_changes)
    return DiffReport(
        privacy=privacy,
        left=left,
        right=right,
        summary=summary,
        steps=steps,
        run_changes=run_changes,
        refs_changes=value_changes(lrefs, rrefs),
        manifest_changes=value_changes(lman, rman),
    )
