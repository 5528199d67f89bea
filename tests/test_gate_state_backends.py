"""The gate's state guarantees, run against both backends: SQLite and a real PostgreSQL.

16 processes x 40 calls against one limit of 250: exactly the limit is allowed; 16 processes
racing for the same 40 single-use tokens: each token is spent exactly once; a restarted
PostgreSQL keeps every spent token; ``gait gate state show|reset`` on both.

The 16 racers are forked from one launcher process that has imported the store code (not 16
interpreter start-ups importing psycopg); each child then opens its own store (its own
connections or SQLite handle), says it is ready and waits for one "go", so all 16 contend from
the first call rather than as fast as interpreters happen to start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from gait.cli.main import main

PROCS = 16
CALLS = 40
LIMIT = 250  # below PROCS * CALLS = 640 attempts

WORKER = textwrap.dedent(
    """
    import json, os, sys, traceback
    from gait.gate.state import open_state
    spec, kind, PROCS, CALLS, LIMIT = sys.argv[1:3] + [int(a) for a in sys.argv[3:6]]
    BUCKET = "2026-06-01T10:00:00Z"
    if spec.startswith("postgresql://"):  # imported once, before the forks
        import gait.gate.state_pg, psycopg, psycopg_pool

    def race(start, ready, go, result):
        state = open_state(spec)
        state.is_spent("warm-up")  # connected (PostgreSQL) or opened (SQLite) before the start
        os.write(ready, b"r")
        assert os.read(go, 1) == b"g"
        wins = 0
        if kind == "rate":
            for _ in range(CALLS):
                allowed, _ = state.consume("minute|tool|tool.read", BUCKET, LIMIT)
                wins += allowed
        else:
            for i in range(CALLS):
                spent = state.redeem([f"tok-{i}"], needed=1, used_at="t", decision_ref=str(start))
                wins += not spent
        os.write(result, b"%d\\n" % wins)

    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    result_r, result_w = os.pipe()
    children = []
    for n in range(PROCS):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                race(n, ready_w, go_r, result_w)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)
        children.append(pid)
    os.close(ready_w)  # a child dying before "ready" ends the wait below instead of hanging it
    for _ in range(PROCS):  # all 16 hold an open store before any of them makes a call
        assert os.read(ready_r, 1) == b"r"
    os.write(go_w, b"g" * PROCS)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    os.close(result_w)
    with os.fdopen(result_r) as results:
        wins = [int(line) for line in results]
    print(json.dumps({"codes": codes, "wins": wins}))
    """
)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    import pg_cluster as pg

    cluster = pg.start()
    if isinstance(cluster, str):
        pytest.skip(f"PostgreSQL tests skipped: {cluster}")
    try:
        yield cluster
    finally:
        cluster.stop()


_DB_COUNTER = iter(range(1, 10_000))


@pytest.fixture(params=["sqlite", "postgresql"])
def state_spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "state.sqlite3")
    cluster = request.getfixturevalue("pg_cluster")
    import psycopg

    name = f"gait_t{next(_DB_COUNTER)}"
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return cluster.url.rsplit("/", 1)[0] + "/" + name


def _race(spec: str, kind: str, tmp_path: Path) -> list[int]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    path = [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
    proc = subprocess.run(
        [sys.executable, str(script), spec, kind, str(PROCS), str(CALLS), str(LIMIT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-800:]
    done = json.loads(proc.stdout)
    assert done["codes"] == [0] * PROCS, proc.stderr[-800:]
    assert len(done["wins"]) == PROCS
    return done["wins"]


def test_rate_limit_exact_under_16_processes(state_spec: str, tmp_path: Path) -> None:
    wins = _race(state_spec, "rate", tmp_path)
    assert sum(wins) == LIMIT, wins  # 640 attempts, a limit of 250: exactly 250 allowed


def test_each_token_spent_once_under_16_processes(state_spec: str, tmp_path: Path) -> None:
    wins = _race(state_spec, "token", tmp_path)
    assert sum(wins) == CALLS, wins  # 40 tokens, 16 processes racing for each


def test_redeem_is_all_or_nothing(state_spec: str) -> None:
    from gait.gate.state import open_state

    state = open_state(state_spec)
    assert state.redeem(["a"], needed=1, used_at="t", decision_ref="r") == []
    # Two needed, one already spent: nothing is spent, and "b" stays usable.
    assert state.redeem(["a", "b"], needed=2, used_at="t", decision_ref="r") == ["a"]
    assert not state.is_spent("b")
    assert state.redeem(["b"], needed=1, used_at="t", decision_ref="r") == []
    assert state.is_spent("b")


def test_state_show_and_reset_cli(state_spec: str, capsys) -> None:
    from gait.gate.state import open_state

    state = open_state(state_spec)
    state.consume("hour|tool|tool.x", "2026-06-01T10:00:00Z", 5)
    state.redeem(["t1"], needed=1, used_at="t", decision_ref="r")
    assert main(["gate", "state", "show", "--state", state_spec, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["used_tokens"] == 1 and shown["rate_counters"][0]["count"] == 1
    code = main(["gate", "state", "reset", "--state", state_spec, "--json"])
    out = json.loads(capsys.readouterr().out)
    if shown["backend"] == "postgresql":
        assert code == 8 and out["error_code"] == "E_STATE_RESET_CONFIRM"
        assert shown["database"] in out["error"]
        code = main(["gate", "state", "reset", "--state", state_spec, "--yes", "--json"])
        out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["cleared"] == {"rate_counters": 1, "used_tokens": 1}
    assert not state.is_spent("t1")


def test_gate_eval_uses_env_state_and_restart_keeps_tokens(
    pg_cluster, state_spec: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    if not state_spec.startswith("postgresql://"):
        pytest.skip("restart applies to the PostgreSQL backend")
    from gait.gate.state import open_state

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAIT_GATE_STATE", state_spec)
    Path("policy.yaml").write_text(
        "default_verdict: allow\nrules:\n  - name: lim\n    effect: allow\n    match:\n"
        "      tool_names: [tool.read]\n    rate_limit:\n      requests: 1\n      window: hour\n"
    )
    intent = {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-06-01T00:00:00Z",
        "producer_version": "t",
        "tool_name": "tool.read",
        "args": {},
        "targets": [{"kind": "path", "value": "/x"}],
        "context": {"identity": "a", "workspace": "/w", "risk_class": "low"},
    }
    Path("intent.json").write_text(json.dumps(intent))
    argv = [
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "intent.json",
        "--evaluation-time",
        "2026-06-01T10:00:00Z",
        "--json",
    ]
    assert main(argv) == 0
    capsys.readouterr()
    state = open_state(state_spec)
    state.redeem(["kept"], needed=1, used_at="t", decision_ref="r")
    pg_cluster.restart()
    # The pool reconnects; the counter and the spent token survived the restart.
    assert main(argv) == 3
    assert "rate_limit_exceeded" in json.loads(capsys.readouterr().out)["reason_codes"]
    assert open_state(state_spec).is_spent("kept")


def test_unreachable_postgres_fails_closed_in_prod(tmp_path: Path, monkeypatch, capsys) -> None:
    from gait.sign.keys import SigningKey

    monkeypatch.chdir(tmp_path)
    key = SigningKey.generate()
    Path("key").write_text(key.to_text())
    Path("policy.yaml").write_text(
        "default_verdict: allow\nrules:\n  - name: lim\n    effect: allow\n    match:\n"
        "      tool_names: [tool.read]\n    rate_limit:\n      requests: 5\n      window: hour\n"
    )
    intent = {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-06-01T00:00:00Z",
        "producer_version": "t",
        "tool_name": "tool.read",
        "args": {},
        "targets": [{"kind": "path", "value": "/x"}],
        "context": {"identity": "a", "workspace": "/w", "risk_class": "high"},
    }
    Path("intent.json").write_text(json.dumps(intent))
    dead = "postgresql://gait@127.0.0.1:1/none?connect_timeout=1"
    base = ["gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json", "--state", dead]
    code = main([*base, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["error_code"] == "E_STATE_UNAVAILABLE"
    code = main([*base, "--key-mode", "prod", "--private-key", "key", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 3 and out["reason_codes"] == ["fail_closed_evaluation_error"]
    assert Path(out["trace_path"]).exists()


def test_kill_switch_on_either_store(state_spec: str, tmp_path: Path, monkeypatch, capsys) -> None:
    """The same kill switch in a file (one host) or in PostgreSQL (a fleet)."""
    from gait.gate.killswitch import verify_journal_lines
    from gait.gate.killswitch_store import open_store
    from gait.sign.keyring import ensure_dev_key

    monkeypatch.chdir(tmp_path)
    spec = state_spec if state_spec.startswith("postgresql://") else str(tmp_path / "ks.json")
    Path("policy.yaml").write_text("default_verdict: allow\n")
    intent = {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-06-01T00:00:00Z",
        "producer_version": "t",
        "tool_name": "tool.delete",
        "args": {},
        "targets": [{"kind": "path", "value": "/x"}],
        "context": {"identity": "a", "workspace": "/w", "risk_class": "high"},
    }
    Path("intent.json").write_text(json.dumps(intent))
    argv = [
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "intent.json",
        "--kill-switch-state",
        spec,
        "--json",
    ]
    # No state yet: a high-risk call is blocked (fail closed), not allowed.
    assert main(argv) == 3
    assert json.loads(capsys.readouterr().out)["reason_codes"] == ["kill_switch_state_unavailable"]
    assert (
        main(
            [
                "kill-switch",
                "add",
                "--state",
                spec,
                "--tool-name",
                "tool.delete",
                "--entry-id",
                "stop-deletes",
                "--reason",
                "incident",
                "--json",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(argv) == 3
    assert "kill_switch_tool_name_active" in json.loads(capsys.readouterr().out)["reason_codes"]
    assert (
        main(["kill-switch", "disable", "--state", spec, "--entry-id", "stop-deletes", "--json"])
        == 0
    )
    capsys.readouterr()
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["kill-switch", "list", "--state", spec, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["entries"][0]["enabled"] is False
    key, _ = ensure_dev_key()
    count, problems = verify_journal_lines(open_store(spec).journal_lines(), [key.public()])
    assert problems == [] and count == 3  # add, one enforcement, disable
