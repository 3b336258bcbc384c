"""Physics of the simulator as properties, on the real SimPy engine (common random numbers)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import slicesim
from tests.conftest import shares


def run_from(net: slicesim.Network, state: dict, x: np.ndarray) -> slicesim.PeriodReport:
    """One period from ``state`` with shares ``x`` (same traffic for every ``x``)."""
    net.set_state(state)
    return net.run_period(x)


def periods(net: slicesim.Network, x: np.ndarray, n: int) -> list[slicesim.PeriodReport]:
    return [net.run_period(x) for _ in range(n)]


def test_throughput_rises_with_own_share(loaded_config):
    net = slicesim.Network(loaded_config, seed=3)
    state = net.get_state()
    thr = []
    for own in (0.1, 0.2, 0.35, 0.5, 0.7):
        rep = run_from(net, state, shares(net.n_cells, [own, 0.15, 0.0, 0.15]))
        thr.append(rep.thr_mbps[:, 0].mean())
    assert np.all(np.diff(thr) > 0), thr


def test_delay_rises_as_share_shrinks_under_load(loaded_config):
    net = slicesim.Network(loaded_config, seed=4)
    state = net.get_state()
    delay = []
    for own in (0.6, 0.4, 0.25, 0.15, 0.08):
        rep = run_from(net, state, shares(net.n_cells, [own, 0.2, 0.0, 0.2]))
        delay.append(rep.delay_ms[:, 0].mean())
    assert np.all(np.diff(delay) > 0), delay


def test_neighbours_load_lowers_a_cells_throughput(loaded_config):
    """Cell 0 keeps its shares; the other cells' shares (and so their PRB use) rise."""
    config = loaded_config.replace({"slices": [{**s, "users_per_cell": 3 * s["users_per_cell"]}
                                               for s in _slices(loaded_config)]})  # fmt: skip
    net = slicesim.Network(config, seed=5)
    state = net.get_state()
    thr, cqi, neighbour_use = [], [], []
    for level in (0.05, 0.2, 0.5, 1.0):
        x = shares(net.n_cells, [level / 3, level / 3, 0.0, level / 3])
        x[0] = [0.3, 0.3, 0.0, 0.3]
        rep = run_from(net, state, x)
        thr.append(rep.thr_mbps[0].mean())
        cqi.append(rep.cqi[0].mean())
        neighbour_use.append(rep.cell_util[1:].mean())
    assert np.all(np.diff(neighbour_use) > 0), neighbour_use
    assert np.all(np.diff(thr) < 0), thr
    assert np.all(np.diff(cqi) < 0), cqi


def _slices(config: slicesim.ScenarioConfig) -> list[dict]:
    from slicesim.typed_config import to_dict

    return to_dict(config)["slices"]


@settings(max_examples=25, deadline=None)
@given(raw=st.lists(st.floats(0.0, 1.0), min_size=12, max_size=12), seed=st.integers(0, 50))
def test_prb_use_never_exceeds_share_and_cqi_in_range(raw, seed):
    config = slicesim.load_scenario("small", {"sim.window_s": 4.0})
    net = slicesim.Network(config, seed=seed)
    x = np.asarray(raw).reshape(3, 4)
    x = x / np.maximum(x.sum(axis=1, keepdims=True), 1.0)
    rep = net.run_period(x)
    budget = np.floor(rep.x * config.radio.n_prb + 1e-9) / config.radio.n_prb
    assert np.all(rep.prb_util <= budget + 1e-9)  # sums over epochs: rounding only
    assert np.all(rep.cell_util <= 1 + 1e-9)
    with_users = rep.users > 0
    assert np.all((rep.cqi[with_users] >= 1) & (rep.cqi[with_users] <= 15))
    assert np.all(rep.thr_mbps >= 0) and np.all(rep.delay_ms >= 0)


def test_inactive_slice_gets_nothing(loaded_config):
    net = slicesim.Network(loaded_config, seed=1)
    rep = net.run_period(shares(net.n_cells, [0.3, 0.3, 0.3, 0.1]))  # slice 3 is inactive
    assert np.all(rep.x[:, 2] == 0)
    assert np.all(rep.users[:, 2] == 0) and np.all(rep.prb_util[:, 2] == 0)
    assert not rep.active[:, 2].any() and rep.active[:, [0, 1, 3]].all()
    assert np.all(rep.users[:, [0, 1, 3]] > 0)


def test_slice_set_change_is_honoured():
    config = slicesim.load_scenario("small")  # slice id 3 joins at period 32 (H2)
    net = slicesim.Network(config, seed=2)
    net.set_state({**net.get_state(), "period": 30})
    x = shares(net.n_cells, [0.25, 0.25, 0.25, 0.25])
    before, _, after = (net.run_period(x) for _ in range(3))
    assert before.phase == "H1" and after.phase == "H2"
    assert not before.active[:, 2].any() and after.active[:, 2].all()
    assert before.users[:, 2].sum() == 0
    assert after.users[:, 2].sum() > 0 and after.demand_mbps[:, 2].sum() > 0
    net.set_active_slices([1, 3])  # an explicit override wins over the timeline
    rep = net.run_period(x)
    assert rep.active[:, [0, 2]].all() and not rep.active[:, [1, 3]].any()
    assert rep.users[:, [1, 3]].sum() == 0
    with pytest.raises(KeyError, match="unknown slice id 7"):
        net.set_active_slices([7])


def test_sinr_distribution_in_3gpp_range():
    """Full-load geometry vs 3GPP UMa calibrations (TR 36.873 / 38.901, ISD 500 m):
    5th percentile about -4..-1 dB, median 3..9 dB, 95th 18..26 dB."""
    net = slicesim.Network(slicesim.load_scenario("paper"), seed=0)
    p5, p50, p95 = np.percentile(net.sample_sinr_db(20_000), [5, 50, 95])
    assert -6.0 <= p5 <= 0.0, p5
    assert 1.0 <= p50 <= 9.0, p50
    assert 12.0 <= p95 <= 26.0, p95
    idle = np.median(net.sample_sinr_db(5_000, cell_util=0.2))
    assert idle > p50 + 3  # lightly loaded neighbours interfere less


def test_macro_36942_and_shannon_models_run():
    config = slicesim.load_scenario(
        "small",
        {
            "radio.model": "legacy",
            "radio.legacy.pathloss": "macro_36942",
            "radio.link": "shannon",
            "sim.window_s": 4.0,
        },
    )
    net = slicesim.Network(config, seed=0)
    rep = net.run_period(shares(net.n_cells, [0.4, 0.3, 0.0, 0.3]))
    assert rep.thr_mbps[:, 0].mean() > 0
