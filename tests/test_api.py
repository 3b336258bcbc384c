"""Agent and env APIs behave as Gymnasium and stable-baselines3 users expect."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.wrappers import FlattenObservation
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv

from agents import EqualAgent, IDLAAgent, IDLAPaperAgent, TD3Agent, TrafficAgent, run
from agents.adapters import SB3Policy
from agents.idla.ensemble import EnsembleConfig
from agents.idla.estimator import TrainConfig
from agents.td3 import TD3Config
from slicesim.envs import CellVecEnv, SlicingEnv, make_env

torch.set_num_threads(1)
SHORT = {"sim.window_s": 2.0, "timeline.n_periods": 12,
         "timeline.phases": [{"name": "H0", "start": 0, "slices": [1, 2, 4]},
                             {"name": "H1", "start": 6, "slices": [1, 2, 4]}]}  # fmt: skip


def test_load_is_a_classmethod_returning_a_ready_agent(tmp_path):
    td3 = TD3Agent(TD3Config(net_arch=(8,), batch_size=16, pretrain_gradient_steps=2))
    run(make_env("small", SHORT), td3, progress=False, seed=0)
    td3.save(tmp_path / "td3")
    loaded = TD3Agent.load(tmp_path / "td3")
    assert isinstance(loaded, TD3Agent) and loaded.model is not None and not loaded.learning
    idla = IDLAAgent(collect_periods=6, train=TrainConfig(target="utility", epochs=2))
    run(make_env("small", SHORT), idla, progress=False, seed=0)
    idla.save(tmp_path / "idla")
    ready = IDLAAgent.load(tmp_path / "idla")
    assert isinstance(ready, IDLAAgent) and ready.model is not None
    # a single MLP saved by an idla of that shape (slicesim 0.2's) loads with that shape and decides
    mlp = IDLAAgent(collect_periods=6, train=TrainConfig(epochs=2), ensemble=EnsembleConfig())
    run(make_env("small", SHORT), mlp, progress=False, seed=0)
    mlp.save(tmp_path / "mlp")
    loaded_mlp = IDLAAgent.load(tmp_path / "mlp")
    assert loaded_mlp.config.ensemble.plain
    traj = run(make_env("small", SHORT), loaded_mlp, progress=False, seed=1)
    np.testing.assert_allclose(traj.stacked("x").sum(axis=2), 1.0, atol=1e-6)
    with pytest.raises(FileNotFoundError, match=r"estimator model file .*estimator\.pt' does not"):
        IDLAAgent.load(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match=r"TD3 model file .*model\.zip' does not exist"):
        TD3Agent.load(tmp_path / "nothing")


@pytest.mark.parametrize("agent", [TrafficAgent(), EqualAgent()])
def test_evaluate_policy_through_the_adapter(agent):
    env = make_env("small", SHORT)
    venv = DummyVecEnv([lambda: env])
    venv.seed(3)
    mean, _ = evaluate_policy(SB3Policy(agent, env), venv, n_eval_episodes=1)
    reference = run(make_env("small", SHORT), agent, progress=False, seed=3)
    assert mean == pytest.approx(reference.utility.sum(), rel=1e-6)  # SB3 sums float32 rewards


@pytest.mark.parametrize("agent", [IDLAAgent(), TD3Agent()])
def test_act_before_reset_is_a_clear_error(agent):
    env = make_env("small", SHORT)
    obs, info = env.reset(seed=0)
    with pytest.raises(RuntimeError, match=r"has not been reset: call reset\(spec, seed\) first"):
        agent.act(obs, info)


def test_run_names_the_env_it_needs():
    with pytest.raises(ValueError, match="FlattenObservation changes them"):
        run(FlattenObservation(make_env("small", SHORT)), TrafficAgent())
    with pytest.raises(TypeError, match=r"needs a gymnasium SlicingEnv .* got CellVecEnv \(a per"):
        run(CellVecEnv(SlicingEnv("small", SHORT)), TrafficAgent())


def test_info_arrays_are_copies():
    env = SlicingEnv("small", SHORT)
    _, info = env.reset(seed=0)
    x = info["active_next"] / 3.0
    info["active_next"][:] = False  # a careless caller
    info["demand_next"][:] = 0.0
    _, _, _, _, step_info = env.step(x)
    assert step_info["active"].sum() == 9 and step_info["x"].sum() > 0
    step_info["active_next"][:] = False
    step_info["active"][:] = False
    _, _, _, _, after = env.step(x)
    assert after["active"].sum() == 9 and not after["slices_changed"]


def test_boolean_actions_and_flags_are_rejected():
    env = SlicingEnv("small", SHORT)
    _, info = env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action is a boolean array: give PRB shares as numbers"):
        env.step(info["active_next"])
    with pytest.raises(TypeError, match=r"strict = 'yes' must be a bool"):
        SlicingEnv("small", SHORT, strict="yes")  # type: ignore[arg-type]


def test_vec_env_reports_its_real_horizon():
    assert CellVecEnv(SlicingEnv("small", SHORT)).max_episode_steps == 12
    assert CellVecEnv(SlicingEnv("small", SHORT), max_episode_steps=50).max_episode_steps == 12
    assert CellVecEnv(SlicingEnv("small", SHORT), max_episode_steps=5).max_episode_steps == 5


def test_running_again_keeps_what_was_learned():
    agent = IDLAPaperAgent(collect_periods=6, train=TrainConfig(epochs=2))
    run(make_env("small", SHORT), agent, progress=False, seed=0)
    model = agent.model
    second = run(make_env("small", SHORT), agent, progress=False, seed=1)
    assert agent.model is model and second.series("learn_s").sum() < 0.05  # no new training
    assert second.meta["stats"]["learned"]
    run(make_env("small", SHORT), agent, progress=False, seed=1, fresh=True)
    assert agent.model is not model  # collected and trained anew
