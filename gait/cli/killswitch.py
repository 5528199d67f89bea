"""``gait kill-switch add|list|disable|expire``: manage the kill-switch state file."""

from __future__ import annotations

import argparse
from typing import Any

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome
from gait.errors import ExitCode

EXPLAIN = (
    "gait kill-switch manages the kill-switch state file (the reference's shape). An enabled, "
    "unexpired entry blocks every matching call before any rule when gate eval, mcp proxy, "
    "mcp serve or the SDK are given --kill-switch-state. Each change is appended, signed and "
    "chained, to kill_switch_journal.jsonl beside the state file."
)


def register(parser: argparse.ArgumentParser) -> None:
    from gait.gate.killswitch import DEFAULT_STATE

    sub = add_group(parser)
    add = sub.add_parser("add", help="add an entry (blocks matching calls at once)")
    lst = sub.add_parser("list", help="list the entries")
    dis = sub.add_parser("disable", help="disable an entry")
    exp = sub.add_parser("expire", help="set an entry's expiry (default now)")
    for p in (add, lst, dis, exp):
        p.add_argument(
            "--state", default=DEFAULT_STATE, help=f"state file (default {DEFAULT_STATE})"
        )
        add_common(p, EXPLAIN)
    add.add_argument("--entry-id", default="", help="entry id (default: derived)")
    for name, text in (
        ("agent-id", "agent id"),
        ("identity", "identity"),
        ("tool-name", "tool name"),
        ("target-kind", "target kind"),
        ("target-value", "target value"),
        ("environment", "environment"),
    ):
        add.add_argument(f"--{name}", default="", help=f"{text} selector")
    add.add_argument("--path-prefixes", default="", help="comma-separated path prefixes")
    add.add_argument("--workspace-prefixes", default="", help="comma-separated workspace prefixes")
    add.add_argument("--reason", default="", help="why (shown to operators, kept in the journal)")
    add.add_argument("--actor", default="", help="who recorded the entry")
    add.add_argument("--expires-at", default="", metavar="RFC3339", help="optional expiry")
    for p in (dis, exp):
        p.add_argument("--entry-id", default="", help="the entry to change")
        p.add_argument("--actor", default="", help="who made the change (journal)")
        p.add_argument("--reason", default="", help="why (journal)")
    exp.add_argument("--expires-at", default="", metavar="RFC3339", help="expiry (default now)")
    add.set_defaults(handler=run_add)
    lst.set_defaults(handler=run_list)
    dis.set_defaults(handler=run_disable)
    exp.set_defaults(handler=run_expire)


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _time_arg(text: str) -> str:
    from gait import timefmt
    from gait.errors import InvalidInput

    try:
        return timefmt.canonical(text.strip())
    except InvalidInput as exc:
        raise InvalidInput(
            f"invalid --expires-at: {exc.message}",
            code="E_USAGE",
            hint="give an RFC 3339 time, e.g. 2026-12-31T00:00:00Z",
        ) from exc


def _journal(state_path: str, fields: dict[str, Any]) -> None:
    from gait.gate.killswitch_store import open_store
    from gait.sign.keyring import ensure_dev_key, explicit_signing_key

    key = explicit_signing_key(argparse.Namespace()) or ensure_dev_key()[0]
    open_store(state_path).journal(fields, key)


def _missing(path: str) -> Exception:
    from gait.errors import InvalidInput

    return InvalidInput(
        f"read kill switch state: no such state: {path}",
        code="E_KILL_SWITCH_INVALID",
        hint="gait kill-switch add --state PATH ... creates it",
    )


def _load(path: str) -> Any:
    from gait.errors import InvalidInput
    from gait.gate.killswitch_store import open_store

    try:
        return open_store(path).load()
    except FileNotFoundError:
        raise _missing(path) from None
    except OSError as exc:
        raise InvalidInput(
            f"read kill switch state {path}: {exc.strerror or exc}", code="E_KILL_SWITCH_INVALID"
        ) from exc


def _out(action: str, state: Any, entry: Any = None, *, entries: bool = False) -> Outcome:
    payload: dict[str, Any] = {"ok": True, "action": action, "state": state.to_json()}
    if entry is not None:
        payload["entry"] = entry.to_json()
    if entries and state.entries:
        payload["entries"] = [e.to_json() for e in state.entries]
    lines = [f"{action}: {entry.entry_id}"] if entry is not None else []
    if entries:
        lines = [f"{action}: {len(state.entries)} entries"]
        from gait import timefmt

        now = timefmt.now()
        for e in state.entries[:10]:
            status = "active" if e.active_at(now) else ("disabled" if not e.enabled else "expired")
            lines.append(f"  {e.entry_id} {status} {e.reason}".rstrip())
    return Outcome(payload, ExitCode.OK, lines)


def run_add(args: argparse.Namespace) -> Outcome:
    from gait import timefmt
    from gait.gate.killswitch import Entry, KillSwitchInvalid
    from gait.gate.killswitch_store import open_store

    now = timefmt.now()
    entry = Entry(
        entry_id=args.entry_id.strip(),
        enabled=True,
        created_at=now,
        agent_id=args.agent_id.strip(),
        identity=args.identity.strip(),
        tool_name=args.tool_name.strip().lower(),
        target_kind=args.target_kind.strip().lower(),
        target_value=args.target_value.strip(),
        environment=args.environment.strip().lower(),
        path_prefixes=sorted(set(_csv(args.path_prefixes))),
        workspace_prefixes=sorted(set(_csv(args.workspace_prefixes))),
        reason=args.reason.strip(),
        actor=args.actor.strip(),
        expires_at=_time_arg(args.expires_at) if args.expires_at.strip() else "",
    )
    try:
        entry = Entry.from_json(entry.to_json())
    except KillSwitchInvalid as exc:
        exc.hint = "give at least one of --tool-name, --identity, --agent-id, --path-prefixes ..."
        raise
    if not entry.entry_id:
        entry.entry_id = entry.compute_id()

    def change(state: Any) -> None:
        state.entries = [e for e in state.entries if e.entry_id != entry.entry_id] + [entry]
        state.updated_at = now

    state = open_store(args.state).mutate(change, create_at=now)
    _journal(
        args.state,
        {
            "created_at": now,
            "source": "cli",
            "action": "add",
            "entry_id": entry.entry_id,
            "actor": entry.actor,
            "reason": entry.reason,
            "entry": entry.to_json(),
        },
    )
    return _out("add", state, entry)


def run_list(args: argparse.Namespace) -> Outcome:
    return _out("list", _load(args.state), entries=True)


def _mutate(args: argparse.Namespace, action: str, change: Any) -> Outcome:
    from gait import timefmt
    from gait.errors import InvalidInput
    from gait.gate.killswitch_store import open_store

    if not args.entry_id.strip():
        raise InvalidInput(
            "--entry-id is required", code="E_USAGE", hint="gait kill-switch list shows the ids"
        )
    now = timefmt.now()
    changed: list[Any] = []

    def apply(state: Any) -> None:
        found = next((e for e in state.entries if e.entry_id == args.entry_id.strip()), None)
        if found is None:
            raise InvalidInput(
                f"kill switch entry not found: {args.entry_id.strip()}",
                code="E_KILL_SWITCH_ENTRY_NOT_FOUND",
                hint=f"gait kill-switch list --state {args.state}",
            )
        change(found, now)
        state.updated_at = now
        changed.append(found)

    try:
        state = open_store(args.state).mutate(apply)
    except FileNotFoundError:
        raise _missing(args.state) from None
    found = changed[0]
    _journal(
        args.state,
        {
            "created_at": now,
            "source": "cli",
            "action": action,
            "entry_id": found.entry_id,
            "actor": args.actor.strip(),
            "reason": args.reason.strip(),
            "entry": found.to_json(),
        },
    )
    return _out(action, state, found)


def run_disable(args: argparse.Namespace) -> Outcome:
    def change(entry: Any, _now: str) -> None:
        entry.enabled = False

    return _mutate(args, "disable", change)


def run_expire(args: argparse.Namespace) -> Outcome:
    expires = _time_arg(args.expires_at) if args.expires_at.strip() else ""

    def change(entry: Any, now: str) -> None:
        entry.expires_at = expires or now

    return _mutate(args, "expire", change)
