"""The compiled engine gives the reference engine's numbers bit for bit, and runs only where it
may (the declared switch, the models' capabilities)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import slicesim
from slicesim.config import ConfigError
from slicesim.sim import Network, equal_split, run_periods
from slicesim.sim.engines import EngineWarning, numba_imports
from slicesim.sim.epoch import PER_COPY_SUMS, SHARED_SUMS, EpochUsers, epoch_step, sum_rows
from slicesim.sim.kpi_model import UserPsKpis

pytestmark = pytest.mark.skipif(not numba_imports(), reason="numba does not import")


def random_shares(net: Network, rng: np.random.Generator) -> np.ndarray:
    """Random shares of the active slices, some cells below a whole cell (budgets of 0 too)."""
    active = net.active_mask()
    raw = rng.random(active.shape) * active * (rng.random(active.shape) > 0.15)
    total = np.maximum(raw.sum(axis=1, keepdims=True), 1e-9)
    return raw / total * rng.uniform(0.5, 1.0, size=(len(raw), 1))


def kpi_trace(config: slicesim.ScenarioConfig, engine: str, periods: int, start: int) -> np.ndarray:
    """Every KPI of ``periods`` periods from ``start`` on under random shares, and the
    generator's state after them, stacked."""
    net = Network(config.replace({"sim.engine": engine}), seed=5)
    assert net.engine == engine
    state = net.get_state()
    state["period"] = start
    net.set_state(state)
    rng = np.random.default_rng(5)
    rows = []
    for _ in range(periods):
        rep = net.run_period(random_shares(net, rng))
        kpis = ("thr_mbps", "delay_ms", "prb_util", "cqi", "users", "demand_mbps", "cell_util")
        rows.append(np.concatenate([np.ravel(getattr(rep, k)) for k in kpis]))
    rows.append(np.resize(net._rng.random(8), len(rows[0])))  # the stream goes on alike
    return np.array(rows)


@pytest.mark.parametrize(
    ("scenario", "overrides", "start", "periods"),
    [
        ("paper", {}, 66, 6),  # a busy morning hour
        ("paper", {}, 2998, 4),  # slice 3 joins at period 3000
        ("small", {}, 0, 30),  # the night, the morning, slice 3 joining at 24
        ("paper", {"layout.n_sites": 19, "sim.window_s": 4.0}, 70, 2),  # 57 cells
    ],
)
def test_the_engines_give_the_same_trace_bit_for_bit(scenario, overrides, start, periods):
    config = slicesim.load_scenario(scenario, overrides)
    a = kpi_trace(config, "reference", periods, start)
    b = kpi_trace(config, "compiled", periods, start)
    assert np.isfinite(a).all() and (a[:-1, : a.shape[1] // 8] > 0).any()  # traffic was served
    np.testing.assert_array_equal(a, b)


def replays(engine: str) -> list[np.ndarray]:
    """The oracles' replays: copies on several draws, free and frozen loads, recorded traffic,
    a copy whose budgets overbook and one with zero budgets."""
    net = Network(slicesim.load_scenario("paper", {"sim.engine": engine}), seed=3)
    state = net.get_state()
    state["period"] = 70  # a busy hour of the compressed day
    net.set_state(state)
    net.run_period(equal_split(net.active_mask()))
    state = net.get_state()
    states = [{**state, "rng": np.random.default_rng([3, k]).bit_generator.state} for k in range(5)]
    active = net.active_mask()
    rng = np.random.default_rng(0)
    xs = np.stack([random_shares(net, rng) for _ in range(3)] + [active * 0.6, active * 0.0])
    free = net.replay(xs, states=states)
    frozen = net.replay(xs, states=states, frozen_util=free.cell_util[:, 0])
    offered: list[Any] = []
    recorded = net.replay(xs, states=states, offered=offered)
    again = net.replay(xs[:2], states=states, frozen_util=free.cell_util[:, 0], offered=offered)
    np.testing.assert_array_equal(recorded.r, free.r)
    np.testing.assert_array_equal(again.r, frozen.r[:, :2])
    assert (free.r < 1).any() and (free.r > 0).any()  # contested: the water-filling runs
    return [free.r, free.cell_util, frozen.r, frozen.kpis["thr_mbps"], frozen.kpis["delay_ms"]]


def test_replays_with_copies_draws_and_frozen_loads_are_the_same():
    for a, b in zip(replays("reference"), replays("compiled"), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n", [3, 12])  # 12: several threads (compiled.window.PARALLEL_DRAWS)
def test_replicas_in_one_pass_are_each_network_alone(n):
    config = slicesim.load_scenario("small", {"sim.engine": "compiled"})
    nets = [Network(config, seed=s) for s in range(n)]
    alone = [Network(config.replace({"sim.engine": "reference"}), seed=s) for s in range(n)]
    rng = np.random.default_rng(9)
    for _ in range(6):
        xs = [random_shares(net, rng) for net in nets]
        for net, x, report in zip(alone, xs, run_periods(nets, xs), strict=True):
            np.testing.assert_array_equal(net.run_period(x).delay_ms, report.delay_ms)


@pytest.mark.parametrize("share", [False, True], ids=["isolated", "rrm_policy"])
@pytest.mark.parametrize("seed", range(4))
def test_one_epoch_on_hard_inputs_is_the_same(seed, share):
    """One epoch of synthetic users against :func:`epoch_step`: crowded groups with huge
    backlogs (water-filling and capped busy shares everywhere), zero budgets, absent rows;
    isolated budgets, or random RRMPolicyRatio policies (dedicated <= minimum <= maximum)."""
    from slicesim.sim.compiled.epoch import epoch, scratch_arrays

    world = Network(slicesim.load_scenario("small"), seed=1).world
    rng = np.random.default_rng(seed)
    copies, n, groups = 3, 400, world.n_groups
    group = rng.integers(0, groups, n)
    present = rng.random(n) < 0.8
    slices = group % world.n_slices
    counts = rng.poisson(rng.choice([0.2, 3.0, 30.0], n))
    backlog = rng.exponential(rng.choice([1e3, 1e6, 1e8], (copies, n))) * present
    budget = np.floor(rng.choice([0.0, 1.0, 3.0, 25.0], copies * groups))
    users = EpochUsers(
        present=present,
        slice=slices,
        group=group,
        flat=(group + (np.arange(copies) * groups)[:, None]).ravel(),
        n_flat=copies * groups,
        own=rng.exponential(1e-9, n),
        interference=rng.exponential(1e-10, (copies, n)),
        counts=counts,
        backlog=backlog,
    )
    policy = None
    if share:  # minimums of a cell sum to at most its PRBs; ties of needs in the pool too
        lo = rng.dirichlet(np.ones(world.n_slices), copies * world.n_cells).ravel()
        minimum = np.floor(lo * rng.choice([0.3, 1.0], lo.shape) * world.n_prb)
        dedicated = np.floor(minimum * rng.choice([0.0, 0.5, 1.0], lo.shape))
        budget = np.maximum(minimum, np.floor(rng.choice([0.2, 0.6, 1.0], lo.shape) * 100))
        policy = (dedicated, minimum, budget)
    ref = epoch_step(world, users, budget, policy)
    assert (ref.used > 1 - 1e-9).sum() > 10  # many saturated groups: water-filling ran
    rows = np.flatnonzero(present)
    rows = rows[np.argsort(group[rows], kind="stable")]  # the compiled rows lie by group
    sums = np.zeros((len(PER_COPY_SUMS) * copies + len(SHARED_SUMS), n))
    state, used = backlog.copy(), np.zeros((copies, groups))
    burst = world.burst_bits[slices]
    sim = world.sim
    avail = np.zeros((copies, groups))
    prbs = np.zeros((2, copies, groups)) if policy is None else np.stack(policy[:2])
    epoch(rows, len(rows), group, groups, budget.reshape(copies, groups),
          prbs.reshape(2, copies, groups), share, world.n_slices, float(world.n_prb), avail,
          ref.prb_bps,
          ref.cqi.astype(float), burst * counts * present, burst,
          world.offered_bps[slices] * sim.buffer_s, state, sums, used, scratch_arrays(n, groups),
          0, sim.epoch_s, sim.buffer_s)  # fmt: skip
    np.testing.assert_array_equal(used.ravel(), ref.used)
    np.testing.assert_array_equal(avail.ravel(), ref.budget)
    if share:  # slices took idle PRBs beyond their minimums, and none beyond their maximums
        assert (ref.budget > policy[1]).sum() > 10 and (ref.budget <= budget).all()
    np.testing.assert_array_equal(state[:, present], ref.backlog[:, present])
    for name, row in sum_rows(copies).items():
        want = np.broadcast_to(ref.values[name], sums[row].shape)
        np.testing.assert_array_equal(sums[row], want, err_msg=name)


class NoDelay(UserPsKpis):
    """A user's KPI model: the default's, with every burst delivered at once."""

    def epoch(self, e):
        delay, busy_s = super().epoch(e)
        return np.zeros_like(delay), busy_s


def test_a_subclass_that_overrides_the_physics_changes_the_result():
    config = slicesim.load_scenario("small", {"sim.engine": "compiled"})
    net = Network(config, seed=1)
    assert net.engine == "compiled"
    with pytest.warns(EngineWarning, match="NoDelay .* the reference engine runs"):
        net.kpi_model = NoDelay()
    assert net.engine == "reference"
    base = Network(config, seed=1)
    x = equal_split(net.active_mask())
    for _ in range(3):
        mine, default = net.run_period(x), base.run_period(x)
    assert mine.delay_ms.max() == 0.0 < default.delay_ms.max()
    np.testing.assert_array_equal(mine.thr_mbps, default.thr_mbps)  # the rest is the default's


class Inherited(UserPsKpis):
    """A subclass that leaves the physics alone keeps the compiled form."""


def test_a_subclass_that_keeps_the_physics_stays_compiled():
    net = Network(slicesim.load_scenario("small", {"sim.engine": "compiled"}), seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EngineWarning)
        net.kpi_model = Inherited()
    assert net.engine == "compiled"


def test_models_without_a_compiled_form_run_on_the_reference_engine(monkeypatch):
    with pytest.warns(EngineWarning, match="link model ShannonLink has no compiled form"):
        config = slicesim.load_scenario(
            "small", {"radio.link": "shannon", "sim.engine": "compiled"}
        )
        net = Network(config, seed=1)
    assert net.engine == "reference"
    monkeypatch.setattr("slicesim.sim.engines.numba_imports", lambda: False)  # a machine without
    with pytest.warns(EngineWarning, match="numba does not import: the reference engine runs"):
        config = slicesim.load_scenario("small", {"sim.engine": "compiled"})
        assert Network(config, seed=1).engine == "reference"


def test_the_engine_is_a_checked_setting():
    with pytest.raises(ConfigError, match=r"engine = 'fortran' is unknown: allowed \['compiled'"):
        slicesim.load_scenario("small", {"sim.engine": "fortran"})
    assert Network(slicesim.load_scenario("small", {"sim.engine": "reference"})).engine == (
        "reference"
    )


def test_compiled_draws_take_numpys_numbers():
    """The compiled distributions take NumPy's numbers from the same generator and leave it in
    the same state (uniform, exponential, bounded integers: a window's every draw)."""
    from numba import njit

    from slicesim.sim.compiled.rng import address, bounded, next_double, standard_exponential

    @njit
    def draws(bitgen, n, scale, high):
        a, b, c = np.empty(n), np.empty(n), np.empty(n, np.int64)
        for i in range(n):
            a[i] = next_double(bitgen)
        for i in range(n):
            b[i] = scale * standard_exponential(bitgen)
        for i in range(n):
            c[i] = bounded(bitgen, high)
        return a, b, c

    for seed in range(40):
        ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        n, high, scale = 50 + 97 * seed, int(10 + seed**4), 0.5 + seed
        a, b, c = draws(address(ours), n, scale, high)
        np.testing.assert_array_equal(a, theirs.random(n))
        np.testing.assert_array_equal(b, theirs.exponential(scale, n))
        np.testing.assert_array_equal(c, theirs.integers(0, high, n))
        assert ours.bit_generator.state == theirs.bit_generator.state


def sweep_inputs(net: Network, period: int, draws: int = 6):
    """The oracles' level sweep of ``period``: its draws, every level, the loads frozen at
    equal shares'."""
    state = net.get_state()
    state["period"] = period
    states = [{**state, "rng": np.random.default_rng([period, k]).bit_generator.state}
              for k in range(draws)]  # fmt: skip
    net.set_state(state)
    active = net.active_mask()
    levels = np.arange(1, 20) / 20
    xs = np.broadcast_to(levels[:, None, None], (len(levels), *active.shape))
    loads = net.replay(equal_split(active)[None], states=states).cell_util[:, 0]
    return xs, states, loads


@pytest.mark.parametrize(("scenario", "period"), [("paper", 70), ("paper", 10), ("paper", 3040),
                                                  ("small", 30)])  # fmt: skip
def test_the_exact_level_sweep_gives_the_full_sweeps_table(scenario, period):
    """The level sweep group by group with an early exit at r = 1: the same r as replaying
    every level, on fewer runs (busy, night, four slices; small)."""
    net = Network(slicesim.load_scenario(scenario, {"sim.engine": "compiled"}), seed=4)
    xs, states, loads = sweep_inputs(net, period)
    full = net.replay(xs, states=states, frozen_util=loads).r
    offered: list[Any] = []
    exact, runs = net.replay_levels(xs, states, loads, offered, exact=True)
    np.testing.assert_array_equal(exact, full)
    every, all_runs = net.replay_levels(xs, states, loads, offered, exact=False)
    np.testing.assert_array_equal(every, full)
    n_states, n_levels = full.shape[:2]
    assert all_runs == n_states * n_levels * net.active_mask().sum() and runs < all_runs
    assert (full < 1).any()  # some slice misses its need at some level: the table says something
    reference = Network(slicesim.load_scenario(scenario, {"sim.engine": "reference"}), seed=4)
    reference.set_state(net.get_state())
    np.testing.assert_array_equal(reference.replay_levels(xs, states, loads)[0], full)


class NotMonotone(UserPsKpis):
    """The default physics, without the claim that r does not fall with the share."""

    monotone = False


def test_the_sweep_runs_every_level_where_r_may_fall_with_the_share():
    net = Network(slicesim.load_scenario("paper", {"sim.engine": "compiled"}), seed=4)
    net.kpi_model = NotMonotone()
    assert net.engine == "compiled"  # the physics is the compiled default's
    xs, states, loads = sweep_inputs(net, 70, draws=2)
    r, runs = net.replay_levels(xs, states, loads, exact=True)
    assert runs == r.shape[0] * r.shape[1] * net.active_mask().sum()
    with pytest.raises(ValueError, match="must not lower any share"):
        net.replay_levels(xs[::-1], states, loads)
