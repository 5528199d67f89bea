"""Context evidence (issue 15, item 3): ``--context-envelope`` on gate eval and run record,
``require_context_evidence`` rules seeing only verified evidence, and what lands in traces and
runpacks. Flows follow the reference's own end-to-end test (internal/e2e/v25_context_cli_test)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from gait.canon import canonical_bytes

RECORD = {
    "ref_id": "ctx_001",
    "source_type": "doc_store",
    "source_locator": "docs://policy/security",
    "query_digest": "1" * 64,
    "content_digest": "2" * 64,
    "retrieved_at": "2026-02-14T00:00:00Z",
    "redaction_mode": "reference",
    "immutability": "immutable",
}
POLICY = """schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: allow
rules:
  - name: require-context
    priority: 1
    effect: allow
    match:
      risk_classes: [high]
    require_context_evidence: true
    required_context_evidence_mode: required
    max_context_age_seconds: 120
"""


def envelope(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema_id": "gait.context.envelope",
        "schema_version": "1.0.0",
        "created_at": "2026-02-14T00:00:00Z",
        "producer_version": "0.0.0-e2e",
        "context_set_id": "ctx_set_e2e",
        "context_set_digest": "",
        "evidence_mode": "required",
        "records": [dict(RECORD)],
    }
    doc.update(over)
    return doc


def intent(**context: Any) -> dict[str, Any]:
    return {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-02-14T00:00:00Z",
        "producer_version": "0.0.0-e2e",
        "tool_name": "tool.demo",
        "args": {"x": "y"},
        "targets": [{"kind": "path", "value": "/tmp/demo", "operation": "write"}],
        "context": {"identity": "alice", "workspace": "/repo/gait", "risk_class": "high"} | context,
    }


def write(path: Path, doc: Any) -> Path:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=2), encoding="utf-8")
    return path


def expected_digest(records: list[dict[str, Any]]) -> str:
    """The reference's context_set_digest: RFC 8785 digest of the normalized records."""
    return hashlib.sha256(canonical_bytes(records)).hexdigest()


@pytest.fixture
def gate(tmp_path: Path, run_gait):
    policy = write(tmp_path / "policy.yaml", POLICY)

    def run(doc: dict[str, Any], *flags: str, name: str = "t") -> tuple[int, dict[str, Any]]:
        intent_path = write(tmp_path / f"intent_{name}.json", doc)
        proc = run_gait(
            "gate", "eval", "--policy", str(policy), "--intent", str(intent_path),
            "--evaluation-time", "2026-02-14T00:01:00Z",
            "--trace-out", str(tmp_path / f"trace_{name}.json"), "--json", *flags,
        )  # fmt: skip
        return proc.returncode, json.loads(proc.stdout)

    return run


def test_gate_eval_binds_a_verified_envelope(tmp_path: Path, gate, run_gait) -> None:
    env_path = write(tmp_path / "env.json", envelope())
    code, missing = gate(intent(), name="missing")
    assert code == 3 and missing["verdict"] == "block"
    assert set(missing["reason_codes"]) >= {
        "context_evidence_missing",
        "context_set_digest_missing",
        "context_evidence_mode_mismatch",
    }
    # A claim in the intent alone is stripped: still blocked, and the same digest.
    claimed = intent(context_set_digest="a" * 64, context_evidence_mode="required")
    code, unverified = gate(claimed, name="claimed")
    assert code == 3 and unverified["intent_digest"] == missing["intent_digest"]

    code, out = gate(intent(), "--context-envelope", str(env_path), name="bound")
    digest = expected_digest([RECORD])
    assert code == 0 and out["verdict"] == "allow", out
    assert out["context_set_digest"] == digest
    assert out["context_evidence_mode"] == "required"
    assert out["context_ref_count"] == 1
    assert out["context_source"] == "context_envelope"
    assert out["intent_digest"] != missing["intent_digest"]  # the evidence is in the digest
    trace = json.loads((tmp_path / "trace_bound.json").read_text())
    assert trace["context_set_digest"] == digest
    assert trace["context_evidence_mode"] == "required"
    assert trace["context_ref_count"] == 1 and trace["context_source"] == "context_envelope"
    verified = run_gait("trace", "verify", str(tmp_path / "trace_bound.json"), "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"] is True
    # The intent may repeat the envelope's own digest and mode.
    code, same = gate(
        intent(context_set_digest=digest, context_evidence_mode="required"),
        "--context-envelope", str(env_path), name="same",
    )  # fmt: skip
    assert code == 0 and same["intent_digest"] == out["intent_digest"]


def test_context_age_comes_from_the_envelope(tmp_path: Path, gate) -> None:
    old = dict(RECORD, retrieved_at="2026-02-13T23:58:59Z")  # 121 s before evaluation
    env_path = write(tmp_path / "old.json", envelope(records=[dict(RECORD), old]))
    code, out = gate(intent(), "--context-envelope", str(env_path), name="old")
    assert code == 3
    assert out["reason_codes"] == ["context_freshness_exceeded", "matched_rule_require_context"]
    assert out["violations"] == ["context_freshness_violation"]
    # best_effort evidence does not satisfy required_context_evidence_mode: required.
    lax = write(tmp_path / "lax.json", envelope(evidence_mode="best_effort"))
    code, out = gate(intent(), "--context-envelope", str(lax), name="lax")
    assert code == 3 and "context_evidence_mode_mismatch" in out["reason_codes"]


def test_intent_claims_that_contradict_the_envelope(tmp_path: Path, gate, run_gait) -> None:
    env_path = write(tmp_path / "env.json", envelope())
    wrong = intent(context_set_digest="b" * 64)
    code, out = gate(wrong, "--context-envelope", str(env_path), name="wrong")
    assert code == 6 and out["error_code"] == "E_CONTEXT_ENVELOPE_MISMATCH", out
    # A policy failing closed for the risk class blocks instead (the intent is not evaluable).
    closed = write(
        tmp_path / "closed.yaml",
        "default_verdict: allow\nfail_closed:\n  enabled: true\n  risk_classes: [high]\n",
    )
    proc = run_gait(
        "gate", "eval", "--policy", str(closed), "--intent", str(tmp_path / "intent_wrong.json"),
        "--context-envelope", str(env_path), "--json", cwd=tmp_path,
    )  # fmt: skip
    out = json.loads(proc.stdout)
    assert proc.returncode == 3, out
    assert out["reason_codes"] == ["fail_closed_intent_invalid"]
    assert out["violations"] == ["intent_not_evaluable"]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (envelope(context_set_digest="c" * 64), "context_set_digest mismatch"),
        (envelope(extra=1), 'unknown field "extra"'),
        (envelope(context_set_id=" "), "context_set_id is required"),
        (envelope(evidence_mode="always"), "best_effort or required"),
        (envelope(records=[dict(RECORD, query_digest="xyz")]), "sha256 hex"),
        (envelope(schema_version="2.0.0"), "unsupported context envelope schema_version"),
        ("{not json", "parse context envelope"),
    ],
)
def test_bad_envelopes_are_refused(tmp_path: Path, gate, doc: Any, message: str) -> None:
    env_path = write(tmp_path / "bad.json", doc)
    code, out = gate(intent(), "--context-envelope", str(env_path))
    assert code == 6 and out["error_code"] == "E_CONTEXT_ENVELOPE_INVALID", out
    assert message in out["error"]


def _record_input(run_id: str = "run_ctx") -> dict[str, Any]:
    run = {
        "schema_id": "gait.runpack.run",
        "schema_version": "1.0.0",
        "created_at": "2026-02-14T00:00:00Z",
        "producer_version": "0.0.0-e2e",
        "run_id": run_id,
        "env": {"os": "linux", "arch": "amd64", "runtime": "python"},
        "timeline": [{"event": "run_started", "ts": "2026-02-14T00:00:00Z"}],
    }
    refs = {"run_id": run_id, "created_at": "2026-02-14T00:00:00Z", "receipts": []}
    return {"run": run, "intents": [], "results": [], "refs": refs}


def test_run_record_context_evidence_modes(tmp_path: Path, run_gait) -> None:
    record_path = write(tmp_path / "record.json", _record_input())
    env_path = write(tmp_path / "env.json", envelope(evidence_mode="best_effort"))

    def record(*flags: str) -> tuple[int, dict[str, Any]]:
        proc = run_gait(
            "run", "record", "--input", str(record_path), "--out-dir", str(tmp_path / "out"),
            "--json", *flags,
        )  # fmt: skip
        return proc.returncode, json.loads(proc.stdout)

    code, out = record("--context-envelope", str(env_path), "--context-evidence-mode", "required")
    assert code == 0, out
    with zipfile.ZipFile(tmp_path / "out" / "runpack_run_ctx.zip") as zf:
        refs = json.loads(zf.read("refs.json"))
    assert refs["context_set_digest"] == expected_digest([RECORD])
    assert refs["context_evidence_mode"] == "required"  # the flag wins over the envelope
    assert refs["context_ref_count"] == 1
    assert [r["ref_id"] for r in refs["receipts"]] == ["ctx_001"]
    assert refs["receipts"][0]["immutability"] == "immutable"

    code, out = record("--context-evidence-mode", "required")
    assert code == 6 and out["error_code"] == "E_RECORD_CONTEXT_EVIDENCE"
    assert "context_set_digest is missing" in out["error"]
    # best_effort: an unreadable envelope is ignored with a warning.
    code, out = record("--context-envelope", str(tmp_path / "absent.json"))
    assert code == 0 and any("context envelope ignored" in w for w in out["warnings"])
    code, out = record("--context-envelope", str(tmp_path / "absent.json"),
                       "--context-evidence-mode", "required")  # fmt: skip
    assert code == 6 and out["error_code"] == "E_CONTEXT_ENVELOPE_INVALID"
    raw = write(tmp_path / "raw.json", envelope(records=[dict(RECORD, redaction_mode="raw")]))
    code, out = record("--context-envelope", str(raw))
    assert code == 6 and "--unsafe-context-raw" in out["error"]
    code, out = record("--context-envelope", str(raw), "--unsafe-context-raw")
    assert code == 0, out


def test_sdk_record_runpack_reads_the_envelope_in_process(tmp_path: Path) -> None:
    from gait.compat.client import record_runpack

    env_path = write(tmp_path / "env.json", envelope())
    capture = record_runpack(
        record_input=_record_input("run_sdk_ctx"),
        out_dir=tmp_path / "out",
        context_evidence_mode="required",
        context_envelope=env_path,
    )
    with zipfile.ZipFile(capture.bundle_path) as zf:
        refs = json.loads(zf.read("refs.json"))
    assert refs["context_set_digest"] == expected_digest([RECORD])
    assert refs["context_evidence_mode"] == "required"


def _conformance(result_path: Path) -> dict[str, dict[str, Any]]:
    result = json.loads(result_path.read_text())
    return {
        g["name"].split("/")[0]: g
        for g in result["graders"]
        if g["name"].endswith("/context_conformance")
    }


def test_regress_context_conformance(tmp_path: Path, run_gait) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    later = dict(RECORD, retrieved_at="2026-02-14T00:05:00Z")  # runtime-only drift
    other = dict(RECORD, content_digest="3" * 64)  # semantic drift
    record_in = write(runs / "in.json", _record_input())
    for name, records in (("base", [RECORD]), ("later", [later]), ("other", [other])):
        env = write(runs / f"{name}.json", envelope(records=records))
        out = run_gait(
            "run", "record", "--input", str(record_in), "--out", str(runs / f"{name}.zip"),
            "--context-envelope", str(env),
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
    plain = write(runs / "plain_in.json", _record_input("run_plain"))
    assert run_gait("run", "record", "--input", str(plain), "--out-dir", str(runs)).returncode == 0
    suite = tmp_path / "suite"
    suite.mkdir()
    sources = {"same": "base.zip", "later": "base.zip", "other": "base.zip"}
    sources["bare"] = "runpack_run_plain.zip"
    for name, source in sources.items():
        init = run_gait("regress", "init", "--from", str(runs / source), "--name", name, cwd=suite)
        assert init.returncode == 0, init.stderr
    meta = json.loads((suite / "fixtures" / "same" / "fixture.json").read_text())
    assert meta["context_conformance"] == "required"
    assert meta["expected_context_set_digest"] == expected_digest([RECORD])
    assert "context_conformance" not in (suite / "fixtures" / "bare" / "fixture.json").read_text()
    for name in ("later", "other"):
        path = suite / "fixtures" / name / "fixture.json"
        doc = json.loads(path.read_text())
        doc["candidate_runpack"] = str(runs / f"{name}.zip")
        path.write_text(json.dumps(doc))

    proc = run_gait("regress", "run", "--json", cwd=suite)
    graded = _conformance(suite / "regress_result.json")
    assert proc.returncode == 5
    assert graded["same"]["reason_codes"] == ["context_conformance_pass"]
    assert graded["same"]["context_conformance"] == "none"
    assert graded["later"]["reason_codes"] == ["context_runtime_drift_blocked"]
    assert graded["later"]["context_conformance"] == "runtime_only"
    assert graded["later"]["details"]["context_runtime_only"] is True
    assert graded["other"]["reason_codes"] == ["context_set_digest_mismatch"]
    assert graded["other"]["context_conformance"] == "semantic"
    # Run because other fixtures ask for it; nothing to enforce on this one.
    assert graded["bare"]["reason_codes"] == ["context_conformance_not_required"]

    proc = run_gait(
        "regress", "run", "--context-conformance", "--allow-context-runtime-drift", cwd=suite
    )
    graded = _conformance(suite / "regress_result.json")
    assert graded["later"]["status"] == "pass"
    assert graded["later"]["context_conformance"] == "runtime_only"
    assert graded["bare"]["reason_codes"] == ["context_evidence_missing"]
    assert graded["bare"]["context_conformance"] == "missing"


def test_mcp_proxy_binds_the_boundary_envelope(tmp_path: Path, run_gait) -> None:
    policy = write(tmp_path / "policy.yaml", POLICY.replace("max_context_age_seconds: 120", ""))
    env_path = write(tmp_path / "env.json", envelope())
    call = {
        "name": "tool.demo",
        "args": {"x": "y"},
        "targets": [{"kind": "path", "value": "/tmp/demo", "operation": "write"}],
        "context": {"identity": "alice", "workspace": "/repo/gait", "risk_class": "high"},
    }
    call_path = write(tmp_path / "call.json", call)
    base = ("mcp", "proxy", "--policy", str(policy), "--call", str(call_path), "--json")
    proc = run_gait(*base, cwd=tmp_path)
    assert (
        proc.returncode == 3
        and "context_evidence_missing" in json.loads(proc.stdout)["reason_codes"]
    )
    trace = tmp_path / "trace.json"
    proc = run_gait(
        *base, "--context-envelope", str(env_path), "--trace-out", str(trace), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout
    recorded = json.loads(trace.read_text())
    assert recorded["context_set_digest"] == expected_digest([RECORD])
    assert recorded["context_source"] == "context_envelope"
    # A call naming its own envelope is refused at a proxy boundary.
    call["context"]["context_envelope_path"] = str(env_path)
    own = write(tmp_path / "own.json", call)
    proc = run_gait(*base[:4], "--call", str(own), "--json", cwd=tmp_path)
    out = json.loads(proc.stdout)
    assert proc.returncode == 6 and out["error_code"] == "E_CONTEXT_ENVELOPE_INVALID"
    assert "use --context-envelope at the boundary" in out["error"]


def test_a_fail_closed_block_names_no_context_source(tmp_path: Path, run_gait) -> None:
    policy = write(
        tmp_path / "closed.yaml",
        "default_verdict: allow\nfail_closed:\n  enabled: true\n  risk_classes: [high]\n"
        "  required_fields: [arg_provenance]\n",
    )
    env_path = write(tmp_path / "env.json", envelope())
    intent_path = write(tmp_path / "i.json", intent())
    proc = run_gait(
        "gate", "eval", "--policy", str(policy), "--intent", str(intent_path),
        "--context-envelope", str(env_path), "--json", cwd=tmp_path,
    )  # fmt: skip
    out = json.loads(proc.stdout)
    assert proc.returncode == 3 and out["reason_codes"] == ["fail_closed_missing_arg_provenance"]
    assert "context_source" not in out  # as the reference: decided before the rules
    assert out["context_set_digest"] == expected_digest([RECORD])  # the intent is still bound


def test_sdk_raw_session_still_records(tmp_path: Path) -> None:
    """run_session's receipts carry redaction_mode raw under raw capture: recorded in process
    (raw capture is the caller's opt-in), while the binary asks for --unsafe-context-raw."""
    from gait.compat.client import record_runpack

    doc = _record_input("run_raw_ctx")
    doc["refs"]["receipts"] = [dict(RECORD, redaction_mode="raw")]
    capture = record_runpack(record_input=doc, out_dir=tmp_path / "out", capture_mode="raw")
    with zipfile.ZipFile(capture.bundle_path) as zf:
        assert json.loads(zf.read("refs.json"))["receipts"][0]["redaction_mode"] == "raw"
    from gait.compat.client import GaitCommandError

    with pytest.raises(GaitCommandError, match="unsafe-context-raw") as raised:
        record_runpack(record_input=doc, out_dir=tmp_path / "out2", capture_mode="reference")
    assert raised.value.code == "E_RECORD_CONTEXT_EVIDENCE"


def test_mcp_serve_binds_the_boundary_envelope(tmp_path: Path, gait_argv, gait_home) -> None:
    import http.client
    import os
    import subprocess

    write(tmp_path / "policy.yaml", POLICY.replace("max_context_age_seconds: 120", ""))
    env_path = write(tmp_path / "env.json", envelope())
    proc = subprocess.Popen(
        [*gait_argv, "mcp", "serve", "--policy", "policy.yaml", "--listen", "127.0.0.1:0",
         "--context-envelope", str(env_path), "--allow-client-artifact-paths", "--json"],
        cwd=tmp_path, env={**os.environ, "GAIT_HOME": str(gait_home)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        host, port = json.loads(proc.stdout.readline())["listen"].rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)

        def post(call: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            body = json.dumps({"call": call}).encode()
            conn.request("POST", "/v1/evaluate", body, {"content-type": "application/json"})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())

        call = {
            "name": "tool.demo",
            "targets": [{"kind": "path", "value": "/tmp/demo", "operation": "write"}],
            "context": {"identity": "alice", "workspace": "/repo", "risk_class": "high"},
        }
        status, doc = post(call)
        assert doc["verdict"] == "allow", doc
        trace = json.loads((tmp_path / doc["trace_path"]).read_text())
        assert trace["context_set_digest"] == expected_digest([RECORD])
        call["context"]["context_envelope_path"] = str(env_path)
        status, doc = post(call)
        assert status == 400 and "already configured at the boundary" in doc["error"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
