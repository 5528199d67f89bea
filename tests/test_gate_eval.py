"""``gait gate eval``: rate limits, budgets, simulate, fail closed, traces and the decision log."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gait.cli.main import main
from gait.sign.keys import SigningKey

NOW = "2026-06-01T12:00:30Z"
RATE_POLICY = """\
default_verdict: allow
rules:
  - name: limited
    priority: 1
    effect: allow
    match:
      tool_names: [tool.read]
    rate_limit:
      requests: 2
      window: minute
  - name: deletes
    priority: 2
    effect: allow
    match:
      tool_names: [tool.delete]
    destructive_budget:
      requests: 1
      window: hour
      scope: identity
"""


def _intent(tool: str = "tool.read", op: str = "read", risk: str = "low", **extra) -> dict:
    intent = {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-06-01T00:00:00Z",
        "producer_version": "t",
        "tool_name": tool,
        "args": {"path": "/tmp/x"},
        "targets": [{"kind": "path", "value": "/tmp/x", "operation": op}],
        "arg_provenance": [{"arg_path": "$.path", "source": "user"}],
        "context": {"identity": "agent", "workspace": "/w", "risk_class": risk},
    }
    intent.update(extra)
    return intent


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.yaml").write_text(RATE_POLICY)
    return tmp_path


def _eval(capsys, intent: dict, *extra: str, policy: str = "policy.yaml") -> tuple[int, dict]:
    Path("intent.json").write_text(json.dumps(intent))
    code = main(["gate", "eval", "--policy", policy, "--intent", "intent.json", *extra, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_rate_limit_window(work: Path, capsys) -> None:
    results = [_eval(capsys, _intent(), "--evaluation-time", NOW) for _ in range(3)]
    assert [code for code, _ in results] == [0, 0, 3]
    assert results[0][1]["rate_limit_remaining"] == 1
    assert "rate_limit_remaining" not in results[1][1]  # zero is omitted, as the reference
    blocked = results[2][1]
    assert "rate_limit_exceeded" in blocked["reason_codes"]
    assert blocked["violations"] == ["rate_limit_exceeded"]
    # the next minute is a new bucket
    code, _ = _eval(capsys, _intent(), "--evaluation-time", "2026-06-01T12:01:00Z")
    assert code == 0


def test_simulate_never_enforces_or_consumes(work: Path, capsys) -> None:
    for _ in range(4):
        code, out = _eval(capsys, _intent(), "--evaluation-time", NOW, "--simulate")
        assert code == 0
        assert "simulate_mode_non_enforcing" in out["reason_codes"]
    # simulate consumed nothing: two real requests still fit
    assert [_eval(capsys, _intent(), "--evaluation-time", NOW)[0] for _ in range(3)] == [0, 0, 3]
    code, out = _eval(capsys, _intent(), "--evaluation-time", NOW, "--simulate")
    assert code == 0 and out["verdict"] == "allow"
    assert out["simulated_verdict"] == "block" and out["would_have_blocked"] is True
    assert "simulated_block" in out["reason_codes"]


def test_destructive_budget(work: Path, capsys) -> None:
    intent = _intent("tool.delete", "delete")
    first = _eval(capsys, intent, "--evaluation-time", NOW)
    assert first[0] == 4  # destructive apply needs approval; the budget counted it
    code, out = _eval(capsys, intent, "--evaluation-time", NOW)
    assert code == 3 and "destructive_budget_exceeded" in out["reason_codes"]


def test_unique_traces_and_chain_detects_tampering(work: Path, capsys) -> None:
    for _ in range(3):
        _eval(capsys, _intent(), "--evaluation-time", "2026-06-01T13:00:00Z")
    traces_dir = work / "gait-out" / "traces"
    traces = sorted(traces_dir.glob("trace_*.json"))
    assert len(traces) == 3  # identical decisions, three files
    assert main(["trace", "verify", str(traces_dir), "--json"]) == 0
    capsys.readouterr()

    traces[1].write_text(traces[1].read_text().replace('"allow"', '"block"'))
    assert main(["trace", "verify", str(traces_dir), "--json"]) == 2
    kinds = {p["kind"] for p in json.loads(capsys.readouterr().out)["problems"]}
    assert {"signature", "trace_altered"} <= kinds

    traces[1].unlink()
    assert main(["trace", "verify", str(traces_dir), "--json"]) == 2
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert any(p["kind"] == "trace_missing" and p["path"] == traces[1].name for p in problems)

    log = traces_dir / "decisions.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join([lines[0], lines[2], lines[1]]) + "\n")
    assert main(["trace", "verify", str(traces_dir), "--json"]) == 2
    kinds = {p["kind"] for p in json.loads(capsys.readouterr().out)["problems"]}
    assert "log_chain_broken" in kinds


def test_chain_continues_across_processes_and_edits(work: Path, capsys, run_gait) -> None:
    """This process remembers the line it appended last; another process appending, or an edit
    of the log, must still chain from the line the log really ends with."""
    when = ("--evaluation-time", "2026-06-01T13:00:00Z")
    _eval(capsys, _intent("tool.write", "write"), *when)
    _eval(capsys, _intent("tool.write", "write"), *when)
    other = run_gait("gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json", *when)
    assert other.returncode == 0, other.stderr
    _eval(capsys, _intent("tool.write", "write"), *when)
    traces_dir = work / "gait-out" / "traces"
    log = traces_dir / "decisions.jsonl"
    assert [json.loads(line)["seq"] for line in log.read_text().splitlines()] == [1, 2, 3, 4]
    assert main(["trace", "verify", str(traces_dir), "--json"]) == 0
    capsys.readouterr()
    # the last line replaced by the one before it (same length): the next entry follows it
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:3]) + lines[2])
    _eval(capsys, _intent("tool.write", "write"), *when)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert entries[-1]["seq"] == entries[-2]["seq"] + 1 == 4
    assert main(["trace", "verify", str(traces_dir), "--json"]) == 2
    kinds = {p["kind"] for p in json.loads(capsys.readouterr().out)["problems"]}
    assert "log_sequence" in kinds and "log_truncated" not in kinds


def test_trace_out_and_gate_result_fields(work: Path, capsys) -> None:
    code, out = _eval(capsys, _intent(), "--trace-out", "my/trace.json", "--evaluation-time", NOW)
    assert code == 0 and out["trace_path"] == "my/trace.json"
    trace = json.loads((work / "my" / "trace.json").read_text())
    assert "reason_codes" not in trace and "matched_rule_ids" not in trace
    assert trace["verdict"] == "allow" and trace["signature"]["alg"] == "ed25519"
    assert (work / "my" / "decisions.jsonl").exists()
    from gait import schema

    assert schema.errors("gait.gate.trace", trace) == []


def test_json_output_is_deterministic(tmp_path: Path, monkeypatch, capsys) -> None:
    outputs = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        monkeypatch.chdir(tmp_path / run)
        Path("policy.yaml").write_text(RATE_POLICY)
        outputs.append(
            _eval(
                capsys,
                _intent("tool.write", "write"),
                "--evaluation-time",
                NOW,
                "--state",
                "state.db",
            )
        )
    assert outputs[0] == outputs[1]


FAIL_CLOSED = """\
default_verdict: allow
fail_closed:
  enabled: true
  required_fields: [arg_provenance]
"""


@pytest.fixture
def prod_key(work: Path) -> str:
    (work / "prod.key").write_text(SigningKey.generate().to_text())
    return str(work / "prod.key")


def test_prod_high_risk_without_targets_is_blocked(work: Path, capsys, prod_key: str) -> None:
    Path("fc.yaml").write_text(FAIL_CLOSED)
    intent = _intent(risk="high", targets=[])
    code, out = _eval(
        capsys, intent, "--key-mode", "prod", "--private-key", prod_key, policy="fc.yaml"
    )
    assert code == 3 and out["reason_codes"] == ["fail_closed_missing_targets"]
    code, out = _eval(capsys, intent, policy="fc.yaml")  # dev mode: the policy's fields only
    assert code == 0


def test_fail_closed_policy_invalid(work: Path, capsys, prod_key: str) -> None:
    Path("bad.yaml").write_text("default_verdict: allow\nbogus: 1\n")
    code, out = _eval(
        capsys,
        _intent(risk="high"),
        "--key-mode",
        "prod",
        "--private-key",
        prod_key,
        policy="bad.yaml",
    )
    assert code == 3 and out["reason_codes"] == ["fail_closed_policy_invalid"]
    assert Path(out["trace_path"]).exists()
    code, out = _eval(capsys, _intent(risk="high"), policy="bad.yaml")  # dev: exit 6
    assert code == 6 and out["error_code"] == "E_POLICY_PARSE"
    code, out = _eval(
        capsys,
        _intent(risk="low"),
        "--key-mode",
        "prod",
        "--private-key",
        prod_key,
        policy="bad.yaml",
    )
    assert code == 6


def test_fail_closed_signing_key_missing(work: Path, capsys) -> None:
    code, out = _eval(capsys, _intent(risk="critical"), "--key-mode", "prod")
    assert code == 3 and out["reason_codes"] == ["fail_closed_signing_key_missing"]
    assert out["trace_written"] == "no" and "trace_path" not in out
    code, out = _eval(capsys, _intent(risk="low"), "--key-mode", "prod")
    assert code == 6 and out["error_code"] == "E_SIGN_KEY_REQUIRED"


def test_signing_key_block_says_what_to_give(work: Path, run_gait) -> None:
    """The high-risk block for a missing production key names the next step, as the low-risk
    call's E_SIGN_KEY_REQUIRED does; it said only ``trace=none``."""
    Path("intent.json").write_text(json.dumps(_intent(risk="critical")))
    argv = ["gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json"]
    done = run_gait(*argv, "--key-mode", "prod", cwd=work)
    assert done.returncode == 3
    assert "next: pass --private-key PATH or --private-key-env VAR" in done.stdout


def test_fail_closed_intent_invalid(work: Path, capsys, prod_key: str) -> None:
    bad = _intent(risk="high")
    bad["targets"] = [{"kind": "disk", "value": "x"}]
    code, out = _eval(capsys, bad, "--key-mode", "prod", "--private-key", prod_key)
    assert code == 3 and out["reason_codes"] == ["fail_closed_intent_invalid"]
    assert out["violations"] == ["intent_not_evaluable"]  # the reference's word for it
    trace = json.loads(Path(out["trace_path"]).read_text())
    assert trace["violations"] == ["intent_not_evaluable"]
    code, out = _eval(capsys, bad)
    assert code == 6 and out["error_code"] in ("E_INTENT_INVALID", "E_SCHEMA_INVALID")


def test_fail_closed_trace_unwritable(work: Path, capsys, prod_key: str) -> None:
    Path("not-a-dir").write_text("a file where the trace directory should be")
    code, out = _eval(
        capsys,
        _intent(risk="high"),
        "--key-mode",
        "prod",
        "--private-key",
        prod_key,
        "--trace-out",
        "not-a-dir/t.json",
    )
    assert code == 3 and out["reason_codes"] == ["fail_closed_trace_unwritable"]
    code, out = _eval(capsys, _intent(risk="high"), "--trace-out", "not-a-dir/t.json")
    assert code == 6 and out["error_code"] == "E_TRACE_UNWRITABLE"


def test_fail_closed_evaluation_error(work: Path, capsys, prod_key: str, monkeypatch) -> None:
    import gait.gate.engine as engine

    def boom(*_a, **_k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(engine, "evaluate_normalized", boom)
    code, out = _eval(capsys, _intent(risk="high"), "--key-mode", "prod", "--private-key", prod_key)
    assert code == 3 and out["reason_codes"] == ["fail_closed_evaluation_error"]


NOT_FOR_A_PLAIN_DECISION = (
    "yaml",  # the policy comes from the parsed-policy cache; no .gait/config.yaml here
    "zoneinfo",
    "shutil",
    "tempfile",
    "importlib.resources",
    "gait.gate.broker",
    "gait.gate.delegation_tokens",
    "gait.gate.gate_inputs",
    "gait.gate.sdk",
    # features this policy does not use load with the rule or block that uses them
    "gait.gate.approval",  # no approval token to check
    "gait.gate.state",  # no rate limit or destructive budget
    "gait.gate.mcp_trust",
    "gait.gate.agent_identity",
    "gait.gate.context",
    "gait.gate.credential",
    "gait.gate.delegation",
    "gait.gate.freeze_window",
    "gait.gate.sandbox",
    "gait.projectconfig",  # no .gait/config.yaml here
    "gait.cli.gate_state",  # gait gate state's parsers are built only for that command
    # dataclasses imports inspect only for the __doc__ of a class without a docstring; the
    # CLI defers running it (gait.cli.main._defer_modules) and every dataclass on this path
    # has a docstring, so none of inspect's own imports may load
    "ast",
    "dis",
    "tokenize",
    "linecache",
    "signal",  # the CLI's exit path uses _signal, not the enum wrappers
    # digests through CPython's own SHA-256 (gait.sha): hashlib loads OpenSSL's libcrypto and
    # lists its algorithms
    "hashlib",
    "_hashlib",
    # canonical JSON through the C JSON encoder (gait.canon.stdlib_only): orjson imports uuid,
    # which imports platform
    "orjson",
    "uuid",
    "platform",
    # annotations only: the modules on this path import typing under TYPE_CHECKING
    "typing",
    # the command line read from the command's recorded options (gait.cli.fastparse)
    "argparse",
    "gettext",
    "locale",
    # cryptography's packages: none loads (Ed25519 is libsodium's; all of cryptography below)
    "cryptography.utils",
    "cryptography.hazmat.primitives",
    # key and signature text through binascii itself (base64 loads struct for other codecs);
    # the C datetime types from _datetime (datetime.py defines a pure-Python copy first); copy,
    # which loads weakref, stays unexecuted (gait.cli.main DEFERRED; tests/test_cli_startup.py)
    "base64",
    "struct",
    "datetime",
    "weakref",
    # the reference SDK's API package: ``from gait import timefmt`` no longer imports it to
    # learn that timefmt is no export (gait.__getattr__)
    "gait.compat",
    # Ed25519 (the dev key, the trace's signature) through libsodium's cffi module alone
    # (gait.sign.keys._sodium): no cryptography (its OpenSSL binding was 16 M instructions), no
    # PyNaCl public wrappers (nacl.bindings: 68 M)
    "cryptography",
    "nacl.bindings",
    # canonical JSON, --json output, the intent, the policy cache and schema files through the
    # C accelerator _json (gait.canon): the json package imports re and compiles its patterns
    "json",
    "json.decoder",
    "json.encoder",
    "json.scanner",
    # the policy's YAML reading (gait.gate.policy_yaml, gait.yamlshape) loads only when the
    # parsed-policy cache misses; the gate takes ContextVar from _contextvars itself
    "gait.gate.policy_yaml",
    "gait.yamlshape",
    "contextvars",
    # the file lock, the collector pause and the decision log's lock are classes of their own
    # (gait.fsutil, gait.gcpause, gait.gate.trace), not contextlib generators
    "contextlib",
    # checking traces and the decision log (gait trace verify) is gait.gate.trace_verify's
    "gait.gate.trace_verify",
    # an intent's script, skill provenance, delegation, sandbox and agent identity readers
    "gait.gate.intent_blocks",
    # no dataclass on this path (the keys and signature checks are gait.plain classes), and
    # gait.cli.methodcache installs only once something imports dataclasses
    "dataclasses",
)


def test_a_plain_decision_imports_only_what_it_needs(work: Path, gait_home: Path) -> None:
    """A process per tool call pays for every import (issue 16 item 6): a second ``gate eval``
    of the same policy loads no YAML parser, timezone data, compression or unused features."""
    import subprocess
    import sys

    Path("intent.json").write_text(json.dumps(_intent("tool.write", "write")))
    script = (
        "import sys\n"
        "before = set(sys.modules)\n"  # site's (an editable install's finder loads contextlib)
        "from gait.cli.main import main\n"
        "argv = ['gate', 'eval', '--policy', 'policy.yaml', '--intent', 'intent.json', '--json']\n"
        "code = main(argv)\n"
        "print('MODULES', ' '.join(sorted(set(sys.modules) - before)))\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "GAIT_HOME": str(gait_home)}
    for _ in range(2):  # the first run fills the policy cache
        proc = subprocess.run(
            [sys.executable, "-c", script], cwd=work, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
    loaded = set(proc.stdout.split("MODULES ", 1)[1].split())
    assert "gait.gate.engine" in loaded and "nacl._sodium" in loaded  # it did decide and sign
    assert sorted(set(NOT_FOR_A_PLAIN_DECISION) & loaded) == []
    proc = subprocess.run(
        [sys.executable, "-c", script.replace("'gate', 'eval', '--policy', ", "'policy', 'test', ")
         .replace("'--intent', ", "")],
        cwd=work, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    loaded = set(proc.stdout.split("MODULES ", 1)[1].split())
    assert "gait.gate.evaluate" in loaded  # it did decide
    assert sorted(set(NOT_FOR_A_PLAIN_DECISION) & loaded) == []


def test_version_imports_nothing_but_the_entry_module() -> None:
    """``gait --version`` stays within 1.5x of a bare interpreter: no argparse, json, typing."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from gait.cli.main import main\n"
        "main(['--version'])\n"
        "print('NEW', ' '.join(sorted(set(sys.modules) - before)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("gait ")
    assert proc.stdout.split("NEW ", 1)[1].split() == ["gait", "gait.cli", "gait.cli.main"]
