"""Per-cell views: the stable-baselines3 VecEnv and the PettingZoo ParallelEnv."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import TimeLimit
from pettingzoo.test import parallel_api_test
from stable_baselines3 import PPO
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import VecEnv

import slicesim.envs
from slicesim.envs import SlicingEnv, env_id
from slicesim.envs.views import CellParallelEnv, CellVecEnv

# small (3 cells) in 4-period episodes; slice id 3 joins at period 2
SHORT = {
    "timeline.n_periods": 4,
    "timeline.phases": [
        {"name": "H0", "start": 0, "slices": [1, 2, 4]},
        {"name": "H2", "start": 2, "slices": [1, 2, 3, 4]},
    ],
    "sim.window_s": 2.0,
}
FLAT = 4 * 16  # max_slices * F


def test_views_are_exported_lazily() -> None:
    assert slicesim.envs.CellVecEnv is CellVecEnv
    assert slicesim.envs.CellParallelEnv is CellParallelEnv
    with pytest.raises(AttributeError):
        _ = slicesim.envs.NoSuchView


# ---------------------------------------------------------------- SB3 VecEnv


def test_vecenv_shapes_rewards_and_cell_infos() -> None:
    venv = CellVecEnv(scenario="small", config=SHORT)
    assert isinstance(venv, VecEnv) and venv.num_envs == 3
    assert venv.observation_space.shape == (FLAT,) and venv.action_space.shape == (4,)
    venv.seed(11)
    obs = venv.reset()
    assert obs.shape == (3, FLAT) and obs.dtype == np.float32
    assert venv.reset_infos[0]["period"] == 0 and venv.reset_infos[2]["active"].shape == (4,)
    obs, rewards, dones, infos = venv.step(np.full((3, 4), 1 / 3, np.float32))
    assert obs.shape == (3, FLAT) and rewards.shape == (3,) and rewards.dtype == np.float32
    assert dones.tolist() == [False] * 3 and len(infos) == 3
    assert all(obs[c] in venv.observation_space for c in range(3))
    for c, info in enumerate(infos):
        assert info["cell_reward"] == info["r"][info["active"]].min()
        assert rewards[c] == np.float32(info["cell_reward"])  # SB3 rewards are float32
        assert info["kpi"]["users"].shape == (4,) and info["period"] == 0


def test_vecenv_matches_the_env_with_the_same_seed() -> None:
    venv = CellVecEnv(scenario="small", config=SHORT)
    env = SlicingEnv("small", SHORT)
    venv.seed(5)
    obs_v = venv.reset()
    obs_e, _ = env.reset(seed=5)
    np.testing.assert_array_equal(obs_v, obs_e.reshape(3, -1))
    action = np.full((3, 4), 0.3, np.float32)
    obs_v, rewards, _, _ = venv.step(action)
    obs_e, _, _, _, info = env.step(action)
    np.testing.assert_array_equal(obs_v, obs_e.reshape(3, -1))
    np.testing.assert_array_equal(rewards, info["cell_reward"].astype(np.float32))


def test_vecenv_auto_resets_at_the_episode_end() -> None:
    venv = CellVecEnv(scenario="small", config=SHORT)
    env = SlicingEnv("small", SHORT)  # the same episode, stepped directly
    venv.seed(0)
    venv.reset()
    env.reset(seed=0)
    action = np.full((3, 4), 0.25, np.float32)
    for _ in range(3):
        _, _, dones, _ = venv.step(action)
        env.step(action)
        assert not dones.any()
    obs, _, dones, infos = venv.step(action)
    last_obs, *_ = env.step(action)
    assert dones.all()
    for c, info in enumerate(infos):
        np.testing.assert_array_equal(info["terminal_observation"], last_obs[c].ravel())
        assert info["TimeLimit.truncated"] is True
        assert info["period"] == 3
    assert np.all(obs.reshape(3, 4, 16)[..., 3:] == 0)  # reset: no KPIs or history yet
    assert venv.reset_infos[0]["period"] == 0
    _, _, dones, infos = venv.step(action)
    assert not dones.any() and infos[0]["period"] == 0


def test_vecenv_attribute_methods_act_on_the_shared_env() -> None:
    env = Monitor(gym.make(env_id("small"), config=SHORT))
    venv = CellVecEnv(env)
    assert venv.max_episode_steps == 4
    assert venv.get_attr("n_cells") == [3, 3, 3]
    assert venv.get_attr("strict", indices=[1]) == [False]
    venv.set_attr("strict", True)
    assert env.unwrapped.strict is True  # type: ignore[attr-defined]
    assert venv.env_is_wrapped(Monitor) == [True] * 3
    assert venv.env_is_wrapped(TimeLimit) == [False] * 3  # the env owns its horizon
    assert venv.env_method("get_wrapper_attr", "n_slices", indices=0) == [4]
    assert venv.has_attr("feature_names")


def test_vecenv_rejects_other_envs_and_mixed_arguments() -> None:
    with pytest.raises(TypeError, match="must wrap a SlicingEnv"):
        CellVecEnv(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="either env or SlicingEnv arguments"):
        CellVecEnv(SlicingEnv("small"), scenario="small")


def test_vecenv_render_returns_the_shared_picture() -> None:
    venv = CellVecEnv(scenario="small", config=SHORT, render_mode="rgb_array")
    venv.reset()
    img = venv.render()
    assert img is not None and img.dtype == np.uint8 and img.shape[2] == 3


def test_ppo_trains_a_shared_cell_policy_on_the_vecenv() -> None:
    venv = CellVecEnv(scenario="small", config=SHORT)
    model = PPO("MlpPolicy", venv, n_steps=8, batch_size=12, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=48)
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert action.shape == (3, 4)


# ---------------------------------------------------------------- PettingZoo ParallelEnv


def test_parallel_api_test_passes() -> None:
    env = CellParallelEnv(scenario="small", config=SHORT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(env, num_cycles=10)


def test_parallel_env_gives_each_cell_its_own_obs_and_reward() -> None:
    env = CellParallelEnv(scenario="small", config=SHORT)
    assert env.possible_agents == ["cell_0", "cell_1", "cell_2"]
    obs, infos = env.reset(seed=2)
    full = env.state()
    for c, agent in enumerate(env.agents):
        np.testing.assert_array_equal(obs[agent], full[c].ravel())
        assert infos[agent]["active"].shape == (4,)
    actions = {a: np.full(4, 0.3, np.float32) for a in env.agents}
    obs, rewards, terms, truncs, infos = env.step(actions)
    for c, agent in enumerate(env.possible_agents):
        assert rewards[agent] == infos[agent]["cell_reward"]
        np.testing.assert_array_equal(obs[agent], env.state()[c].ravel())
    assert not any(terms.values()) and not any(truncs.values())
    for _ in range(3):
        obs, rewards, terms, truncs, infos = env.step(actions)
    assert all(truncs.values()) and not any(terms.values()) and env.agents == []
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step(actions)


def test_parallel_env_requires_every_live_agent_to_act() -> None:
    env = CellParallelEnv(scenario="small", config=SHORT)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"missing agents \['cell_2'\], unknown agents \['x'\]"):
        env.step({"cell_0": np.zeros(4), "cell_1": np.zeros(4), "x": np.zeros(4)})
    bad = {a: np.zeros(4) for a in env.agents}
    bad["cell_1"] = np.array([0.1, np.nan, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"action\[1, 1\] \(cell 1, slice id 2\) is nan"):
        env.step(bad)
    bad["cell_1"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"action of cell_1 has shape \(3,\), expected"):
        env.step(bad)
