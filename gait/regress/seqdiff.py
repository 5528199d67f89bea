"""An aligned diff of two runs' tool calls: which calls were inserted, removed or changed.

A person reading a drift failure needs to see where the agent's trajectory left the recorded
one and what it does now, not the first index at which two lists differ. Calls are aligned by
tool name (``difflib``), then calls aligned to the same tool are compared by canonical args:
equal, or changed at some argument paths. Payload values are shown only when both runs kept
them (raw capture) and privacy allows; otherwise only tool names and paths.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_VALUE = 60


@dataclass
class CallOp:
    """One aligned line: ``=`` same, ``~`` changed args, ``+`` inserted, ``-`` removed."""

    op: str
    tool_name: str
    left: int | None  # 1-based position in the fixture's calls
    right: int | None  # 1-based position in the candidate's calls
    paths: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    args: Any = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "tool_name": self.tool_name}
        if self.left is not None:
            out["fixture_index"] = self.left
        if self.right is not None:
            out["candidate_index"] = self.right
        if self.paths:
            out["differing_arg_paths"] = list(self.paths)
        return out


@dataclass
class SequenceDiff:
    ops: list[CallOp]

    @property
    def changed(self) -> bool:
        return any(op.op != "=" for op in self.ops)

    def counts(self) -> dict[str, int]:
        return {
            "inserted": sum(op.op == "+" for op in self.ops),
            "removed": sum(op.op == "-" for op in self.ops),
            "changed": sum(op.op == "~" for op in self.ops),
        }

    def headline(self) -> str:
        c = self.counts()
        left = sum(op.left is not None for op in self.ops)
        right = sum(op.right is not None for op in self.ops)
        return (
            f"tool calls: {c['inserted']} inserted, {c['removed']} removed, {c['changed']} "
            f"changed (fixture {left} calls, candidate {right})"
        )

    def lines(self, *, context: int = 1) -> list[str]:
        """One line per call that differs, with ``context`` unchanged calls around each run of
        changes; longer unchanged runs collapse into one line."""
        keep = [False] * len(self.ops)
        for i, op in enumerate(self.ops):
            if op.op != "=":
                for j in range(max(0, i - context), min(len(self.ops), i + context + 1)):
                    keep[j] = True
        out: list[str] = []
        skipped = 0
        for i, op in enumerate(self.ops):
            if not keep[i]:
                skipped += 1
                continue
            if skipped:
                out.append(f"  ... {skipped} unchanged call{'s' if skipped > 1 else ''}")
                skipped = 0
            out.append(render(op))
        if skipped:
            out.append(f"  ... {skipped} unchanged call{'s' if skipped > 1 else ''}")
        return out


def render(op: CallOp) -> str:
    where = {
        "=": f"#{op.left}",
        "~": f"#{op.left}" if op.left == op.right else f"#{op.left} -> #{op.right}",
        "+": f"#{op.right}",
        "-": f"#{op.left}",
    }[op.op]
    text = f"  {op.op} {where} {op.tool_name}"
    if op.op == "~":
        text += ": args differ at " + ", ".join(op.paths[:8])
        if len(op.paths) > 8:
            text += f" (+{len(op.paths) - 8} more)"
        if op.values:
            text += " (" + "; ".join(op.values[:3]) + ")"
    elif op.op == "+":
        text += "  inserted: not in the fixture"
        if op.args is not None:
            text += f", args {_short(op.args)}"
    elif op.op == "-":
        text += "  removed: not in the candidate"
    return text


def _short(value: Any, width: int = MAX_VALUE) -> str:
    from gait.canon import dumps_compact

    try:
        text = dumps_compact(value)
    except Exception:  # noqa: BLE001 - a value that does not encode is shown by type
        text = f"<{type(value).__name__}>"
    return text if len(text) <= width else text[: width - 3] + "..."


def diff_calls(
    left: Sequence[Mapping[str, Any]],
    right: Sequence[Mapping[str, Any]],
    *,
    show_values: bool = True,
) -> SequenceDiff:
    """Align the fixture's intents (``left``) with the candidate's (``right``)."""
    a = [str(i.get("tool_name", "")) for i in left]
    b = [str(i.get("tool_name", "")) for i in right]
    ops: list[CallOp] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                ops.append(_compare(left[i], right[j], i + 1, j + 1, show_values))
            continue
        # replace/delete/insert: calls to the same tool at the same offset are "changed"
        i, j = i1, j1
        while i < i2 or j < j2:
            if i < i2 and j < j2 and a[i] == b[j]:
                ops.append(_compare(left[i], right[j], i + 1, j + 1, show_values))
                i, j = i + 1, j + 1
            elif i < i2 and (j >= j2 or a[i] not in b[j:j2]):
                ops.append(CallOp("-", a[i], i + 1, None))
                i += 1
            else:
                args = right[j].get("args") if show_values else None
                ops.append(CallOp("+", b[j], None, j + 1, args=args))
                j += 1
    return SequenceDiff(ops)


def _compare(
    left: Mapping[str, Any], right: Mapping[str, Any], li: int, ri: int, show_values: bool
) -> CallOp:
    tool = str(right.get("tool_name", ""))
    if left.get("args_digest") == right.get("args_digest"):
        return CallOp("=", tool, li, ri)
    la, ra = left.get("args"), right.get("args")
    if la is None or ra is None:
        return CallOp("~", tool, li, ri, paths=["(args digests differ; reference capture)"])
    changes = payload_changes(la, ra)
    if not changes:  # equal once parsed (e.g. 1 vs 1.0): the digests still differ
        from gait.runpack.replay import differing_paths

        return CallOp("~", tool, li, ri, paths=differing_paths(la, ra) or ["$"])
    values = [f"{path}: {before} -> {after}" for path, before, after in changes[:3]]
    return CallOp(
        "~", tool, li, ri, paths=[c[0] for c in changes], values=values if show_values else []
    )


_ABSENT = "(absent)"


def payload_changes(left: Any, right: Any) -> list[tuple[str, str, str]]:
    """(JSON path, before, after) of each structural difference, sorted by path.

    deepdiff (the design card's choice for structural diffs) is imported here, only when a
    failure is being shown, so a passing run never pays its import. It names the highest node
    that changed (an added key with its whole value) rather than every leaf under it.
    """
    from deepdiff import DeepDiff
    from deepdiff.helper import NotPresent

    from gait.schema import json_path

    found: dict[str, tuple[str, str]] = {}
    tree = DeepDiff(left, right, view="tree", verbose_level=2)
    for levels in tree.values():
        for level in levels:
            path = json_path(level.path(output_format="list"))
            before = _ABSENT if isinstance(level.t1, NotPresent) else _short(level.t1)
            after = _ABSENT if isinstance(level.t2, NotPresent) else _short(level.t2)
            found[path] = (before, after)
    return [(path, *found[path]) for path in sorted(found)]
