"""``gait run record``: write-direction interop with the reference, log imports, redaction."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

LOGS = Path(__file__).resolve().parents[1] / "example_fixtures" / "logs"
SAMPLES = {
    "openai": ["openai_chat.json", "openai_responses.jsonl"],
    "anthropic": ["anthropic_messages.json"],
    "mcp": ["mcp_session.jsonl"],
    "otel": ["otel_spans.jsonl"],
}
SECRET = "sk-live-9f8e7d6c5b4a39281706"


def _json(proc) -> dict:  # noqa: ANN001
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("run_ref", []),
        ("run_raw", ["--capture-mode", "raw"]),
        ("run_changed", []),
        ("run_signed", ["--private-key", "KEY"]),
    ],
)
def test_record_input_matches_reference(run_gait, conformance_dir, tmp_path, name, extra) -> None:
    ref = conformance_dir / "reference"
    extra = [str(ref / "keys" / "gait_private.key") if e == "KEY" else e for e in extra]
    proc = run_gait(
        "run",
        "record",
        "--input",
        str(ref / "inputs" / f"{name}.json"),
        *extra,
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    doc = _json(proc)
    expected = json.loads((ref / "runpacks" / f"record_{name}.json").read_text())
    assert doc["manifest_digest"] == expected["manifest_digest"]
    assert doc["ticket_footer"] == expected["ticket_footer"]
    assert doc["bundle"] == expected["bundle"]
    assert doc["warnings"] == expected["warnings"]
    ours = _members(tmp_path / "gait-out" / f"runpack_{name}.zip")
    theirs = _members(ref / "runpacks" / f"runpack_{name}.zip")
    for member in ("intents.jsonl", "results.jsonl", "refs.json", "run.json"):
        assert ours[member] == theirs[member], member
    if name == "run_signed":
        assert ours["manifest.json"] == theirs["manifest.json"]
    if name == "run_raw":
        assert "raw capture" in proc.stderr


def _in_process(capsys, monkeypatch):  # noqa: ANN001, ANN202
    """``run_gait``'s signature, through ``main()`` in this process (same GAIT_HOME)."""
    from gait.cli.main import main

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    return run


@pytest.mark.parametrize(("fmt", "sample"), [(f, s) for f, ss in SAMPLES.items() for s in ss])
def test_import_round_trip(run_gait, tmp_path, fmt, sample, capsys, monkeypatch) -> None:  # noqa: ANN001
    """record -> verify -> replay -> diff (with itself, and with a raw import) per format. The
    first sample goes through the installed ``gait`` processes; the others call ``main()`` in
    process (the same commands and checks, without six interpreter start-ups per format)."""
    if sample != SAMPLES["openai"][0]:
        run_gait = _in_process(capsys, monkeypatch)
    out = tmp_path / "a.zip"
    proc = run_gait(
        "run",
        "record",
        "--from",
        fmt,
        "--input",
        str(LOGS / sample),
        "--out",
        str(out),
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    doc = _json(proc)
    assert doc["source_format"] == fmt and doc["capture_mode"] == "reference"
    assert run_gait("verify", str(out), cwd=tmp_path).returncode == 0
    replay = run_gait("run", "replay", str(out), "--json", cwd=tmp_path)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    steps = _json(replay)["steps"]
    assert steps and all(s["source"] == "recorded_digest" for s in steps)
    assert run_gait("run", "diff", str(out), str(out), cwd=tmp_path).returncode == 0
    raw = tmp_path / "b.zip"
    proc = run_gait(
        "run",
        "record",
        "--from",
        fmt,
        "--input",
        str(LOGS / sample),
        "--out",
        str(raw),
        "--capture-mode",
        "raw",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0 and "raw capture" in proc.stderr
    assert _json(proc)["manifest_digest"] != doc["manifest_digest"]
    raw_replay = _json(run_gait("run", "replay", str(raw), "--json", cwd=tmp_path))
    assert all(s["source"] == "recorded_result" for s in raw_replay["steps"])
    diff = run_gait("run", "diff", str(out), str(raw), "--json", cwd=tmp_path)
    assert diff.returncode == 2 and _json(diff)["summary"]["manifest_changed"] is True


def test_import_is_deterministic(run_gait, tmp_path) -> None:
    digests = set()
    for i in range(2):
        proc = run_gait(
            "run",
            "record",
            "--from",
            "otel",
            "--input",
            str(LOGS / "otel_spans.jsonl"),
            "--out",
            str(tmp_path / f"{i}.zip"),
            "--json",
            cwd=tmp_path,
        )
        digests.add(_json(proc)["manifest_digest"])
    assert len(digests) == 1


def _secret_log(tmp_path: Path) -> Path:
    log = tmp_path / "leaky.jsonl"
    lines = [
        {
            "type": "function_call",
            "call_id": "c1",
            "name": "http.post",
            "arguments": json.dumps(
                {
                    "url": "https://api.example",
                    "api_key": SECRET,
                    "body": {"note": f"auth {SECRET}"},
                }
            ),
        },
        {
            "type": "function_call_output",
            "call_id": "c1",
            "output": json.dumps({"echo": SECRET, "ok": True}),
        },
    ]
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return log


def test_secret_never_in_reference_capture(run_gait, tmp_path) -> None:
    out = tmp_path / "ref.zip"
    proc = run_gait(
        "run",
        "record",
        "--from",
        "openai",
        "--input",
        str(_secret_log(tmp_path)),
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    blob = b"".join(_members(out).values())
    assert SECRET.encode() not in blob and b"sk-live" not in blob


def test_secret_redacted_in_raw_capture_with_report(run_gait, tmp_path) -> None:
    out = tmp_path / "raw.zip"
    report_path = tmp_path / "redaction.json"
    proc = run_gait(
        "run",
        "record",
        "--from",
        "openai",
        "--input",
        str(_secret_log(tmp_path)),
        "--out",
        str(out),
        "--capture-mode",
        "raw",
        "--redact",
        "drop:$.args.api_key",
        "--redact",
        "mask-regex:sk-live-[0-9a-f]+",
        "--redaction-report",
        str(report_path),
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    blob = b"".join(_members(out).values())
    assert SECRET.encode() not in blob and b"[REDACTED]" in blob
    report = _json(proc)["redaction"]
    assert report == json.loads(report_path.read_text())
    assert report["redactions_total"] == 3
    assert "c1:$.args.api_key" in report["paths"]
    assert SECRET not in proc.stdout and SECRET not in report_path.read_text()
    assert run_gait("verify", str(out)).returncode == 0


def test_redaction_applies_to_record_input(run_gait, conformance_dir, tmp_path) -> None:
    proc = run_gait(
        "run",
        "record",
        "--input",
        str(conformance_dir / "reference/inputs/run_raw.json"),
        "--capture-mode",
        "raw",
        "--redact",
        "mask:$.args.query",
        "--out",
        str(tmp_path / "r.zip"),
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"quoted" not in _members(tmp_path / "r.zip")["intents.jsonl"]
    assert _json(proc)["redaction"]["rules"] == [{"rule": "mask:$.args.query", "matches": 1}]


@pytest.mark.parametrize(
    ("fmt", "content", "needle"),
    [
        # (unparseable arguments are recorded as an error call since issue 12)
        ("openai", '{"output":[{"type":"brand_new_call","id":"x"}]}', "brand_new_call"),
        ("mcp", '{"jsonrpc":"1.0","id":1,"method":"tools/call"}\n', "line 1"),
        ("otel", '{"spans":[]}\n', "resourceSpans"),
        ("anthropic", '[{"content":"x"}]', "role"),
        ("otel", '{"resourceSpans":[]}\n{broken\n', "line 2"),
        (
            "openai",
            '[{"role":"tool","tool_call_id":"nope","content":"x"},'
            '{"role":"assistant","tool_calls":[]}]',
            "has no tool call",
        ),
        (
            "anthropic",
            '[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"t",'
            '"input":{}},{"type":"tool_use","id":"a","name":"t","input":{"x":1}}]}]',
            "appears twice with different content",
        ),
        ("mcp", '{"jsonrpc":"2.0","id":1,"method":"tools/list"}\n', "no tool calls"),
    ],
)
def test_bad_logs_fail_clearly(run_gait, tmp_path, fmt, content, needle) -> None:
    log = tmp_path / "bad.log"
    log.write_text(content)
    proc = run_gait("run", "record", "--from", fmt, "--input", str(log), cwd=tmp_path)
    assert proc.returncode == 6, proc.stderr
    assert "E_RECORD_INPUT_INVALID" in proc.stderr and needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_wrong_format_for_from(run_gait, tmp_path) -> None:
    proc = run_gait(
        "run",
        "record",
        "--from",
        "otel",
        "--input",
        str(LOGS / "mcp_session.jsonl"),
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 6
    assert _json(proc)["error_code"] == "E_RECORD_INPUT_INVALID"


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d["results"].append({**d["results"][0], "intent_id": "ghost"}), "no intent"),
        (lambda d: d["intents"].append(dict(d["intents"][0])), "used twice"),
    ],
)
def test_bad_record_input(run_gait, conformance_dir, tmp_path, mutate, needle) -> None:
    doc = json.loads((conformance_dir / "reference/inputs/run_ref.json").read_text())
    mutate(doc)
    path = tmp_path / "in.json"
    path.write_text(json.dumps(doc))
    proc = run_gait("run", "record", "--input", str(path), "--json", cwd=tmp_path)
    assert proc.returncode == 6
    out = _json(proc)
    assert out["error_code"] == "E_RECORD_INPUT_INVALID" and needle in out["error"]


@pytest.mark.parametrize("rule", ["nope", "drop:args.x", "mask-regex:(", "erase:$.a"])
def test_bad_redaction_rule(run_gait, conformance_dir, tmp_path, rule) -> None:
    proc = run_gait(
        "run",
        "record",
        "--input",
        str(conformance_dir / "reference/inputs/run_ref.json"),
        "--redact",
        rule,
        cwd=tmp_path,
    )
    assert proc.returncode == 6 and "E_REDACTION_RULE_INVALID" in proc.stderr
    assert not (tmp_path / "gait-out").exists()


def test_prod_mode_needs_key(run_gait, conformance_dir, tmp_path) -> None:
    proc = run_gait(
        "run",
        "record",
        "--input",
        str(conformance_dir / "reference/inputs/run_ref.json"),
        "--key-mode",
        "prod",
        cwd=tmp_path,
    )
    assert proc.returncode == 6 and "E_SIGN_KEY_REQUIRED" in proc.stderr
