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
import sys
from dataclasses import dataclass
from itertools import repeat
from operator import is_not, itemgetter
from pathlib import Path
from typing import Any

import orjson

from gait import __version__, gcpause
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
    """One difference between two runs (docstrings on these dataclasses keep dataclasses from
    running inspect in a ``gait run diff`` process)."""

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


class Step:
    """One aligned step. Its sides (``left``, ``right``: the call's names, digests, status and,
    with privacy ``full``, its payloads) are built when first read: a diff of 10,000 equal steps
    prints none of them, so none is built."""

    __slots__ = ("index", "status", "changes", "_left", "_right")

    def __init__(
        self,
        index: int,
        status: str,
        left: dict[str, Any] | _SideRef | None,
        right: dict[str, Any] | _SideRef | None,
        changes: list[Change] | None = None,
    ) -> None:
        self.index = index
        self.status = status
        self.changes: list[Change] = changes if changes is not None else []
        self._left = left
        self._right = right

    @property
    def left(self) -> dict[str, Any] | None:
        if isinstance(self._left, _SideRef):
            self._left = self._left.side()
        return self._left

    @property
    def right(self) -> dict[str, Any] | None:
        if isinstance(self._right, _SideRef):
            self._right = self._right.side()
        return self._right

    def _field(self, name: str) -> Any:
        ref = self._left if self._left is not None else self._right
        if ref is None:
            return ""
        if isinstance(ref, _SideRef):
            return ref.field(name)
        return ref.get(name, "")

    @property
    def intent_id(self) -> str:
        return str(self._field("intent_id"))

    @property
    def tool_name(self) -> str:
        return str(self._field("tool_name"))

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
    """Everything a diff of two runs found, as the CLI and SDK report it."""

    privacy: str
    left: RunView
    right: RunView
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


def _run_ref(pack: RunView) -> dict[str, Any]:
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


def _same_canonical(left: Any, right: Any, plain: bool) -> bool:
    """``canonical_bytes(left) == canonical_bytes(right)``. ``plain`` values were parsed from
    bytes the loader proved canonical (``RunView.plain``): plain JSON that canonicalizes, so
    equal orjson sorted forms mean equal values, type for type, and so equal canonical forms,
    answered without the canonical serializer's walk. Different forms can still be
    canonically equal (1 and 1.0): then, and for anything not plain, ``canonical_bytes``
    decides."""
    if plain:
        try:
            sort = orjson.OPT_SORT_KEYS
            if orjson.dumps(left, option=sort) == orjson.dumps(right, option=sort):
                return True
        except TypeError:  # orjson.JSONEncodeError
            pass
    return canonical_bytes(left) == canonical_bytes(right)


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


def value_changes(
    left: Any, right: Any, root: str = "$", *, show: bool = True, plain: bool = False
) -> list[Change]:
    """Changes by JSON path, sorted, so the output is stable (``plain``: see
    ``_same_canonical``).

    A small walker over JSON values rather than deepdiff: payloads here are parsed JSON only,
    and importing deepdiff alone takes longer (0.4-0.8 s) than the whole diff's budget.
    """
    if (
        left == right
        and _kind(left) == _kind(right)
        and (not isinstance(left, (dict, list)) or _same_canonical(left, right, plain))
    ):
        return []
    out: list[Change] = []
    _walk(left, right, root, show, out)
    return sorted(out, key=lambda c: c.path)


MAX_TIMELINE_CHANGES = 50


def run_metadata_changes(
    left: dict[str, Any], right: dict[str, Any], *, plain: bool = False
) -> list[Change]:
    """run.json differences; the timeline event by event, capped, since times always move."""
    skip = (*ENVELOPE_SKIP, "timeline")
    changes = value_changes(
        {k: v for k, v in left.items() if k not in skip},
        {k: v for k, v in right.items() if k not in skip},
        plain=plain,
    )
    lt, rt = left.get("timeline") or [], right.get("timeline") or []
    if not isinstance(lt, list) or not isinstance(rt, list):
        return changes + value_changes(lt, rt, "$.timeline", plain=plain)
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
            timeline.extend(value_changes(a, b, path, plain=plain))
    return sorted(changes + timeline[:MAX_TIMELINE_CHANGES], key=lambda c: c.path)


# --- what diff keeps of a runpack -------------------------------------------------------------

_ABSENT: Any = type("_Absent", (), {"__repr__": lambda self: "<absent>", "__slots__": ()})()
# A payload's comparison token: orjson's sorted compact form. Equal tokens mean equal values of
# equal types, as equal ``_COMPARE`` encodings do (both are one-to-one on JSON values: floats
# in shortest round-trip form, 1 and 1.0 and True told apart), and the token parses back to
# the value. What orjson prints unlike the stdlib encoder (NaN as null, datetimes, subclasses)
# is refused, so the records holding it take the record-by-record path.
_TOKEN_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
_INTENT_FIELDS = ("intent_id", "tool_name", "args_digest", "schema_id", "schema_version")
_RESULT_FIELDS = ("intent_id", "status", "result_digest", "schema_id", "schema_version")


def _token(value: Any) -> bytes:
    token = orjson.dumps(value, option=_TOKEN_OPTIONS)
    if b"null" in token and _has_nan(value):  # orjson prints NaN as null
        raise TypeError("NaN in payload")
    # A copy: orjson's own bytes object keeps its whole output buffer (4 KiB at least).
    return memoryview(token).tobytes()


def _tokens(values: list[Any]) -> list[Any]:
    """``_token`` of each value (``_ABSENT`` stays), a whole column at a time."""
    if _ABSENT in values:
        return [v if v is _ABSENT else _token(v) for v in values]
    # Copied one by one as made (lazy maps): orjson's own bytes object keeps its whole output
    # buffer (4 KiB at least), so 10,000 of them at once would take 40 MiB.
    dumped = map(orjson.dumps, values, repeat(None), repeat(_TOKEN_OPTIONS))
    tokens = list(map(bytes, map(memoryview, dumped)))  # type: ignore[arg-type]
    if any(map(bytes.__contains__, tokens, repeat(b"null"))):
        for value, token in zip(values, tokens, strict=True):
            if b"null" in token and _has_nan(value):  # orjson prints NaN as null
                raise TypeError("NaN in payload")
    return tokens


def _has_nan(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and item != item:
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return False


def _entries(
    records: list[dict[str, Any]], fields: tuple[str, ...], payload: str, with_payloads: bool
) -> list[tuple[Any, ...]] | None:
    """Each record as ``(*fields, payload token)``, or None when any record is not plain:
    a dict whose ``fields`` are all strings and whose payload (absent: ``_ABSENT``; not
    compared: None) has a token. Plain records compare on these tuples exactly as on the
    records; verified records always are plain (the schemas make every other field a string)."""
    if len(records) <= _FEW:
        return _few_entries(records, fields, payload, with_payloads)
    try:
        columns: list[list[Any]] = [list(map(dict.get, records, repeat(name))) for name in fields]
    except TypeError:  # a record that is not a dict
        return None
    for column in columns:
        if not set(map(type, column)) <= {str}:  # absent (None) or not a string
            return None
    for at in (1, 3, 4):  # tool name or status, schema id and version: a few values, shared
        columns[at] = list(map(sys.intern, columns[at]))
    if not with_payloads:
        tokens: list[Any] = [None] * len(records)
    else:
        values = list(map(dict.get, records, repeat(payload), repeat(_ABSENT)))
        try:
            tokens = _tokens(values)
        except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
            return None
    return list(zip(*columns, tokens, strict=True))


_FEW = 16  # records up to which _entries reads record by record (columns cost more set-up)


def _few_entries(
    records: list[dict[str, Any]], fields: tuple[str, ...], payload: str, with_payloads: bool
) -> list[tuple[Any, ...]] | None:
    """``_entries`` of a few records, a record at a time: the same tuples, or None."""
    rows = []
    get = dict.get  # as the columns read them: a dict subclass's own get is not asked
    for record in records:
        if not isinstance(record, dict):
            return None
        row: list[Any] = [get(record, name) for name in fields]
        for value in row:
            if type(value) is not str:  # absent (None) or not a string
                return None
        row[1], row[3], row[4] = sys.intern(row[1]), sys.intern(row[3]), sys.intern(row[4])
        rows.append(row)
    if not with_payloads:
        return [(*row, None) for row in rows]
    try:
        tokens = _tokens([get(record, payload, _ABSENT) for record in records])
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        return None
    return [(*row, token) for row, token in zip(rows, tokens, strict=True)]


class RunView:
    """What diff keeps of a runpack: its small documents, and of each record its names,
    digests and a token of its payload (``_entries``), not the record: a 10,000-call run
    takes a few MiB this way. Records that are not plain (hand-built runpacks) are kept
    whole and compared the record-by-record way (``odd``).
    """

    def __init__(self, pack: Runpack, *, payloads: bool = True) -> None:
        self.manifest = pack.manifest
        self.run = pack.run
        self.refs = pack.refs
        self.run_id = pack.run_id
        self.capture_mode = pack.capture_mode
        self.payloads = payloads
        self.error: InvalidInput | None = None  # raised by the diff (after both are verified)
        # manifest, run.json and refs.json are the values of bytes the loader proved
        # canonical (hand-built runpacks are not): see ``_same_canonical``.
        proven = pack.canonical_members
        self.plain = all(
            name in proven and proven[name] is pack.members.get(name)
            for name in (model.MANIFEST, model.RUN, model.REFS)
        )
        intents = _entries(pack.intents, _INTENT_FIELDS, "args", payloads)
        results = _entries(pack.results, _RESULT_FIELDS, "result", payloads)
        self.odd = intents is None or results is None
        self.results_side: dict[str, Any]
        if intents is None or results is None:
            self.intents: list[Any] = list(pack.intents)
            self.results: list[Any] = list(pack.results)
            self.results_side = {str(r.get("intent_id")): r for r in pack.results}
            self.ids = [str(i.get("intent_id", "")) for i in pack.intents]
            self.tools = [str(i.get("tool_name", "")) for i in pack.intents]
        else:
            self.intents, self.results = intents, results
            self.results_side = {r[0]: r for r in results}
            self.ids = [i[0] for i in intents]
            self.tools = [i[1] for i in intents]

    def records(self, results: bool) -> list[dict[str, Any]]:
        """The records again, with what diff compares of them (``_compare_records``): to
        compare with a view that kept odd records."""
        if self.odd:
            return self.results if results else self.intents
        names = _RESULT_FIELDS if results else _INTENT_FIELDS
        payload = "result" if results else "args"
        out = []
        for entry in self.results if results else self.intents:
            record = dict(zip(names, entry[:5], strict=True))
            if entry[5] is not None and entry[5] is not _ABSENT:
                record[payload] = orjson.loads(entry[5])
            out.append(record)
        return out

    def side(self, index: int, privacy: str) -> dict[str, Any]:
        """The step's side as the diff prints it (``_side``)."""
        intent = self.intents[index]
        if self.odd:
            result = self.results_side.get(str(intent.get("intent_id", "")))
            return _side(intent, result, privacy, index) or {}
        intent_id, tool_name, args_digest, _, _, args = intent
        side: dict[str, Any] = {
            "index": index,
            "intent_id": intent_id,
            "tool_name": tool_name,
            "args_digest": args_digest,
        }
        result = self.results_side.get(intent_id)
        if result is not None:
            side["status"] = result[1]
            side["result_digest"] = result[2]
        else:
            side["status"] = "missing_result"
        if privacy == "full":
            if args is not _ABSENT:
                side["args"] = orjson.loads(args)
            if result is not None and result[5] is not _ABSENT:
                side["result"] = orjson.loads(result[5])
        return side

    def sigs(self, privacy: str) -> list[tuple[Any, ...]]:
        """Each step's signature (``_sig`` of its side), without building the sides."""
        if self.odd:
            return [_sig(self.side(i, privacy), privacy) for i in range(len(self.intents))]
        missing = (None, "missing_result", "", None, None, _ABSENT)
        if len(self.intents) <= _FEW:  # a row at a time: the columns' set-up costs more
            get = self.results_side.get
            pairs = [(i, get(i[0], missing)) for i in self.intents]
            if privacy == "full":
                return [
                    (i[0], i[1], i[2], r[1], r[2], i[5] is not _ABSENT, r[5] is not _ABSENT)
                    for i, r in pairs
                ]
            return [(i[0], i[1], i[2], r[1], r[2]) for i, r in pairs]
        results = list(map(self.results_side.get, self.ids, repeat(missing)))
        columns: list[Any] = [
            self.ids,
            self.tools,
            map(itemgetter(2), self.intents),
            map(itemgetter(1), results),
            map(itemgetter(2), results),
        ]
        if privacy == "full":
            columns.append(map(is_not, map(itemgetter(5), self.intents), repeat(_ABSENT)))
            columns.append(map(is_not, map(itemgetter(5), results), repeat(_ABSENT)))
        return list(zip(*columns, strict=True))


class _SideRef:
    """A step's side, built when the step is printed."""

    __slots__ = ("view", "index", "privacy")

    def __init__(self, view: RunView, index: int, privacy: str) -> None:
        self.view, self.index, self.privacy = view, index, privacy

    def side(self) -> dict[str, Any]:
        return self.view.side(self.index, self.privacy)

    def field(self, name: str) -> Any:
        intent = self.view.intents[self.index]
        if self.view.odd:
            return intent.get(name, "")
        return intent[_INTENT_FIELDS.index(name)]


def _keyed_changes(
    left: RunView, right: RunView, payload: bool, results: bool
) -> tuple[bool, list[Any], list[Any]]:
    """``_compare_records`` on the views: (changed, left-only ids, right-only ids), records
    keyed by intent id (the last of an id counts), compared without the envelope."""
    if left.odd or right.odd:
        keys, drop = (RESULT_KEYS, ("result",)) if results else (INTENT_KEYS, ("args",))
        return _compare_records(
            left.records(results),
            right.records(results),
            keys,
            ENVELOPE_SKIP + (() if payload else drop),
        )
    lmap = {e[0]: e for e in (left.results if results else left.intents)}
    rmap = {e[0]: e for e in (right.results if results else right.intents)}
    left_only = sorted(set(lmap) - set(rmap))
    right_only = sorted(set(rmap) - set(lmap))
    if left_only or right_only:
        return True, left_only, right_only
    if payload:  # plain entries: the tuples compare as the records' encodings do
        return any(a != rmap[key] for key, a in lmap.items()), [], []
    return any(a[:5] != rmap[key][:5] for key, a in lmap.items()), [], []


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


def align_steps(left: RunView, right: RunView, privacy: str) -> list[Step]:
    """Pair steps in order: common prefix and suffix first, then a bounded sequence match."""
    lsig = left.sigs(privacy)
    rsig = right.sigs(privacy)
    n_left, n_right = len(lsig), len(rsig)
    start = 0
    while start < n_left and start < n_right and lsig[start] == rsig[start]:
        start += 1
    end_l, end_r = n_left, n_right
    while end_l > start and end_r > start and lsig[end_l - 1] == rsig[end_r - 1]:
        end_l -= 1
        end_r -= 1
    pairs: list[tuple[int | None, int | None]] = [(i, i) for i in range(start)]
    mid_l, mid_r = list(range(start, end_l)), list(range(start, end_r))
    # With one side's middle empty (equal sequences, or steps only added or only removed)
    # the matcher's answer is the branch below's: no matcher built for it.
    if mid_l and mid_r and len(mid_l) <= ALIGN_LIMIT and len(mid_r) <= ALIGN_LIMIT:
        matcher = difflib.SequenceMatcher(
            a=[lsig[i][1] for i in mid_l], b=[rsig[j][1] for j in mid_r], autojunk=False
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
    pairs.extend((end_l + k, end_r + k) for k in range(n_left - end_l))
    steps = []
    for index, (i, j) in enumerate(pairs):
        a = _SideRef(left, i, privacy) if i is not None else None
        b = _SideRef(right, j, privacy) if j is not None else None
        if a is None:
            steps.append(Step(index, "added", None, b))
        elif b is None:
            steps.append(Step(index, "removed", a, None))
        elif lsig[i] == rsig[j]:  # type: ignore[index]
            steps.append(Step(index, "same", a, b))
        else:
            step = Step(index, "changed", a, b)
            step.changes = _step_changes(step.left, step.right, privacy)  # type: ignore[arg-type]
            steps.append(step)
    return steps


def _canonical_error(pack: Runpack, label: str) -> InvalidInput | None:
    try:
        check_canonical(pack, label)
    except InvalidInput as exc:
        return exc
    return None


def load_view(path: str | Path, label: str, *, privacy: str = "full") -> RunView:
    """A runpack verified (refused as ``load_runpack`` refuses it) and reduced to what diff
    keeps; its records are dropped on return, so diffing two runs holds one run's records
    at a time. A member that is not canonical is reported by the diff (``diff_views``), after
    the other runpack has been verified too, as when both are loaded first."""
    from gait.runpack.reader import load_runpack

    _check_privacy(privacy)
    pack = load_runpack(path, prove_canonical=True)
    view = RunView(pack, payloads=privacy == "full")
    view.error = _canonical_error(pack, label)
    return view


def diff_runpacks(left: Runpack, right: Runpack, *, privacy: str = "full") -> DiffReport:
    """Compare two verified runpacks; pure and deterministic."""
    _check_privacy(privacy)
    check_canonical(left, "left")
    check_canonical(right, "right")
    payloads = privacy == "full"
    if max(len(left.intents), len(right.intents), len(left.results), len(right.results)) <= _FEW:
        return diff_views(  # a few objects: not worth the collector's pause and resume
            RunView(left, payloads=payloads), RunView(right, payloads=payloads), privacy
        )
    with gcpause.paused():  # the views' many small objects: no cycles among them, nor in the runs
        return diff_views(
            RunView(left, payloads=payloads), RunView(right, payloads=payloads), privacy
        )


def _check_privacy(privacy: str) -> None:
    if privacy not in PRIVACY_MODES:
        raise InvalidInput(f"privacy must be full or metadata, not {privacy!r}", code="E_USAGE")


def diff_views(left: RunView, right: RunView, privacy: str = "full") -> DiffReport:
    """``diff_runpacks`` of two runpacks reduced by ``RunView`` (or ``load_view``)."""
    _check_privacy(privacy)
    for view in (left, right):
        if view.error is not None:
            raise view.error
        if privacy == "full" and not view.payloads:
            raise InvalidInput(
                "a view reduced without payloads diffs with privacy metadata only", code="E_USAGE"
            )
    metadata = privacy == "metadata"
    intents_changed, li, ri = _keyed_changes(left, right, not metadata, results=False)
    results_changed, lr, rr = _keyed_changes(left, right, not metadata, results=True)
    lrefs, rrefs = _refs_shape(left.refs), _refs_shape(right.refs)
    # Equal values with equal canonical bytes have no value changes (``value_changes``' own
    # first check): each document is serialized once.
    plain = left.plain and right.plain
    refs_canonical = _same_canonical(lrefs, rrefs, plain)
    drift = "none" if refs_canonical else classify_context_drift(lrefs, rrefs)
    lman, rman = _manifest_shape(left.manifest), _manifest_shape(right.manifest)
    manifest_changed = not _same_canonical(lman, rman, plain)
    steps = align_steps(left, right, privacy)
    left_ids, right_ids = left.ids, right.ids
    changed_steps = [s.index for s in steps if s.status != "same"]
    summary: dict[str, Any] = {
        "run_id_left": left.run_id,
        "run_id_right": right.run_id,
        "manifest_changed": manifest_changed,
        "intents_changed": intents_changed,
        "results_changed": results_changed,
        "refs_changed": drift != "none",
        "context_drift_classification": drift,
        "tool_sequence_changed": left.tools != right.tools
        or (sorted(left_ids) == sorted(right_ids) and left_ids != right_ids),
        "steps_left": len(left.intents),
        "steps_right": len(right.intents),
        "steps_changed": len(changed_steps),
        "first_divergent_step": changed_steps[0] if changed_steps else None,
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
    run_changes = run_metadata_changes(left.run, right.run, plain=plain)
    summary["run_metadata_changed"] = bool(run_changes)
    return DiffReport(
        privacy=privacy,
        left=left,
        right=right,
        summary=summary,
        steps=steps,
        run_changes=run_changes,
        refs_changes=[] if refs_canonical and lrefs == rrefs else value_changes(lrefs, rrefs),
        manifest_changes=[] if not manifest_changed and lman == rman else value_changes(lman, rman),
    )
