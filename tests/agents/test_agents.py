"""The agent interface, the runner, the traffic baseline and IDLA's data and estimator."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from agents import SlicingSpec, run
from agents.idla.dataset import SampleBuffer, augment
from agents.idla.estimator import QosEstimator, TrainConfig, fit
from agents.schedule import Schedule
from agents.traffic import TrafficAgent
from slicesim.envs import make_env
from slicesim.sim import p_satisfied
from tests.conftest import write_masks

SMALL = {"sim.window_s": 5.0, "timeline.n_periods": 30,
         "timeline.phases": [{"name": "H0", "start": 0, "slices": [1, 2, 4]},
                             {"name": "H2", "start": 20, "slices": [1, 2, 3, 4]}]}  # fmt: skip


class FirstSliceOnly:
    """A user's policy: a class with ``act`` and nothing else."""

    def act(self, obs, info):
        x = np.zeros(info["active_next"].shape)
        x[:, 0] = 1.0
        return x


def test_a_user_agent_with_act_only_runs_through_run(tmp_path):
    env = make_env("small", SMALL)
    traj = run(env, FirstSliceOnly(), periods=25, progress=False, seed=3)
    assert len(traj) == 25 and traj.agent == "FirstSliceOnly"
    x = traj.stacked("x")
    assert np.all(x[:, :, 0] == 1.0) and np.all(x[:, :, 1:] == 0)
    assert traj.phases[19] == "H0" and traj.phases[20] == "H2"
    traj.save(tmp_path)
    with (tmp_path / "trajectory.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 25 * 3 * 4
    assert {"period", "phase", "cell", "slice_id", "action", "r", "thr_mbps"} <= set(rows[0])
    summary = traj.summary()
    h2 = [float(row["r"]) for row in rows if row["phase"] == "H2" and row["active"] == "1"]
    assert summary["H0"]["periods"] == 20 and summary["H2"]["p_r1"] == pytest.approx(
        p_satisfied(h2)
    )


def test_run_stops_at_the_episode_end():
    env = make_env("small", {**SMALL, "timeline.n_periods": 22})
    assert len(run(env, FirstSliceOnly(), periods=100, progress=False)) == 22


def test_traffic_agent_shares_follow_the_coming_traffic():
    env = make_env("small", SMALL)
    agent = TrafficAgent()
    traj = run(env, agent, periods=22, progress=False, seed=1)
    x, active = traj.stacked("x"), traj.stacked("active")
    np.testing.assert_allclose(x.sum(axis=2), 1.0, atol=1e-9)
    assert np.all(x[~active] == 0)
    obs, info = env.reset(seed=1)
    agent.reset(SlicingSpec.from_env(env), 1)
    shares = agent.act(obs, info)
    demand = np.where(info["active_next"], info["demand_next"], 0)
    np.testing.assert_allclose(shares, demand / demand.sum(axis=1, keepdims=True))


def test_augmentation_rules():
    rng = np.random.default_rng(0)
    inputs = np.array([[0.2, *[0.1] * 10, 1.0, 0.5], [0.3, *[0.1] * 10, 0.5, 0.2]], np.float32)
    targets = np.array([0.4, 1.0], np.float32)
    achieved = np.array([[0.4, 0.9], [1.2, 0.1]], np.float32)
    x, y = augment(inputs, targets, achieved, rng)
    assert len(x) == 4 and list(y) == [0.4, 1.0, 1.0, 1.0]
    np.testing.assert_allclose(x[2, -2:], [0.4, 0.9])  # rule 1: needs := achieved, r := 1
    np.testing.assert_array_equal(x[2, :-2], inputs[0, :-2])
    assert 0.3 <= x[3, 0] <= 1.0 and np.array_equal(x[3, 1:], inputs[1, 1:])  # rule 2: x' in [x, 1]


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """Samples of 60 busy periods (mask 1) of random allocations on ``small``; slice 3 joins at 32."""
    masks = write_masks(tmp_path_factory.mktemp("masks") / "masks.csv", 1.0)
    config = {"sim.window_s": 5.0, "timeline.n_periods": 60, "traffic.masks_csv": str(masks)}
    env = make_env("small", config)
    spec = SlicingSpec.from_env(env)
    buffer = SampleBuffer(spec)
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=0)
    for _ in range(60):
        x = rng.dirichlet(np.ones(4), size=3) * info["active_next"]
        next_obs, _, _, _, info = env.step(x)
        buffer.add(obs, info)
        obs = next_obs
    return buffer


def test_a_short_training_beats_the_constant_predictor(collected):
    inputs, targets, achieved = collected.arrays()
    assert inputs.shape == (32 * 3 * 3 + 28 * 3 * 4, 13) and np.all((targets >= 0) & (targets <= 1))
    x, y = augment(inputs, targets, achieved, np.random.default_rng(0))
    _, report = fit(x, y, TrainConfig(epochs=60, batch_size=128))
    assert report.test_mae < 0.6 * report.constant_mae, report.as_dict()


def test_estimator_save_load_round_trip_and_errors(tmp_path):
    model = QosEstimator()
    rows = torch.rand(7, 13)
    model.save(tmp_path / "m.pt", {"test_mae": 0.05})
    loaded, meta = QosEstimator.load(tmp_path / "m.pt")
    assert meta == {"test_mae": 0.05}
    torch.testing.assert_close(loaded(rows), model(rows))
    with pytest.raises(FileNotFoundError, match=r"estimator model file .*nope\.pt' does not exist"):
        QosEstimator.load(tmp_path / "nope.pt")
    torch.save({"format_version": 99}, tmp_path / "old.pt")
    with pytest.raises(
        ValueError, match="has format_version 99; this slicesim reads versions 1 to 2"
    ):
        QosEstimator.load(tmp_path / "old.pt")


def test_the_learners_schedule_counts_collection_and_slice_changes():
    spec = SlicingSpec.from_env(make_env("small", SMALL))
    schedule = Schedule()
    schedule.reset(spec, trained=False)
    assert schedule.collect == spec.first_phase_end == 20  # default: H0
    changes = []
    for period in range(30):
        ids = [1, 2, 4] if period < 20 else [1, 2, 3, 4]
        active = np.isin(spec.slice_ids, ids)[None].repeat(spec.n_cells, 0)
        changes.append(schedule.see(active))
        assert schedule.collecting == (period < 20)
        schedule.tick()
    assert schedule.changes == [20] and changes.index(True) == 20 and sum(changes) == 1
    schedule.collect_again(5)  # e.g. new networks: a new window from now
    assert schedule.collecting and schedule.start == 30
    schedule.reset(spec, trained=True)  # an agent that has learned does not collect again
    assert not schedule.collecting and schedule.changes == []
    short = Schedule(collect_periods=7)
    short.reset(spec, trained=False)
    assert short.collect == 7
