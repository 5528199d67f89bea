"""``gait gate state show|reset``: inspect and clear the gate's state (SQLite or PostgreSQL)."""

from __future__ import annotations

import argparse
from typing import Any

from gait.cli.gate import STATE_HELP
from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome
from gait.errors import ExitCode

EXPLAIN = (
    "gait gate state shows or clears the gate's state: rate-limit windows, destructive "
    "budgets and spent approval tokens. --state (or GAIT_GATE_STATE) names a SQLite file or a "
    "postgresql:// URL; the default is GAIT_HOME/gate/state.sqlite3. Resetting a shared "
    "PostgreSQL state needs --yes, because every host using it starts over."
)


def register(parser: argparse.ArgumentParser) -> None:
    """``gait gate`` with only its ``state`` group (main.SUBROUTES routes ``gait gate state``
    here, so ``gait gate eval`` never builds these parsers)."""
    state = add_group(parser).add_parser("state", help=STATE_HELP)
    group = state.add_subparsers(dest="gate_state_command", metavar="command")
    group.required = True
    show = group.add_parser("show", help="show rate-limit counters and spent tokens")
    reset = group.add_parser("reset", help="clear rate-limit counters and spent tokens")
    for p in (show, reset):
        p.add_argument("--state", metavar="PATH|URL", help="SQLite file or postgresql:// URL")
        add_common(p, EXPLAIN)
    reset.add_argument("--yes", action="store_true", help="confirm resetting a shared database")
    show.set_defaults(handler=run_show)
    reset.set_defaults(handler=run_reset)


def _open(args: argparse.Namespace) -> Any:
    from gait.gate.state import open_state

    return open_state(args.state)


def _where(store: Any) -> dict[str, Any]:
    out = {"backend": store.backend, "location": store.location}
    if store.backend == "postgresql":
        out["database"] = store.database
    return out


def run_show(args: argparse.Namespace) -> Outcome:
    store = _open(args)
    snap = store.snapshot()
    payload = {"ok": True, **_where(store), **snap}
    lines = [
        f"state: {store.backend} {store.location}",
        f"rate counters: {len(snap['rate_counters'])}  spent tokens: {snap['used_tokens']}",
    ]
    for row in snap["rate_counters"][:8]:
        lines.append(f"  {row['key']} bucket={row['bucket']} used={row['count']}")
    return Outcome(payload, ExitCode.OK, lines)


def run_reset(args: argparse.Namespace) -> Outcome:
    from gait.errors import UnsafeOperation

    store = _open(args)
    if store.backend == "postgresql" and not args.yes:
        raise UnsafeOperation(
            f"resetting PostgreSQL database {store.database!r} clears rate limits and spent "
            "tokens for every host that shares it",
            code="E_STATE_RESET_CONFIRM",
            hint=f"gait gate state reset --state {store.location} --yes",
        )
    cleared = store.reset()
    payload = {"ok": True, **_where(store), "cleared": cleared}
    lines = [
        f"reset {store.backend} {store.location}: {cleared['rate_counters']} rate counters, "
        f"{cleared['used_tokens']} spent tokens cleared"
    ]
    return Outcome(payload, ExitCode.OK, lines)
