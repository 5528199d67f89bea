"""regress init reads its source as a stream (``runpack.outline``); what it writes must be what
the loaded run says: the stub replay's exit code and the reference's tool/verdict sequences."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gait.canon import canonical_bytes
from gait.regress.init import expectations, missing_results
from gait.regress.sequences import tool_sequence, verdict_sequence
from gait.runpack import model
from gait.runpack.archive import write_zip
from gait.runpack.build import manifest_for
from gait.runpack.outline import read_outline
from gait.runpack.reader import load_runpack
from gait.runpack.replay import stub_replay

HEAD = {
    "created_at": "2026-01-01T00:00:00Z",
    "producer_version": "0.1.0",
    "run_id": "run_outline",
    "schema_version": "1.0.0",
}
IDS = st.sampled_from(["i1", "i2", "i3", "", "x" * 60, "y" * 60])
TOOLS = st.sampled_from(["read", " read ", "", "delete", "   "])
STATUS = st.sampled_from(["ok", "error", "blocked", "Needs-Approval", "weird"])
PAYLOAD = st.one_of(
    st.none(),
    st.fixed_dictionaries({"verdict": st.sampled_from(["allow", "deny", "dry-run", "nope"])}),
    st.just({"value": 1}),
)


def _zip(path: Path, intents: list[dict], results: list[dict], mode: str) -> Path:
    run = {**HEAD, "schema_id": "gait.runpack.run", "timeline": []}
    run["env"] = {"arch": "x", "os": "x", "runtime": "x"}
    refs = {**HEAD, "schema_id": "gait.runpack.refs", "receipts": []}
    data = {
        model.RUN: canonical_bytes(run),
        model.REFS: canonical_bytes(refs),
        model.INTENTS: b"".join(canonical_bytes(r) + b"\n" for r in intents),
        model.RESULTS: b"".join(canonical_bytes(r) + b"\n" for r in results),
    }
    data[model.MANIFEST] = canonical_bytes(manifest_for(run, mode, data))
    write_zip(path, [(name, data[name]) for name in model.MEMBER_ORDER])
    return path


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    intents=st.lists(st.tuples(IDS, TOOLS), max_size=6),
    results=st.lists(st.tuples(IDS, STATUS, PAYLOAD), max_size=6),
    mode=st.sampled_from(["raw", "reference"]),
)
def test_streamed_expectations_match_the_loaded_run(tmp_path: Path, intents, results, mode) -> None:  # noqa: ANN001
    intent_records = [
        {
            **HEAD,
            "schema_id": "gait.runpack.intent",
            "intent_id": i,
            "tool_name": t,
            "args_digest": "0" * 64,
        }
        for i, t in intents
    ]
    result_records = []
    for i, status, payload in results:
        record = {**HEAD, "schema_id": "gait.runpack.result", "intent_id": i, "status": status}
        if payload is not None:
            record["result"] = payload
        result_records.append(record)
    path = _zip(tmp_path / "run.zip", intent_records, result_records, mode)
    loaded = load_runpack(path, verify=False)
    streamed = read_outline(path)
    want = {
        "expected_replay_exit_code": stub_replay(loaded).exit_code,
        "expected_tool_sequence": tool_sequence(loaded),
        "expected_verdict_sequence": verdict_sequence(loaded),
    }
    assert expectations(streamed) == want
    assert expectations(loaded) == want
    assert missing_results(streamed) == missing_results(loaded)
