"""IDLA and the oracle online: collect, train once, optimise, survive a slice change."""

from __future__ import annotations

import numpy as np
import pytest

from agents import IDLAAgent, IDLAPaperAgent, OracleAgent, run
from agents.base import SlicingSpec
from agents.idla.config import ESTIMATOR, OnlineConfig
from agents.idla.ensemble import EnsembleConfig
from agents.idla.estimator import TrainConfig
from slicesim.envs import make_env

TIMELINE = {"sim.window_s": 5.0, "timeline.n_periods": 40,
            "timeline.phases": [{"name": "H0", "start": 0, "slices": [1, 2, 4]},
                                {"name": "H1", "start": 25, "slices": [1, 2, 4]},
                                {"name": "H2", "start": 32, "slices": [1, 2, 3, 4]}]}  # fmt: skip


@pytest.mark.parametrize("cls", [IDLAPaperAgent, OracleAgent])
def test_collect_train_optimise_and_adapt_without_retraining(cls, tmp_path):
    agent = cls(train=TrainConfig(epochs=5))
    env = make_env("small", TIMELINE)
    traj = run(env, agent, progress=False, seed=2)
    x, active = traj.stacked("x"), traj.stacked("active")
    stats = agent.stats()
    # collected (explored) in H0 only, trained once after it: no retraining at the change
    assert stats["learned"] and stats["samples"] == 25 * 3 * 3 and stats["refreshes"] == 0
    assert np.all(x >= 0) and np.all(x.sum(axis=2) <= 1 + 1e-6)
    assert np.all(x[~active] == 0)
    assert x[32:, :, 2].sum() > 0  # the new slice gets PRBs
    agent.save(tmp_path)
    fresh = cls.load(tmp_path)
    again = run(make_env("small", TIMELINE), fresh, periods=3, progress=False, seed=2)
    decided_at_once = len(fresh.buffer) == 0
    assert len(again) == 3 and fresh.schedule.period == 3 and decided_at_once


def test_ours_keeps_learning_starts_a_new_slice_safely_and_gives_it_prbs():
    online = OnlineConfig(refresh_every=4, refresh_epochs=2, safe_hours=1.5, trust=0.2)  # 3 periods
    agent = IDLAAgent(train=TrainConfig(target="utility", epochs=5), online=online)
    traj = run(make_env("small", TIMELINE), agent, progress=False, seed=2)
    x, active = traj.stacked("x"), traj.stacked("active")
    assert agent.refreshes >= 3 and len(agent.buffer) == 32 * 3 * 3 + 8 * 3 * 4  # every sample
    np.testing.assert_allclose(x[32:35], np.where(active[32:35], 0.25, 0.0))  # safe start
    assert (x[35:][active[35:]] > 0).all()  # the new slice has PRBs in every cell, as all do
    assert np.all(np.abs(x[25:32] - np.where(active[25:32], 1 / 3, 0)) <= 0.2 + 1e-6)  # trust
    np.testing.assert_allclose(x[25:].sum(axis=2), 1.0, atol=1e-6)


def test_same_seed_same_decisions():
    def actions(seed):
        agent = IDLAAgent(collect_periods=10, train=TrainConfig(target="utility", epochs=3))
        env = make_env("small", {**TIMELINE, "timeline.n_periods": 14})
        return run(env, agent, progress=False, seed=seed).stacked("action")

    np.testing.assert_array_equal(actions(4), actions(4))


@pytest.mark.parametrize(
    ("ensemble", "inputs"),
    [
        # H = 3 past periods: users and CQI 2 * 3, the last period's load, thr*, d*; and the share
        (ESTIMATOR, 1 + 2 * 3 + 1 + 2),
        (EnsembleConfig(), 1 + 2 * 3 + 2),  # the paper's MLP: no load input
    ],
)
def test_the_context_width_follows_the_env_history(ensemble, inputs):
    agent = IDLAAgent(
        collect_periods=10, train=TrainConfig(target="utility", epochs=3), ensemble=ensemble
    )
    env = make_env("small", {**TIMELINE, "timeline.n_periods": 14}, history=3)
    traj = run(env, agent, progress=False, seed=1)
    assert agent.estimator.n_inputs == inputs and agent.buffer.arrays()[0].shape[1] == inputs
    np.testing.assert_allclose(traj.stacked("x")[10:].sum(axis=2), 1.0, atol=1e-6)


def test_ours_acts_after_the_slice_change_on_small():
    # small's H2 is 16 periods of 30 min: a 6 h hold would leave 4 of them; it is bounded to half
    traj = run(make_env("small"), IDLAAgent(), seed=0, progress=False)
    x, active = traj.stacked("x"), traj.stacked("active")
    equal = np.where(active, 1 / active.sum(axis=2, keepdims=True), 0.0)
    moved = np.abs(x - equal).max(axis=(1, 2)) > 1e-6
    h2 = traj.periods >= 32
    assert not moved[h2][:8].any()  # the safe start: 8 periods of equal shares
    assert moved[h2][8:].all()  # then its own shares, in every remaining period


@pytest.mark.parametrize(
    ("scenario", "overrides", "change", "hold"),
    [
        ("paper", {}, 3000, 24),  # 6 h of 15-min periods; H2 is 2000 periods
        ("small", {}, 32, 8),  # 12 periods of 30 min would cover 3/4 of the 16-period H2
        ("small", {"sim.period_s": 3600.0}, 32, 6),  # hours, not periods
        ("small", {}, 47, 0),  # a change at the last period: no hold
    ],
)
def test_the_safe_start_is_in_hours_and_never_a_whole_phase(scenario, overrides, change, hold):
    spec = SlicingSpec.from_env(make_env(scenario, overrides))
    agent, off = IDLAAgent(), IDLAAgent(online=OnlineConfig(safe_hours=0))
    for a in (agent, off):
        a.reset(spec, seed=0)
    assert agent.safe_periods(change) == hold
    assert off.safe_periods(change) == 0
