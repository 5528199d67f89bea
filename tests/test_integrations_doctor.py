"""``gait doctor`` reports each agent-framework integration: absent, usable, or out of range."""

from __future__ import annotations

import json
from pathlib import Path

from gait.doctor import INTEGRATIONS, check_integration


def test_doctor_lists_every_integration(run_gait, tmp_path: Path) -> None:
    doc = json.loads(run_gait("doctor", "--json", cwd=tmp_path).stdout)
    checks = {c["id"]: c for c in doc["checks"]}
    for extra, dist, *_ in INTEGRATIONS:
        check = checks[f"integration.{extra}"]
        assert dist in check["message"]
        assert check["status"] in ("pass", "warn")


def test_integration_states() -> None:
    absent = check_integration("x", "no-such-dist", "no_such_module_gait", "1.0", "", "gait.x")
    assert absent.status == "pass" and "pip install 'pytest-gait[x]'" in absent.message
    old = check_integration("x", "pluggy", "pluggy", "99.0", "", "gait.x")
    assert old.status == "warn" and "needs pluggy>=99.0" in old.message
    assert old.fix and "pluggy>=99.0" in old.fix
    too_new = check_integration("x", "pluggy", "pluggy", "0.1", "1", "gait.x")
    assert too_new.status == "warn" and "pluggy>=0.1,<1" in too_new.message
    usable = check_integration("x", "pluggy", "pluggy", "1.0", "", "gait.x")
    assert usable.status == "pass" and usable.message.endswith("gait.x usable")
