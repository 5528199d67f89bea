"""Which runpack a fixture is graded against.

By default the fixture's own runpack (that proves the fixture sound). ``candidate_runpack`` in
fixture.json (the reference's key) or ``candidate:`` in gait.yaml point at runpacks produced
earlier in the CI job; ``command:`` runs the user's agent against the fixture's stubs
(GAIT_REPLAY_FROM) and grades the runpack it records (GAIT_RECORD_TO): that is what catches
real drift.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
from pathlib import Path, PurePosixPath

from gait.regress.config import FixtureSpec, RegressConfig
from gait.regress.context import Candidate

COMMAND_LABEL = "gait-out/regress/{name}/candidate.zip"
_GLOB_CHARS = set("*?[")
STDERR_TAIL = 400


def _label(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


class CandidateResolver:
    """Resolves (and for ``command:`` produces) candidates, once per fixture per process."""

    def __init__(self, config: RegressConfig, work_dir: Path) -> None:
        self.config = config
        self.work_dir = work_dir
        self._done: dict[str, Candidate] = {}
        self._by_run_id: dict[str, list[Path]] | None = None

    def get(self, fixture: FixtureSpec) -> Candidate:
        if fixture.name not in self._done:
            self._done[fixture.name] = self._resolve(fixture)
        return self._done[fixture.name]

    def _resolve(self, fixture: FixtureSpec) -> Candidate:
        if self.config.command:
            return self._run_command(fixture)
        if self.config.candidate:
            return self._from_pattern(fixture)
        given = str(fixture.meta.get("candidate_runpack") or "").strip()
        if given:
            path = Path(given) if Path(given).is_absolute() else fixture.dir / given
            label = _label(self.config.root, path)
            if not path.is_file():
                return Candidate(
                    None,
                    label,
                    "candidate_runpack",
                    "candidate_runpack_invalid",
                    f"candidate runpack {label} not found",
                    {"candidate_runpack": label},
                )
            return Candidate(path, label, "candidate_runpack")
        return Candidate(fixture.runpack_path, fixture.runpack, "fixture")

    # candidate: in gait.yaml -------------------------------------------------------------
    def _from_pattern(self, fixture: FixtureSpec) -> Candidate:
        pattern = self.config.candidate
        try:
            formatted = pattern.format(name=fixture.name, run_id=fixture.run_id)
        except (KeyError, IndexError, ValueError):
            formatted = pattern
        if not _GLOB_CHARS.intersection(formatted):
            path = self.config.root / formatted
            label = _label(self.config.root, path)
            if not path.is_file():
                return Candidate(
                    None,
                    label,
                    "candidate",
                    "candidate_runpack_invalid",
                    f"candidate runpack {label} not found",
                    {"candidate_runpack": label},
                )
            return Candidate(path, label, "candidate")
        matches = self._index(formatted).get(fixture.run_id, [])
        if len(matches) != 1:
            why = "no runpack" if not matches else f"{len(matches)} runpacks"
            return Candidate(
                None,
                pattern,
                "candidate",
                "candidate_runpack_invalid",
                f"{why} matching {pattern!r} has run_id {fixture.run_id}",
                {"candidate_pattern": pattern},
            )
        return Candidate(matches[0], _label(self.config.root, matches[0]), "candidate")

    def _index(self, pattern: str) -> dict[str, list[Path]]:
        if self._by_run_id is None:
            from gait.canon import loads_strict
            from gait.errors import GaitError
            from gait.runpack.archive import read_members

            index: dict[str, list[Path]] = {}
            root = str(self.config.root)
            for found in sorted(glob.glob(pattern, root_dir=root, recursive=True)):
                path = self.config.root / found
                try:
                    manifest = loads_strict(read_members(path).data.get("manifest.json", b"{}"))
                except GaitError:
                    continue
                run_id = manifest.get("run_id") if isinstance(manifest, dict) else None
                if isinstance(run_id, str):
                    index.setdefault(run_id, []).append(path)
            self._by_run_id = index
        return self._by_run_id

    # command: in gait.yaml ---------------------------------------------------------------
    def _run_command(self, fixture: FixtureSpec) -> Candidate:
        from gait.runpack.replay import RECORD_TO_ENV, REPLAY_FROM_ENV

        label = COMMAND_LABEL.format(name=fixture.name)
        out = self.work_dir / fixture.name / "candidate.zip"
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists():
            out.unlink()
        env = dict(os.environ)
        env.update(
            {
                REPLAY_FROM_ENV: str(fixture.runpack_path.resolve()),
                RECORD_TO_ENV: str(out.resolve()),
                "GAIT_FIXTURE": fixture.name,
                "GAIT_FIXTURE_RUN_ID": fixture.run_id,
            }
        )
        # "{python}" is this interpreter: the agent runs with the gait it is graded by.
        argv = [sys.executable if part == "{python}" else part for part in self.config.command]
        shown = " ".join(self.config.command)
        timeout = self.config.timeout_seconds
        try:
            proc = subprocess.Popen(  # noqa: S603 - the user's own configured command
                argv,
                cwd=self.config.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            return Candidate(
                None,
                label,
                "command",
                "command_failed",
                f"command {shown!r} could not start: {exc.strerror or exc}",
                {"command": argv},
            )
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return Candidate(
                None,
                label,
                "command",
                "command_timeout",
                f"command {shown!r} did not finish within {timeout:g} s (timeout_seconds)",
                {"command": argv, "timeout_seconds": timeout},
            )
        if proc.returncode != 0:
            tail = _tail(stderr)
            return Candidate(
                None,
                label,
                "command",
                "command_failed",
                f"command {shown!r} exited {proc.returncode}" + (f": {tail}" if tail else ""),
                {"command": argv, "command_exit_code": proc.returncode},
            )
        if not out.is_file():
            return Candidate(
                None,
                label,
                "command",
                "candidate_runpack_invalid",
                f"command {shown!r} exited 0 but wrote no runpack to ${RECORD_TO_ENV}",
                {"command": argv},
            )
        return Candidate(out, label, "command")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        proc.kill()
    try:
        proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _tail(stderr: bytes | None) -> str:
    text = (stderr or b"").decode("utf-8", "replace").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    tail = " | ".join(lines[-3:])
    return tail[-STDERR_TAIL:]


def command_label(name: str) -> str:
    return PurePosixPath(COMMAND_LABEL.format(name=name)).as_posix()
