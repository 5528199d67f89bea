"""The reference Python SDK's public API, running on this project's core.

Code written for the reference SDK (``from gait import ToolAdapter, gate_tool, run_session``)
runs unchanged: decisions and runpacks are made in this process unless ``gait_bin`` names a
binary, in which case that binary is run exactly as the reference SDK runs it. The names are
exported lazily from ``gait`` itself; the reference's module paths (``gait.client``,
``gait.adapter``, ``gait.models``, ``gait.session``, ``gait.decorators``, ``gait.langchain``)
are aliases of the modules here.
"""

from __future__ import annotations

EXPORTS: dict[str, str] = {
    "AdapterOutcome": "gait.compat.adapter",
    "GateEnforcementError": "gait.compat.adapter",
    "ToolAdapter": "gait.compat.adapter",
    "GaitCommandError": "gait.compat.client",
    "GaitError": "gait.compat.client",
    "capture_demo_runpack": "gait.compat.client",
    "capture_intent": "gait.compat.client",
    "create_regress_fixture": "gait.compat.client",
    "evaluate_gate": "gait.compat.client",
    "flush_traces": "gait.compat.client",
    "record_runpack": "gait.compat.client",
    "write_trace": "gait.compat.client",
    "gate_tool": "gait.compat.decorators",
    "GaitLangChainCallbackHandler": "gait.compat.langchain",
    "GaitLangChainMiddleware": "gait.compat.langchain",
    "DelegationLink": "gait.compat.models",
    "DemoCapture": "gait.compat.models",
    "GateEvalResult": "gait.compat.models",
    "IntentArgProvenance": "gait.compat.models",
    "IntentContext": "gait.compat.models",
    "IntentDelegation": "gait.compat.models",
    "IntentRequest": "gait.compat.models",
    "IntentScript": "gait.compat.models",
    "IntentScriptStep": "gait.compat.models",
    "IntentTarget": "gait.compat.models",
    "LangChainDecisionMetadata": "gait.compat.models",
    "RegressInitResult": "gait.compat.models",
    "RunRecordCapture": "gait.compat.models",
    "TraceRecord": "gait.compat.models",
    "RunAttempt": "gait.compat.session",
    "RunSession": "gait.compat.session",
    "run_session": "gait.compat.session",
}

# The reference SDK's submodules, importable as ``gait.<name>`` and ``from gait import <name>``.
MODULES = ("adapter", "client", "decorators", "langchain", "models", "session")
