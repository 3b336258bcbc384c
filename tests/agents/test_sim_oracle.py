"""The simulator oracles: above the floor, deterministic, never touching the live network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from agents import EqualAgent, OracleAgent, run
from agents.grid import best_levels
from agents.idla.estimator import TrainConfig
from agents.idla.oracle import grid_search
from agents.sim_oracle import SimOracleAgent, SimOracleHindsightAgent
from slicesim.envs import make_env
from tests.conftest import write_masks


def busy_paper(tmp_path, periods: int = 6, window_s: float = 5.0) -> dict:
    """``paper`` on a busy day (every mask at 1) with all four slices, short windows."""
    return {
        "traffic.masks_csv": str(write_masks(tmp_path / "busy.csv", 1.0)),
        "sim.window_s": window_s,
        "timeline.n_periods": periods,
        "timeline.phases": [{"name": "H2", "start": 0, "slices": [1, 2, 3, 4]}],
    }


def test_sim_oracle_beats_equal_shares_on_a_busy_day(tmp_path):
    # 10 s windows and K = 6 draws: with the calibrated radio a few indoor users at the cell edge
    # make a 5 s draw too noisy for 3 draws to tell the shares apart (+0.64 here, -0.08 with 3 x 5 s)
    config = busy_paper(tmp_path, window_s=10.0)
    equal = run(make_env("paper", config), EqualAgent(), progress=False, seed=0)
    oracle = SimOracleAgent(draws=6)
    chosen = run(make_env("paper", config), oracle, progress=False, seed=0)
    hindsight = run(make_env("paper", config), SimOracleHindsightAgent(), progress=False, seed=0)
    assert chosen.utility.mean() > equal.utility.mean() + 0.3
    assert hindsight.utility.mean() >= chosen.utility.mean()
    assert (hindsight.utility >= equal.utility - 1e-9).all()  # never below the floor it saw
    x, active = chosen.stacked("x"), chosen.stacked("active")
    np.testing.assert_allclose(x.sum(axis=2), 1.0)  # the whole cell, on the 0.05 grid
    assert (x[active] >= 0.05 - 1e-9).all() and np.allclose(x * 20, np.round(x * 20))


def test_same_seed_same_choices_and_the_live_network_untouched(tmp_path):
    config = busy_paper(tmp_path, periods=3)

    def choices(seed: int) -> np.ndarray:
        return run(make_env("paper", config), SimOracleAgent(draws=2), progress=False,
                   seed=seed).stacked("x")  # fmt: skip

    np.testing.assert_array_equal(choices(1), choices(1))
    env = make_env("paper", config)
    oracle = SimOracleAgent(draws=2)
    obs, info = env.reset(seed=4)
    oracle.reset(None, 4)  # type: ignore[arg-type]
    oracle.bind_simulator(env.unwrapped)
    net = env.unwrapped.net
    before = net.get_state()
    oracle.act(obs, info)
    after = net.get_state()
    assert after["period"] == before["period"] and after["rng"] == before["rng"]
    np.testing.assert_array_equal(after["cell_util"], before["cell_util"])


@pytest.mark.parametrize(("scenario", "overrides"), [("paper", {"sim.window_s": 5.0}),
                                                    ("small", {})])  # fmt: skip
def test_the_exact_sweep_decides_as_the_full_one(scenario, overrides):
    """search = exact (the levels above a slice's first r = 1 not run) and full pick the same
    shares with the same predicted utility, period after period, on fewer runs."""
    config = {**overrides, "timeline.n_periods": 40,
              "timeline.phases": [{"name": "H1", "start": 0, "slices": [1, 2, 3, 4]}]}  # fmt: skip
    shares, agents = {}, {}
    for search in ("exact", "full"):
        agents[search] = SimOracleAgent(draws=4, every=4, search=search)
        env = make_env(scenario, config)
        env.reset(seed=0)
        shares[search] = run(env, agents[search], progress=False, seed=0).stacked("x")
    np.testing.assert_array_equal(shares["exact"], shares["full"])
    assert agents["exact"].predicted == agents["full"].predicted
    assert 0 < agents["exact"].stats()["sweep_runs"] < 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"draws": 0}, r"draws = 0 is out of range: allowed \[1, 10000\]"),
        ({"search": "greedy"}, r"search = 'greedy' is unknown: allowed \['exact', 'full'\]"),
        ({"every": -2}, r"every = -2 is out of range: allowed \[1, 1e\+06\]"),
        ({"rounds": 0}, r"rounds = 0 is out of range: allowed \[1, 100\]"),
        ({"step": 0.3}, r"step must divide 1"),
    ],
)
def test_bad_oracle_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SimOracleAgent(**kwargs)


def test_oracle_without_a_bound_env_is_a_clear_error(tmp_path):
    env = make_env("small", {"sim.window_s": 2.0})
    obs, info = env.reset(seed=0)
    with pytest.raises(RuntimeError, match=r"replays the simulator: run it with agents\.run"):
        SimOracleAgent().act(obs, info)


class Saturated(nn.Module):
    """An estimator that predicts r = 1 at every share: every grid point ties."""

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return torch.ones(rows.shape[0], 1)


def test_ties_go_to_the_whole_cell_nearest_equal_shares():
    active = torch.tensor([[True, True, False, True], [True, True, True, True], [False] * 4])
    x = grid_search(Saturated(), torch.zeros(3, 4, 12), active)
    assert x[0, 2] == 0  # inactive; the others: 1/3 on the 0.05 grid (equidistant: any order)
    np.testing.assert_allclose(np.sort(x[0, [0, 1, 3]].numpy()), [0.3, 0.35, 0.35])
    np.testing.assert_allclose(x[1].numpy(), [0.25] * 4)
    assert (x[2] == 0).all()
    table = torch.zeros(1, 2, 21)
    table[0, 0, 0] = 5.0  # the best point gives slice 0 nothing: not allowed in a full search
    levels = best_levels(table, torch.tensor([[True, True]]))
    assert (levels > 0).all() and levels.sum() == 20


def test_estimator_oracle_never_starves_an_active_slice():
    agent = OracleAgent(train=TrainConfig(epochs=3))
    traj = run(make_env("small", {"sim.window_s": 2.0}), agent, progress=False, seed=0)
    x, active = traj.stacked("x")[20:], traj.stacked("active")[20:]
    assert (x[active] > 0).all()
    np.testing.assert_allclose(x.sum(axis=2), 1.0, atol=1e-6)


def test_moved_changes_one_slice_and_keeps_each_cells_sum():
    from agents.sim_oracle import moved

    active = np.array([[True, True, False, True], [True, True, True, True]])
    x = np.array([[0.5, 0.3, 0.0, 0.2], [0.25, 0.25, 0.25, 0.25]])
    up = moved(x, active, 1, 0.2)
    np.testing.assert_allclose(up.sum(axis=1), x.sum(axis=1))
    np.testing.assert_allclose(up[:, 1], [0.5, 0.45])
    np.testing.assert_allclose(up[0], [0.5 * 0.5 / 0.7, 0.5, 0.0, 0.2 * 0.5 / 0.7])
    down = moved(x, active, 3, -0.5)
    assert (down[:, 3] == 0).all() and (down >= 0).all() and not down[0, 2]


def test_sim_oracle_under_sharing_is_never_below_equal_shares_on_its_draws(tmp_path):
    """Under RRMPolicyRatio sharing the sweep runs isolated, candidates are scored under sharing
    and the local search only keeps what its replays find better: never below equal shares."""
    config = {**busy_paper(tmp_path, periods=3, window_s=5.0), "sim.slicing": "rrm_policy"}
    oracle = SimOracleHindsightAgent()
    chosen = run(make_env("paper", config), oracle, progress=False, seed=0)
    equal = run(make_env("paper", config), EqualAgent(), progress=False, seed=0)
    assert (chosen.utility >= equal.utility - 1e-9).all()
    assert oracle._sweeper is not None and oracle._sweeper.config.sim.slicing == "isolated"
    assert not np.allclose(chosen.stacked("x"), equal.stacked("x"))  # it searched and moved
