"""idla's load input: the forecast of the coming period's offered traffic."""

from __future__ import annotations

import numpy as np
import pytest

from agents import IDLAAgent, run
from agents.idla.config import IDLAConfig
from agents.idla.ensemble import EnsembleConfig
from agents.idla.estimator import TrainConfig
from agents.idla.forecast import LoadForecast
from slicesim.envs import make_env
from slicesim.sim import equal_split
from slicesim.typed_config import ConfigError


def _synthetic(days: int, day: int = 24, cells: int = 6, seed: int = 0):
    """Expected traffic (a daily profile x a day factor x stable cell weights) and counters
    that are a Poisson draw of a few users around it."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * day)
    profile = np.stack([1.2 + np.sin(2 * np.pi * t / day), 1.1 + np.cos(2 * np.pi * t / day)], 1)
    factor = np.exp(0.05 * rng.standard_normal((days, 1))).repeat(day, axis=0)
    weights = rng.dirichlet(np.ones(cells), size=2).T  # (cells, 2)
    expected = 4.0 * weights[None] * (profile * factor)[:, None, :]  # (T, cells, 2)
    users = 3.0
    counters = rng.poisson(expected / expected.mean() * users) / users * expected.mean()
    return expected, counters


def test_the_forecast_tracks_the_expected_traffic_better_than_the_last_counter():
    expected, counters = _synthetic(days=6)
    forecast = LoadForecast(6, 2, periods_per_day=24)
    active = np.ones((6, 2), bool)
    errors = {"forecast": [], "last": []}
    for t in range(len(counters) - 1):
        forecast.update(counters[t], active)
        if t >= 3 * 24:  # after the first days
            errors["forecast"].append(np.abs(forecast(active) - expected[t + 1]).mean())
            errors["last"].append(np.abs(counters[t] - expected[t + 1]).mean())
    assert np.mean(errors["forecast"]) < 0.5 * np.mean(errors["last"])


def test_inactive_pairs_get_nothing_and_a_new_slice_starts_from_its_counters():
    forecast = LoadForecast(2, 2, periods_per_day=24, min_periods=8)
    only_first = np.array([[True, False], [True, False]])
    both = np.ones((2, 2), bool)
    for _ in range(30):
        forecast.update(np.array([[1.0, 0.0], [3.0, 0.0]]), only_first)
    np.testing.assert_allclose(forecast(only_first), [[1.0, 0.0], [3.0, 0.0]])
    assert forecast(only_first)[:, 1].sum() == 0  # the second slice is off
    for _ in range(3):  # the second slice joins: its own counters until min_periods
        forecast.update(np.array([[1.0, 2.0], [3.0, 5.0]]), both)
    np.testing.assert_allclose(forecast(both)[:, 1], [2.0, 5.0])
    for _ in range(5):
        forecast.update(np.array([[1.0, 2.0], [3.0, 5.0]]), both)
    np.testing.assert_allclose(forecast(both)[:, 1], [2.0, 5.0])  # its mean, by cell shares
    forecast.update(np.array([[1.0, 0.0], [3.0, 0.0]]), only_first)  # it leaves: its run ends
    forecast.update(np.array([[1.0, 7.0], [3.0, 0.0]]), both)
    np.testing.assert_allclose(forecast(both)[:, 1], [7.0, 0.0])


def test_on_the_network_the_forecast_is_closer_to_the_coming_traffic():
    """On ``paper``'s network (equal shares, 3 days), against each period's expected traffic
    ``info["demand_next"]`` (which the forecast never sees)."""
    env = make_env("paper")
    _, info = env.reset(seed=3)
    forecast = LoadForecast(*info["active_next"].shape, env.unwrapped.config.sim.periods_per_day)
    errors = {"forecast": [], "last": []}
    for t in range(3 * 96):
        active = info["active_next"]
        if t > 96:
            truth = info["demand_next"][active]
            errors["forecast"].append(np.abs(forecast(active)[active] - truth).mean())
            errors["last"].append(np.abs(info["kpi"]["demand_mbps"][active] - truth).mean())
        _, _, _, _, info = env.step(equal_split(active))
        forecast.update(info["kpi"]["demand_mbps"], info["active"])
    assert np.mean(errors["forecast"]) < 0.7 * np.mean(errors["last"])


def test_idla_decides_on_the_forecast_or_the_last_counter_as_set():
    timeline = {"sim.window_s": 5.0, "timeline.n_periods": 30,
                "timeline.phases": [{"name": "H0", "start": 0, "slices": [1, 2, 4]},
                                    {"name": "H1", "start": 20, "slices": [1, 2, 4]}]}  # fmt: skip
    seen = {}
    for load_input in ("forecast", "last"):
        agent = IDLAAgent(
            collect_periods=20,
            train=TrainConfig(target="utility", epochs=2),
            ensemble=EnsembleConfig(members=2, head="monotone", load=True),
            load_input=load_input,
        )
        inputs = []
        act = agent.act

        def spy(obs, info, agent=agent, act=act, inputs=inputs):
            out = act(obs, info)
            if "kpi" in info:
                inputs.append((agent.load_now.copy(), info["kpi"]["demand_mbps"].copy()))
            return out

        agent.act = spy
        run(make_env("small", timeline), agent, progress=False, seed=1)
        seen[load_input] = inputs
    last = seen["last"]
    assert all(np.array_equal(load, counter) for load, counter in last)
    differs = [not np.allclose(load, counter) for load, counter in seen["forecast"]]
    assert any(differs[10:])  # split over the cells once a slice has min_periods
    with pytest.raises(ConfigError, match=r"load_input = 'next' is unknown"):
        IDLAConfig(load_input="next")
