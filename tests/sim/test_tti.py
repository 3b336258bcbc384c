"""The TTI reference scheduler (slicesim.sim.tti) against queueing formulas, and the capture."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import slicesim
from slicesim.config import ScenarioConfig, SimConfig, SliceConfig
from slicesim.sim.capture import Traffic
from slicesim.sim.tti import simulate_tti

PRB_BPS = 1e5  # bit/s per PRB: 50 PRBs carry 5 kbit per TTI


def one_cell(
    n_users: int, load_per_user: float, window_s: float = 20.0, seed: int = 0
) -> tuple[ScenarioConfig, Traffic, float]:
    """Users alone in one cell and slice (x = 0.5: 50 PRBs), Poisson bursts of 25 kbit."""
    rate = 50 * PRB_BPS
    burst = 25e3
    offered = load_per_user * rate
    config = ScenarioConfig(
        slices=(SliceConfig(offered_mbps=offered / 1e6, burst_kbit=burst / 1e3),),
        sim=SimConfig(window_s=window_s, period_s=900.0, epoch_s=1.0, buffer_s=4.0),
    )
    rng = np.random.default_rng(seed)
    counts = rng.poisson(offered / burst * window_s, n_users)
    user = np.repeat(np.arange(n_users), counts)
    times = rng.random(len(user)) * window_s
    order = np.lexsort((times, user))
    epochs = round(window_s)
    traffic = Traffic(
        n_cells=1, n_slices=1, epoch_s=1.0, window_s=window_s,
        cell=np.zeros(n_users, dtype=np.intp), slice=np.zeros(n_users, dtype=np.intp),
        group=np.zeros(n_users, dtype=np.intp), start_s=np.zeros(n_users),
        end_s=np.full(n_users, np.inf), present=np.ones((epochs, n_users), dtype=bool),
        prb_bps=np.full((epochs, n_users), PRB_BPS), cqi=np.full((epochs, n_users), 7.0),
        burst_user=user[order], burst_s=times[order], burst_bits=np.full(len(user), burst),
    )  # fmt: skip
    return config, traffic, rate


def test_one_user_alone_is_an_md1_queue_served_at_the_full_slice_rate():
    config, traffic, rate = one_cell(1, 0.5)
    kpis = simulate_tti(config, [traffic], np.array([[[0.5]]]))
    # a lone user gets the whole slice while it has data: throughput R, not R (1 - rho)
    assert kpis["thr_mbps"][0, 0, 0, 0] == pytest.approx(rate / 1e6, rel=1e-9)
    service_ms = 25e3 / rate * 1e3
    md1 = service_ms * (1 + 0.5 / (2 * (1 - 0.5)))  # Pollaczek-Khinchine, deterministic service
    # + alignment: a burst waits for the next TTI and ends with the TTI carrying its last bit
    assert md1 < kpis["delay_ms"][0, 0, 0, 0] < md1 + 1.25
    assert kpis["prb_util"][0, 0, 0, 0] == pytest.approx(0.5 * 0.5, rel=0.05)


def test_two_users_share_like_the_exact_coupled_queues():
    """Two symmetric users at total load 0.8 with exponential bursts: the exact Markov chain of
    two FIFO queues sharing the server equally gives a throughput of 0.633 R."""
    config, traffic, rate = one_cell(2, 0.4, window_s=30.0, seed=1)
    sizes = np.random.default_rng(2).exponential(25e3, len(traffic.burst_bits))
    traffic = dataclasses.replace(traffic, burst_bits=sizes)
    kpis = simulate_tti(config, [traffic], np.array([[[0.5]]]))
    assert kpis["thr_mbps"][0, 0, 0, 0] * 1e6 / rate == pytest.approx(0.633, abs=0.02)


@pytest.fixture(scope="module")
def captured():
    """``small`` at its busiest hour, two draws, loads frozen, three share levels."""
    config = slicesim.load_scenario("small", {"sim.window_s": 4.0, "traffic.load_scale": 2.0})
    net = slicesim.Network(config, seed=3)
    state = net.get_state()
    states = [{**state, "rng": np.random.default_rng([3, k]).bit_generator.state} for k in (0, 1)]
    xs = np.stack([np.full((net.n_cells, net.n_slices), x) for x in (0.05, 0.2, 0.6)])
    frozen = np.full((2, config.sim.n_epochs, net.n_cells), 0.5)
    capture: list[Traffic] = []
    replay = net.replay(xs, states=states, frozen_util=frozen, capture=capture)
    return config, net, states, xs, frozen, replay, capture


def test_capture_changes_no_kpi_and_matches_the_offered_traffic(captured):
    config, net, states, xs, frozen, replay, capture = captured
    plain = net.replay(xs, states=states, frozen_util=frozen)
    for name, value in plain.kpis.items():
        np.testing.assert_array_equal(value, replay.kpis[name])
    assert len(capture) == 2
    for k, traffic in enumerate(capture):
        bits = np.bincount(traffic.group[traffic.burst_user], weights=traffic.burst_bits,
                           minlength=net.n_cells * net.n_slices)  # fmt: skip
        demand = bits.reshape(net.n_cells, net.n_slices) / config.sim.window_s / 1e6
        np.testing.assert_allclose(demand, replay.kpis["demand_mbps"][k, 0], rtol=1e-12)
        assert np.all(np.diff(traffic.burst_user) >= 0)
        assert np.all((traffic.burst_s >= 0) & (traffic.burst_s < config.sim.window_s))


def test_reference_respects_budgets_and_is_reproducible(captured):
    config, net, states, xs, frozen, replay, capture = captured
    kpis = simulate_tti(config, capture, xs)
    budget = np.floor(xs * config.radio.n_prb + 1e-9) / config.radio.n_prb
    assert np.all(kpis["prb_util"] <= budget[None] + 1e-12)
    full = np.broadcast_to(budget, kpis["prb_util"].shape)
    used = np.divide(kpis["prb_util"], full, out=np.zeros(full.shape), where=full > 0)
    assert used.max() > 0.99  # the smallest level saturates: the budget binds
    for name in ("demand_mbps", "users", "cqi"):
        np.testing.assert_allclose(kpis[name], replay.kpis[name], rtol=1e-12, atol=1e-12)
    again: list[Traffic] = []
    net.replay(xs, states=states, frozen_util=frozen, capture=again)
    repeat = simulate_tti(config, again, xs)
    for name, value in kpis.items():
        np.testing.assert_array_equal(value, repeat[name])
