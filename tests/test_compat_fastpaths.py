"""The in-process SDK's shortcuts equal what they shortcut."""

from __future__ import annotations

import os

import pytest

from gait.compat.environ import getenv


@pytest.mark.parametrize("value", ["sync", "", " Sync ", "caf\u00e9", "\udcff-not-utf8"])
def test_getenv_reads_what_os_environ_reads(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    name = "GAIT_TEST_FASTPATH_ENV"
    monkeypatch.delenv(name, raising=False)
    assert getenv(name) is None and os.environ.get(name) is None
    monkeypatch.setenv(name, value)
    assert getenv(name) == os.environ.get(name) == value
    monkeypatch.setenv(name, value + "2")  # changed while cached names are reused
    assert getenv(name) == value + "2"
    monkeypatch.delenv(name)
    assert getenv(name) is None


def test_getenv_follows_a_replaced_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "environ", {"GAIT_TEST_FASTPATH_ENV": "x"})
    assert getenv("GAIT_TEST_FASTPATH_ENV") == "x"


def test_results_built_slot_by_slot_are_the_constructors() -> None:
    import dataclasses

    from gait.compat.client import _SWAP_WORKS, _new_result
    from gait.compat.models import GateEvalResult

    assert _SWAP_WORKS  # CPython allows the class swap: the fast path is the one taken
    values = (True, 3, "block", ["r"], ["v"], None, "t" * 24, None, "p", "i")
    values += (True, 2, None, None, False, None, None, [{"index": 0}], ["w"], None)
    built = _new_result(values)
    made = GateEvalResult(*values)
    assert type(built) is GateEvalResult and built == made and repr(built) == repr(made)
    assert dataclasses.astuple(built) == dataclasses.astuple(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.verdict = "allow"  # type: ignore[misc]
    assert dataclasses.replace(built, verdict="allow").verdict == "allow"
