"""Agent-framework integrations: gate and record every tool call an agent makes.

- ``gait.integrations.openai_agents``: OpenAI Agents SDK run hooks and a tool guardrail.
- ``gait.integrations.pydantic_ai``: a pydantic-ai toolset wrapper.
- LangChain 1.x: ``gait.GaitLangChainMiddleware`` (``gait.compat.langchain``).

Each framework is an optional extra (``pip install 'pytest-gait[openai-agents]'``,
``'pytest-gait[pydantic-ai]'``, ``'pytest-gait[langchain]'``) and is imported only by its own
module; ``gait doctor`` reports which are installed and usable (``gait.doctor.INTEGRATIONS``).
"""

from __future__ import annotations
