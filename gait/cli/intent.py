"""``gait intent init``: write a valid IntentRequest to start from, instead of typing JSON."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from gait.cli.main import add_common, add_group
from gait.cli.output import Outcome
from gait.errors import ExitCode

INIT_EXPLAIN = (
    "gait intent init TOOL writes an IntentRequest (docs/formats.md section 5.1) to intent.json "
    "(--out, - for stdout): --target KIND:VALUE (repeatable; kinds path url host repo bucket "
    "table queue topic other) with --op (default from the tool name), --arg KEY=VALUE "
    "(repeatable, JSON values accepted) each with --source provenance (default user), and "
    "--identity, --workspace, --risk-class, --phase for the context. It is validated before "
    "it is written, and its intent digest is printed."
)
KINDS = ("path", "url", "host", "repo", "bucket", "table", "queue", "topic", "other")
# Last segment of the tool name -> the operation a target gets when --op is not given.
OP_HINTS = (
    (("delete", "remove", "rm", "unlink", "drop", "truncate"), "delete"),
    (("write", "update", "save", "create", "put", "append", "edit"), "write"),
    (("exec", "run", "shell", "spawn", "command"), "exec"),
    (("read", "get", "list", "fetch", "search", "open", "cat", "query"), "read"),
)


def register(parser: argparse.ArgumentParser) -> None:
    sub = add_group(parser)
    init = sub.add_parser("init", help="write a valid IntentRequest for a tool call")
    init.add_argument("tool", help="tool name, e.g. tool.delete")
    init.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="KIND:VALUE",
        help="what the call touches, e.g. path:/workspace/a.txt (repeatable)",
    )
    init.add_argument("--op", default=None, help="targets' operation (default from the tool name)")
    init.add_argument(
        "--arg", action="append", default=[], metavar="KEY=VALUE", help="argument (repeatable)"
    )
    init.add_argument(
        "--source",
        default="user",
        choices=("user", "tool_output", "external", "system"),
        help="where the arguments came from (arg_provenance; default user)",
    )
    init.add_argument("--identity", default=None, help="who asks (default $USER, else agent)")
    init.add_argument("--workspace", default=None, help="workspace (default the current dir)")
    init.add_argument("--risk-class", default="high", choices=("low", "medium", "high", "critical"))
    init.add_argument("--phase", default="apply", choices=("plan", "apply"))
    init.add_argument("--created-at", metavar="RFC3339", help="envelope time (default now)")
    init.add_argument("--out", default="intent.json", help="file to write, - for stdout")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    add_common(init, INIT_EXPLAIN)
    init.set_defaults(handler=run_init)


def _operation(tool: str, given: str | None) -> str:
    if given:
        return given.strip().lower()
    last = tool.strip().lower().replace("-", "_").split(".")[-1]
    for words, op in OP_HINTS:
        if any(word in last.split("_") or last.startswith(word) for word in words):
            return op
    return ""


def _target(text: str, op: str) -> dict[str, Any]:
    from gait.errors import InvalidInput

    kind, sep, value = text.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in KINDS or not value.strip():
        raise InvalidInput(
            f"--target {text!r} must be KIND:VALUE with KIND one of {', '.join(KINDS)}",
            code="E_USAGE",
            hint="gait intent init tool.write --target path:/workspace/notes.txt",
        )
    target = {"kind": kind, "value": value.strip()}
    if op:
        target["operation"] = op
    return target


def _arg(text: str) -> tuple[str, Any]:
    import json

    from gait.errors import InvalidInput

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InvalidInput(
            f"--arg {text!r} must be KEY=VALUE", code="E_USAGE", hint="--arg path=/workspace/a"
        )
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value


def run_init(args: argparse.Namespace) -> Outcome:
    from gait import __version__, schema, timefmt
    from gait.canon import dumps_pretty
    from gait.errors import InvalidInput
    from gait.fsutil import atomic_write
    from gait.gate.intent import normalize_intent

    tool = args.tool.strip()
    if not tool:
        raise InvalidInput(
            "the tool name is empty", code="E_USAGE", hint="gait intent init tool.read"
        )
    op = _operation(tool, args.op)
    call_args = dict(_arg(a) for a in args.arg)
    paths = [t.partition(":")[2].strip() for t in args.target if t.lower().startswith("path:")]
    if not call_args and paths:
        call_args = {"path": paths[0]}  # the common case: a file tool called with its path
    intent: dict[str, Any] = {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": timefmt.canonical(args.created_at) if args.created_at else timefmt.now(),
        "producer_version": __version__,
        "tool_name": tool,
        "args": call_args,
        "targets": [_target(t, op) for t in args.target],
        "context": {
            "identity": args.identity or os.environ.get("USER", "").strip() or "agent",
            "workspace": args.workspace or Path.cwd().as_posix(),
            "risk_class": args.risk_class,
            "phase": args.phase,
        },
    }
    if call_args:
        intent["arg_provenance"] = [
            {"arg_path": f"$.{key}", "source": args.source} for key in sorted(call_args)
        ]
    schema.validate("gait.gate.intent_request", intent, what="intent")
    digest = normalize_intent(intent).stripped().digest
    text = dumps_pretty(intent)
    payload: dict[str, Any] = {"ok": True, "intent_digest": digest, "tool_name": tool}
    if args.out == "-":
        payload["intent"] = intent
        return Outcome(payload, ExitCode.OK, text=text.decode("utf-8"))
    out = Path(args.out)
    if out.exists() and not args.force:
        raise InvalidInput(f"{out} exists (use --force to overwrite)", code="E_OUTPUT_EXISTS")
    atomic_write(out, text)
    payload["path"] = str(out)
    lines = [
        f"wrote {out}: {tool} targets={len(intent['targets'])} intent_digest={digest[:16]}",
        f"next: gait policy test POLICY.yaml {out}",
    ]
    if not intent["targets"]:
        lines.append(
            "note: no --target: a fail_closed policy blocks it (fail_closed_missing_targets)"
        )
    return Outcome(payload, ExitCode.OK, lines)
