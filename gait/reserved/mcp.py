"""MCP adapter contract (v1.1 proxy mode): an MCP ``tools/call`` through the gate.

The mapping is fixed by the ``gait.mcp.adapter_contract`` schema:

- request -> IntentRequest: ``tool_name`` = ``params.name``, ``args`` = ``params.arguments``
  (absent -> ``{}``), ``targets`` from the adapter's declared target function with
  ``discovery_method`` from the server (``mcp``, ``static_mcp``, ``dynamic_mcp``...), ``context``
  from the session;
- GateResult -> response: ``allow`` forwards the call; ``dry_run`` answers with a result saying
  the tool did not run; ``block`` and ``require_approval`` answer with a JSON-RPC error in the
  server range whose ``data`` carries the verdict, reason codes, violations and trace id.

Like every adapter, an MCP adapter holds no decision logic: it builds the intent, the gate
decides, and the adapter obeys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

SCHEMA_ID = "gait.mcp.adapter_contract"
ERROR_BLOCKED = -32001
ERROR_APPROVAL_REQUIRED = -32002
ERROR_CODES = {"block": ERROR_BLOCKED, "require_approval": ERROR_APPROVAL_REQUIRED}


@runtime_checkable
class MCPAdapter(Protocol):
    """Maps one MCP ``tools/call`` to an IntentRequest and a GateResult back to MCP."""

    def to_intent(
        self,
        call: Mapping[str, Any],
        *,
        server: Mapping[str, Any] | None,
        context: Mapping[str, Any],
    ) -> Mapping[str, Any]:
        """The IntentRequest (schema ``gait.gate.intent_request``) for ``call``."""
        ...

    def to_response(
        self,
        call: Mapping[str, Any],
        decision: Mapping[str, Any],
        tool_result: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        """The JSON-RPC response: the forwarded result, or an error per ``ERROR_CODES``."""
        ...
