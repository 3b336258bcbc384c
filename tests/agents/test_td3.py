"""Cell-wise TD3: action map, config, online schedule through ``run``, offline CLI training."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch

from agents import TD3Agent, run
from agents.td3 import TD3Config
from agents.td3.vec_env import to_shares
from slicesim.cli import main
from slicesim.config import ConfigError, load_scenario
from slicesim.envs import make_env

torch.set_num_threads(1)

# small (3 cells), 2 s windows; H0 collect [0, 10), H1 [10, 20), slice id 3 joins at 20
TIMELINE = {"sim.window_s": 2.0, "timeline.n_periods": 30,
            "timeline.phases": [{"name": "H0", "start": 0, "slices": [1, 2, 4]},
                                {"name": "H1", "start": 10, "slices": [1, 2, 4]},
                                {"name": "H2", "start": 20, "slices": [1, 2, 3, 4]}]}  # fmt: skip
TINY = TD3Config(net_arch=(32, 32), batch_size=24, pretrain_gradient_steps=20,
                 online_gradient_steps=2, noise_decay_periods=5)  # fmt: skip
TRAIN = ["train", "td3", "--scenario", "small", "--set", "sim.window_s=2.0", "--quiet",
         "--checkpoint-every", "60", "--eval-every", "90", "--eval-periods", "4"]  # fmt: skip


def online(seed: int, config: TD3Config = TINY) -> tuple[TD3Agent, np.ndarray, list[float]]:
    agent = TD3Agent(config, collect_periods=10)
    traj = run(make_env("small", TIMELINE), agent, progress=False, seed=seed)
    return agent, traj.stacked("action"), traj.utility


def test_to_shares_masks_and_normalises():
    weights = np.array([[0.2, 0.6, 0.9, 0.2], [0.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5]])
    active = np.array([[1, 1, 0, 1], [1, 0, 1, 1], [0, 0, 0, 0]], dtype=bool)
    x = to_shares(weights, active)
    np.testing.assert_allclose(x[0], [0.2, 0.6, 0.0, 0.2])
    np.testing.assert_allclose(x[1], [1 / 3, 0.0, 1 / 3, 1 / 3])  # all-zero weights: equal shares
    assert np.all(x[2] == 0)


def test_config_file_errors_and_defaults(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert TD3Config.from_yaml(empty) == TD3Config()  # the dataclass holds the only defaults
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rate: 0.001\nbatch: 64\n")
    with pytest.raises(ConfigError, match=r"TD3 config: unknown key\(s\) \['batch'\]"):
        TD3Config.from_yaml(bad)
    with pytest.raises(ConfigError, match=r"gamma = 1.5 is out of range: allowed \[0, 1\]"):
        TD3Config(gamma=1.5)
    with pytest.raises(
        ConfigError, match=r"on_slice_change = 'drop' is unknown: allowed \['clear', 'keep'\]"
    ):
        TD3Config(on_slice_change="drop")
    with pytest.raises(
        ConfigError, match=r"net_arch = \(64, 0\) is out of range: allowed \[1, 100000\]"
    ):
        TD3Config(net_arch=(64, 0))
    with pytest.raises(FileNotFoundError, match=r"TD3 config file .*nope\.yaml' does not exist"):
        TD3Config.from_yaml(tmp_path / "nope.yaml")


def test_compress_timeline_keeps_every_phase():
    paper = load_scenario("paper").compressed(500)
    assert paper.timeline.n_periods == 500
    assert [p.start for p in paper.timeline.phases] == [0, 100, 300]


def test_online_schedule_valid_shares_and_slice_change(tmp_path):
    agent, actions, _ = online(seed=1)
    model = agent.model
    assert model is not None and model.replay_buffer is not None
    assert agent.stats()["slice_changes"] == [20]
    assert model.num_timesteps == 30 * 3 and model.replay_buffer.size() == 30  # keep: all stays
    # pretrain after period 9 (end of H0), then 2 a period
    assert agent.stats()["gradient_steps"] == 20 + 21 * 2
    sums = actions.sum(axis=2)
    np.testing.assert_allclose(sums, 1.0, atol=1e-9)
    assert np.all(actions[:20, :, 2] == 0) and np.all(actions[20:, :, 2] > 0)
    cleared, _, _ = online(
        seed=1, config=TD3Config(**{**TINY.__dict__, "on_slice_change": "clear"})
    )
    assert cleared.model.replay_buffer.size() == 10  # emptied at period 20, refilled since
    agent.save(tmp_path)
    fresh = TD3Agent.load(tmp_path)
    assert fresh.config == TINY  # td3.yaml saved beside the model
    again = [run(make_env("small", TIMELINE), fresh, periods=4, progress=False, seed=5)
             for _ in range(2)]  # fmt: skip
    assert fresh.model.num_timesteps == model.num_timesteps  # acts, does not learn
    np.testing.assert_array_equal(again[0].stacked("action"), again[1].stacked("action"))


def test_same_seed_same_actions_and_rewards():
    _, actions_a, utility_a = online(seed=4)
    _, actions_b, utility_b = online(seed=4)
    np.testing.assert_array_equal(actions_a, actions_b)
    np.testing.assert_array_equal(utility_a, utility_b)
    _, actions_c, _ = online(seed=5)
    assert not np.array_equal(actions_a, actions_c)


def test_train_cli_resumes_from_its_checkpoint_and_the_result_runs(tmp_path, tiny_yaml):
    out = tmp_path / "td3"
    common = [*TRAIN, "--out", str(out), "--config", tiny_yaml]
    assert main([*common, "--steps", "150"]) == 0  # "interrupted" at 150 timesteps (50 periods)
    latest = out / "checkpoints" / "latest.json"
    first = json.loads(latest.read_text())
    assert first["num_timesteps"] == 150 and (out / "checkpoints" / "model_60.zip").is_file()
    assert main([*common, "--steps", "300", "--resume"]) == 0
    second = json.loads(latest.read_text())
    assert second["num_timesteps"] == 300 > first["num_timesteps"]
    assert (out / "checkpoints" / "model_210.zip").is_file()  # continued 150 -> 210, no restart
    assert not (out / "checkpoints" / first["replay_buffer"]).exists()  # only the latest buffer
    evals = (out / "evaluations.csv").read_text().splitlines()
    assert evals[0] == "timesteps,mean_utility,mean_cell_reward"
    assert [row.split(",")[0] for row in evals[1:]] == ["90", "240"]  # the resumed run appends
    agent = TD3Agent.load(out)
    assert agent.model is not None and agent.model.num_timesteps == 300
    traj = run(make_env("small", TIMELINE), agent, periods=25, progress=False, seed=0)
    x, active = traj.stacked("x"), traj.stacked("active")
    assert np.all(x[~active] == 0) and np.allclose(x.sum(axis=2), 1.0)


def test_train_cli_collects_from_replicas_and_the_model_runs_on_one_network(tmp_path, tiny_yaml):
    out = tmp_path / "td3-replicas"
    args = [*TRAIN, "--out", str(out), "--config", tiny_yaml, "--steps", "180", "--replicas", "3"]
    assert main(args) == 0
    first = json.loads((out / "checkpoints" / "latest.json").read_text())
    assert first["num_timesteps"] == 180  # 20 periods x 3 replicas x 3 cells
    agent = TD3Agent.load(out)
    assert agent.model is not None and agent.model.n_envs == 9  # trained on 3 x 3 cells
    traj = run(make_env("small", TIMELINE), agent, periods=12, progress=False, seed=0)
    x, active = traj.stacked("x"), traj.stacked("active")
    assert np.all(x[~active] == 0) and np.allclose(x.sum(axis=2), 1.0)


def test_train_cli_errors(tmp_path, tiny_yaml, capsys):
    out = str(tmp_path / "td3")
    assert main([*TRAIN, "--out", out, "--steps", "30", "--resume"]) == 2
    assert "--resume: no checkpoint in" in capsys.readouterr().err
    assert main([*TRAIN, "--out", out, "--steps", "30", "--config", tiny_yaml]) == 0
    assert main([*TRAIN, "--out", out, "--steps", "60", "--config", tiny_yaml]) == 2
    assert "has checkpoints: pass --resume or another --out" in capsys.readouterr().err
    assert main([*TRAIN, "--out", out, "--steps", "30", "--set", "sim.window_s"]) == 2
    assert "--set 'sim.window_s': expected KEY=V1,V2,..." in capsys.readouterr().err
    if importlib.util.find_spec("tensorboard") is None:
        assert main([*TRAIN, "--out", out, "--steps", "30", "--tensorboard", out]) == 2
        assert "--tensorboard needs the tensorboard package" in capsys.readouterr().err


def test_paper_variant_rebuilds_its_networks_when_the_slice_set_changes():
    from agents import TD3PaperAgent

    config = TD3Config(net_arch=(16,), batch_size=24, pretrain_gradient_steps=5,
                       online_gradient_steps=1, reexplore_periods=4)  # fmt: skip
    early = TD3PaperAgent(config, collect_periods=10)
    run(make_env("small", TIMELINE), early, periods=16, progress=False, seed=0)  # before slice 3
    before = early.model
    assert before.observation_space.shape == (3 * 15,) and before.action_space.shape == (3,)
    agent = TD3PaperAgent(config, collect_periods=10)
    traj = run(make_env("small", TIMELINE), agent, progress=False, seed=0)
    after = agent.model
    assert after.observation_space.shape == (4 * 15,) and after.action_space.shape == (4,)
    stats = agent.stats()  # rebuilt at 20, re-explored 4, trained
    assert stats["slice_changes"] == [20] and stats["learned"]
    x = traj.stacked("x")
    np.testing.assert_allclose(x.sum(axis=2), 1.0)
    assert np.all(x[20:, :, 2] > 0)  # the new slice has PRBs at once (random, then learned)
