"""benchmarks/idla_diagnose.py: its replays are the periods the agent lived, bit for bit."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from agents import run
from slicesim.envs import make_env
from slicesim.experiments.registry import make_agent

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"train.epochs": 2, "online.safe_hours": 1.0, "online.refresh_every": 4}
TIMELINE = {"sim.window_s": 2.0, "timeline.n_periods": 30,
            "timeline.phases": [{"name": "H0", "start": 0, "slices": [1, 2, 4]},
                                {"name": "H1", "start": 14, "slices": [1, 2, 4]},
                                {"name": "H2", "start": 22, "slices": [1, 2, 3, 4]}]}  # fmt: skip


def _diagnose_module():
    spec = importlib.util.spec_from_file_location(
        "idla_diagnose", ROOT / "benchmarks" / "idla_diagnose.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["idla_diagnose"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_replayed_own_shares_are_the_period_the_agent_lived():
    diagnose = _diagnose_module()
    periods = diagnose.diagnose("small", TIMELINE, 3, "idla", SETTINGS, 2, None, draws=2)
    lived = run(make_env("small", TIMELINE), make_agent("idla", SETTINGS), progress=False, seed=3)
    assert {p.phase for p in periods} == {"H1", "H2"}
    for p in periods:
        own = diagnose.CANDIDATES.index("own")
        np.testing.assert_array_equal(p.shares[own], lived.stacked("x")[p.period])
        expected = np.where(p.active, np.log1p(lived.stacked("r")[p.period]), 0.0)
        np.testing.assert_array_equal(p.realised[own], expected)
        # by its estimator: unconstrained >= its own (in the trust region) >= equal shares
        equal, free = (p.predicted[diagnose.CANDIDATES.index(k)].sum() for k in ("equal", "free"))
        assert free >= p.predicted[own].sum() - 1e-3 >= equal - 2e-3
        # told the period's own offered traffic: another load input, the same slices
        assert p.told.shape == p.mean.shape and np.isfinite(p.told).all()
        assert (p.told[:, ~p.active] == 0).all() and not np.array_equal(p.told, p.mean)
    summary = diagnose.summarise({3: periods}, (1, 2, 3, 4))
    assert summary["H2"]["slice 3: oracle - own predicted"] and summary["H1"]["periods"][0] > 0
    assert 0 <= summary["H2"]["told: ranks oracle >= own (mean)"][0] <= 1


def test_the_share_curves_replay_each_slice_at_each_level(capsys):
    diagnose = _diagnose_module()
    periods = diagnose.diagnose("small", TIMELINE, 3, "idla", SETTINGS, 4, None, 2, curves=True)
    levels = len(diagnose.LEVELS)
    for p in periods:
        assert p.curves.shape == (2, 4, levels, p.active.shape[0])
        inactive = ~p.active.T[:, None, :].repeat(levels, axis=1)  # (S, L, C)
        assert np.isnan(p.curves[:, inactive]).all() and np.isfinite(p.curves[:, ~inactive]).all()
        # the estimator's curve never falls with the share (the monotone head)
        assert (
            np.diff(p.curves[1], axis=1)[np.isfinite(np.diff(p.curves[1], axis=1))] >= -1e-6
        ).all()
    diagnose.print_curves({3: periods}, (1, 2, 3, 4))
    out = capsys.readouterr().out
    assert "| 3 | network |" in out and "| 3 | estimator mean |" in out
