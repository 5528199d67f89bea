"""``gait migrate <artifact> [--to VERSION] [--out PATH]``."""

from __future__ import annotations

import argparse
from typing import Any

from gait.cli.main import add_common
from gait.cli.output import Outcome
from gait.errors import ExitCode

EXPLAIN = (
    "gait migrate reads an artifact (.json, .jsonl, policy .yaml or runpack .zip), finds the "
    "reader for its schema_id and schema_version, and rewrites it to the current version "
    "(1.0.0) when --out is given. A current artifact is reported as current (exit 0); an "
    "unknown or newer version is refused with E_MIGRATE_UNSUPPORTED_VERSION (exit 6). Migrated "
    "bytes are re-signed only with --private-key; otherwise the stale signature is removed."
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "artifact", nargs="?", help="artifact file (.json, .jsonl, .yaml, runpack .zip) or run id"
    )
    parser.add_argument("--input", metavar="PATH", help="the artifact, as the reference spells it")
    parser.add_argument("--to", default=None, metavar="VERSION", help="target version (1.0.0)")
    parser.add_argument("--target", metavar="GEN", help="target generation: v1 (= --to 1.0.0)")
    parser.add_argument("--out", default=None, metavar="PATH", help="write the result here")
    parser.add_argument("--private-key", metavar="PATH", help="re-sign migrated artifacts")
    parser.add_argument("--private-key-env", metavar="VAR", help="variable holding that key")
    add_common(parser, EXPLAIN)
    parser.set_defaults(handler=run)


def _reference_flags(args: argparse.Namespace) -> None:
    """Fold the reference's ``--input``/``--target v1`` into ours, and resolve a run id."""
    from gait.errors import InvalidInput

    if args.artifact and args.input and args.artifact != args.input:
        raise InvalidInput("give the artifact once: ARTIFACT or --input ARTIFACT", code="E_USAGE")
    args.artifact = args.artifact or args.input
    if not args.artifact:
        raise InvalidInput(
            "which artifact? gait migrate ARTIFACT", code="E_USAGE", hint="gait migrate run_demo"
        )
    if args.target is not None:
        if args.target.strip().lower() != "v1":
            raise InvalidInput(
                f"unsupported --target {args.target!r} (only v1 is available)",
                code="E_MIGRATE_UNSUPPORTED_VERSION",
                hint="gait migrate ARTIFACT --target v1",
            )
        if args.to not in (None, "1.0.0"):
            raise InvalidInput("--target v1 means --to 1.0.0", code="E_USAGE")
        args.to = "1.0.0"
    from pathlib import Path

    if not Path(args.artifact).exists() and _looks_like_run_id(args.artifact):
        from gait.runpack.resolve import resolve

        args.artifact = str(resolve(args.artifact))


def _looks_like_run_id(text: str) -> bool:
    return not any(c in text for c in "/\\") and not text.endswith(
        (".zip", ".json", ".jsonl", ".yaml", ".yml")
    )


def run(args: argparse.Namespace) -> Outcome:
    from gait.errors import InvalidInput
    from gait.fsutil import atomic_write
    from gait.migrate import migrate_file
    from gait.sign.keyring import explicit_signing_key

    _reference_flags(args)
    key = explicit_signing_key(args)
    result = migrate_file(args.artifact, to=args.to, signing_key=key)
    if args.out:
        from pathlib import Path

        if Path(args.out).is_dir():
            raise InvalidInput(f"--out {args.out} is a directory", code="E_USAGE")
        atomic_write(args.out, result.output)
    status = "migrated" if result.changed else "current"
    versions = sorted({i.migration.from_version for i in result.items})
    target = result.items[0].migration.to_version
    artifacts: list[dict[str, Any]] = [
        {
            "where": item.where,
            "schema_id": item.migration.schema_id,
            "from_version": item.migration.from_version,
            "to_version": item.migration.to_version,
            "steps": item.migration.steps,
            **({"note": item.note} if item.note else {}),
        }
        for item in result.items
    ]
    doc = {
        "ok": True,
        "path": args.artifact,
        "status": status,
        "changed": result.changed,
        "from_versions": versions,
        "to_version": target,
        "artifacts": artifacts[:200],
        "artifact_count": len(artifacts),
    }
    if args.out:
        doc["out"] = args.out
    ids = sorted({a["schema_id"] for a in artifacts})
    lines = [f"migrate {status}: {args.artifact} ({', '.join(ids)[:120]}) -> {target}"]
    if result.changed:
        lines.append(f"steps: {', '.join(sorted({s for a in artifacts for s in a['steps']}))}")
        notes = sorted({a["note"] for a in artifacts if "note" in a})
        lines += notes[:3]
        lines.append(f"wrote {args.out}" if args.out else "dry run: pass --out PATH to write it")
    elif args.out:
        lines.append(f"already at {target}; copied unchanged to {args.out}")
    return Outcome(doc, ExitCode.OK, lines)
