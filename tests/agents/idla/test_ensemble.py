"""idla's ensemble estimator: the monotone head's shape, the pessimism, files, the load input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents import IDLAAgent, run
from agents.base import SlicingSpec
from agents.idla import solve
from agents.idla.config import ExploreConfig, OnlineConfig
from agents.idla.dataset import augment, context, peak_rate_mbps
from agents.idla.ensemble import (
    Baseline,
    EnsembleConfig,
    EnsembleEstimator,
    Headroom,
    fit_members,
    load_estimator,
)
from agents.idla.estimator import QosEstimator, TrainConfig
from slicesim.envs import make_env
from slicesim.typed_config import ConfigError

W = 13  # H = 5: users_1..5, cqi_1..5, load, thr*, d*
HEADROOM = Headroom(history=5, thr_max_mbps=2.0, peak_mbps=75.0)
TIMELINE = {"sim.window_s": 5.0, "timeline.n_periods": 40,
            "timeline.phases": [{"name": "H0", "start": 0, "slices": [1, 2, 4]},
                                {"name": "H1", "start": 25, "slices": [1, 2, 4]},
                                {"name": "H2", "start": 32, "slices": [1, 2, 3, 4]}]}  # fmt: skip


def _contexts(n: int, seed: int) -> torch.Tensor:
    z = torch.rand(n, W, generator=torch.Generator().manual_seed(seed))
    z[:, 10] *= 0.3  # offered traffic up to 0.3 of the peak rate
    z[:, 11] = z[:, 11].clamp(min=0.25)  # a need of at least 0.5 Mbit/s
    return z


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), members=st.integers(1, 4))
def test_the_monotone_head_never_falls_with_the_share_and_stays_in_0_1(seed, members):
    config = EnsembleConfig(members=members, head="monotone", load=True, pessimism=1.0)
    model = EnsembleEstimator(1 + W, config, HEADROOM, seed=seed)
    shares = torch.linspace(0.0, 1.0, 41).expand(16, 41)
    with torch.no_grad():
        g = model.members(shares, _contexts(16, seed))  # (M, 16, 41)
    assert (g >= 0).all() and (g <= 1).all()
    assert (g.diff(dim=-1) >= -1e-6).all()  # every member, every context


def test_the_objective_is_the_mean_less_pessimism_times_the_spread():
    z, x = _contexts(8, 1), torch.rand(8, 5)
    pessimistic = EnsembleEstimator(1 + W, EnsembleConfig(members=5, pessimism=1.5), seed=3)
    neutral = EnsembleEstimator(1 + W, EnsembleConfig(members=5), seed=3)
    with torch.no_grad():
        objective, mean, std = pessimistic.grid_stats(z, x)
        plain = neutral.grid_log_values(z, x)
        g = pessimistic.members(x, z)
    log2 = np.log(2.0)
    torch.testing.assert_close(mean, g.mean(0) * log2)
    torch.testing.assert_close(std, g.std(0) * log2)
    torch.testing.assert_close(objective, (mean - 1.5 * std).clamp(min=0))
    torch.testing.assert_close(plain, mean)  # the same members without pessimism: the mean
    # the rows path (forward) is the grid path's certainty equivalent
    rows = torch.cat([x[:, :1], z], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(torch.log1p(pessimistic(rows)), objective[:, 0])


def test_doubt_about_an_improvement_is_zero_at_the_baseline_only():
    z = _contexts(8, 4)
    config = EnsembleConfig(members=5, head="monotone", load=True, pessimism=1.0)
    model = EnsembleEstimator(1 + W, config, HEADROOM, seed=5)
    base = torch.full((8,), 0.25)
    x = torch.linspace(0.0, 1.0, 21).expand(8, 21)
    with torch.no_grad():
        objective, mean, std = Baseline(model, base).grid_stats(z, x)
        absolute, mean_abs, _ = model.grid_stats(z, x)
        g = model.members(x, z)
        g0 = model.members(base[:, None], z)
    torch.testing.assert_close(mean, mean_abs)  # the estimate is the ensemble's
    torch.testing.assert_close(std, (g - g0).std(0) * np.log(2.0))
    torch.testing.assert_close(objective, (mean - std).clamp(min=0))
    at_base = 5  # x = 0.25
    torch.testing.assert_close(std[:, at_base], torch.zeros(8), atol=1e-6, rtol=0)
    torch.testing.assert_close(objective[:, at_base], mean[:, at_base])
    assert (objective[:, at_base] >= absolute[:, at_base]).all()  # no doubt about staying put
    assert (std[:, [0, 20]] > 0).all()  # a move away from it is doubted
    with pytest.raises(ValueError, match=r"base must have shape \(8,\)"):
        model.grid_stats(z, x, base=torch.zeros(7))
    # rows without a baseline (NaN) keep the absolute doubt; the others are unchanged
    partial = base.clone()
    partial[::2] = torch.nan
    with torch.no_grad():
        mixed = Baseline(model, partial).grid_stats(z, x)[0]
    torch.testing.assert_close(mixed[::2], absolute[::2])
    torch.testing.assert_close(mixed[1::2], objective[1::2])


@pytest.mark.parametrize("baseline", ["hold", "joined"])
def test_idla_doubts_moves_from_the_hold_only_after_a_slice_change(baseline):
    agent = IDLAAgent(
        collect_periods=20,
        train=TrainConfig(target="utility", epochs=3),
        online=OnlineConfig(refresh_every=5, refresh_epochs=2, safe_hours=1.0, baseline=baseline),
        ensemble=EnsembleConfig(members=3, head="monotone", load=True, pessimism=1.0),
    )
    env = make_env("small", TIMELINE)
    seen = []
    objective = agent.objective

    def spy(active):
        model = objective(active)
        seen.append((agent.schedule.period, isinstance(model, Baseline)))
        if isinstance(model, Baseline):  # equal shares of the slices with a baseline, else NaN
            has = ~torch.isnan(model.shares)
            joined = agent.joined[active] if baseline == "joined" else np.ones(has.shape, bool)
            np.testing.assert_array_equal(has.numpy(), joined)
            assert joined.any() and (baseline == "hold" or not joined.all())
        return model

    agent.objective = spy
    trajectory = run(env, agent, progress=False, seed=2)
    before = [b for t, b in seen if t < 32]
    after = [b for t, b in seen if t >= 32]
    assert before and not any(before)  # H1: the absolute lower bound
    assert after and all(after)  # after slice 3 joined and the hold: against equal shares
    x, active = trajectory.stacked("x")[20:], trajectory.stacked("active")[20:]
    np.testing.assert_allclose(x.sum(axis=2), 1.0, atol=1e-6)
    assert (x[~active] == 0).all()


def test_fit_members_learns_a_saturating_curve_and_repeats_itself():
    rng = np.random.default_rng(0)
    z = _contexts(3000, 2).numpy()
    x = rng.random(3000).astype(np.float32)
    h = HEADROOM(torch.from_numpy(x)[:, None], torch.from_numpy(z))[:, 0].numpy()
    r = np.clip(h, 0.0, 1.0)  # the processor-sharing picture: r = min(h, 1)
    inputs = np.column_stack([x, z]).astype(np.float32)
    config = EnsembleConfig(members=3, head="monotone", load=True)
    train = TrainConfig(target="utility", epochs=30)
    model, report = fit_members(inputs, r, train, config, HEADROOM)
    again, _ = fit_members(inputs, r, train, config, HEADROOM)
    assert report.test_mae < 0.5 * report.constant_mae
    rows = torch.from_numpy(inputs[:50])
    with torch.no_grad():
        torch.testing.assert_close(model(rows), again(rows), rtol=0, atol=0)
    with pytest.raises(ValueError, match="expected utility, not target 'r'"):
        fit_members(inputs, r, TrainConfig(target="r", epochs=1), config, HEADROOM)


def test_solve_takes_an_ensemble_and_files_round_trip(tmp_path):
    config = EnsembleConfig(members=3, head="monotone", load=True, pessimism=0.5)
    model = EnsembleEstimator(1 + W, config, HEADROOM, seed=4).eval()
    z = _contexts(12 * 4, 5).reshape(12, 4, W)
    active = torch.ones(12, 4, dtype=torch.bool)
    active[:6, 2] = False
    x = solve(model, z, active)
    torch.testing.assert_close(x.sum(dim=1), torch.ones(12))
    assert (x[~active] == 0).all()
    model.save(tmp_path / "e.pt", {"note": 1})
    loaded, meta = load_estimator(tmp_path / "e.pt")
    assert meta == {"note": 1} and isinstance(loaded, EnsembleEstimator)
    torch.testing.assert_close(solve(loaded, z, active), x, rtol=0, atol=0)
    QosEstimator().save(tmp_path / "q.pt")
    assert isinstance(load_estimator(tmp_path / "q.pt")[0], QosEstimator)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_estimator(tmp_path / "none.pt")


def test_the_load_input_sits_before_the_needs_which_augmentation_replaces():
    env = make_env("small", TIMELINE)
    spec = SlicingSpec.from_env(env)
    obs, _ = env.reset(seed=0)
    load = np.full((spec.n_cells, spec.n_slices), 3.0)
    z = context(obs, spec, load)
    plain = context(obs, spec)
    h = spec.history
    active = obs[..., spec.feature("active")] > 0
    np.testing.assert_allclose(z[..., 2 * h][active], 3.0 / peak_rate_mbps(spec.config), rtol=1e-6)
    assert (z[..., 2 * h][~active] == 0).all()
    np.testing.assert_array_equal(z[..., -2:], plain[..., -2:])  # the needs stay last
    inputs = np.column_stack([np.full(4, 0.3), z[active][:4]]).astype(np.float32)
    achieved = np.full((4, 2), 0.1, dtype=np.float32)
    out, _ = augment(inputs, np.zeros(4, np.float32), achieved, np.random.default_rng(0))
    np.testing.assert_array_equal(out[4:8, -2:], achieved)  # rule 1: the needs, not the load
    np.testing.assert_array_equal(out[4:8, 1 + 2 * h], inputs[:, 1 + 2 * h])


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="head = 'monotone' needs load = true"):
        EnsembleConfig(head="monotone")
    with pytest.raises(ConfigError, match="members = 0 is out of range"):
        EnsembleConfig(members=0)
    with pytest.raises(ConfigError, match=r"train\.target = 'r' must be 'utility'"):
        IDLAAgent(ensemble=EnsembleConfig(members=3), train=TrainConfig(target="r"))
    with pytest.raises(
        ConfigError,
        match=r"baseline = 'hld' is unknown: allowed \['equal', 'hold', 'joined', 'none'\]",
    ):
        OnlineConfig(baseline="hld")


def test_an_exploring_ensemble_agent_repeats_itself_and_keeps_its_cells_whole():
    def trajectory(seed):
        agent = IDLAAgent(
            collect_periods=20,
            train=TrainConfig(target="utility", epochs=3),
            online=OnlineConfig(refresh_every=5, refresh_epochs=2, safe_hours=1.0),
            ensemble=EnsembleConfig(members=3, head="monotone", load=True, pessimism=1.0),
            explore=ExploreConfig(rate=0.5, step=0.05),
        )
        return run(make_env("small", TIMELINE), agent, progress=False, seed=seed), agent

    first, agent = trajectory(6)
    second, _ = trajectory(6)
    np.testing.assert_array_equal(first.stacked("x"), second.stacked("x"))
    x, active = first.stacked("x")[20:], first.stacked("active")[20:]
    np.testing.assert_allclose(x.sum(axis=2), 1.0, atol=1e-6)
    assert (x[active] >= 0.01 - 1e-9).all() and (x[~active] == 0).all()
    assert isinstance(agent.estimator, EnsembleEstimator) and agent.refreshes >= 3
    assert agent.buffer.arrays()[0].shape[1] == 1 + W  # the load is part of every sample
