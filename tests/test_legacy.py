"""``sim.kpi_model: legacy`` reproduces slicesim 0.1's KPIs bit for bit (tests/legacy_trace.py).

The radio on this branch is the 0.1 radio, so only the KPI model is overridden here.
"""

from __future__ import annotations

import numpy as np

from tests.legacy_trace import PATH, record


def test_legacy_kpi_model_reproduces_the_stored_trace_exactly():
    stored = np.load(PATH)
    trace = record({"sim.kpi_model": "legacy"})
    assert sorted(trace) == sorted(stored.files)
    for name in stored.files:
        np.testing.assert_array_equal(trace[name], stored[name], err_msg=name)
