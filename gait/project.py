"""A project's Gait files: the starter scaffold ``gait init`` writes and the checks ``gait check``
runs over it.

The scaffold is a repository policy (``.gait.yaml``, a gate policy, as in the reference) and the
``.gitignore`` lines that keep what must never be committed out of git: runpacks and traces
(``gait-out/``; raw-capture runpacks hold tool payloads), ``regress_result.json`` and private key
files. Checks only read; each finding says what is wrong and the command that fixes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_POLICY = ".gait.yaml"
GITIGNORE_HEADER = (
    "# gait: runpacks may hold raw tool payloads; private keys must never be committed"
)
GITIGNORE_ENTRIES = (
    "gait-out/",
    ".gait-out/",
    "regress_result.json",
    "keys/",
    "*_private.key",
)
PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass(frozen=True)
class Finding:
    id: str
    status: str
    message: str
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {"id": self.id, "status": self.status, "message": self.message}
        if self.fix:
            out["fix"] = self.fix
        return out


@dataclass
class GitignoreUpdate:
    path: Path
    added: list[str] = field(default_factory=list)
    created: bool = False


def missing_gitignore_entries(root: Path) -> list[str]:
    """Entries of ``GITIGNORE_ENTRIES`` not present as lines of ``root/.gitignore``."""
    path = root / ".gitignore"
    try:
        present = {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}
    except FileNotFoundError:
        present = set()
    except (OSError, UnicodeDecodeError):
        present = set()
    return [entry for entry in GITIGNORE_ENTRIES if entry not in present]


def update_gitignore(root: Path) -> GitignoreUpdate:
    """Append the missing entries under one comment; never rewrites or reorders what is there."""
    from gait.fsutil import atomic_write

    path = root / ".gitignore"
    update = GitignoreUpdate(path=path, added=missing_gitignore_entries(root))
    if not update.added:
        return update
    try:
        before = path.read_bytes()
    except FileNotFoundError:
        before = b""
        update.created = True
    text = before.decode("utf-8", errors="surrogateescape")
    if text and not text.endswith("\n"):
        text += "\n"
    if text:
        text += "\n"
    text += GITIGNORE_HEADER + "\n" + "".join(f"{entry}\n" for entry in update.added)
    atomic_write(path, text.encode("utf-8", errors="surrogateescape"))
    return update


def check_project(root: Path) -> list[Finding]:
    """Everything beyond the policy itself (which the caller loads first): ignore rules, the
    regress fixture set if there is one, key files git could pick up."""
    findings: list[Finding] = []
    missing = missing_gitignore_entries(root)
    if missing:
        findings.append(
            Finding(
                "gitignore",
                WARN,
                f".gitignore lacks {', '.join(missing)}: runpacks and private keys could be "
                "committed",
                fix="printf '%s\\n' " + " ".join(f"'{m}'" for m in missing) + " >> .gitignore",
            )
        )
    else:
        findings.append(Finding("gitignore", PASS, ".gitignore keeps gait-out/ and keys out"))
    tracked = _tracked_secrets(root)
    if tracked:
        shown = " ".join(tracked[:5]) + (
            f" (and {len(tracked) - 5} more)" if len(tracked) > 5 else ""
        )
        findings.append(
            Finding(
                "committed_outputs",
                FAIL,
                f"git tracks {shown}: private keys and runpacks do not belong in the repository "
                "(rotate a committed private key: gait keys rotate)",
                fix="git rm --cached -- " + " ".join(tracked[:5]),
            )
        )
    findings.append(_regress_finding(root))
    config = _config_finding(root)
    if config is not None:
        findings.append(config)
    return findings


def _config_finding(root: Path) -> Finding | None:
    """``.gait/config.yaml`` (gait init writes it), when there is one: it must load, and the
    policy it names must exist, or every ``gait gate eval`` here fails."""
    from gait.errors import GaitError
    from gait.projectconfig import DEFAULT_PATH, load

    path = root / DEFAULT_PATH
    if not path.exists():
        return None
    try:
        config = load(str(path), allow_missing=False)
    except GaitError as error:
        return Finding("project_config", FAIL, f"{DEFAULT_PATH}: {error.code}: {error.message}")
    policy = config.gate.get("policy", "")
    if policy and not (root / policy).exists():
        return Finding(
            "project_config",
            FAIL,
            f"{DEFAULT_PATH}: gate.policy {policy} does not exist",
            fix=f"gait init --out {policy}",
        )
    named = f" (gate.policy: {policy})" if policy else ""
    return Finding("project_config", PASS, f"{DEFAULT_PATH} loads{named}")


def _tracked_secrets(root: Path) -> list[str]:
    """Files git already tracks that ``.gitignore`` should have kept out (empty outside git)."""
    import shutil
    import subprocess

    git = shutil.which("git")
    if git is None:
        return []
    try:
        proc = subprocess.run(
            [git, "ls-files", "-z", "--", "*_private.key", "gait-out/*", ".gait-out/*"],
            cwd=root,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if proc.returncode != 0:
        return []
    return sorted(name for name in proc.stdout.decode("utf-8", "replace").split("\0") if name)


def _regress_finding(root: Path) -> Finding:
    config = root / "gait.yaml"
    if not config.exists():
        return Finding(
            "regress",
            WARN,
            "no gait.yaml: no regression fixtures yet",
            fix="gait regress init --from RUN_ID  (a runpack from gait demo or gait run record)",
        )
    from gait.errors import GaitError
    from gait.regress.config import load_config

    try:
        loaded = load_config(config)
    except GaitError as error:
        return Finding(
            "regress", FAIL, f"gait.yaml: {error.code}: {error.message}", fix=error.hint or ""
        )
    return Finding("regress", PASS, f"gait.yaml: {len(loaded.fixtures)} fixture(s)")
