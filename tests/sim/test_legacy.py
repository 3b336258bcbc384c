"""Stored traces: slicesim 0.1 stays reproducible (both legacy switches give its KPI trace bit for
bit, each switch alone changes it), and the 0.2 defaults do not move (tests/legacy_trace.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.legacy_trace import PATH, PATH_02, record

LEGACY = {"radio.model": "legacy", "sim.kpi_model": "legacy"}


def test_legacy_switches_reproduce_the_01_trace_bit_for_bit():
    stored = np.load(PATH)
    now = record(LEGACY)
    assert sorted(now) == sorted(stored.files)
    for name in stored.files:
        np.testing.assert_array_equal(now[name], stored[name], err_msg=name)


@pytest.mark.parametrize("key", sorted(LEGACY))
def test_each_switch_alone_changes_the_trace(key):
    stored = np.load(PATH)
    now = record({key: LEGACY[key]})
    assert not np.array_equal(now["thr_mbps"], stored["thr_mbps"])


def test_the_02_defaults_reproduce_their_stored_trace_bit_for_bit():
    stored = np.load(PATH_02)
    now = record()
    for name in stored.files:
        np.testing.assert_array_equal(now[name], stored[name], err_msg=name)
