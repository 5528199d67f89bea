"""The gate at the tool boundary: tool calls in agent-framework shapes, MCP trust, the proxy.

``calls`` decodes one tool call in the reference's adapter shapes (mcp, openai, anthropic,
langchain, claude_code) into an IntentRequest; ``trust`` is the MCP server trust preflight;
``proxy`` gates one call and writes what the reference writes; ``stdio`` and ``serve`` put the
same decision on an MCP stdio stream and behind a local HTTP service.
"""
