"""The ``gait_recorder`` fixture: record a run inside your own test, as vcrpy's cassettes do.

::

    def test_checkout_agent(gait_recorder):
        agent.run(tools=tools)            # @gait.record.tool functions land in this run
        gait_recorder.intent("tool.x", {"a": 1})   # or record explicitly

The runpack is written when the test ends, pass or fail, to ``$GAIT_RECORD_DIR`` (default: the
test's ``tmp_path``) as ``runpack_<run id>.zip``; the run id comes from the test's node id, so
re-running a test rewrites its own runpack. The path is attached to the test report as the
``gait_runpack`` user property (it shows in JUnit XML).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from gait.runpack.recorder import Recorder


def run_id_for_test(nodeid: str) -> str:
    """``run_`` + the whole node id (module path included, so ``a.py::test_x`` and
    ``b.py::test_x`` do not overwrite each other), made id-safe; long ids keep a digest tail."""
    import hashlib

    name = re.sub(r"[^A-Za-z0-9_-]+", "_", nodeid).strip("_") or "test"
    if len(name) > 100:
        tail = hashlib.sha256(nodeid.encode("utf-8")).hexdigest()[:12]
        name = f"{name[:87]}_{tail}"
    return f"run_{name}"


@pytest.fixture
def gait_recorder(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Recorder]:
    """An open ``Recorder`` for this test; capture mode from ``$GAIT_CAPTURE_MODE`` (reference)."""
    from gait.runpack.recorder import Recorder

    out_dir = Path(os.environ.get("GAIT_RECORD_DIR") or tmp_path)
    capture_mode = os.environ.get("GAIT_CAPTURE_MODE") or "reference"
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        recorder = Recorder(
            run_id_for_test(request.node.nodeid), out_dir=out_dir, capture_mode=capture_mode
        )
    with recorder:
        yield recorder
    request.node.user_properties.append(("gait_runpack", str(recorder.path)))
