"""slicesim 0.1's model stays reproducible: the legacy switches give its KPI trace bit for bit."""

from __future__ import annotations

import numpy as np

from tests.legacy_trace import PATH, record

LEGACY = {"radio.model": "legacy"}


def test_legacy_switches_reproduce_the_01_trace_bit_for_bit():
    stored = np.load(PATH)
    now = record(LEGACY)
    assert set(now) == set(stored.files)
    for name in stored.files:
        np.testing.assert_array_equal(now[name], stored[name], err_msg=name)
