"""Sessions through the CLI and the core: journal, checkpoints chained by digest, compaction,
crash safety under kill -9, and every broken link named by its own code."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gait.runpack import session


def _json(proc) -> dict:  # noqa: ANN001
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cli_chain(directory: Path, run_gait) -> None:  # noqa: ANN001
    """A session with two checkpoints (3 events, then 1), made through the CLI."""
    j = "j.jsonl"
    start = ("run", "session", "start", "--journal", j, "--session-id", "s1", "--run-id")
    assert run_gait(*start, "run_long", cwd=directory).returncode == 0
    for tool in ("tool.search", "tool.fetch", "tool.write"):
        proc = run_gait(
            "run",
            "session",
            "append",
            "--journal",
            j,
            "--tool",
            tool,
            "--verdict",
            "allow",
            cwd=directory,
        )
        assert proc.returncode == 0, proc.stderr
    cp = ("run", "session", "checkpoint", "--journal", j, "--out")
    assert run_gait(*cp, "cp1.zip", cwd=directory).returncode == 0
    run_gait(
        "run",
        "session",
        "append",
        "--journal",
        j,
        "--tool",
        "tool.delete",
        "--verdict",
        "block",
        "--reason-codes",
        "destructive_tool_blocked",
        cwd=directory,
    )
    proc = run_gait(*cp, "cp2.zip", "--json", cwd=directory)
    assert proc.returncode == 0, proc.stderr
    assert _json(proc)["chain_path"] == "j_chain.json"


@pytest.fixture
def chain_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The same session made through the core API (fast); paths relative to tmp_path."""
    monkeypatch.chdir(tmp_path)
    session.start("j.jsonl", "s1", "run_long")
    for tool in ("tool.search", "tool.fetch", "tool.write"):
        session.append("j.jsonl", tool=tool, verdict="allow")
    session.checkpoint("j.jsonl", "cp1.zip")
    session.append(
        "j.jsonl", tool="tool.delete", verdict="block", reason_codes=["destructive_tool_blocked"]
    )
    session.checkpoint("j.jsonl", "cp2.zip")
    return tmp_path


def test_chain_links_as_the_reference_computes_them(tmp_path: Path, run_gait) -> None:  # noqa: ANN001
    _cli_chain(tmp_path, run_gait)
    chain_dir = tmp_path
    chain = json.loads((chain_dir / "j_chain.json").read_text())
    assert chain["schema_id"] == "gait.runpack.session_chain"
    first, second = chain["checkpoints"]
    assert (first["sequence_start"], first["sequence_end"]) == (1, 3)
    assert (second["sequence_start"], second["sequence_end"]) == (4, 4)
    assert "prev_checkpoint_digest" not in first
    assert second["prev_checkpoint_digest"] == first["checkpoint_digest"]
    for cp in (first, second):
        raw = (
            f"{cp['manifest_digest']}:{cp.get('prev_checkpoint_digest', '')}:"
            f"{cp['checkpoint_index']}:{cp['sequence_start']}:{cp['sequence_end']}"
        )
        assert cp["checkpoint_digest"] == hashlib.sha256(raw.encode()).hexdigest()
    proc = run_gait("verify", "session-chain", "--chain", "j_chain.json", "--json", cwd=chain_dir)
    assert proc.returncode == 0 and _json(proc)["checkpoints_checked"] == 2
    cp2 = _json(run_gait("verify", "cp2.zip", "--json", cwd=chain_dir))
    assert cp2["ok"] is True and cp2["run_id"] == "run_long_cp_0002"
    pack = run_gait("pack", "build", "--from", "j_chain.json", "--json", cwd=chain_dir)
    assert pack.returncode == 0 and _json(pack)["source_ref"] == "run_long_cp_0002"


def _rewrite_chain(directory: Path, change) -> None:  # noqa: ANN001
    path = directory / "j_chain.json"
    chain = json.loads(path.read_text())
    change(chain)
    path.write_text(json.dumps(chain, indent=2))


@pytest.mark.parametrize(
    ("how", "expected_code", "named"),
    [
        ("gap", "E_SESSION_CHAIN_BROKEN", "checkpoint 2 where 1 was due"),
        ("reorder", "E_SESSION_CHAIN_BROKEN", "checkpoint 2 where 1 was due"),
        ("replace_runpack", "E_SESSION_CHECKPOINT_INVALID", "checkpoint 1"),
        ("edit_digest", "E_SESSION_CHAIN_BROKEN", "checkpoint 1: checkpoint_digest"),
    ],
)
def test_broken_chain_names_the_failing_link(
    chain_dir: Path,
    run_gait,
    how: str,
    expected_code: str,
    named: str,  # noqa: ANN001
) -> None:
    if how == "gap":
        _rewrite_chain(chain_dir, lambda c: c["checkpoints"].pop(0))
    elif how == "reorder":
        _rewrite_chain(chain_dir, lambda c: c["checkpoints"].reverse())
    elif how == "replace_runpack":
        shutil.copy(chain_dir / "cp2.zip", chain_dir / "cp1.zip")
    else:
        _rewrite_chain(chain_dir, lambda c: c["checkpoints"][0].update(sequence_end=2))
    proc = run_gait("verify", "session-chain", "--chain", "j_chain.json", "--json", cwd=chain_dir)
    doc = _json(proc)
    assert proc.returncode == 2 and doc["ok"] is False
    assert doc["error_code"] == expected_code and named in doc["failing_link"]
    if how == "gap":
        human = run_gait("verify", "session-chain", "--chain", "j_chain.json", cwd=chain_dir)
        assert expected_code in human.stdout and "Traceback" not in human.stderr


def test_corrupt_line_and_sequence_gap_in_journal(chain_dir: Path, run_gait) -> None:  # noqa: ANN001
    journal = chain_dir / "j.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join([lines[0], b"{not json}\n", *lines[1:]]))
    proc = run_gait("run", "session", "status", "--journal", "j.jsonl", "--json", cwd=chain_dir)
    assert proc.returncode == 2 and _json(proc)["error_code"] == "E_SESSION_JOURNAL_CORRUPT"
    assert "line 2" in _json(proc)["error"]
    journal.write_bytes(b"".join([lines[0], lines[2]]))  # event 1 gone: sequence 2 first
    proc = run_gait("run", "session", "status", "--journal", "j.jsonl", "--json", cwd=chain_dir)
    assert _json(proc)["error_code"] == "E_SESSION_SEQUENCE_GAP"


def test_truncated_tail_is_named_then_repaired(tmp_path: Path, run_gait) -> None:  # noqa: ANN001
    journal = tmp_path / "j.jsonl"
    session.start(journal, "s", "run_t")
    for _ in range(3):
        session.append(journal, tool="tool.a", verdict="allow")
    whole = journal.read_bytes()
    last_line_start = whole.rstrip(b"\n").rfind(b"\n") + 1
    for cut in (last_line_start + 1, (last_line_start + len(whole)) // 2, len(whole) - 1):
        journal.write_bytes(whole[:cut])
        doc = _json(run_gait("run", "session", "status", "--journal", str(journal), "--json"))
        assert doc["status"]["last_sequence"] == 2 and doc["status"]["torn_tail"]["line"] == 4
        assert "E_SESSION_JOURNAL_TRUNCATED" in doc["warnings"][0]
    event = session.append(journal, tool="tool.b", verdict="allow")
    assert event["sequence"] == 3 and event["repaired_torn_tail"]["line"] == 4
    assert session.status(journal)["last_sequence"] == 3 and "torn_tail" not in session.status(
        journal
    )


_WRITER = """
import sys
from gait.runpack import session
path = sys.argv[1]
session.start(path, "s", "run_crash")
n = session.status(path)["last_sequence"]
while True:
    n = session.append(path, tool="tool.step", verdict="allow", intent_id=f"i{n + 1}")["sequence"]
    print(n, flush=True)
"""


_SDK_WRITER = """
import sys, gait
with gait.record(run_id="run_sdk_crash", out=sys.argv[1] + ".zip", session=sys.argv[1]) as run:
    n = 0
    while True:
        iid = run.intent("tool.step", {"n": n})
        run.result(iid, {"ok": n})
        n += 1
        print(n, flush=True)
"""


@pytest.mark.parametrize("writer", ["cli_core", "sdk_recorder"])
def test_kill_minus_9_at_appends_keeps_every_acknowledged_step(tmp_path: Path, writer: str) -> None:
    journal = tmp_path / "crash.jsonl"
    script = _WRITER if writer == "cli_core" else _SDK_WRITER
    delays = (0.05, 0.2, 0.0, 0.35, 0.1) if writer == "cli_core" else (0.1, 0.0, 0.25)
    acknowledged = 0
    for round_number, delay in enumerate(delays):
        if writer == "sdk_recorder" and journal.exists():
            acknowledged = 0  # each SDK round is a new run with its own journal
            journal = tmp_path / f"crash{round_number}.jsonl"
        proc = subprocess.Popen(
            [sys.executable, "-c", script, str(journal)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ},
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # at least one append acknowledged this round
        assert first.strip()
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        acked = [int(x) for x in (first + out).split()]
        acknowledged = max(acknowledged, *acked)
        state = session.status(journal)
        assert state["last_sequence"] >= acknowledged, f"round {round_number} lost a step"
        cp, _, chain_path = session.checkpoint(journal, tmp_path / f"cp{round_number}.zip")
        assert cp["sequence_end"] == state["last_sequence"]
        report = session.verify_chain(chain_path)
        assert report.ok, report.to_json()
    if writer == "sdk_recorder":
        return
    # the whole history verifies: every acknowledged step is in exactly one checkpoint
    chain = json.loads(chain_path.read_text())
    covered = [(c["sequence_start"], c["sequence_end"]) for c in chain["checkpoints"]]
    assert covered[0][0] == 1 and all(
        b[0] == a[1] + 1 for a, b in zip(covered, covered[1:], strict=False)
    )
    assert covered[-1][1] >= acknowledged


def test_compaction_keeps_the_sequence_and_dry_run_writes_nothing(
    chain_dir: Path, run_gait
) -> None:  # noqa: ANN001
    journal = chain_dir / "j.jsonl"
    before = journal.read_bytes()
    dry = _json(
        run_gait(
            "run",
            "session",
            "compact",
            "--journal",
            "j.jsonl",
            "--dry-run",
            "--json",
            cwd=chain_dir,
        )
    )
    assert dry["compaction"]["events_before"] == 4 and dry["compaction"]["events_after"] == 0
    assert journal.read_bytes() == before
    run_gait("run", "session", "compact", "--journal", "j.jsonl", cwd=chain_dir)
    assert len(journal.read_bytes()) < len(before)
    event = session.append(journal, tool="tool.after", verdict="allow")
    assert event["sequence"] == 5
    cp, _, chain_path = session.checkpoint(journal, chain_dir / "cp3.zip")
    assert cp["checkpoint_index"] == 3 and session.verify_chain(chain_path).ok


def test_nothing_to_checkpoint_and_bad_run_id(tmp_path: Path, run_gait) -> None:  # noqa: ANN001
    session.start(tmp_path / "j.jsonl", "s", "run_x")
    proc = run_gait(
        "run",
        "session",
        "checkpoint",
        "--journal",
        "j.jsonl",
        "--out",
        "c.zip",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 6 and _json(proc)["error_code"] == "E_SESSION_NOTHING_TO_CHECKPOINT"
    proc = run_gait(
        "run",
        "session",
        "start",
        "--journal",
        "k.jsonl",
        "--session-id",
        "s",
        "--run-id",
        "bad id",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 6 and _json(proc)["error_code"] == "E_SESSION_INPUT_INVALID"


def test_regress_init_and_add_take_a_checkpoint_of_a_chain(chain_dir: Path, run_gait) -> None:  # noqa: ANN001
    latest = run_gait("regress", "init", "--from", "j_chain.json", "--json", cwd=chain_dir)
    assert latest.returncode == 0, latest.stdout + latest.stderr
    assert _json(latest)["run_id"] == "run_long_cp_0002"
    first = run_gait(
        "regress", "add", "--from", "j_chain.json", "--checkpoint", "1", "--json", cwd=chain_dir
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert _json(first)["run_id"] == "run_long_cp_0001"
    graded = run_gait("regress", "run", "--json", cwd=chain_dir)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    missing = run_gait(
        "regress", "init", "--from", "j_chain.json", "--checkpoint", "9", "--json", cwd=chain_dir
    )
    assert missing.returncode == 6
    assert _json(missing)["error_code"] == "E_SESSION_CHECKPOINT_MISSING"
