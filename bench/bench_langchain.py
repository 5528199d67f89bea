"""What Gait adds to a LangChain 1.x agent's tool call: ``GaitLangChainMiddleware`` on a
``create_agent`` agent driven by langchain-core's fake chat model (no network, no model time).

Each case runs the same agent ``--runs`` times; a run is ``--turns`` model turns, each asking
for ``--calls`` parallel ``read_file`` calls (a trivial tool), then a final answer:

- ``bare``: no middleware (LangChain's own cost: the graph, the ToolNode, its threads);
- ``passthrough``: a middleware whose ``wrap_tool_call`` only calls the tool (what LangChain
  charges for any tool middleware), the baseline of ``added_*``;
- ``gated``: the middleware (an in-process gate decision per call, traces by the background
  writer, as shipped);
- ``gated_recorded``: the same inside ``gait.record`` (raw capture: each call a runpack step;
  the runpack written once per run);
- ``replayed``: ``GAIT_REPLAY_FROM`` that runpack (each call answered from it).

Per case: wall and process CPU per run (p50) and per tool call (p50 of run / calls), and
``added_*_us_per_call`` over ``passthrough``. Process CPU includes the background writer
signing and writing each decision's trace. The load average is printed beside them: the machine is
shared, so wall times are noisy; CPU time is the steadier figure.

Run: ``python bench/bench_langchain.py [--quick]``; prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

POLICY = """\
default_verdict: block
rules:
  - {name: allow-read, priority: 10, effect: allow, match: {tool_names: [read_file]}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="5 runs")
    options = parser.parse_args()
    runs = 5 if options.quick else options.runs
    warnings.simplefilter("ignore")

    from langchain.agents import create_agent
    from langchain.agents.middleware import AgentMiddleware
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool

    import gait
    from gait import GaitLangChainMiddleware, ToolAdapter

    class FakeModel(GenericFakeChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

    class Passthrough(AgentMiddleware):  # type: ignore[misc]
        def wrap_tool_call(self, request: Any, handler: Any) -> Any:
            return handler(request)

    @tool
    def read_file(path: str) -> str:
        """Read a file."""
        return "contents of " + path

    def model() -> FakeModel:
        turns = [
            AIMessage(
                "",
                tool_calls=[
                    {"name": "read_file", "args": {"path": f"/{t}/{c}"}, "id": f"c{t}_{c}"}
                    for c in range(options.calls)
                ],
            )
            for t in range(options.turns)
        ]
        return FakeModel(messages=iter([*turns, AIMessage("done")]))

    work = Path(tempfile.mkdtemp(prefix="bench_langchain_"))
    os.chdir(work)
    (work / "policy.yaml").write_text(POLICY, encoding="utf-8")
    gate = GaitLangChainMiddleware(ToolAdapter(policy_path="policy.yaml"))
    prompt = {"messages": [{"role": "user", "content": "read"}]}
    calls = options.turns * options.calls

    def once(case: str, index: int) -> tuple[float, float]:
        middleware = {"bare": [], "passthrough": [Passthrough()]}.get(case, [gate])
        agent = create_agent(model=model(), tools=[read_file], middleware=middleware)
        if case == "replayed":  # a runpack's stubs are played once per process: a copy each
            source = work / "gait-out" / "runpack_run_gated_recorded_0.zip"
            copy = work / f"replay_{index + 1}.zip"
            copy.write_bytes(source.read_bytes())
            os.environ["GAIT_REPLAY_FROM"] = str(copy)
        wall, cpu = time.perf_counter(), time.process_time()
        if case in ("gated_recorded", "replayed"):
            with gait.record(run_id=f"run_{case}_{index}", capture_mode="raw"):
                agent.invoke(prompt)
        else:
            agent.invoke(prompt)
        return time.perf_counter() - wall, time.process_time() - cpu

    results: dict[str, Any] = {}
    for case in ("bare", "passthrough", "gated", "gated_recorded", "replayed"):
        once(case, -1 if case != "gated_recorded" else 0)  # warm: imports, policy cache
        timed = [once(case, index + 1) for index in range(runs)]
        gait.flush_traces()
        wall = statistics.median(w for w, _ in timed)
        cpu = statistics.median(c for _, c in timed)
        results[case] = {
            "wall_ms_per_run": round(wall * 1e3, 2),
            "cpu_ms_per_run": round(cpu * 1e3, 2),
            "wall_us_per_call": round(wall / calls * 1e6, 1),
            "cpu_us_per_call": round(cpu / calls * 1e6, 1),
        }
    os.environ.pop("GAIT_REPLAY_FROM", None)
    for case in ("gated", "gated_recorded", "replayed"):
        results[case]["added_wall_us_per_call"] = round(
            results[case]["wall_us_per_call"] - results["passthrough"]["wall_us_per_call"], 1
        )
        results[case]["added_cpu_us_per_call"] = round(
            results[case]["cpu_us_per_call"] - results["passthrough"]["cpu_us_per_call"], 1
        )
    print(
        json.dumps(
            {
                "bench": "langchain",
                "runs": runs,
                "turns": options.turns,
                "calls_per_turn": options.calls,
                "cases": results,
                "loadavg": [round(x, 2) for x in os.getloadavg()],
            },
            indent=2,
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    main()
