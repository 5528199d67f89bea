"""Rebuild the example fixture sets from scratch: ``python example_fixtures/build_fixtures.py``.

Both runpacks are written by gait itself, unsigned and with fixed times and environment, so
the files here are the same bytes on every machine (for one gait version):

- ``fixtures/run_demo``: the ``gait demo`` run (three stubbed tool calls, reference capture).
- ``fixtures/run_refund_support``: ``agent/refund_agent.py`` handling a refund ticket (five
  tools, raw capture, one reference receipt for the refund policy it retrieved).

``gait.yaml`` checks both fixtures against their own runpacks; ``gait.agent.yaml`` re-runs the
agent against the refund fixture's stubs and grades what it records.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def demo_runpack(out: Path) -> Path:
    from gait.demo import RUN_ID, demo_input
    from gait.runpack.writer import write_record_input

    return write_record_input(
        demo_input(), out / f"runpack_{RUN_ID}.zip", evidence_mode_default=""
    ).path


def refund_runpack(out: Path) -> Path:
    path = out / "runpack_run_refund_support.zip"
    env = {**os.environ, "REFUND_AGENT_OUT": str(path)}
    env.pop("GAIT_REPLAY_FROM", None)
    env.pop("GAIT_RECORD_TO", None)
    subprocess.run(
        [sys.executable, str(HERE / "agent" / "refund_agent.py")],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return path


AGENT_CONFIG = """{
  "schema_id": "gait.regress.config",
  "schema_version": "1.0.0",
  "fixture_set": "refund-agent",
  "fixtures": [
    {
      "name": "run_refund_support",
      "run_id": "run_refund_support",
      "runpack": "fixtures/run_refund_support/runpack.zip"
    }
  ],
  "command": ["{python}", "agent/refund_agent.py"],
  "timeout_seconds": 60,
  "graders": {
    "args_match": {
      "rules": [
        {"tool": "payments.refund", "path": "$.amount", "tolerance": 0.01},
        {"tool": "email.send", "path": "$.template", "regex": "^refund_"}
      ]
    },
    "max_steps": true,
    "no_new_tools": true,
    "refs_match": true,
    "result_digest": true
  }
}
"""


def main() -> int:
    from gait.regress.init import init_fixture

    for stale in ("fixtures", "gait.yaml"):
        target = HERE / stale
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for runpack in (demo_runpack(out), refund_runpack(out)):
            result = init_fixture(str(runpack), directory=HERE)
            print(f"{result.fixture_dir} run_id={result.run_id}")
    (HERE / "gait.agent.yaml").write_text(AGENT_CONFIG, encoding="utf-8")
    print("gait.yaml, gait.agent.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
