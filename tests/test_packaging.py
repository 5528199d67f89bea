"""Packaging: every package directory is shipped, and a release build is reproducible."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOTS = ("gait", "pytest_gait", "graders")


def _declared() -> set[str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return set(data["tool"]["setuptools"]["packages"])


def _package_dirs() -> set[str]:
    found = set()
    for root in ROOTS:
        for init in (REPO / root).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            found.add(".".join(init.parent.relative_to(REPO).parts))
    return found


def test_every_package_directory_is_listed_in_pyproject() -> None:
    missing = sorted(_package_dirs() - _declared())
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"
    stale = sorted(p for p in _declared() - _package_dirs() if p != "gait._schemas")
    assert not stale, f"listed in pyproject.toml but no such package: {stale}"


def _source_copy(dest: Path) -> Path:
    """The files git would ship (tracked plus new, not ignored): what a release builds from."""
    listed = (
        subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"],
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


def _isolated() -> bool:
    """Build in isolated environments (as scripts/build_release.sh does, about 50 s and PyPI)
    only when asked or when this interpreter's setuptools cannot build a wheel by itself."""
    if os.environ.get("GAIT_ISOLATED_BUILD_TEST", "") not in ("", "0"):
        return True
    try:
        import setuptools
    except ImportError:
        return True
    major, minor = (int(p) for p in setuptools.__version__.split(".")[:2])
    return (major, minor) < (70, 1)


def test_build_is_reproducible(tmp_path: Path) -> None:
    """Two builds with one SOURCE_DATE_EPOCH, side by side: byte-identical wheel, sdist and
    SHA256SUMS (about 6 s with the test extra's setuptools)."""
    pytest.importorskip("build")
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1767225600"}
    flags = [] if _isolated() else ["--no-isolation"]
    procs = []
    for name in ("one", "two"):
        src = _source_copy(tmp_path / name / "src")
        out = tmp_path / name / "dist"
        procs.append(
            (
                out,
                subprocess.Popen(
                    [
                        sys.executable,
                        str(REPO / "scripts" / "reproducible_build.py"),
                        *flags,
                        str(src),
                        str(out),
                    ],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    for _, proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
    (one, _), (two, _) = procs
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(p.name for p in two.iterdir())
    assert any(n.endswith(".whl") for n in names) and any(n.endswith(".tar.gz") for n in names)
    for name in names:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    sums = dict(
        reversed(line.split("  ")) for line in (one / "SHA256SUMS").read_text().splitlines()
    )
    for name, digest in sums.items():
        assert hashlib.sha256((one / name).read_bytes()).hexdigest() == digest
    wheel = next(one.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        members = set(archive.namelist())
    for package in _declared():
        assert f"{package.replace('.', '/')}/__init__.py" in members or package == "gait._schemas"
    assert "gait/_schemas/runpack_manifest.schema.json" in members
    # The distribution is pytest-gait (the name `gait` on the index is another project); the
    # import packages and the `gait` command keep their names; the declared licence ships.
    assert wheel.name.startswith("pytest_gait-"), wheel.name
    dist_info = wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"
    assert f"{dist_info}/licenses/LICENSE" in members, sorted(members)[-8:]
    with zipfile.ZipFile(wheel) as archive:
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    assert "gait = gait.cli.main:entry" in entry_points


def test_license_file_is_the_one_pyproject_declares() -> None:
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["name"] == "pytest-gait"
    assert data["project"]["license"] == "Apache-2.0"
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text


def test_every_install_hint_names_this_distribution_and_a_real_extra() -> None:
    """A hint like ``pip install 'gait[langchain]'`` would install somebody else's
    distribution (the reference's SDK is called ``gait``): every hint users may copy, in the
    code and the docs, names ours and an extra pyproject defines."""
    import re

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = set(project["optional-dependencies"])
    hint = re.compile(r"pip install ['\"]?([A-Za-z0-9_.-]+)\[([^\]]+)\]")
    files = [REPO / "README.md"]
    for folder in ("gait", "pytest_gait", "graders", "docs", "recipes", "examples"):
        files += [p for p in (REPO / folder).rglob("*") if p.suffix in (".py", ".md", ".yaml")]
    wrong = []
    for path in files:
        for match in hint.finditer(path.read_text(encoding="utf-8", errors="replace")):
            dist, wanted = match.group(1), match.group(2)
            if "{" in wanted:  # a hint built from a variable, e.g. doctor's f-string
                continue
            if dist != project["name"] or not set(wanted.split(",")) <= extras:
                wrong.append(f"{path.relative_to(REPO)}: {match.group(0)}")
    assert not wrong, wrong
