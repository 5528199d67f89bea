"""Bounded text for failing items and the end-of-run summary: the first divergence, expected vs
actual, and the command that shows the rest; never a whole payload, never a traceback."""

from __future__ import annotations

from collections.abc import Iterable

from gait.regress.engine import Entry
from gait.regress.results import diff_path

MAX_LINES = 8
MAX_WIDTH = 200
MAX_FAILURES_SHOWN = 10


def _clip(line: str) -> str:
    line = line.replace("\n", " ")
    return line if len(line) <= MAX_WIDTH else line[: MAX_WIDTH - 3] + "..."


def failure_text(entry: Entry) -> str:
    head = (
        f"gait grader {entry.grader!r} errored on fixture {entry.fixture!r}"
        if entry.crashed
        else f"gait grader {entry.grader!r} failed on fixture {entry.fixture!r}"
    )
    lines = [f"{head}: {', '.join(entry.reason_codes) or 'fail'} ({entry.error_code})"]
    if entry.message:
        lines.append(entry.message)
    for index, line in enumerate(entry.divergence):
        lines.append(("first divergence: " if index == 0 else "") + line)
    if entry.candidate:
        lines.append(f"candidate: {entry.candidate}")
    lines.append(f"full diff: {diff_path(entry.fixture)} (written at the end of the run)")
    clipped = [_clip(line) for line in lines]
    if len(clipped) > MAX_LINES:
        clipped = clipped[: MAX_LINES - 1] + [f"... {len(clipped) - MAX_LINES + 1} more lines"]
    return "\n".join(clipped)


def summary_lines(
    entries: Iterable[Entry],
    *,
    status: str,
    output: str,
    updated: list[str],
    not_updatable: list[str],
) -> list[str]:
    ordered = sorted(entries, key=lambda e: e.name)
    failed = [e for e in ordered if e.status == "fail"]
    skipped = [e for e in ordered if e.status == "skip"]
    lines = [
        f"regress status={status} graders={len(ordered)} failed={len(failed)} "
        f"skipped={len(skipped)} result={output}"
    ]
    for entry in failed[:MAX_FAILURES_SHOWN]:
        first = entry.divergence[0] if entry.divergence else entry.message
        lines.append(
            _clip(
                f"FAIL {entry.name} {entry.error_code} "
                f"{','.join(entry.reason_codes)}" + (f": {first}" if first else "")
            )
        )
    if len(failed) > MAX_FAILURES_SHOWN:
        lines.append(
            f"... and {len(failed) - MAX_FAILURES_SHOWN} more failing graders (see {output})"
        )
    if skipped:
        names = sorted({e.grader for e in skipped})
        lines.append(
            _clip(
                f"SKIP non-deterministic graders {', '.join(names)} "
                "(--gait-allow-nondeterministic to run them)"
            )
        )
    for change in updated[:MAX_FAILURES_SHOWN]:
        lines.append(_clip(f"updated {change}"))
    if len(updated) > MAX_FAILURES_SHOWN:
        lines.append(f"... and {len(updated) - MAX_FAILURES_SHOWN} more updates")
    for item in not_updatable[:3]:
        lines.append(_clip(f"not updatable from the candidate: {item}"))
    return lines
