"""``gait run session start|append|status|checkpoint|compact`` (the reference's flags)."""

from __future__ import annotations

import argparse
from typing import Any

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome
from gait.errors import ExitCode

EXPLAIN = (
    "gait run session keeps an append-only journal for a long-running agent: start it, append "
    "one event per tool decision (each line written and fsynced on its own, so a crash loses "
    "at most the line in flight), checkpoint the events since the last checkpoint into a signed "
    "runpack chained to the previous one by prev_checkpoint_digest (chain file "
    "<journal>_chain.json), and compact away events already checkpointed. Verify the chain "
    "with gait verify session-chain --chain FILE."
)


def register(run_sub: argparse._SubParsersAction[Any]) -> None:
    from gait.sign.keyring import add_key_options

    ses = run_sub.add_parser("session", help="journal, checkpoint and compact a long run")
    sub = add_group(ses)

    st = sub.add_parser("start", help="create a session journal (idempotent)")
    st.add_argument("--journal", required=True)
    st.add_argument("--session-id", required=True)
    st.add_argument("--run-id", required=True)
    add_common(st, EXPLAIN)
    st.set_defaults(handler=start)

    ap = sub.add_parser("append", help="append one decision event")
    ap.add_argument("--journal", required=True)
    ap.add_argument("--tool", required=True)
    ap.add_argument("--verdict", required=True)
    ap.add_argument("--intent-id", default="")
    ap.add_argument("--trace-id", default="")
    ap.add_argument("--trace-path", default="")
    ap.add_argument("--intent-digest", default="")
    ap.add_argument("--policy-digest", default="")
    ap.add_argument("--reason-codes", default="", help="comma-separated")
    ap.add_argument("--violations", default="", help="comma-separated")
    add_common(ap, EXPLAIN)
    ap.set_defaults(handler=append)

    sa = sub.add_parser("status", help="counts and sequence of a session")
    sa.add_argument("--journal", required=True)
    add_common(sa, EXPLAIN)
    sa.set_defaults(handler=status)

    cp = sub.add_parser("checkpoint", help="emit a checkpoint runpack and update the chain")
    cp.add_argument("--journal", required=True)
    cp.add_argument("--out", required=True, help="checkpoint runpack path")
    cp.add_argument("--chain-out", help="chain file (default <journal stem>_chain.json)")
    add_key_options(cp)
    add_common(cp, EXPLAIN)
    cp.set_defaults(handler=checkpoint)

    co = sub.add_parser("compact", help="drop events already held by checkpoints")
    co.add_argument("--journal", required=True)
    co.add_argument("--out", help="write the compacted journal here (default in place)")
    co.add_argument("--dry-run", action="store_true")
    add_common(co, EXPLAIN)
    co.set_defaults(handler=compact)


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def start(args: argparse.Namespace) -> Outcome:
    from gait.runpack import session

    doc = session.start(args.journal, args.session_id, args.run_id)
    payload = {"ok": True, "operation": "start", "journal": args.journal, "status": doc}
    lines = [f"session started: {doc['session_id']} ({doc['run_id']}) journal={args.journal}"]
    return Outcome(payload, ExitCode.OK, lines)


def append(args: argparse.Namespace) -> Outcome:
    from gait.runpack import session

    event = session.append(
        args.journal,
        tool=args.tool,
        verdict=args.verdict,
        intent_id=args.intent_id,
        trace_id=args.trace_id,
        trace_path=args.trace_path,
        intent_digest=args.intent_digest,
        policy_digest=args.policy_digest,
        reason_codes=_csv(args.reason_codes),
        violations=_csv(args.violations),
    )
    repaired = event.pop("repaired_torn_tail", None)
    payload: dict[str, Any] = {"ok": True, "operation": "append", "journal": args.journal}
    payload["event"] = event
    warnings = []
    if repaired:
        payload["repaired_torn_tail"] = repaired
        warnings.append(
            f"cut a torn line {repaired['line']} ({repaired['bytes']} bytes) left by a crash"
        )
    lines = [f"session append ok: sequence={event['sequence']} tool={event.get('tool_name', '')}"]
    return Outcome(payload, ExitCode.OK, lines, warnings)


def status(args: argparse.Namespace) -> Outcome:
    from gait.runpack import session

    doc = session.status(args.journal)
    payload = {"ok": True, "operation": "status", "journal": args.journal, "status": doc}
    lines = [
        f"session {doc['session_id']} run={doc['run_id']} events={doc['event_count']} "
        f"checkpoints={doc['checkpoint_count']} last_sequence={doc['last_sequence']}"
    ]
    warnings = []
    if doc.get("torn_tail"):
        torn = doc["torn_tail"]
        warnings.append(
            f"E_SESSION_JOURNAL_TRUNCATED: line {torn['line']} was cut short by a crash "
            f"({torn['bytes']} bytes); earlier events are intact and the next append removes it"
        )
        payload["warnings"] = warnings
    return Outcome(payload, ExitCode.OK, lines, warnings)


def checkpoint(args: argparse.Namespace) -> Outcome:
    from gait.runpack import session
    from gait.sign.keyring import resolve_signing_key

    key, mode, key_warnings = resolve_signing_key(args)
    cp, _chain, chain_path = session.checkpoint(
        args.journal, args.out, key=key, chain_out=args.chain_out
    )
    payload = {
        "ok": True,
        "operation": "checkpoint",
        "journal": args.journal,
        "chain_path": str(chain_path),
        "checkpoint": cp,
        "signing_mode": mode,
        "signature_key_id": key.key_id,
    }
    lines = [
        f"checkpoint {cp['checkpoint_index']}: {args.out} sequences "
        f"{cp['sequence_start']}..{cp['sequence_end']}",
        f"chain={chain_path}",
        f"next=gait verify session-chain --chain {chain_path}",
    ]
    return Outcome(payload, ExitCode.OK, lines, key_warnings)


def compact(args: argparse.Namespace) -> Outcome:
    from gait.runpack import session

    result = session.compact(args.journal, out=args.out, dry_run=args.dry_run)
    payload = {"ok": True, "operation": "compact", "journal": args.journal, "compaction": result}
    verb = "would drop" if args.dry_run else "dropped"
    lines = [
        f"session compact: {verb} {result['events_before'] - result['events_after']} events "
        f"covered by {result['checkpoints']} checkpoints ({result['bytes_before']} -> "
        f"{result['bytes_after']} bytes)"
    ]
    return Outcome(payload, ExitCode.OK, lines)
