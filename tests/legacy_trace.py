"""Stored KPI traces that pin the models, bit for bit.

``tests/data/legacy_trace.npz`` was written by :func:`record` on commit 87a44e5 (slicesim 0.1, the
last commit before the 3GPP radio model and the corrected KPI model) with ``python -m
tests.legacy_trace``; ``tests/sim/test_legacy.py`` replays it with ``radio.model: legacy`` and
``sim.kpi_model: legacy``: earlier results stay reproducible. ``tests/data/trace_02.npz`` is
:func:`record` of the 0.2 defaults on commit b0f6309: refactors must not move it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

import slicesim

PATH = Path(__file__).parent / "data" / "legacy_trace.npz"
PATH_02 = Path(__file__).parent / "data" / "trace_02.npz"
KPIS = ("thr_mbps", "delay_ms", "prb_util", "users", "cqi", "demand_mbps", "cell_util")
# two stretches of `paper`: across the H1 -> H2 change (06:00) and the evening busy hour
PERIODS = (*range(2997, 3003), *range(3064, 3070))


def record(overrides: Mapping[str, Any] | None = None, seed: int = 5) -> dict[str, np.ndarray]:
    """Run ``paper`` (with ``overrides``) over :data:`PERIODS` and one replay; return the arrays."""
    config = slicesim.load_scenario("paper", overrides)
    net = slicesim.Network(config, seed=seed)
    rng = np.random.default_rng(99)
    out: dict[str, list[np.ndarray]] = {k: [] for k in KPIS}
    for i, period in enumerate(PERIODS):
        state = net.get_state()
        state["period"] = period
        net.set_state(state)
        active = net.active_mask()
        x = active / active.sum(axis=1, keepdims=True)
        if i % 2:  # every other period: random shares of the active slices
            x = rng.dirichlet(np.ones(net.n_slices), size=net.n_cells) * active
        rep = net.run_period(x)
        for k in KPIS:
            out[k].append(getattr(rep, k))
    xs = np.stack([np.full((net.n_cells, net.n_slices), v) for v in (0.1, 0.25, 0.5)])
    other = net.get_state()
    other["rng"] = np.random.default_rng(3).bit_generator.state
    frozen = np.full((2, config.sim.n_epochs, net.n_cells), 0.6)
    replay = net.replay(xs, states=[net.get_state(), other], frozen_util=frozen)
    arrays = {k: np.stack(v) for k, v in out.items()}
    arrays["replay_qos"] = replay.r
    arrays["replay_thr_mbps"] = replay.kpis["thr_mbps"]
    arrays["replay_delay_ms"] = replay.kpis["delay_ms"]
    return arrays


if __name__ == "__main__":
    PATH.parent.mkdir(exist_ok=True)
    np.savez_compressed(PATH, **record())
    print(f"wrote {PATH} ({PATH.stat().st_size} bytes)")
