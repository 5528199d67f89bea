"""Kill each multi-file writer at every file-system step (issue 11 items 8, 9, 10).

A wrapper runs the real CLI in a subprocess with ``os`` file-system calls counted; at step N it
dies with ``os._exit`` (no cleanup, no finally blocks: what SIGKILL does). For every N until the
command completes, the test checks what a user finds afterwards: the decision log still
verifies (an orphan trace is only a ``trace_uncommitted`` warning), a runpack is absent or
verifies, a key pair never mixes processes, and the next run leaves no temp files behind.
The default run covers ``gate eval`` and ``run record`` fully; ``GAIT_FUZZ=long`` adds
``approve`` and ``keys init``.

Each crashing run is its own process, forked from one server per command that has already
imported what the command imports (a warm-up run in a scratch copy of the directory lists the
modules): a step costs a fork, not an interpreter start-up and the command's imports. The
counting wraps ``os`` in the child after the fork, and gait calls ``os.X`` at call time, so the
steps counted are those of a fresh interpreter (test_fork_server_counts_as_a_fresh_process).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from gait.sign.keys import SigningKey

LONG = os.environ.get("GAIT_FUZZ", "") == "long"
MAX_STEPS = 200

WRAPPER = """
import os, sys
from gait.cli.main import main
limit = int(os.environ["GAIT_TEST_CRASH_AT"])
count = 0
def counted(fn):
    def call(*args, **kwargs):
        global count
        count += 1
        if count == limit:
            os._exit(137)
        return fn(*args, **kwargs)
    return call
for name in ("open", "write", "fsync", "replace", "rename", "link", "unlink", "mkdir", "chmod"):
    setattr(os, name, counted(getattr(os, name)))
code = main(sys.argv[1:])
if os.environ.get("GAIT_TEST_COUNT_FILE"):
    with open(os.environ["GAIT_TEST_COUNT_FILE"], "w") as f:
        f.write(str(count))
sys.exit(code)
"""

# The same wrapper as a fork server: reads a step per line on stdin, forks a child that counts
# and dies at that step exactly as WRAPPER does, answers "exit-code" per line. Step 0 is the
# warm-up: a run without counting in a scratch copy of the directory and GAIT_HOME, whose
# imported module names the server then imports (imports only: no command state is kept).
SERVER = """
import atexit, importlib, os, shutil, sys, tempfile, traceback
from gait.cli.main import main
argv, outdir = sys.argv[2:], sys.argv[1]
NAMES = ("open", "write", "fsync", "replace", "rename", "link", "unlink", "mkdir", "chmod")

def child(limit, names_fd):
    out = os.open(os.path.join(outdir, "out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(os.path.join(outdir, "err"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1)
    os.dup2(err, 2)
    count = 0
    def counted(fn):
        def call(*args, **kwargs):
            nonlocal count
            count += 1
            if count == limit:
                os._exit(137)
            return fn(*args, **kwargs)
        return call
    if limit:
        for name in NAMES:
            setattr(os, name, counted(getattr(os, name)))
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    if limit and os.environ.get("GAIT_TEST_COUNT_FILE"):
        with open(os.environ["GAIT_TEST_COUNT_FILE"], "w") as f:
            f.write(str(count))
    if names_fd is not None:
        os.write(names_fd, "\\n".join(sorted(sys.modules)).encode())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

def fork(limit, names_fd=None):
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        child(limit, names_fd)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

for line in sys.stdin:
    step = int(line)
    if step == 0:
        scratch = tempfile.mkdtemp()
        work, home = os.path.join(scratch, "w"), os.path.join(scratch, "h")
        shutil.copytree(os.getcwd(), work, symlinks=True)
        shutil.copytree(os.environ["GAIT_HOME"], home, symlinks=True)
        here, old_home = os.getcwd(), os.environ["GAIT_HOME"]
        os.chdir(work)
        os.environ["GAIT_HOME"] = home
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            child(0, write)
        os.close(write)
        with os.fdopen(read) as names:
            listed = names.read().split()
        os.waitpid(pid, 0)
        os.chdir(here)
        os.environ["GAIT_HOME"] = old_home
        shutil.rmtree(scratch, ignore_errors=True)
        for name in listed:
            if name.startswith(("gait", "yaml", "cryptography", "jsonschema", "rfc8785", "nacl")):
                try:
                    importlib.import_module(name)
                except Exception:
                    pass
        print(len(listed), flush=True)
        continue
    print(fork(step), flush=True)
"""


class _Server:
    """One forking wrapper process for one command (see SERVER)."""

    def __init__(self, tmp: Path, home: Path, outdir: Path, argv: tuple[str, ...]) -> None:
        env = {**os.environ, "GAIT_HOME": str(home)}
        self.outdir = outdir
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(outdir), *argv],
            cwd=tmp,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ask(0)

    def ask(self, step: int) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{step}\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def run(self, step: int) -> tuple[int, str, str]:
        code = self.ask(step)
        return code, (self.outdir / "out").read_text(), (self.outdir / "err").read_text()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


POLICY = "default_verdict: allow\n"
INTENT = {
    "schema_id": "gait.gate.intent_request",
    "schema_version": "1.0.0",
    "created_at": "2026-06-01T00:00:00Z",
    "producer_version": "t",
    "tool_name": "fs.read",
    "args": {"path": "/tmp/x"},
    "targets": [{"kind": "path", "value": "/tmp/x", "operation": "read"}],
    "context": {"identity": "bot", "workspace": "/w", "risk_class": "low"},
}


def _cli(capsys, *argv: str) -> tuple[int, str]:  # noqa: ANN001
    """The CLI in-process (checks between crashes; the crashing run is a real subprocess)."""
    from gait.cli.main import main

    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().out


def _temps(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.tmp"))


def _every_step(tmp: Path, home: Path, argv: tuple[str, ...], check) -> int:  # noqa: ANN001
    """Crash at step 1, 2, ... until the command completes; ``check`` after each crash."""
    outdir = Path(tempfile.mkdtemp(prefix="gait-crash-"))
    server = _Server(tmp, home, outdir, argv)
    try:
        for step in range(1, MAX_STEPS):
            code, out, err = server.run(step)
            assert "Traceback" not in err, err
            if code != 137:
                assert code == 0, out + err
                return step
            check(step)
    finally:
        server.close()
        shutil.rmtree(outdir, ignore_errors=True)
    raise AssertionError(f"{argv[:2]} did not complete within {MAX_STEPS} steps")


def test_fork_server_counts_as_a_fresh_process(
    tmp_path: Path, gait_home: Path, conformance_dir: Path, capsys, monkeypatch
) -> None:  # noqa: ANN001
    """A forked child of the warmed server meets exactly the steps a fresh interpreter meets
    (the same count of wrapped calls to completion), for both commands the default run kills."""
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "intent.json").write_text(json.dumps(INTENT))
    monkeypatch.chdir(tmp_path)
    assert (
        _cli(capsys, "gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json")[0] == 0
    )
    src = str(conformance_dir / "reference/inputs/run_ref.json")
    gate = ("gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json")
    for argv in (gate, ("run", "record", "--input", src)):
        counts = []
        for fresh in (True, False):
            work, home = (
                tmp_path / f"w{len(counts)}{argv[0]}",
                tmp_path / f"h{len(counts)}{argv[0]}",
            )
            shutil.copytree(tmp_path, work, ignore=shutil.ignore_patterns("w*", "h*"))
            shutil.copytree(gait_home, home)
            count_file = tmp_path / "count"
            monkeypatch.setenv("GAIT_TEST_COUNT_FILE", str(count_file))
            if fresh:
                env = {**os.environ, "GAIT_TEST_CRASH_AT": str(10**9)}
                env["GAIT_HOME"] = str(home)
                proc = subprocess.run(
                    [sys.executable, "-c", WRAPPER, *argv],
                    cwd=work,
                    env=env,
                    check=False,
                    capture_output=True,
                )
                assert proc.returncode == 0, proc.stderr
            else:
                outdir = tmp_path / "server_out"
                outdir.mkdir(exist_ok=True)
                server = _Server(work, home, outdir, argv)
                try:
                    assert server.run(10**9)[0] == 0
                finally:
                    server.close()
            counts.append(int(count_file.read_text()))
        assert counts[0] == counts[1] > 5, (argv[:2], counts)


def test_gate_eval_killed_at_every_step(
    tmp_path: Path, gait_home: Path, capsys, monkeypatch
) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "intent.json").write_text(json.dumps(INTENT))
    argv = ("gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json")
    traces = tmp_path / "gait-out" / "traces"
    assert _cli(capsys, *argv)[0] == 0  # dev key, log and head exist

    def check(step: int) -> None:
        # the next, uninterrupted decision completes and the whole record still verifies
        assert _cli(capsys, *argv)[0] == 0
        code, out = _cli(capsys, "trace", "verify", str(traces), "--json")
        assert code == 0, f"step {step}: {out}"
        doc = json.loads(out)
        assert all(w["kind"] == "trace_uncommitted" for w in doc.get("warnings", []))
        assert _temps(tmp_path) == [], f"step {step}: temp files left"

    steps = _every_step(tmp_path, gait_home, argv, check)
    assert steps > 5  # the wrapper really intercepted the writer's steps


def test_run_record_killed_at_every_step(
    tmp_path: Path, gait_home: Path, conformance_dir: Path, capsys, monkeypatch
) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    src = conformance_dir / "reference/inputs/run_ref.json"
    argv = ("run", "record", "--input", str(src))
    assert _cli(capsys, "keys", "init", "--key-mode", "dev")[0] == 0
    runpack = tmp_path / "gait-out" / "runpack_run_ref.zip"

    def check(step: int) -> None:
        if runpack.exists():
            code, out = _cli(capsys, "verify", str(runpack))
            assert code == 0, f"step {step}: {out}"
        assert _cli(capsys, *argv)[0] == 0
        assert _temps(tmp_path) == [], f"step {step}: temp files left"
        runpack.unlink()

    _every_step(tmp_path, gait_home, argv, check)


@pytest.mark.skipif(not LONG, reason="GAIT_FUZZ=long: approve and keys init at every step")
def test_approve_and_prod_key_init_killed_at_every_step(
    tmp_path: Path, run_gait, gait_home: Path
) -> None:
    def key_check(step: int) -> None:
        private, public = tmp_path / "k" / "gait_private.key", tmp_path / "k" / "gait_public.key"
        if private.exists() and public.exists():
            key = SigningKey.from_text(private.read_text())
            assert public.read_text() == key.public().to_text(), f"step {step}"
        for path in (private, public):
            path.unlink(missing_ok=True)
        assert (
            run_gait("keys", "init", "--key-mode", "prod", "--out", "k", cwd=tmp_path).returncode
            == 0
        )
        assert _temps(tmp_path) == [] and _temps(gait_home) == [], f"step {step}"
        for path in (private, public):
            path.unlink()

    _every_step(
        tmp_path, gait_home, ("keys", "init", "--key-mode", "prod", "--out", "k"), key_check
    )

    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "intent.json").write_text(json.dumps(INTENT))
    argv = (
        "approve",
        "--intent",
        "intent.json",
        "--policy",
        "policy.yaml",
        "--approver",
        "alice",
        "--reason-code",
        "CHG-1",
        "--ttl",
        "1h",
        "--scope",
        "tool:fs.read",
        "--out",
        "token.json",
    )

    def token_check(step: int) -> None:
        token = tmp_path / "token.json"
        if token.exists():
            json.loads(token.read_text())  # complete or absent, never half-written
        assert run_gait(*argv, cwd=tmp_path).returncode == 0
        assert _temps(tmp_path) == [], f"step {step}"

    _every_step(tmp_path, gait_home, argv, token_check)


def test_regress_init_killed_at_every_step(
    tmp_path: Path, gait_home: Path, capsys, monkeypatch
) -> None:  # noqa: ANN001
    """The fixture directory appears whole or not at all; a staging directory a kill leaves
    is removed by the next init (issue 11 item 9)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert _cli(capsys, "demo")[0] == 0
    argv = ("regress", "init", "--from", "run_demo")
    fixture = tmp_path / "fixtures" / "run_demo"

    def check(step: int) -> None:
        if fixture.exists():  # complete, or not there at all
            assert sorted(p.name for p in fixture.iterdir()) == ["fixture.json", "runpack.zip"]
            json.loads((fixture / "fixture.json").read_text())
        assert _cli(capsys, *argv, "--force")[0] == 0, f"step {step}"
        assert _temps(tmp_path) == [], f"step {step}: temp files left"
        assert [p.name for p in fixture.parent.iterdir()] == ["run_demo"], f"step {step}"
        shutil.rmtree(fixture)
        (tmp_path / "gait.yaml").unlink()

    assert _every_step(tmp_path, gait_home, argv, check) > 3


def test_registry_install_killed_at_every_step(
    tmp_path: Path, gait_home: Path, capsys, monkeypatch
) -> None:  # noqa: ANN001
    """An installed version is whole or absent; staging a kill leaves goes on the next run."""
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "src"
    (src / "policies").mkdir(parents=True)
    (src / "policies" / "p.yaml").write_text(POLICY)
    (src / "README.md").write_text("pack\n")
    pack = ("registry", "pack", "src", "--name", "base", "--version", "1.0.0", "--publisher", "a")
    assert _cli(capsys, *pack)[0] == 0
    argv = ("registry", "install", "src")
    registry = gait_home / "registry"
    version = registry / "base" / "1.0.0"

    def check(step: int) -> None:
        if version.exists():
            assert sorted(p.name for p in version.rglob("*")) == [
                "README.md", "p.yaml", "policies", "registry_pack.json",
            ], f"step {step}"  # fmt: skip
        assert _cli(capsys, *argv)[0] == 0, f"step {step}"
        left = sorted(p.relative_to(registry).as_posix() for p in registry.rglob("*"))
        assert [p for p in left if not p.startswith("base/1.0.0/")] == [
            ".lock", "base", "base/1.0.0", "base/installed.json",
        ], f"step {step}: left behind"  # fmt: skip
        shutil.rmtree(registry)

    assert _every_step(tmp_path, gait_home, argv, check) > 3


def test_truncated_log_and_orphan_trace(tmp_path: Path, run_gait) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "intent.json").write_text(json.dumps(INTENT))
    argv = ("gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json")
    for _ in range(3):
        assert run_gait(*argv, cwd=tmp_path).returncode == 0
    traces = tmp_path / "gait-out" / "traces"
    # an orphan: a signed trace whose decision never reached the log (the commit point)
    first = sorted(traces.glob("trace_*.json"))[0]
    (traces / first.name.replace("_000001", "_000099")).write_bytes(first.read_bytes())
    proc = run_gait("trace", "verify", str(traces), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "warning trace_uncommitted" in proc.stdout
    # deleting the last entries of the log is detected by the signed head
    log = traces / "decisions.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:-1]))
    (traces / sorted(p.name for p in traces.glob("trace_*_000003.json"))[0]).unlink()
    proc = run_gait("trace", "verify", str(traces), "--json", cwd=tmp_path)
    assert proc.returncode == 2
    kinds = {p["kind"] for p in json.loads(proc.stdout)["problems"]}
    assert kinds == {"log_truncated"}, kinds


def test_stale_temp_of_a_dead_writer_is_cleaned_on_the_next_run(
    tmp_path: Path, run_gait, conformance_dir: Path
) -> None:
    out = tmp_path / "gait-out"
    out.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stale = out / f".runpack_run_ref.zip.{dead}.abc123.tmp"
    stale.write_bytes(b"half a zip")
    live = out / f".runpack_run_ref.zip.{os.getpid()}.def456.tmp"  # a live writer's: kept
    live.write_bytes(b"in progress")
    unrelated = out / ".something_else.tmp"
    unrelated.write_bytes(b"not ours")
    src = conformance_dir / "reference/inputs/run_ref.json"
    proc = run_gait("run", "record", "--input", str(src), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists()
    assert live.exists() and unrelated.exists()
