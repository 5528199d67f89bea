"""Real client-library objects for tests, fetched offline through the SDKs' own HTTP clients.

Each helper validates a canned body with the library's own model (so its shape is the
library's), serves it from an ``httpx`` ``MockTransport`` and returns what the real client call
returns: the objects a user's agent holds. Streams are served as server-sent events.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable
from typing import Any

import pytest


def _httpx(module: str) -> Any:
    """The httpx package the given SDK was built on (``httpx`` or its successor ``httpx2``)."""
    sdk = importlib.import_module(f"{module}._base_client")
    for name in ("httpx2", "httpx"):
        if name in vars(sdk):
            return vars(sdk)[name]
    return importlib.import_module("httpx")


def _transport(
    module: str, bodies: list[Any], stream: bool = False, sent: list[Any] | None = None
) -> Any:
    httpx = _httpx(module)
    queue = list(bodies)

    def handler(request: Any) -> Any:
        if sent is not None:
            sent.append(json.loads(request.content))
        body = queue.pop(0)
        if stream:
            text = "".join(
                f"event: {event.get('type', 'message')}\ndata: {json.dumps(event)}\n\n"
                for event in body
            )
            if module == "openai":
                text += "data: [DONE]\n\n"
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=text.encode()
            )
        return httpx.Response(200, json=body)

    return httpx.Client(transport=httpx.MockTransport(handler))


def openai_client(*bodies: Any, stream: bool = False, sent: list[Any] | None = None) -> Any:
    """A real OpenAI client answering with ``bodies`` in turn; ``sent`` collects the requests."""
    openai = pytest.importorskip("openai")
    return openai.OpenAI(
        api_key="test",
        base_url="http://openai.test/v1",
        http_client=_transport("openai", list(bodies), stream, sent),
        max_retries=0,
    )


def anthropic_client(*bodies: Any, stream: bool = False, sent: list[Any] | None = None) -> Any:
    anthropic = pytest.importorskip("anthropic")
    return anthropic.Anthropic(
        api_key="test",
        base_url="http://anthropic.test",
        http_client=_transport("anthropic", list(bodies), stream, sent),
        max_retries=0,
    )


def chat_body(
    tool_calls: Iterable[dict[str, Any]], *, finish: str = "tool_calls", content: str | None = None
) -> dict:
    from openai.types.chat import ChatCompletion

    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1767225600,
        "model": "gpt-5",
        "choices": [
            {
                "index": 0,
                "finish_reason": finish,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "tool_calls": list(tool_calls) or None,
                },
            }
        ],
    }
    return ChatCompletion.model_validate(body).model_dump(mode="json", exclude_unset=True)


def chat_completion(tool_calls: Iterable[dict[str, Any]], **kw: Any) -> Any:
    client = openai_client(chat_body(tool_calls, **kw))
    return client.chat.completions.create(
        model="gpt-5", messages=[{"role": "user", "content": "go"}]
    )


def function_call(call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(args)},
    }


def response_body(output: Iterable[dict[str, Any]], *, created: float = 1767225600) -> dict:
    from openai.types.responses import Response

    body = {
        "id": "resp_1",
        "object": "response",
        "created_at": created,
        "model": "gpt-5",
        "output": list(output),
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "status": "completed",
    }
    return Response.model_validate(body).model_dump(mode="json", exclude_unset=True)


def response(output: Iterable[dict[str, Any]]) -> Any:
    client = openai_client(response_body(output))
    return client.responses.create(model="gpt-5", input="go")


def message_body(
    content: Iterable[dict[str, Any]], *, stop: str = "tool_use", beta: bool = False
) -> dict:
    if beta:
        from anthropic.types.beta import BetaMessage as Message
    else:
        from anthropic.types import Message

    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": list(content),
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 10},
    }
    return Message.model_validate(body).model_dump(mode="json", exclude_unset=True)


def anthropic_message(content: Iterable[dict[str, Any]]) -> Any:
    client = anthropic_client(message_body(content))
    return client.messages.create(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "go"}]
    )


def validated(type_: Any, value: dict[str, Any]) -> dict[str, Any]:
    """``value`` checked against a library type (a model or a union), as its JSON wire form."""
    from pydantic import TypeAdapter

    model = TypeAdapter(type_).validate_python(value)
    return model.model_dump(mode="json", exclude_unset=True, by_alias=True)


def dump(model: Any) -> dict[str, Any]:
    """An SDK object as the JSON a logger writes for it."""
    return json.loads(model.model_dump_json(exclude_unset=True, by_alias=True))
