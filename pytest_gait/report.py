"""Bounded text for failing items and the end-of-run summary: the first divergence, expected vs
actual, and the command that shows the rest; never a whole payload, never a traceback."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gait.regress.engine import Entry
from gait.regress.results import diff_path

MAX_LINES = 40
MAX_WIDTH = 200
MAX_FAILURES_SHOWN = 10
MAX_CALL_LINES = 8
CALL_MARKS = ("  + ", "  - ", "  ~ ", "  ! ")
REFUSED_NEXT = (
    "to accept new calls: re-record the agent and gait regress init --from <run> --name "
    "<fixture> --force, or run with --record-mode new_episodes"
)


def _clip(line: str) -> str:
    line = line.replace("\n", " ")
    return line if len(line) <= MAX_WIDTH else line[: MAX_WIDTH - 3] + "..."


def accept_command(fixture: str, *, cli: bool = False) -> str:
    """The exact command that accepts this fixture's new behaviour as expected."""
    import shlex

    if cli:
        return f"gait regress run --update -- -k {shlex.quote(fixture)}"
    return f"pytest --gait --gait-update -k {shlex.quote(fixture)}"


def failure_text(entry: Entry, *, verbosity: int = 0, cli: bool = False) -> str:
    head = (
        f"gait grader {entry.grader!r} errored on fixture {entry.fixture!r}"
        if entry.crashed
        else f"gait grader {entry.grader!r} failed on fixture {entry.fixture!r}"
    )
    lines = [f"{head}: {', '.join(entry.reason_codes) or 'fail'} ({entry.error_code})"]
    if entry.message:
        lines.append(entry.message)
    for index, line in enumerate(entry.divergence):
        first = index == 0 and not line.startswith(("tool calls:", "  "))
        lines.append(("first divergence: " if first else "") + line)
    if entry.candidate:
        lines.append(f"candidate: {entry.candidate}")
    lines.append(f"full diff: {diff_path(entry.fixture)} (written at the end of the run)")
    tail = []
    if entry.live and not entry.refused:
        tail.append(f"accept: {accept_command(entry.fixture, cli=cli)}")
    elif entry.live:
        tail.append(_clip(f"--update would refuse this candidate: {entry.refused}"))
        tail.append(REFUSED_NEXT)
    clipped = [_clip(line) for line in lines] if verbosity < 2 else lines
    if verbosity < 2 and len(clipped) + len(tail) > MAX_LINES:
        keep = MAX_LINES - len(tail) - 1
        clipped = clipped[:keep] + [f"... {len(clipped) - keep} more lines (-vv shows all)"]
    return "\n".join(clipped + tail)


def self_check_lines(entries: Iterable[Entry], *, limit: int = MAX_FAILURES_SHOWN) -> list[str]:
    """One line per fixture graded only against its own runpack, and the live count."""
    live: dict[str, bool] = {}
    for entry in entries:
        live[entry.fixture] = live.get(entry.fixture, False) or entry.live
    own = sorted(name for name, is_live in live.items() if not is_live)
    lines = [
        f"{len(live) - len(own)} of {len(live)} fixtures check a live agent"
        + ("" if not own else " (add command: to gait.yaml to check the others)")
    ]
    for name in own[:limit]:
        lines.append(f"SELF {name}: graded only against its own runpack (cannot drift)")
    if len(own) > limit:
        lines.append(f"... and {len(own) - limit} more fixtures graded only against themselves")
    return lines


def summary_lines(
    entries: Iterable[Entry],
    *,
    status: str,
    output: str,
    updated: list[str],
    not_updatable: list[str],
    update: Any = None,
    cli: bool = False,
) -> list[str]:
    """The end-of-run summary, most important first (the CLI prints only the first lines):
    status, how many fixtures check a live agent, the update's outcome or the accept command,
    then the failures with their aligned calls, then the details."""
    ordered = sorted(entries, key=lambda e: e.name)
    failed = [e for e in ordered if e.status == "fail"]
    skipped = [e for e in ordered if e.status == "skip"]
    self_check = self_check_lines(ordered)
    lines = [
        f"regress status={status} graders={len(ordered)} failed={len(failed)} "
        f"skipped={len(skipped)} result={output}",
        self_check[0],
    ]
    if update is not None:
        lines.append(
            f"{len(update.fixtures)} fixture{'s' if len(update.fixtures) != 1 else ''} updated, "
            f"{len(update.refused)} refused"
            + (f"; re-graded after the update: {status}" if update.fixtures else "")
        )
        for name, why in sorted(update.refused.items())[:3]:
            lines.append(_clip(f"REFUSED {name}: {why} (fixture left as it was)"))
        if len(update.refused) > 3:
            lines.append(f"... and {len(update.refused) - 3} more refused")
        if update.refused:
            lines.append(REFUSED_NEXT)
    elif failed:
        live = sorted({e.fixture for e in failed if e.live and not e.refused})
        if live:
            target = live[0] if len(live) == 1 else " or ".join(live[:3])
            lines.append(f"accept: {accept_command(target, cli=cli)}")
    shown_calls: set[str] = set()
    for entry in failed[:MAX_FAILURES_SHOWN]:
        first = entry.divergence[0] if entry.divergence else entry.message
        lines.append(
            _clip(
                f"FAIL {entry.name} {entry.error_code} "
                f"{','.join(entry.reason_codes)}" + (f": {first}" if first else "")
            )
        )
        calls = [line for line in entry.divergence if line.startswith(CALL_MARKS)]
        if calls and entry.fixture not in shown_calls:
            shown_calls.add(entry.fixture)
            lines += [_clip(line) for line in calls[:MAX_CALL_LINES]]
            if len(calls) > MAX_CALL_LINES:
                lines.append(
                    f"  ... {len(calls) - MAX_CALL_LINES} more (see {diff_path(entry.fixture)})"
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
    if update is None:
        for item in not_updatable[:3]:
            lines.append(_clip(f"not updatable from the candidate: {item}"))
    lines += self_check[1:]
    return lines
