"""SlicingEnv: registration, API checkers, determinism, the timeline, actions, observations."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import slicesim
from slicesim.envs import ENV_ID, SlicingEnv, env_id, make_env, register_envs
from slicesim.envs.features import CQI_MAX, USERS_HEADROOM, feature_names

IDS = sorted(k for k in gym.registry if k.startswith("slicesim/"))
FAST = {"sim.window_s": 2.0}  # a short simulated window per period: fast API checks
SB3_ADVICE = (
    ".*symmetric and normalized Box action",
    "It seems that your observation .*is an image",
    "Treating image space as channels-last",
    "The minimal resolution for an image",
)
SLICE_3 = 2  # column of slice id 3 (the slice that joins) in the shipped scenarios


def small_env(**kwargs: Any) -> SlicingEnv:
    return SlicingEnv("small", **kwargs)


def equal(active: np.ndarray) -> np.ndarray:
    return (active / np.maximum(active.sum(axis=1, keepdims=True), 1)).astype(np.float32)


# ---------------------------------------------------------------- registration


def test_ids_cover_every_shipped_scenario_and_own_their_horizon() -> None:
    assert ENV_ID in IDS
    assert gym.spec(ENV_ID).kwargs == {"scenario": "paper"}
    for name in slicesim.list_scenarios():
        spec = gym.spec(env_id(name))
        assert spec.kwargs == {"scenario": name}
        assert spec.max_episode_steps is None  # the env truncates at its own timeline's end
        env = gym.make(env_id(name))
        assert env.unwrapped.max_episode_steps == slicesim.load_scenario(name).timeline.n_periods


def test_episode_length_follows_an_overridden_timeline() -> None:
    env = gym.make(env_id("small"), config={**FAST, "timeline.n_periods": 10})
    _, info = env.reset(seed=0)
    truncated, steps = False, 0
    while not truncated:
        _, _, _, truncated, info = env.step(equal(info["active_next"]))
        steps += 1
    assert steps == 10
    with pytest.raises(
        RuntimeError, match=r"truncated after 10 periods \(timeline\.n_periods\): call reset"
    ):
        env.unwrapped.step(equal(info["active_next"]))
    env.reset(seed=0)  # a new episode
    env.step(equal(info["active_next"]))


def test_registration_is_idempotent() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert register_envs() == []
        assert register_envs() == []
        importlib.reload(slicesim.envs)
        importlib.import_module("slicesim")
    assert sorted(k for k in gym.registry if k.startswith("slicesim/")) == IDS


# ---------------------------------------------------------------- API checkers


@pytest.mark.parametrize("id_", IDS)
def test_gymnasium_check_env(id_: str) -> None:
    env = gym.make(id_, config=FAST, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=False)


@pytest.mark.parametrize("id_", IDS)
def test_sb3_check_env(id_: str) -> None:
    env = gym.make(id_, config=FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # advice, not errors: shares live in [0, 1]; the 3-D float observation (cells, slices,
        # features) looks like an image to SB3 (its MLP policies flatten it; so do the views)
        for advice in SB3_ADVICE:
            warnings.filterwarnings("ignore", message=advice)
        sb3_check_env(env.unwrapped)


def test_wrong_arguments_raise() -> None:
    with pytest.raises(ValueError, match=r"history = 0 is out of range"):
        small_env(history=0)
    with pytest.raises(ValueError, match=r"render_mode = 'human' is unknown"):
        small_env(render_mode="human")
    with pytest.raises(RuntimeError, match=r"before reset"):
        small_env().step(np.zeros((3, 4), np.float32))


# ---------------------------------------------------------------- determinism


def rollout(seed: int, steps: int = 40) -> list[tuple[Any, ...]]:
    env = small_env()
    env.action_space.seed(seed)
    out: list[tuple[Any, ...]] = [env.reset(seed=seed)]
    for _ in range(steps):
        out.append(env.step(env.action_space.sample()))
    return out


def test_same_seed_same_trajectory_bit_for_bit() -> None:
    a, b = rollout(7), rollout(7)
    for step_a, step_b in zip(a, b, strict=True):
        assert data_equivalence(step_a, step_b, exact=True)
        assert step_a[0].tobytes() == step_b[0].tobytes()


def test_different_seeds_differ() -> None:
    a, b = rollout(1, steps=5), rollout(2, steps=5)
    assert any(x[1] != y[1] for x, y in zip(a[1:], b[1:], strict=True))
    assert not all(np.array_equal(x[0], y[0]) for x, y in zip(a[1:], b[1:], strict=True))


def test_reset_without_seed_continues_the_generator() -> None:
    env = small_env()
    env.reset(seed=3)
    first = env.net.seed  # type: ignore[union-attr]
    env.reset()
    assert env.net.seed != first  # type: ignore[union-attr]


# ---------------------------------------------------------------- timeline


def test_small_timeline_slice_joins_at_period_32_and_truncates_at_48() -> None:
    env = gym.make(env_id("small"))
    obs, info = env.reset(seed=0)
    assert (info["period"], info["phase"], info["slices_changed"]) == (0, "H0", False)
    assert not info["active"][:, SLICE_3].any()
    records = []
    for _ in range(48):
        obs, _, terminated, truncated, info = env.step(equal(info["active_next"]))
        records.append((info, obs, terminated, truncated))
    changed = [i["period"] for i, *_ in records if i["slices_changed"]]
    assert changed == [32]
    assert [i["phase"] for i, *_ in records] == ["H0"] * 20 + ["H1"] * 12 + ["H2"] * 16
    assert not any(t for _, _, t, _ in records)
    assert [tr for *_, tr in records] == [False] * 47 + [True]
    before, after = records[:32], records[32:]
    assert not any(i["active"][:, SLICE_3].any() for i, *_ in before)
    assert all(i["active"][:, SLICE_3].all() for i, *_ in after)
    assert all(i["kpi"]["users"][:, SLICE_3].sum() == 0 for i, *_ in before)
    assert sum(i["kpi"]["users"][:, SLICE_3].sum() for i, *_ in after) > 0
    assert sum(i["kpi"]["demand_mbps"][:, SLICE_3].sum() for i, *_ in after) > 0
    # the agent sees the new slice one step ahead: obs and info after period 31 announce it
    info_31, obs_31 = records[31][:2]
    assert obs_31[:, SLICE_3, 0].all() and info_31["active_next"][:, SLICE_3].all()
    assert (info_31["demand_next"][:, SLICE_3] > 0).all()
    assert (records[30][0]["demand_next"][:, SLICE_3] == 0).all()


def test_paper_phase_start_moved_by_config() -> None:
    phases = [
        {"name": "H0", "start": 0, "slices": [1, 2, 4]},
        {"name": "H1", "start": 2, "slices": [1, 2, 4]},
        {"name": "H2", "start": 4, "slices": [1, 2, 3, 4]},
    ]
    env = make_env("paper", {**FAST, "timeline.n_periods": 6, "timeline.phases": phases})
    assert env.unwrapped.max_episode_steps == 6
    _, info = env.reset(seed=0)
    infos, truncated = [], False
    while not truncated:
        _, _, _, truncated, info = env.step(equal(info["active_next"]))
        infos.append(info)
    assert [i["phase"] for i in infos] == ["H0", "H0", "H1", "H1", "H2", "H2"]
    assert [i["slices_changed"] for i in infos] == [False] * 4 + [True, False]
    assert [int(i["active"].sum()) for i in infos] == [36] * 4 + [48] * 2
    assert all(i["kpi"]["users"][:, SLICE_3].sum() == 0 for i in infos[:4])
    assert (infos[3]["demand_next"][:, SLICE_3] > 0).all()


# ---------------------------------------------------------------- actions


@pytest.fixture
def env() -> SlicingEnv:
    e = small_env()
    e.reset(seed=0)
    return e


def shares(**entries: float) -> np.ndarray:
    x = np.full((3, 4), 0.2, dtype=np.float32)
    for key, value in entries.items():
        c, s = (int(v) for v in key[1:].split("_"))
        x[c, s] = value
    return x


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (shares(c1_1=np.nan), r"action\[1, 1\] \(cell 1, slice id 2\) is nan: allowed \[0, 1\]"),
        (shares(c2_0=np.inf), r"action\[2, 0\] \(cell 2, slice id 1\) is inf: allowed \[0, 1\]"),
        (shares(c0_3=-np.inf), r"action\[0, 3\] \(cell 0, slice id 4\) is -inf: allowed"),
        (shares(c0_1=-0.1), r"action\[0, 1\] \(cell 0, slice id 2\) is -0.1: allowed \[0, 1\]"),
        (shares(c2_3=1.01), r"action\[2, 3\] \(cell 2, slice id 4\) is 1.01: allowed \[0, 1\]"),
        # slice id 3 is inactive in H0: its entry is ignored, but a NaN still raises
        (shares(c1_2=np.nan), r"action\[1, 2\] \(cell 1, slice id 3\) is nan"),
        (np.zeros((4, 3), np.float32), r"action has shape \(4, 3\), expected .* = \(3, 4\)"),
        (np.zeros(12, np.float32), r"action has shape \(12,\)"),
        ([["a"] * 4] * 3, r"action is not an array of numbers"),
    ],
)
def test_invalid_actions_raise_naming_cell_and_slice(
    env: SlicingEnv, action: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        env.step(action)
    assert env.net is not None and env.net.period == 0  # nothing was simulated


def test_row_sum_above_one_raises_when_strict() -> None:
    env = small_env(strict=True)
    env.reset(seed=0)
    with pytest.raises(
        ValueError,
        match=r"action: shares of cell 1 sum to 1.2 over its active slices \(ids \[1, 2, 4\]\): "
        r"allowed at most 1",
    ):
        env.step(shares(c1_0=0.8))


def test_row_sum_above_one_is_rescaled_and_flagged(env: SlicingEnv) -> None:
    action = shares(c1_0=0.8, c2_2=0.9)  # cell 2: slice id 3 is inactive, its share is ignored
    *_, info = env.step(action)
    assert info["action_rescaled"].tolist() == [False, True, False]
    np.testing.assert_allclose(info["x"][1], np.array([0.8, 0.2, 0.0, 0.2]) / 1.2)
    np.testing.assert_allclose(info["x"][2], [0.2, 0.2, 0.0, 0.2])
    np.testing.assert_allclose(info["x"][0], [0.2, 0.2, 0.0, 0.2])


def test_entries_within_float_tolerance_of_one_pass(env: SlicingEnv) -> None:
    x = np.zeros((3, 4))
    x[:, 0] = 1 + 1e-7
    *_, info = env.step(x)
    assert not info["action_rescaled"].any()
    assert info["x"][:, 0].tolist() == [1.0, 1.0, 1.0]


# ---------------------------------------------------------------- observation, reward, info


def test_reset_observation_and_info(env: SlicingEnv) -> None:
    obs, info = env.reset(seed=5)
    names = feature_names(5)
    assert env.feature_names == names and len(names) == 16
    assert obs.shape == (3, 4, 16) and obs.dtype == np.float32
    active = info["active"]
    assert np.array_equal(obs[..., 0], active)
    assert np.all(obs[..., 3:] == 0)  # no KPIs or history before the first period
    assert np.all(obs[:, SLICE_3] == 0)  # inactive slice: all features 0
    assert obs[0, 0, 1] == 1.0 and obs[0, 0, 2] == 1.0  # slice 1 has the largest thr*, d*
    np.testing.assert_allclose(obs[0, 1, 1:3], [0.5, 50 / 300], rtol=1e-6)
    assert info["period"] == 0 and info["phase"] == "H0"
    assert info["demand_next"].shape == (3, 4) and (info["demand_next"][active] > 0).all()


def test_step_reward_and_info_match_the_report(env: SlicingEnv) -> None:
    obs, reward, terminated, truncated, info = env.step(shares())
    assert obs in env.observation_space and not terminated and not truncated
    active, r = info["active"], info["r"]
    assert reward == info["utility"] == slicesim.utility(r, active)
    for c in range(3):
        assert info["cell_reward"][c] == r[c][active[c]].min()
    assert set(info["kpi"]) >= {"thr_mbps", "delay_ms", "prb_util", "users", "cqi", "demand_mbps"}
    assert all(v.shape == (3, 4) for v in info["kpi"].values())
    np.testing.assert_array_equal(info["demand_next"], env.net.expected_demand_mbps())  # type: ignore[union-attr]
    assert (info["period"], info["slices_changed"]) == (0, False)


def test_history_shifts_one_period_per_step(env: SlicingEnv) -> None:
    upc = np.array([s.users_per_cell for s in env.config.slices])
    _, _, _, _, first = env.step(shares())
    obs, _, _, _, second = env.step(shares())
    users, cqi = slice(6, 11), slice(11, 16)
    expect_1 = np.minimum(second["kpi"]["users"] / (USERS_HEADROOM * upc), 1) * second["active"]
    expect_2 = np.minimum(first["kpi"]["users"] / (USERS_HEADROOM * upc), 1) * second["active"]
    np.testing.assert_allclose(obs[..., users][..., 0], expect_1, rtol=1e-6)
    np.testing.assert_allclose(obs[..., users][..., 1], expect_2, rtol=1e-6)
    assert np.all(obs[..., users][..., 2:] == 0)
    np.testing.assert_allclose(obs[..., cqi][..., 1], first["kpi"]["cqi"] / CQI_MAX, rtol=1e-6)
    ratio = np.minimum(second["kpi"]["thr_mbps"] / env.net.thr_need_mbps, 2) / 2  # type: ignore[union-attr]
    np.testing.assert_allclose(obs[..., 4], ratio * second["active"], rtol=1e-6)


def test_history_length_is_an_argument() -> None:
    env = small_env(history=2)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 4, 10) and env.observation_space.shape == (3, 4, 10)


def test_render_rgb_array() -> None:
    env = small_env(render_mode="rgb_array")
    env.reset(seed=0)
    before = env.render()
    env.step(shares())
    after = env.render()
    assert before is not None and after is not None
    assert before.dtype == np.uint8 and before.ndim == 3 and before.shape[2] == 3
    assert after.shape == before.shape and not np.array_equal(before, after)


def test_render_without_mode_warns_and_returns_none(env: SlicingEnv) -> None:
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None
