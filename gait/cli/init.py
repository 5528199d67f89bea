"""``gait init``: a starter repository policy (``.gait.yaml``) and the ``.gitignore`` lines that
keep runpacks, regress results and private keys out of git."""

from __future__ import annotations

import argparse
from pathlib import Path

from gait.cli.main import add_common
from gait.cli.output import Outcome
from gait.errors import ExitCode

EXPLAIN = (
    "gait init writes a starter gate policy to .gait.yaml (--out) from a template "
    "(--template baseline-lowrisk|baseline-mediumrisk|baseline-highrisk, default highrisk) and "
    "appends gait-out/, .gait-out/, regress_result.json, keys/ and *_private.key to .gitignore "
    "(--no-gitignore to skip), and writes the project defaults .gait/config.yaml (gate.policy "
    "set to the policy; an existing one is kept; --no-config to skip). Existing lines are "
    "kept; an existing policy needs --force."
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template", default="baseline-highrisk", help="starter policy template")
    parser.add_argument("--out", default=".gait.yaml", help="policy file to write (.gait.yaml)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing policy file")
    parser.add_argument("--no-gitignore", action="store_true", help="leave .gitignore alone")
    parser.add_argument("--no-config", action="store_true", help="do not write .gait/config.yaml")
    add_common(parser, EXPLAIN)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Outcome:
    from gait.cli.policy import TEMPLATE_ALIASES
    from gait.errors import InvalidInput
    from gait.fsutil import atomic_write
    from gait.gate.policy import load_policy_text
    from gait.gate.templates import TEMPLATES
    from gait.project import update_gitignore

    name = TEMPLATE_ALIASES.get(args.template.strip().lower(), args.template.strip().lower())
    text = TEMPLATES.get(name)
    if text is None:
        raise InvalidInput(
            f"unknown template {args.template!r}",
            code="E_USAGE",
            hint=f"templates: {', '.join(sorted(TEMPLATES))}",
        )
    out = Path(args.out.strip() or ".gait.yaml")
    if out.exists() and not args.force:
        raise InvalidInput(
            f"{out} exists (use --force to overwrite)",
            code="E_OUTPUT_EXISTS",
            hint=f"gait check --policy {out}",
        )
    policy = load_policy_text(text)
    atomic_write(out, text.encode("utf-8"))
    payload = {
        "ok": True,
        "template": name,
        "policy_path": str(out),
        "policy_digest": policy.digest,
        "next_commands": [
            f"gait check --policy {out}",
            f"gait policy validate {out}",
            "gait doctor",
        ],
    }
    lines = [f"wrote {out} (template {name}, digest {policy.digest[:16]})"]
    if not args.no_gitignore:
        update = update_gitignore(out.parent if out.parent != Path("") else Path("."))
        payload["gitignore_path"] = str(update.path)
        payload["gitignore_added"] = update.added
        if update.added:
            lines.append(
                f"{'created' if update.created else 'updated'} {update.path}: "
                f"{' '.join(update.added)}"
            )
        else:
            lines.append(f"{update.path} already ignores gait's outputs and keys")
    if not args.no_config:
        lines.append(_project_config(out, payload))
    lines.append(f"next: gait check --policy {out}")
    return Outcome(payload, ExitCode.OK, lines)


def _project_config(policy: Path, payload: dict[str, object]) -> str:
    """Write ``.gait/config.yaml`` pointing at the policy, unless the project has one already
    (its settings are the operator's: never overwritten, not even with --force)."""
    from gait.fsutil import atomic_write
    from gait.projectconfig import DEFAULT_PATH, load, render_template

    path = Path(DEFAULT_PATH)
    payload["config_path"] = DEFAULT_PATH
    if path.exists():
        load(DEFAULT_PATH)  # an existing file must still be valid: say so now, not at gate eval
        payload["config_written"] = False
        return f"kept {DEFAULT_PATH}"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, render_template(policy.as_posix()).encode("utf-8"))
    payload["config_written"] = True
    return f"wrote {DEFAULT_PATH} (gate.policy: {policy.as_posix()})"
