"""Shared test fixtures: an isolated GAIT_HOME per test, the reference's conformance data, and
the installed ``gait`` console script run as a real subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# pytester's in-process runs drop every module first imported during them (its snapshot is
# taken when a Pytester is made). Gait imports yaml lazily; a plugin test that is the first to
# load it would leave a second copy of its classes behind, and a later test then fails on
# isinstance (a YAML node) only in that order. Imported here, at collection, it is in every
# snapshot. (cryptography's key classes were too, while Ed25519 went through them.)
import yaml  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[1]


CONFORMANCE_MISSING = (
    "conformance data absent: interop tests need the reference's data in ../shared/conformance "
    "beside the repository (or GAIT_CONFORMANCE_DIR)"
)


def _conformance_root() -> Path | None:
    for candidate in (
        os.environ.get("GAIT_CONFORMANCE_DIR", ""),
        REPO_ROOT.parent / "shared" / "conformance",
        REPO_ROOT / "shared" / "conformance",
    ):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """The reference's conformance data; a test needing it skips with one reason when absent
    (the data is not this project's to ship, so a clean clone still passes)."""
    root = _conformance_root()
    if root is None:
        pytest.skip(CONFORMANCE_MISSING)
    return root


@pytest.fixture(autouse=True)
def gait_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own GAIT_HOME, so no test reads or writes the user's ~/.gait."""
    home = tmp_path_factory.mktemp("gait_home")
    monkeypatch.setenv("GAIT_HOME", str(home))
    monkeypatch.delenv("GAIT_MODE", raising=False)
    return home


def gait_executable() -> list[str]:
    script = Path(sys.executable).with_name("gait")
    if script.exists():
        return [str(script)]
    found = shutil.which("gait")
    return [found] if found else [sys.executable, "-m", "gait"]


@pytest.fixture
def gait_argv() -> list[str]:
    """argv prefix that runs the installed ``gait`` (for tests that start processes themselves)."""
    return gait_executable()


def _inside_checkout(path: Path) -> bool:
    here = path.resolve()
    return here == REPO_ROOT or REPO_ROOT in here.parents


@pytest.fixture
def run_gait(gait_home: Path, tmp_path_factory: pytest.TempPathFactory):
    """Run the installed ``gait`` as a user would; returns the CompletedProcess.

    Without ``cwd`` it runs where the test is (a test that chdir'd into its own directory),
    except inside the checkout: there it runs in a fresh temp directory of its own, so a
    command writing its default outputs (``gait-out/``) never writes into the repository.
    """
    own: list[Path] = []

    def default_cwd() -> Path | None:
        if not _inside_checkout(Path.cwd()):
            return None
        if not own:
            own.append(tmp_path_factory.mktemp("run_gait_cwd"))
        return own[0]

    def run(
        *args: str,
        cwd: Path | str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "GAIT_HOME": str(gait_home)}
        full_env.update(env or {})
        return subprocess.run(
            [*gait_executable(), *args],
            cwd=cwd if cwd is not None else default_cwd(),
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture
def reference_set(conformance_dir: Path):
    """Lay out the reference's regress fixture set (its tree.txt): gait.yaml and
    fixtures/run_raw/{fixture.json,runpack.zip}; ``drift=True`` takes regress-drift's
    fixture.json."""

    def build(target: Path, *, drift: bool = False) -> Path:
        ref = conformance_dir / "reference"
        fixture_dir = target / "fixtures" / "run_raw"
        fixture_dir.mkdir(parents=True)
        shutil.copy(ref / "regress" / "gait.yaml", target / "gait.yaml")
        meta = ref / ("regress-drift" if drift else "regress") / "fixture.json"
        shutil.copy(meta, fixture_dir / "fixture.json")
        shutil.copy(ref / "runpacks" / "runpack_run_raw.zip", fixture_dir / "runpack.zip")
        return target

    return build
