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
from typing import Any

from gait.regress.config import FixtureSpec, RegressConfig
from gait.regress.context import Candidate

COMMAND_LABEL = "gait-out/regress/{name}/candidate.zip"
MISSES_FILE = "candidate.misses.jsonl"
RECORD_TO_ENV = "GAIT_RECORD_TO"
_GLOB_CHARS = set("*?[")
STDERR_TAIL = 400


def _label(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


class CandidateResolver:
    """Resolves (and for ``command:`` produces) candidates, once per fixture per process."""

    def __init__(
        self,
        config: RegressConfig,
        work_dir: Path,
        *,
        record_mode: str = "",
        unsafe_real_tools: bool = False,
    ) -> None:
        self.config = config
        self.work_dir = work_dir
        self.record_mode = record_mode or config.record_mode or "none"
        self.unsafe_real_tools = unsafe_real_tools
        self.running: set[subprocess.Popen[bytes]] = set()
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
    def agent_env(self, fixture: FixtureSpec, out: Path, misses: Path) -> dict[str, str]:
        """What the agent is told: replay from the fixture, record to ``out``, log misses to
        ``misses``, match calls as configured, and keep gate state to itself."""
        import json

        from gait.gate.state import STATE_ENV
        from gait.runpack import replay as rp

        match_on = rp.MatchOn.parse(
            fixture.match_on if fixture.match_on is not None else self.config.match_on,
            f"{self.config.path.name}: match_on",
        )
        env = dict(os.environ)
        for name in (rp.ALLOW_TOOLS_ENV, rp.UNSAFE_ENV):
            env.pop(name, None)
        saved = env.pop("GAIT_REGRESS_SAVED_AUTOLOAD", None)  # gait regress run's own setting
        if saved is not None:
            env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
            if saved != "unset":
                env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved
        env.update(
            {
                rp.REPLAY_FROM_ENV: str(fixture.runpack_path.resolve()),
                rp.RECORD_TO_ENV: str(out.resolve()),
                rp.MISSES_ENV: str(misses.resolve()),
                rp.MATCH_ON_ENV: json.dumps(match_on.to_json(), sort_keys=True),
                rp.RECORD_MODE_ENV: self.record_mode,
                "GAIT_FIXTURE": fixture.name,
                "GAIT_FIXTURE_RUN_ID": fixture.run_id,
                STATE_ENV: self._gate_state(fixture, out.parent),
            }
        )
        if self.record_mode == "new_episodes":
            env[rp.ALLOW_TOOLS_ENV] = ",".join(self.config.allow_tools)
            if self.unsafe_real_tools:
                env[rp.UNSAFE_ENV] = "1"
        return env

    def _gate_state(self, fixture: FixtureSpec, work: Path) -> str:
        shared = self.config.gate_state
        if shared:
            if "://" in shared:
                return shared
            path = Path(shared)
            return str(path if path.is_absolute() else (self.config.root / path).resolve())
        fresh = work / "gate_state.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{fresh}{suffix}").unlink(missing_ok=True)
        return str(fresh.resolve())

    def _run_command(self, fixture: FixtureSpec) -> Candidate:
        label = COMMAND_LABEL.format(name=fixture.name)
        out = self.work_dir / fixture.name / "candidate.zip"
        misses_path = out.with_name(MISSES_FILE)
        out.parent.mkdir(parents=True, exist_ok=True)
        for stale in (out, misses_path):
            stale.unlink(missing_ok=True)
        env = self.agent_env(fixture, out, misses_path)
        # "{python}" is this interpreter: the agent runs with the gait it is graded by.
        argv = [sys.executable if part == "{python}" else part for part in self.config.command]
        shown = " ".join(self.config.command)
        timeout = self.config.timeout_seconds

        def failed(reason: str, code: str, message: str, **details: object) -> Candidate:
            return Candidate(
                None,
                label,
                "command",
                reason,
                message,
                {"command": list(self.config.command), **details},
                error_code=code,
            )

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
        except FileNotFoundError:
            return failed(
                "command_failed",
                "E_REGRESS_COMMAND_NOT_FOUND",
                f"command {shown!r} not found",
            )
        except OSError as exc:
            return failed(
                "command_failed",
                "E_REGRESS_COMMAND_FAILED",
                f"command {shown!r} could not start: {exc.strerror or exc}",
            )
        self.running.add(proc)
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return failed(
                "command_timeout",
                "E_REGRESS_COMMAND_TIMEOUT",
                f"command {shown!r} did not finish within {timeout:g} s (timeout_seconds)",
                timeout_seconds=timeout,
            )
        except BaseException:
            # Ctrl-C / SIGTERM: the agent runs in its own session, so the terminal's signal
            # never reached it; take its whole process group down with us.
            _kill_group(proc)
            raise
        finally:
            self.running.discard(proc)
        misses = read_misses(misses_path)
        candidate_written = out.is_file()
        if misses and candidate_written:
            # Drift, whether or not the agent then crashed: the graders show the misses and the
            # calls that were made.
            return Candidate(
                out,
                label,
                "command",
                details={"command_exit_code": proc.returncode},
                misses=misses,
                exit_code=proc.returncode,
                misses_path=misses_path,
            )
        if misses:
            first = misses[0].get("message", "")
            return failed(
                "replay_miss",
                "E_REGRESS_REPLAY_MISS",
                f"{len(misses)} replay miss(es), no candidate written: {first}",
                command_exit_code=proc.returncode,
            )
        if proc.returncode != 0:
            tail = _tail(stderr)
            return failed(
                "command_failed",
                "E_REGRESS_COMMAND_FAILED",
                f"command {shown!r} exited {proc.returncode}" + (f": {tail}" if tail else ""),
                command_exit_code=proc.returncode,
            )
        if not candidate_written:
            return failed(
                "candidate_runpack_invalid",
                "E_REGRESS_NO_CANDIDATE",
                f"command {shown!r} exited 0 but wrote no runpack to ${RECORD_TO_ENV}",
            )
        return Candidate(out, label, "command", exit_code=0, misses_path=misses_path)

    def kill_running(self) -> None:
        """Kill every agent still running (a signal arrived outside ``communicate``)."""
        for proc in list(self.running):
            _kill_group(proc)


def read_misses(path: Path) -> list[dict[str, Any]]:
    """The unserved misses an agent's replay logged (served ones, new_episodes, are not drift)."""
    import json

    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and not record.get("served"):
            out.append(record)
    return out


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
