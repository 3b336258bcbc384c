"""The compiled epoch (slicesim.sim.kernel) gives the numpy path's numbers bit for bit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import slicesim
from slicesim.sim import Network, equal_split, kernel, run_periods

pytestmark = pytest.mark.skipif(not kernel.available(), reason="numba does not import")


@pytest.fixture
def restore() -> Iterator[None]:
    old = kernel.backend()
    yield
    kernel.use(old)


def both(run: Callable[[], Any]) -> tuple[Any, Any]:
    """``run()`` under the numpy path, then under the compiled one."""
    kernel.use("numpy")
    a = run()
    kernel.use("numba")
    return a, run()


def random_shares(net: Network, rng: np.random.Generator) -> np.ndarray:
    """Random shares of the active slices, some cells below a whole cell (budgets of 0 too)."""
    active = net.active_mask()
    raw = rng.random(active.shape) * active * (rng.random(active.shape) > 0.15)
    total = np.maximum(raw.sum(axis=1, keepdims=True), 1e-9)
    return raw / total * rng.uniform(0.5, 1.0, size=(len(raw), 1))


def kpi_trace(scenario: str, periods: int, start: int, seed: int = 5) -> np.ndarray:
    """Every KPI of ``periods`` periods from ``start`` on under random shares, stacked."""
    config = slicesim.load_scenario(scenario)
    net = Network(config, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(start):
        net.run_period(equal_split(net.active_mask()))
    rows = []
    for _ in range(periods):
        rep = net.run_period(random_shares(net, rng))
        rows.append(
            np.concatenate(
                [
                    np.ravel(getattr(rep, k))
                    for k in ("thr_mbps", "delay_ms", "prb_util", "cqi", "users")
                ]
            )
        )
    return np.array(rows)


@pytest.mark.parametrize(("scenario", "start"), [("small", 0), ("paper", 66)])
def test_run_period_is_the_same_bit_for_bit(restore: None, scenario: str, start: int) -> None:
    a, b = both(lambda: kpi_trace(scenario, 6, start))
    assert np.isfinite(a[~np.isnan(a)]).all() and a.size > 0
    np.testing.assert_array_equal(a, b)


def test_replays_with_copies_draws_and_frozen_loads_are_the_same(restore: None) -> None:
    """The oracles' replays: several copies on several draws, with and without frozen loads,
    including a copy whose budgets overbook and one with zero budgets."""
    config = slicesim.load_scenario("paper")
    net = Network(config, seed=3)
    for _ in range(70):  # a busy hour of the compressed day
        net.run_period(equal_split(net.active_mask()))
    state = net.get_state()
    states = []
    for k in range(5):
        rng = np.random.default_rng([3, k])
        states.append({**state, "rng": rng.bit_generator.state})
    active = net.active_mask()
    rng = np.random.default_rng(0)
    xs = np.stack([random_shares(net, rng) for _ in range(3)] + [active * 0.6, active * 0.0])

    def replays() -> list[np.ndarray]:
        free = net.replay(xs, states=states)
        frozen = net.replay(xs, states=states, frozen_util=free.cell_util[:, 0])
        return [free.r, free.cell_util, frozen.r, frozen.kpis["thr_mbps"], frozen.kpis["delay_ms"]]

    a, b = both(replays)
    assert (a[0] < 1).any() and (a[0] > 0).any()  # contested: the water-filling runs
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_replicas_in_one_pass_are_the_same(restore: None) -> None:
    config = slicesim.load_scenario("small")

    def replicas() -> np.ndarray:
        nets = [Network(config, seed=s) for s in (1, 2, 3)]
        rng = np.random.default_rng(9)
        out = []
        for _ in range(4):
            reports = run_periods(nets, [random_shares(n, rng) for n in nets])
            out.append(np.stack([np.nan_to_num(r.thr_mbps, nan=-1.0) for r in reports]))
        return np.array(out)

    a, b = both(replicas)
    np.testing.assert_array_equal(a, b)


def test_backend_names_are_checked(restore: None) -> None:
    with pytest.raises(ValueError, match="kernel backend 'fortran': allowed 'numba' or 'numpy'"):
        kernel.use("fortran")
    assert kernel.use("numpy") in ("numba", "numpy")
    assert kernel.backend() == "numpy"


@pytest.mark.parametrize("seed", range(4))
def test_one_epoch_on_hard_inputs_is_the_same(seed: int) -> None:
    """One epoch of synthetic users against :func:`epoch_step`: crowded groups with huge
    backlogs (water-filling and capped busy shares everywhere), zero budgets, absent rows."""
    from slicesim.sim.window import _PER_COPY, _SHARED, EpochUsers, epoch_step

    world = Network(slicesim.load_scenario("small"), seed=1).world
    rng = np.random.default_rng(seed)
    copies, draws, n = 3, 2, 400
    groups = world.n_groups
    draw = np.sort(rng.integers(0, draws, n))
    group = rng.integers(0, groups, n)
    base = group + draw * copies * groups
    n_all = draws * copies * groups
    present = rng.random(n) < 0.8
    slices = group % world.n_slices
    counts = rng.poisson(rng.choice([0.2, 3.0, 30.0], n)) * 1.0
    backlog = rng.exponential(rng.choice([1e3, 1e6, 1e8], (copies, n))) * present
    budget = np.floor(rng.choice([0.0, 1.0, 3.0, 25.0], n_all))
    users = EpochUsers(
        present=present,
        slice=slices,
        group=group,
        flat=(base + (np.arange(copies) * groups)[:, None]).ravel(),
        n_flat=n_all,
        own=rng.exponential(1e-9, n),
        interference=rng.exponential(1e-10, (copies, n)),
        counts=counts,
        backlog=backlog,
    )
    ref = epoch_step(world, users, budget)
    assert (ref.used > 1 - 1e-9).sum() > 10  # many saturated groups: water-filling ran
    sums = np.zeros((len(_PER_COPY) * copies + len(_SHARED), n))
    state = backlog.copy()
    burst = world.burst_bits[slices]
    used = kernel.epoch_user_ps(
        base,
        groups,
        n_all,
        budget,
        ref.prb_bps,
        ref.cqi,
        present,
        burst * counts * present,
        burst,
        world.offered_bps[slices] * world.sim.buffer_s,
        np.arange(n),
        state,
        sums,
        world.sim.epoch_s,
        world.sim.buffer_s,
    )
    np.testing.assert_array_equal(used, ref.used)
    np.testing.assert_array_equal(state[:, present], ref.backlog[:, present])
    for k, name in enumerate(_PER_COPY):
        want = np.broadcast_to(ref.values[name], (copies, n))
        np.testing.assert_array_equal(sums[k * copies : (k + 1) * copies], want)
    for k, name in enumerate(_SHARED, start=len(_PER_COPY) * copies):
        np.testing.assert_array_equal(sums[k], np.reshape(ref.values[name], n))
