"""Where a run id or path names a runpack (FORMATS.md section 3)."""

from __future__ import annotations

from pathlib import Path

from gait.errors import InvalidInput
from gait.fsutil import atomic_write, gait_home

LOCAL_DIR = Path("gait-out")


def is_path(ref: str) -> bool:
    return "/" in ref or "\\" in ref or ref.endswith(".zip")


def home_dir() -> Path:
    return gait_home() / "runpacks"


def known_run_ids() -> list[str]:
    ids: set[str] = set()
    for folder in (LOCAL_DIR, home_dir()):
        if folder.is_dir():
            ids.update(p.name[len("runpack_") : -len(".zip")] for p in folder.glob("runpack_*.zip"))
    return sorted(ids)


def resolve(ref: str) -> Path:
    """A path as given; a bare run id in ./gait-out, then in GAIT_HOME/runpacks."""
    if not ref or not ref.strip():
        raise InvalidInput("no runpack given", code="E_USAGE", hint="gait verify <run_id|path>")
    if is_path(ref):
        path = Path(ref)
        if not path.exists():
            raise InvalidInput(f"runpack not found: {ref}", code="E_RUNPACK_NOT_FOUND")
        return path
    for folder in (LOCAL_DIR, home_dir()):
        candidate = folder / f"runpack_{ref}.zip"
        if candidate.is_file():
            return candidate
    import difflib  # only for the suggestions of a run id that is not found

    close = difflib.get_close_matches(ref, known_run_ids(), n=3, cutoff=0.5)
    hint = f"known run ids close to it: {', '.join(close)}" if close else "gait demo"
    raise InvalidInput(
        f"unknown run id {ref!r} (looked in ./gait-out and {home_dir()})",
        code="E_RUNPACK_NOT_FOUND",
        hint=hint,
        details={"closest_run_ids": close} if close else None,
    )


def remember(path: Path, run_id: str) -> Path:
    """Copy a runpack into GAIT_HOME so its run id resolves from any directory."""
    target = home_dir() / f"runpack_{run_id}.zip"
    if target.resolve() != path.resolve():
        atomic_write(target, path.read_bytes())
    return target
