"""SlicingVectorEnv: registration, exact replicas (after resets, in other phases), autoreset,
seeds, errors; run_periods against one network at a time."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from slicesim import Network, load_scenario
from slicesim.envs import ENV_ID, SlicingEnv, SlicingVectorEnv, env_id
from slicesim.sim import run_periods

FAST = {"sim.window_s": 4.0, "timeline.n_periods": 30}


def shares(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random shares per cell (rows summing to 0.95), float32, of ``shape`` (..., cells, slices)."""
    return (rng.dirichlet(np.ones(shape[-1]), size=shape[:-1]) * 0.95).astype(np.float32)


def _trace(env: SlicingEnv, seed: int, actions: np.ndarray, resets: set[int]) -> list[Any]:
    """A single env's (obs, reward, truncated, utility) per step, with Gymnasium's next-step
    autoreset and extra resets (without a seed) before the steps in ``resets``."""
    out: list[Any] = []
    env.reset(seed=seed)
    done = False
    for t, action in enumerate(actions):
        if t in resets:
            env.reset()
            done = False
        if done:
            obs, _ = env.reset()
            out.append((obs, 0.0, False, None))
            done = False
            continue
        obs, reward, _, truncated, info = env.step(action)
        out.append((obs, reward, truncated, info["utility"]))
        done = truncated
    return out


def test_make_vec_returns_the_batched_env_for_every_id():
    for id_ in (ENV_ID, env_id("small")):
        envs = gym.make_vec(id_, num_envs=3, vectorization_mode="vector_entry_point")
        assert isinstance(envs.unwrapped, SlicingVectorEnv)
        assert envs.num_envs == 3
        assert envs.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
        envs.close()
    envs = gym.make_vec(env_id("small"), num_envs=2, config={"sim.window_s": 3.0})
    assert isinstance(envs.unwrapped, SlicingVectorEnv)  # the default mode when registered
    assert envs.unwrapped.config.sim.window_s == 3.0
    assert envs.observation_space.shape == (2, *envs.single_observation_space.shape)
    assert envs.action_space.shape == (2, *envs.single_action_space.shape)
    sync = gym.make_vec(env_id("small"), num_envs=2, vectorization_mode="sync")
    assert isinstance(sync, gym.vector.SyncVectorEnv)


@pytest.mark.parametrize("kpi_model", ["user_ps", "legacy"])
def test_replicas_equal_single_envs_bit_for_bit_across_resets_and_phases(kpi_model):
    """Replica i stepped with the same actions = a SlicingEnv reset with its seed, also after
    autoresets and a mid-episode reset of one replica (so replicas sit in different phases)."""
    # small: slice 3 joins at period 32; episodes of 36 periods, 45 steps: replicas 0 and 2 see
    # slice 3 join, autoreset and run 8 periods of the next episode while replica 1 (reset
    # again before step 14) is still in H1
    config = {"sim.window_s": 2.0, "timeline.n_periods": 36, "sim.kpi_model": kpi_model}
    seeds = [4, 9, 2]
    envs = SlicingVectorEnv(len(seeds), "small", config=config)
    n_steps = 45
    actions = shares(np.random.default_rng(0), (n_steps, *envs.action_space.shape))
    extra = {1: {14}}  # replica 1 is reset before step 14: out of phase with the others
    obs, _ = envs.reset(seed=seeds)
    got: list[list[Any]] = [[] for _ in seeds]
    changed = []
    for t in range(n_steps):
        for i, steps in extra.items():
            if t in steps:
                mask = np.zeros(len(seeds), dtype=bool)
                mask[i] = True
                envs.reset(options={"reset_mask": mask})
        obs, reward, terminated, truncated, info = envs.step(actions[t])
        assert not terminated.any()
        changed.append(bool(info.get("slices_changed", np.zeros(1, bool)).any()))
        for i in range(len(seeds)):
            has = info.get("_utility", np.zeros(len(seeds), bool))[i]
            got[i].append((obs[i], reward[i], truncated[i], info["utility"][i] if has else None))
    for i, seed in enumerate(seeds):
        env = SlicingEnv("small", config=config)
        want = _trace(env, seed, actions[:, i], extra.get(i, set()))
        for t, (a, b) in enumerate(zip(got[i], want, strict=True)):
            assert np.array_equal(a[0], b[0]), (i, t)
            assert a[1:] == b[1:], (i, t, a[1:], b[1:])
    assert [e.net.period for e in envs.envs] == [8, 31, 8]  # in H0 and H1 at the end
    assert any(info_changed for info_changed in changed), "no replica saw slice 3 join"


def test_run_periods_equals_one_network_at_a_time():
    config = load_scenario("paper", {"sim.window_s": 5.0})
    seeds = [3, 11, 5]
    rng = np.random.default_rng(1)
    alone = [Network(config, seed=s) for s in seeds]
    together = [Network(config, seed=s) for s in seeds]
    ahead = shares(rng, (12, 4))  # network 2 runs a period ahead of the others
    together[2].run_period(ahead)
    alone[2].run_period(ahead)
    for _ in range(3):
        xs = shares(rng, (3, 12, 4))
        batch = run_periods(together, list(xs))
        for net, x, rep in zip(alone, xs, batch, strict=True):
            ref = net.run_period(x)
            assert rep.period == ref.period
            for key in ("thr_mbps", "delay_ms", "prb_util", "users", "cqi", "demand_mbps"):
                assert np.array_equal(getattr(rep, key), getattr(ref, key)), key


def test_reset_seeds_int_list_and_mask():
    envs = SlicingVectorEnv(3, "small", config=FAST)
    _, info_int = envs.reset(seed=7)
    singles = [SlicingEnv("small", config=FAST) for _ in range(3)]
    for env, seed in zip(singles, (7, 8, 9), strict=True):
        env.reset(seed=seed)
    assert [e.net.seed for e in envs.envs] == [e.net.seed for e in singles]
    envs.reset(seed=[9, None, 7])
    assert envs.envs[0].net.seed == singles[2].net.seed
    assert envs.envs[2].net.seed == singles[0].net.seed
    envs.reset(seed=7)
    assert info_int["period_next"].tolist() == [0, 0, 0]
    envs.step(np.full(envs.action_space.shape, 0.25, np.float32))
    mask = np.array([False, True, False])
    _, info = envs.reset(options={"reset_mask": mask})
    assert info["_period"].tolist() == [False, True, False]
    assert [e.net.period for e in envs.envs] == [1, 0, 1]


def test_autoreset_next_step_ignores_the_action():
    envs = SlicingVectorEnv(2, "small", config={**FAST, "timeline.n_periods": 2})
    envs.reset(seed=0)
    a = np.full(envs.action_space.shape, 0.25, np.float32)
    envs.step(a)
    _, _, _, truncated, _ = envs.step(a)
    assert truncated.all()
    bad = np.full(envs.action_space.shape, np.nan, np.float32)  # ignored: the replicas reset
    _, reward, _, truncated, info = envs.step(bad)
    assert not truncated.any() and (reward == 0).all()
    assert info["period"].tolist() == [0, 0] and "utility" not in info


def test_infos_are_batched_with_a_leading_replica_axis():
    envs = SlicingVectorEnv(3, "small", config=FAST)
    envs.reset(seed=0)
    _, reward, _, _, info = envs.step(np.full(envs.action_space.shape, 0.25, np.float32))
    n_cells, n_slices = envs.n_cells, envs.n_slices
    assert info["r"].shape == (3, n_cells, n_slices)
    assert info["kpi"]["thr_mbps"].shape == (3, n_cells, n_slices)
    assert info["_utility"].all()
    np.testing.assert_array_equal(info["utility"], reward)


def test_bad_input_names_the_replica_and_the_range():
    with pytest.raises(ValueError, match="num_envs = 0"):
        SlicingVectorEnv(0, "small")
    envs = SlicingVectorEnv(2, "small", config=FAST)
    with pytest.raises(RuntimeError, match="before reset"):
        envs.step(np.zeros(envs.action_space.shape, np.float32))
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions have shape \(3, 4\)"):
        envs.step(np.zeros((3, 4), np.float32))
    a = np.full(envs.action_space.shape, 0.25, np.float32)
    a[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"replica 1: .*action"):
        envs.step(a)
    with pytest.raises(ValueError, match="seed has 3 entries, expected num_envs = 2"):
        envs.reset(seed=[1, 2, 3])
    with pytest.raises(ValueError, match="reset_mask"):
        envs.reset(options={"reset_mask": [1, 0]})


def test_run_periods_rejects_mixed_scenarios_and_lengths():
    a = Network(load_scenario("small"), seed=0)
    b = Network(load_scenario("small", {"traffic.load_scale": 1.5}), seed=1)
    x = np.full((a.n_cells, a.n_slices), 0.25)
    with pytest.raises(ValueError, match=r"networks\[1\] runs another scenario"):
        run_periods([a, b], [x, x])
    with pytest.raises(ValueError, match="2 networks but 1 share arrays"):
        run_periods([a, a], [x])


# ---------------------------------------------------------------- stable-baselines3 adapters


def test_sb3_cellwise_replica_equals_cell_vec_env_of_one_network():
    from slicesim.envs import CellVecEnv, sb3_vec_env

    config = {**FAST, "timeline.n_periods": 3}
    vec = sb3_vec_env("small", num_envs=2, config=config, cellwise=True)
    one = CellVecEnv(SlicingEnv("small", config=config))
    vec.seed(5)
    one.seed(6)  # replica 1 of vec is seeded 5 + 1
    obs_v, obs_1 = vec.reset(), one.reset()
    n = one.num_envs
    assert vec.num_envs == 2 * n and obs_v.shape == (2 * n, *one.observation_space.shape)
    np.testing.assert_array_equal(obs_v[n:], obs_1)
    actions = shares(np.random.default_rng(2), (4, 2 * n, one.action_space.shape[0]))
    for t in range(4):  # the 4th step follows the autoreset after period 3
        obs_v, rew_v, done_v, info_v = vec.step(actions[t])
        obs_1, rew_1, done_1, info_1 = one.step(actions[t, n:])
        np.testing.assert_array_equal(obs_v[n:], obs_1)
        np.testing.assert_array_equal(rew_v[n:], rew_1)
        np.testing.assert_array_equal(done_v[n:], done_1)
        assert info_v[n]["period"] == info_1[0]["period"]
        if done_1.any():
            np.testing.assert_array_equal(
                info_v[n]["terminal_observation"], info_1[0]["terminal_observation"]
            )
            assert info_v[n]["TimeLimit.truncated"]


def test_sb3_replica_vec_env_passes_the_sb3_vec_checks():
    from stable_baselines3.common.vec_env import VecMonitor

    from slicesim.envs import sb3_vec_env

    vec = VecMonitor(sb3_vec_env("small", num_envs=3, config={**FAST, "timeline.n_periods": 2}))
    vec.seed(0)
    obs = vec.reset()
    assert obs.shape == (3, *vec.observation_space.shape)
    episodes = 0
    for _ in range(5):
        a = np.full((3, *vec.action_space.shape), 0.25, np.float32)
        obs, rewards, _, infos = vec.step(a)
        assert rewards.shape == (3,) and rewards.dtype == np.float32
        episodes += sum("episode" in i for i in infos)
    assert episodes == 6  # 2 episodes of 2 periods per replica in 5 steps
    assert vec.get_attr("n_cells") == [3, 3, 3]
