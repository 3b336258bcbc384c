"""Engine contracts: determinism, state replay, input validation, the scheduler's water-filling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import slicesim
from slicesim.sim.scheduler import processor_share
from slicesim.sim.traffic import PoissonTable
from tests.conftest import shares

KPIS = ("thr_mbps", "delay_ms", "prb_util", "users", "cqi", "demand_mbps", "served", "cell_util")


def trace(seed: int, n: int = 6) -> list[slicesim.PeriodReport]:
    net = slicesim.Network(slicesim.load_scenario("small"), seed=seed)
    x = shares(net.n_cells, [0.4, 0.3, 0.0, 0.3])
    return [net.run_period(x) for _ in range(n)]


def test_same_seed_same_kpis_bit_for_bit():
    a, b = trace(7), trace(7)
    for ra, rb in zip(a, b, strict=True):
        for k in KPIS:
            np.testing.assert_array_equal(getattr(ra, k), getattr(rb, k), err_msg=k)


def test_different_seeds_differ():
    a, b = trace(7, 2), trace(8, 2)
    assert not np.array_equal(a[-1].thr_mbps, b[-1].thr_mbps)


def test_set_state_replays_a_period_exactly():
    net = slicesim.Network(slicesim.load_scenario("small"), seed=11)
    x = shares(net.n_cells, [0.5, 0.2, 0.0, 0.3])
    net.run_period(x)
    state = net.get_state()
    first = net.run_period(x)
    net.run_period(x)  # move on, then come back
    net.set_state(state)
    again = net.run_period(x)
    for k in KPIS:
        np.testing.assert_array_equal(getattr(first, k), getattr(again, k), err_msg=k)
    assert first.period == again.period
    # the state is plain data: a deep copy survives mutation of the live network
    assert isinstance(state["rng"], dict) and isinstance(state["cell_util"], np.ndarray)


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.full((3, 4), 0.25)[:2], r"x has shape \(2, 4\), expected \(n_cells, n_slices\) = \(3, 4\)"),
        (np.where(np.eye(3, 4) > 0, np.nan, 0.1), r"x\[0, 0\] \(cell 0, slice id 1\) is nan: allowed \[0, 1\]"),
        (np.full((3, 4), 0.1) - 0.2 * np.eye(3, 4), r"x\[0, 0\] \(cell 0, slice id 1\) is -0.1: allowed \[0, 1\]"),
        (np.array([[0.2, 0.2, 0, 0.2], [0.5, 0.4, 0, 0.2], [0, 0, 0, 0]]), r"x: shares of cell 1 sum to 1.1 over its active slices \(ids \[1, 2, 4\]\): allowed at most 1"),
        (np.ones((3, 4), dtype=bool), r"x is a boolean array: give PRB shares as numbers in \[0, 1\]"),
    ],
)  # fmt: skip
def test_bad_shares_raise_clear_errors(x, message):
    net = slicesim.Network(slicesim.load_scenario("small"), seed=0)
    with pytest.raises(ValueError, match=message):
        net.run_period(x)


def test_inactive_entries_do_not_count_towards_row_sums():
    net = slicesim.Network(slicesim.load_scenario("small"), seed=0)
    rep = net.run_period(shares(net.n_cells, [0.4, 0.3, 0.9, 0.3]))  # slice 3 inactive in H0
    assert np.all(rep.x[:, 2] == 0)


def brute_force_shares(work: list[float]) -> np.ndarray:
    """Max-min fair time shares by bisection on the water level."""
    w = np.asarray(work)
    if w.sum() <= 1:
        return w
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.minimum(w, mid).sum() < 1 else (lo, mid)
    return np.minimum(w, lo)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0, 3)), min_size=1, max_size=25))
def test_processor_share_is_max_min_fair(users):
    group = np.array([g for g, _ in users])
    work = np.array([w for _, w in users])
    phi, load = processor_share(group, work, 4)
    for g in range(4):
        sel = group == g
        np.testing.assert_allclose(phi[sel], brute_force_shares(list(work[sel])), atol=1e-7)
        assert phi[sel].sum() <= 1 + 1e-9
        assert load[g] == pytest.approx(work[sel].sum())
    assert np.all(phi <= work + 1e-12) and np.all(phi >= 0)


def test_poisson_table_matches_the_poisson_law():
    means = np.array([0.3, 1.7, 6.0, 25.0])
    table = PoissonTable(means)
    classes = np.repeat(np.arange(4), 50_000)
    counts = table.draw(classes, np.random.default_rng(0))
    for k, lam in enumerate(means):
        c = counts[classes == k]
        assert c.mean() == pytest.approx(lam, rel=0.02)
        assert c.var() == pytest.approx(lam, rel=0.05)
        assert np.mean(c == 0) == pytest.approx(np.exp(-lam), abs=0.005)


def test_state_keys_are_plain_data():
    net = slicesim.Network(slicesim.load_scenario("small"), seed=0)
    state = net.get_state()
    allowed = (int, float, str, bool, dict, list, tuple, np.ndarray, type(None), np.integer)

    def walk(v):
        assert isinstance(v, allowed), type(v)
        if isinstance(v, dict):
            for item in v.values():
                walk(item)

    walk(state)
    assert not any(isinstance(v, np.random.Generator) for v in state.values())


def test_replay_is_the_run_on_common_random_numbers():
    config = slicesim.load_scenario("small", {"sim.window_s": 4.0})
    net = slicesim.Network(config, seed=3)
    for _ in range(30):  # into busier hours (slice 3 active from period 24)
        net.run_period(shares(net.n_cells, [0.25, 0.25, 0.25, 0.25]))
    state = net.get_state()
    rows = ([0.3, 0.2, 0.3, 0.2], [0.1, 0.2, 0.6, 0.1])
    xs = np.stack([shares(net.n_cells, row) for row in rows])
    replay = net.replay(xs)
    assert net.get_state()["period"] == state["period"] == 30
    assert data_equal(net.get_state(), state)  # nothing moved
    report = net.run_period(xs[1])
    np.testing.assert_array_equal(replay.r[0, 1], report.qos(net.thr_need_mbps, net.delay_need_ms))
    np.testing.assert_array_equal(replay.kpis["users"][0, 0], report.users)  # same users
    assert not np.array_equal(replay.r[0, 0], replay.r[0, 1])  # the shares matter
    other = {**state, "rng": np.random.default_rng(9).bit_generator.state}
    both = net.replay(xs[:1], states=[state, other])
    np.testing.assert_array_equal(both.r[0, 0], replay.r[0, 0])
    assert not np.array_equal(both.kpis["users"][1, 0], both.kpis["users"][0, 0])  # other users


def test_frozen_loads_make_slices_independent():
    net = slicesim.Network(slicesim.load_scenario("small", {"sim.window_s": 4.0}), seed=1)
    net.period = 40
    x = shares(net.n_cells, [0.4, 0.3, 0.0, 0.3])
    loads = net.replay(x[None]).cell_util[:, 0]
    y = x.copy()
    y[:, 1] = 0.9  # overbooked rows are allowed in a what-if
    frozen = net.replay(np.stack([x, y]), frozen_util=loads)
    # the other slices' r are the same up to the rounding of the water-filling's cumulative sums
    np.testing.assert_allclose(frozen.r[0, 0][:, [0, 3]], frozen.r[0, 1][:, [0, 3]], rtol=1e-7)
    assert (frozen.r[0, 1][:, 1] >= frozen.r[0, 0][:, 1]).all()
    with pytest.raises(ValueError, match="replay states must all be of the same period"):
        net.replay(x[None], states=[net.get_state(), {**net.get_state(), "period": 3}])


@pytest.mark.parametrize("kpi_model", ["user_ps", "legacy"])
def test_replays_from_recorded_traffic_are_the_fresh_replays(kpi_model):
    """``offered``: the first replay records the draws' traffic, later ones (other copies,
    frozen loads) replay it without drawing; every number is the fresh replay's."""
    config = slicesim.load_scenario("paper", {"sim.kpi_model": kpi_model, "sim.window_s": 6.0})
    net = slicesim.Network(config, seed=2)
    net.period = 70
    states = [{**net.get_state(), "rng": np.random.default_rng([2, k]).bit_generator.state}
              for k in range(3)]  # fmt: skip
    x = shares(net.n_cells, [0.4, 0.3, 0.0, 0.3])
    xs = np.stack([x, shares(net.n_cells, [0.1, 0.1, 0.0, 0.8])])
    offered: list = []
    first = net.replay(xs, states=states, offered=offered)
    assert len(offered) == 1
    loads = first.cell_util[:, 0]
    fresh = net.replay(xs[::-1], states=states, frozen_util=loads)
    again = net.replay(xs[::-1], states=states, frozen_util=loads, offered=offered)
    np.testing.assert_array_equal(again.r, fresh.r)
    np.testing.assert_array_equal(again.cell_util, fresh.cell_util)
    for key in ("thr_mbps", "delay_ms", "users", "prb_util"):
        np.testing.assert_array_equal(again.kpis[key], fresh.kpis[key])
    np.testing.assert_array_equal(net.replay(xs, states=states, offered=offered).r, first.r)
    with pytest.raises(ValueError, match="offered traffic of 3 draws, not 1"):
        net.replay(xs, states=states[:1], offered=offered)


def data_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k]) if isinstance(a[k], np.ndarray) else a[k] == b[k] for k in a
    )
