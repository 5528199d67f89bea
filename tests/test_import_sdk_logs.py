"""Importers read the logs real clients produce (issue 12, items 4 and 5).

Every log here is written from what the real ``openai`` / ``anthropic`` client sent and got
back over an httpx ``MockTransport``: per-request logs of multi-turn runs (each request repeats
the earlier turns), ``{request, response}`` pairs per line, string ``input``, hosted and custom
tool calls, streamed chunks and events, and a call cut off by the token limit.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sdkwire

pytest.importorskip("openai")
pytest.importorskip("anthropic")


def _write(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines))
    return path


def _import(run_gait: Any, fmt: str, log: Path, out: Path) -> dict[str, Any]:
    proc = run_gait(
        "run", "record", "--from", fmt, "--input", str(log), "--out", str(out),
        "--capture-mode", "raw", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)["import"]


def _members(path: Path) -> dict[str, list[dict[str, Any]]]:
    with zipfile.ZipFile(path) as archive:
        return {
            name: [json.loads(line) for line in archive.read(f"{name}.jsonl").splitlines()]
            for name in ("intents", "results")
        }


def test_openai_chat_per_request_log_with_custom_call(tmp_path: Path, run_gait: Any) -> None:
    sent: list[Any] = []
    bodies = [
        sdkwire.chat_body([sdkwire.function_call("call_1", "read_file", {"path": "/a"})]),
        sdkwire.chat_body(
            [{"id": "call_2", "type": "custom", "custom": {"name": "run_sql", "input": "SELECT 1"}}]
        ),
        sdkwire.chat_body([], finish="stop", content="done"),
    ]
    client = sdkwire.openai_client(*bodies, sent=sent)
    messages: list[Any] = [{"role": "user", "content": "go"}]
    outputs = {"call_1": "contents of a", "call_2": "1 row"}
    log = []
    for _ in bodies:
        reply = client.chat.completions.create(model="gpt-5", messages=messages)
        log.append({"request": sent[-1], "response": sdkwire.dump(reply)})
        message = reply.choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls or []:
            messages.append({"role": "tool", "tool_call_id": call.id, "content": outputs[call.id]})
    path = _write(tmp_path / "chat.jsonl", log)
    report = _import(run_gait, "openai", path, tmp_path / "chat.zip")
    assert (report["calls"], report["results"]) == (2, 2)
    assert report["call_kinds"] == {"call_2": "custom"}
    assert report["skipped"]["duplicate call"] == 3  # call_1 twice, call_2 once, repeated
    assert report["skipped"]["duplicate result"] == 1
    members = _members(tmp_path / "chat.zip")
    assert [i["tool_name"] for i in members["intents"]] == ["read_file", "run_sql"]
    assert members["intents"][1]["args"] == {"input": "SELECT 1"}
    assert [r["result"] for r in members["results"]] == [
        {"value": "contents of a"},
        {"value": "1 row"},
    ]


def test_changed_repeat_is_refused_and_writes_nothing(tmp_path: Path, run_gait: Any) -> None:
    call = sdkwire.function_call("call_1", "read_file", {"path": "/a"})
    other = sdkwire.function_call("call_1", "read_file", {"path": "/etc/passwd"})
    log = [{"response": sdkwire.chat_body([call])}, {"response": sdkwire.chat_body([other])}]
    path = _write(tmp_path / "bad.jsonl", log)
    out = tmp_path / "never.zip"
    proc = run_gait("run", "record", "--from", "openai", "--input", str(path), "--out", str(out))
    assert proc.returncode == 6
    assert "line 2" in proc.stderr and "different content" in proc.stderr
    assert not out.exists()


def test_openai_responses_string_input_and_hosted_calls(tmp_path: Path, run_gait: Any) -> None:
    output = [
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "read_file",
         "arguments": '{"path": "/a"}', "status": "completed"},
        {"type": "mcp_call", "id": "mcp_1", "name": "create_issue", "server_label": "github",
         "arguments": '{"title": "bug"}', "output": "issue #7", "status": "completed"},
        {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_2", "name": "run_sql",
         "input": "DROP TABLE users"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed",
         "action": {"type": "search", "query": "weather"}},
    ]  # fmt: skip
    final = [
        {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "done", "annotations": []}]},
    ]  # fmt: skip
    sent: list[Any] = []
    client = sdkwire.openai_client(
        sdkwire.response_body(output), sdkwire.response_body(final), sent=sent
    )
    first = client.responses.create(model="gpt-5", input="delete the old users")
    follow_up = [
        {"role": "user", "content": "delete the old users"},
        *[item.model_dump(exclude_none=True) for item in first.output],
        {"type": "function_call_output", "call_id": "call_1", "output": "contents of a"},
        {"type": "custom_tool_call_output", "call_id": "call_2", "output": "ERROR: refused"},
    ]
    second = client.responses.create(model="gpt-5", input=follow_up)
    log = [
        {"request": sent[0], "response": sdkwire.dump(first)},
        {"request": sent[1], "response": sdkwire.dump(second)},
    ]
    report = _import(run_gait, "openai", _write(tmp_path / "r.jsonl", log), tmp_path / "r.zip")
    assert report["call_kinds"] == {
        "call_2": "custom_tool_call",
        "mcp_1": "mcp_call:github",
        "ws_1": "web_search_call",
    }
    assert (report["calls"], report["results"]) == (4, 4)
    assert report["skipped"]["input text"] == 1
    names = [i["tool_name"] for i in _members(tmp_path / "r.zip")["intents"]]
    assert names == ["read_file", "create_issue", "run_sql", "web_search"]


def test_chat_stream_cut_off_by_token_limit_is_kept_as_error_call(
    tmp_path: Path, run_gait: Any
) -> None:
    from openai.types.chat import ChatCompletionChunk

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return sdkwire.validated(
            ChatCompletionChunk,
            {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1767225600,
             "model": "gpt-5", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]},
        )  # fmt: skip

    events = [
        chunk({"role": "assistant", "tool_calls": [
            {"index": 0, "id": "call_ok", "type": "function",
             "function": {"name": "read_file", "arguments": '{"path"'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ': "/a"}'}}]}),
        chunk({"tool_calls": [
            {"index": 1, "id": "call_cut", "type": "function",
             "function": {"name": "delete_file", "arguments": '{"path": "/re'}}]}),
        chunk({}, finish="length"),
    ]  # fmt: skip
    client = sdkwire.openai_client(events, stream=True)
    stream = client.chat.completions.create(model="gpt-5", messages=[], stream=True)
    path = _write(tmp_path / "s.jsonl", [sdkwire.dump(c) for c in stream])
    report = _import(run_gait, "openai", path, tmp_path / "s.zip")
    assert report["unreadable_calls"] == ["call_cut"]
    members = _members(tmp_path / "s.zip")
    assert members["intents"][0]["args"] == {"path": "/a"}
    assert members["intents"][1]["args"] == {"unparsed_arguments": '{"path": "/re'}
    assert members["results"][0]["status"] == "error"
    assert members["results"][0]["result"]["error_code"] == "E_TOOL_ARGS_UNREADABLE"
    assert report["skipped"]["chat.completion.chunk"] == 4


def test_responses_stream_events_are_assembled(tmp_path: Path, run_gait: Any) -> None:
    from openai.types.responses import ResponseStreamEvent

    item = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "read_file",
            "arguments": "", "status": "in_progress"}  # fmt: skip
    done = {**item, "arguments": '{"path": "/a"}', "status": "completed"}
    response = sdkwire.response_body([done])
    events = [
        {"type": "response.created", "sequence_number": 0,
         "response": {**response, "output": [], "status": "in_progress"}},
        {"type": "response.output_item.added", "sequence_number": 1, "output_index": 0,
         "item": item},
        {"type": "response.function_call_arguments.delta", "sequence_number": 2,
         "output_index": 0, "item_id": "fc_1", "delta": '{"path": '},
        {"type": "response.function_call_arguments.delta", "sequence_number": 3,
         "output_index": 0, "item_id": "fc_1", "delta": '"/a"}'},
        {"type": "response.output_item.done", "sequence_number": 4, "output_index": 0,
         "item": done},
        {"type": "response.completed", "sequence_number": 5, "response": response},
    ]  # fmt: skip
    client = sdkwire.openai_client(
        [sdkwire.validated(ResponseStreamEvent, e) for e in events], stream=True
    )
    stream = client.responses.create(model="gpt-5", input="go", stream=True)
    path = _write(tmp_path / "e.jsonl", [sdkwire.dump(e) for e in stream])
    report = _import(run_gait, "openai", path, tmp_path / "e.zip")
    assert report["calls"] == 1 and report["skipped"]["duplicate call"] == 1
    assert _members(tmp_path / "e.zip")["intents"][0]["args"] == {"path": "/a"}


def test_anthropic_per_request_log_with_server_and_mcp_tools(tmp_path: Path, run_gait: Any) -> None:
    turn1 = [
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
         "input": {"query": "weather"}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1",
         "content": {"type": "web_search_tool_result_error", "error_code": "unavailable"}},
        {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "/a"}},
    ]  # fmt: skip
    turn2 = [
        {"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "create_issue",
         "server_name": "github", "input": {"title": "bug"}},
        {"type": "mcp_tool_result", "tool_use_id": "mcptoolu_1", "is_error": False,
         "content": [{"type": "text", "text": "issue #7"}]},
        {"type": "text", "text": "done"},
    ]  # fmt: skip
    sent: list[Any] = []
    client = sdkwire.anthropic_client(
        sdkwire.message_body(turn1),
        sdkwire.message_body(turn2, stop="end_turn", beta=True),
        sent=sent,
    )
    messages: list[Any] = [{"role": "user", "content": "go"}]
    first = client.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=messages)
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "contents of a"}]},
    ]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        second = client.beta.messages.create(
            model="claude-sonnet-4-6", max_tokens=100, messages=messages
        )
    log = [
        {"request": sent[0], "response": sdkwire.dump(first)},
        {"request": sent[1], "response": sdkwire.dump(second)},
    ]
    report = _import(run_gait, "anthropic", _write(tmp_path / "a.jsonl", log), tmp_path / "a.zip")
    assert report["call_kinds"] == {
        "mcptoolu_1": "mcp_tool_use:github",
        "srvtoolu_1": "server_tool_use",
    }
    assert (report["calls"], report["results"]) == (3, 3)
    assert report["skipped"]["duplicate call"] == 2
    results = {r["intent_id"]: r for r in _members(tmp_path / "a.zip")["results"]}
    assert results["srvtoolu_1"]["status"] == "error"
    assert results["mcptoolu_1"]["result"] == {"value": "issue #7"}


def test_anthropic_stream_cut_off_is_kept_as_error_call(tmp_path: Path, run_gait: Any) -> None:
    from anthropic.types import RawMessageStreamEvent

    start = sdkwire.message_body([], stop="max_tokens")
    events = [
        {"type": "message_start", "message": {**start, "stop_reason": None}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "tool_use", "id": "toolu_ok", "name": "read_file",
                           "input": {}}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "input_json_delta", "partial_json": '{"path": "/a"}'}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1,
         "content_block": {"type": "tool_use", "id": "toolu_cut", "name": "delete_file",
                           "input": {}}},
        {"type": "content_block_delta", "index": 1,
         "delta": {"type": "input_json_delta", "partial_json": '{"path": "/re'}},
        {"type": "message_delta", "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
         "usage": {"output_tokens": 100}},
        {"type": "message_stop"},
    ]  # fmt: skip
    client = sdkwire.anthropic_client(
        [sdkwire.validated(RawMessageStreamEvent, e) for e in events], stream=True
    )
    stream = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=100, messages=[], stream=True
    )
    path = _write(tmp_path / "as.jsonl", [sdkwire.dump(e) for e in stream])
    report = _import(run_gait, "anthropic", path, tmp_path / "as.zip")
    assert report["calls"] == 2 and report["unreadable_calls"] == ["toolu_cut"]
    members = _members(tmp_path / "as.zip")
    assert members["intents"][0]["args"] == {"path": "/a"}
    assert members["results"][0]["intent_id"] == "toolu_cut"
    assert members["results"][0]["status"] == "error"


def test_chat_response_cut_off_keeps_the_log_and_the_call(tmp_path: Path, run_gait: Any) -> None:
    cut = {
        "id": "call_cut",
        "type": "function",
        "function": {"name": "delete_file", "arguments": '{"path": "/re'},
    }
    ok = sdkwire.function_call("call_ok", "read_file", {"path": "/a"})
    reply = sdkwire.openai_client(sdkwire.chat_body([ok, cut], finish="length"))
    completion = reply.chat.completions.create(model="gpt-5", messages=[])
    assert completion.choices[0].finish_reason == "length"
    path = _write(tmp_path / "cut.jsonl", [sdkwire.dump(completion)])
    report = _import(run_gait, "openai", path, tmp_path / "cut.zip")
    assert report["calls"] == 2 and report["unreadable_calls"] == ["call_cut"]
    results = _members(tmp_path / "cut.zip")["results"]
    assert [(r["intent_id"], r["status"]) for r in results] == [("call_cut", "error")]
    assert "token limit" in results[0]["result"]["error"]
