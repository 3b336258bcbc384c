"""IDLA and the oracle online: collect, train once, optimise, survive a slice change."""

from __future__ import annotations

import numpy as np
import pytest

from agents import IDLAAgent, OracleAgent, run
from agents.idla.estimator import TrainConfig
from slicesim.envs import make_env

TIMELINE = {"sim.window_s": 5.0, "timeline.n_periods": 40,
            "timeline.phases": [{"name": "H0", "start": 0, "slices": [1, 2, 4]},
                                {"name": "H1", "start": 25, "slices": [1, 2, 4]},
                                {"name": "H2", "start": 32, "slices": [1, 2, 3, 4]}]}  # fmt: skip


@pytest.mark.parametrize("cls", [IDLAAgent, OracleAgent])
def test_collect_train_optimise_and_adapt_without_retraining(cls, tmp_path):
    agent = cls(train=TrainConfig(epochs=5))
    env = make_env("small", TIMELINE)
    models = []
    original = agent.decide

    def spy(obs, active):
        models.append(agent.model)
        return original(obs, active)

    agent.decide = spy
    traj = run(env, agent, progress=False, seed=2)
    x, active = traj.stacked("x"), traj.stacked("active")
    assert len(models) == 40 - 25  # decides from H1 on; collected (explored) in H0
    assert len(agent.buffer) == 25 * 3 * 3 and agent.report is not None
    assert all(m is models[0] for m in models)  # trained once: no retraining at the change
    assert np.all(x >= 0) and np.all(x.sum(axis=2) <= 1 + 1e-6)
    assert np.all(x[~active] == 0)
    assert np.all(x[32:, :, 2] >= 0) and x[32:, :, 2].sum() > 0  # the new slice gets PRBs
    agent.save(tmp_path)
    fresh = cls.load(tmp_path)
    again = run(make_env("small", TIMELINE), fresh, periods=3, progress=False, seed=2)
    assert len(again) == 3 and fresh.steps == 3 and len(fresh.buffer) == 0  # decides at once


def test_same_seed_same_decisions():
    def actions(seed):
        agent = IDLAAgent(collect_periods=10, train=TrainConfig(epochs=3))
        env = make_env("small", {**TIMELINE, "timeline.n_periods": 14})
        return run(env, agent, progress=False, seed=seed).stacked("action")

    np.testing.assert_array_equal(actions(4), actions(4))
