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
