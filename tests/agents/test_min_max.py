"""The ``min_max`` action (``sim.rrm_action``): a minimum and a maximum per slice under
RRMPolicyRatio sharing, through the env's checks, TD3 (online and ``train``) and the runner."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from agents import EqualAgent, TD3Agent, TD3PaperAgent, run
from agents.td3 import TD3Config
from agents.td3.vec_env import to_action
from slicesim.cli import main
from slicesim.envs import make_env
from slicesim.rollout import Trajectory

torch.set_num_threads(1)

MIN_MAX = {"sim.slicing": "rrm_policy", "sim.rrm_action": "min_max", "sim.window_s": 2.0,
           "timeline.n_periods": 30,
           "timeline.phases": [{"name": "H0", "start": 0, "slices": [1, 2, 4]},
                               {"name": "H1", "start": 10, "slices": [1, 2, 4]},
                               {"name": "H2", "start": 20, "slices": [1, 2, 3, 4]}]}  # fmt: skip
TINY = TD3Config(net_arch=(32, 32), batch_size=24, pretrain_gradient_steps=20,
                 online_gradient_steps=2, noise_decay_periods=5)  # fmt: skip


def test_env_takes_a_minimum_and_a_maximum_and_passes_gymnasiums_checks():
    env = make_env("small", MIN_MAX)
    assert env.action_space.shape == (3, 4, 2)
    check_env(env.unwrapped, skip_render_check=True)
    env.reset(seed=0)
    active = env.unwrapped.decision_info()["active_next"]
    low = np.where(active, 0.2, 0.0)
    action = np.stack([low, np.where(active, 0.1, 0.0)], axis=-1)  # maximum below the minimum
    _, _, _, _, info = env.step(action)
    np.testing.assert_array_equal(info["x"][..., 1], low)  # taken as the minimum
    with pytest.raises(ValueError, match=r"expected \(n_cells, n_slices, 2\) = \(3, 4, 2\)"):
        env.step(low)
    bad = action.copy()
    bad[1, 0, 1] = np.nan
    with pytest.raises(ValueError, match=r"action maximum\[1, 0\] \(cell 1, slice id 1\)"):
        env.step(bad)
    over = np.stack([np.where(active, 0.6, 0.0), np.ones(active.shape)], axis=-1)
    _, _, _, _, info = env.step(over)  # minimums over 1: rescaled (the env is not strict)
    assert info["action_rescaled"].all()
    np.testing.assert_allclose(info["x"][..., 0].sum(axis=1), 1.0)
    strict = make_env("small", MIN_MAX, strict=True)
    strict.reset(seed=0)
    with pytest.raises(ValueError, match=r"action minimum: shares of cell 0 sum to 1\.8"):
        strict.step(over)


def test_to_action_gives_minimums_that_sum_to_one_and_maximums_above_them():
    active = np.array([[True, True, False, True]])
    weights = np.array([[0.5, 0.25, 0.9, 0.25, 0.1, 0.9, 0.9, 0.0]])
    action = to_action(weights, active, pair=True)
    np.testing.assert_allclose(action[..., 0], [[0.5, 0.25, 0.0, 0.25]])
    np.testing.assert_allclose(action[..., 1], [[0.5, 0.9, 0.0, 0.25]])


@pytest.mark.parametrize("cls", [TD3Agent, TD3PaperAgent])
def test_td3_learns_and_acts_with_min_max_actions(cls):
    agent = cls(TINY, collect_periods=10)
    traj = run(make_env("small", MIN_MAX), agent, progress=False, seed=1)
    assert traj.pair and agent.stats()["gradient_steps"] > 0
    low, high = traj.stacked("x"), traj.stacked("x_max")
    active = traj.stacked("active")
    np.testing.assert_allclose(low.sum(axis=2), 1.0, atol=1e-6)
    assert np.all(high[active] >= low[active]) and np.all(high[~active] == 0)
    assert not np.allclose(high[active], 1.0)  # the maximum is the agent's, not the default


def test_one_share_agents_run_with_their_share_as_the_minimum(tmp_path):
    traj = run(make_env("small", MIN_MAX), EqualAgent(), periods=3, progress=False, seed=2)
    active = traj.stacked("active")
    np.testing.assert_array_equal(traj.stacked("x_max"), active.astype(float))
    traj.save(tmp_path)
    back = Trajectory.load(tmp_path)
    assert back.pair
    np.testing.assert_array_equal(back.stacked("x_max"), traj.stacked("x_max"))


def test_train_cli_trains_td3_on_min_max_actions(tmp_path, tiny_yaml):
    out = tmp_path / "td3"
    args = ["train", "td3", "--scenario", "small", "--quiet", "--out", str(out),
            "--set", "sim.window_s=2.0", "--set", "sim.slicing=rrm_policy",
            "--set", "sim.rrm_action=min_max", "--steps", "120", "--config", tiny_yaml,
            "--eval-every", "1000", "--checkpoint-every", "1000"]  # fmt: skip
    assert main(args) == 0
    agent = TD3Agent.load(out)
    assert agent.model.action_space.shape == (8,)
    traj = run(make_env("small", MIN_MAX), agent, periods=2, progress=False, seed=3)
    assert traj.stacked("x_max").shape == (2, 3, 4)


@pytest.mark.parametrize("action", ["min", "max"])
def test_one_share_agents_run_under_each_mapping_of_a_share(action):
    from slicesim.experiments.registry import make_agent

    config = {**MIN_MAX, "sim.rrm_action": action}
    agents = {"equal": None, "traffic": None, "idla": {"train.epochs": 5},
              "sim-oracle": {"draws": 3}}  # fmt: skip
    for name, settings in agents.items():
        traj = run(make_env("small", config), make_agent(name, settings), progress=False, seed=1)
        x, active = traj.stacked("x"), traj.stacked("active")
        assert len(traj) == 30 and not traj.pair, name
        assert np.all(x.sum(axis=2) <= 1 + 1e-6) and np.all(x[~active] == 0), name
        assert np.all(np.isfinite(traj.utility)), name
