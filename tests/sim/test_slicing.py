"""RRMPolicyRatio sharing (``sim.slicing = rrm_policy``): the rule, the TTI reference, both engines.

The rule is :func:`slicesim.sim.scheduler.rrm_available`; the TTI reference applies it every TTI,
the flow-level engines every epoch. Isolated slicing stays the default, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import slicesim
from slicesim.config import ConfigError, ScenarioConfig, SimConfig, SliceConfig
from slicesim.sim.capture import Traffic
from slicesim.sim.scheduler import rrm_available, rrm_prbs
from slicesim.sim.tti import simulate_tti

N_PRB = 100


def policy(x: list[float], action: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return rrm_prbs(np.array([x]), N_PRB, action)


# ---------------------------------------------------------------------------- the rule


def test_dedicated_mapping_gives_the_isolated_budgets_whatever_the_needs():
    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.ones(4), size=50) * 0.97
    prbs = rrm_prbs(x, N_PRB, "dedicated")
    for demand in (np.zeros_like(x), rng.random(x.shape) * 80, np.full(x.shape, 1e9)):
        np.testing.assert_array_equal(rrm_available(demand, *prbs, N_PRB), prbs[2])


def test_idle_minimum_goes_to_the_slices_that_need_more():
    ded, lo, hi = policy([0.25, 0.25, 0.25, 0.25], "min")
    avail = rrm_available(np.array([[0.0, 300.0, 30.0, 30.0]]), ded, lo, hi, N_PRB)
    # slice 1 gets its 25, its part of slice 0's idle 25 and what 2 and 3 leave (5 each)
    np.testing.assert_allclose(avail, [[25.0, 40.0, 35.0, 35.0]])
    used = np.minimum([0.0, 300.0, 30.0, 30.0], avail)
    assert used.sum() == pytest.approx(N_PRB)  # work-conserving: no PRB idles while 1 needs it


@pytest.mark.parametrize("action", ["min", "min_max"])
def test_every_backlogged_slice_gets_at_least_its_minimum_and_the_cell_is_not_overbooked(action):
    rng = np.random.default_rng(1)
    for _ in range(200):
        x = rng.dirichlet(np.ones(4)) * rng.uniform(0.5, 1.0)
        share = np.stack([x, np.minimum(1.0, x + rng.uniform(0, 0.5, 4))], -1)[None]
        prbs = rrm_prbs(share if action == "min_max" else x[None], N_PRB, action)
        demand = rng.uniform(0, 120, (1, 4)) * (rng.random((1, 4)) < 0.7)
        avail = rrm_available(demand, *prbs, N_PRB)
        used = np.minimum(demand, avail)
        backlogged = demand >= prbs[1]
        assert np.all(used[backlogged] >= prbs[1][backlogged] - 1e-9)
        assert np.all(avail <= prbs[2] + 1e-9)
        assert used.sum() <= N_PRB + 1e-9
        # work-conserving: PRBs idle only where every slice is served or at its maximum
        if used.sum() < N_PRB - 1e-6:
            assert np.all((used >= demand - 1e-9) | (used >= prbs[2] - 1e-9))


def test_max_mapping_caps_a_slice_even_when_the_others_idle():
    ded, lo, hi = policy([0.3, 0.3, 0.4], "max")
    avail = rrm_available(np.array([[500.0, 0.0, 0.0]]), ded, lo, hi, N_PRB)
    assert avail[0, 0] == 30.0


def test_unknown_slicing_and_action_name_the_field():
    with pytest.raises(ConfigError, match="slicing = 'shared' is unknown"):
        SimConfig(slicing="shared")
    with pytest.raises(ConfigError, match="rrm_action = 'both' is unknown"):
        SimConfig(rrm_action="both")


# ---------------------------------------------------------------------------- TTI reference

PRB_BPS = 1e5  # bit/s per PRB


def two_slices(loads: tuple[float, float], slicing: str, window_s: float = 6.0) -> dict:
    """One cell, two slices of three users each, Poisson 25 kbit bursts; ``loads``: each
    slice's offered traffic as a share of the cell's 100 PRBs. Shares 0.5 / 0.5."""
    burst, epochs = 25e3, round(window_s)
    rng = np.random.default_rng(4)
    per_user = [load * N_PRB * PRB_BPS / 3 for load in loads]
    config = ScenarioConfig(
        slices=tuple(
            SliceConfig(id=k + 1, offered_mbps=max(r, 1.0) / 1e6, burst_kbit=burst / 1e3)
            for k, r in enumerate(per_user)
        ),
        sim=SimConfig(window_s=window_s, epoch_s=1.0, buffer_s=4.0, slicing=slicing),
    )
    sl = np.repeat([0, 1], 3)
    counts = rng.poisson(np.repeat(per_user, 3) / burst * window_s)
    user = np.repeat(np.arange(6), counts)
    times = rng.random(len(user)) * window_s
    order = np.lexsort((times, user))
    traffic = Traffic(
        n_cells=1, n_slices=2, epoch_s=1.0, window_s=window_s,
        cell=np.zeros(6, dtype=np.intp), slice=sl, group=sl, start_s=np.zeros(6),
        end_s=np.full(6, np.inf), present=np.ones((epochs, 6), dtype=bool),
        prb_bps=np.full((epochs, 6), PRB_BPS), cqi=np.full((epochs, 6), 7.0),
        burst_user=user[order], burst_s=times[order], burst_bits=np.full(len(user), burst),
    )  # fmt: skip
    return simulate_tti(config, [traffic], np.array([[[0.5, 0.5]]]))


def test_tti_reference_gives_an_idle_slices_prbs_to_the_other():
    isolated, shared = two_slices((0.9, 0.0), "isolated"), two_slices((0.9, 0.0), "rrm_policy")
    # isolated: slice 1 is capped at its 50 PRBs (overloaded); shared: it takes slice 2's idle ones
    assert isolated["prb_util"][0, 0, 0, 0] <= 0.5 + 1e-12
    assert shared["prb_util"][0, 0, 0, 0] > 0.8
    assert shared["thr_mbps"][0, 0, 0, 0] > 1.5 * isolated["thr_mbps"][0, 0, 0, 0]


def test_tti_reference_keeps_each_backlogged_slices_minimum():
    shared = two_slices((1.5, 1.5), "rrm_policy")
    # both slices overloaded: each keeps (about) its 50 PRBs, the cell is full, not overbooked
    assert np.all(shared["prb_util"][0, 0, 0] >= 0.49)
    assert shared["prb_util"][0, 0, 0].sum() <= 1.0 + 1e-9


# ---------------------------------------------------------------------------- the engines


def trace(engine: str, overrides: dict, start: int = 78, periods: int = 3) -> np.ndarray:
    """KPIs of ``paper`` for a few periods from ``start`` under random shares (rows sum 0.95)."""
    config = slicesim.load_scenario("paper", {"sim.engine": engine, **overrides})
    net = slicesim.Network(config, seed=3)
    net.set_state({**net.get_state(), "period": start})
    rng, out = np.random.default_rng(0), []
    for _ in range(periods):
        active = net.active_mask()
        x = rng.random(active.shape) * active
        rep = net.run_period(x / x.sum(axis=1, keepdims=True) * 0.95)
        out.append(np.stack([rep.thr_mbps, rep.delay_ms, rep.prb_util]))
    return np.stack(out)


SHARE = {"sim.slicing": "rrm_policy"}


def test_dedicated_mapping_reproduces_isolated_slicing_bit_for_bit():
    isolated = trace("compiled", {})
    np.testing.assert_array_equal(trace("compiled", {**SHARE, "sim.rrm_action": "dedicated"}),
                                  isolated)  # fmt: skip
    assert not np.array_equal(trace("compiled", SHARE), isolated)


@pytest.mark.parametrize("action", ["min", "max"])
def test_engines_agree_bit_for_bit_under_sharing(action):
    overrides = {**SHARE, "sim.rrm_action": action}
    np.testing.assert_array_equal(trace("compiled", overrides), trace("reference", overrides))


@pytest.mark.parametrize("engine", ["compiled", "reference"])
def test_an_idle_slice_lifts_the_others_throughput_under_sharing(engine):
    """Slice 2 active but without users in every cell: under isolated slicing its share idles,
    with the share as minimum the other slices of the cell use it."""
    overrides = {"sim.engine": engine, "slices.1.users_per_cell": 0.0}

    def run(extra: dict) -> slicesim.PeriodReport:
        net = slicesim.Network(slicesim.load_scenario("paper", {**overrides, **extra}), seed=3)
        net.set_state({**net.get_state(), "period": 78})
        return net.run_period(slicesim.sim.equal_split(net.active_mask()))

    isolated, shared = run({}), run(SHARE)
    assert isolated.users[:, 1].sum() == 0 and shared.users[:, 1].sum() == 0
    busy = isolated.prb_util[:, [0, 3]] > 0.9 * 0.3  # near their budgets in isolation
    assert busy.any()
    assert np.all(shared.thr_mbps[:, [0, 3]][busy] > isolated.thr_mbps[:, [0, 3]][busy])
    assert shared.prb_util.sum() > isolated.prb_util.sum()


@pytest.mark.parametrize("engine", ["compiled", "reference"])
def test_backlogged_slices_keep_their_minimums_in_the_flow_model(engine):
    """paper at 10x load: every slice is backlogged in every cell and epoch and gets at least
    its minimum (the minimums fill the cell: nothing is left to share)."""
    config = slicesim.load_scenario(
        "paper", {"sim.engine": engine, **SHARE, "traffic.load_scale": 10.0}
    )
    net = slicesim.Network(config, seed=3)
    net.set_state({**net.get_state(), "period": 78})
    share = np.array([0.5, 0.3, 0.0, 0.2])
    util = net.run_period(np.where(net.active_mask(), share, 0.0)).prb_util
    assert np.all(util >= share - 1e-9)
    assert np.all(util.sum(axis=1) <= 1 + 1e-9)
