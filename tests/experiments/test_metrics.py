"""The benchmark's numbers as typed records: busy hours, recovery, estimates, gap, verdicts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slicesim.experiments.metrics import (
    RunMetrics,
    SetMetrics,
    SubsetMetrics,
    busy_periods,
    recovery_periods,
    summarise,
    verdict,
)
from slicesim.experiments.stats import Estimate, estimate, gap_closed, paired


def test_busy_periods_are_the_top_quarter_of_demand_among_the_selected():
    demand = np.arange(12.0)
    sel = np.array([True] * 8 + [False] * 4)  # periods 8..11 are not selected
    assert np.flatnonzero(busy_periods(demand, sel)).tolist() == [6, 7]  # top quarter of 0..7


def test_recovery_is_the_first_block_whose_mean_reaches_the_target():
    mean_r = np.r_[np.full(10, 0.5), np.full(10, 0.97), np.full(10, 1.0)]
    assert recovery_periods(mean_r, target=0.96, block=5) == 10
    assert recovery_periods(mean_r, target=0.99, block=10) == 20
    assert recovery_periods(mean_r, target=1.5, block=5) is None


def test_estimates_carry_the_t_interval_and_the_paired_difference():
    e = estimate([1.0, 2.0, 3.0])
    assert e.mean == 2.0 and e.half_width == pytest.approx(4.303 * 1.0 / math.sqrt(3))
    one = estimate([5.0])
    assert one.n == 1 and math.isnan(one.half_width) and one.text() == "5.00"
    diff = paired([2.0, 2.1, 1.9], [1.0, 1.0, 1.0])  # differences 1.0, 1.1, 0.9
    assert diff.mean == pytest.approx(1.0) and diff.low > 0


def test_gap_closed_is_a_ratio_of_mean_differences_and_undefined_without_a_gap():
    gap = gap_closed([2.0, 3.0], [1.0, 1.0], [3.0, 5.0])  # (1.5) / (3.0)
    assert gap.mean == pytest.approx(0.5)
    assert math.isnan(gap_closed([2.0], [1.0], [1.0]).mean)  # the bound does not beat the floor


@pytest.mark.parametrize(
    ("values", "read"),
    [
        ([1.0, 1.2, 0.8], "above"),
        ([-1.0, -1.2, -0.8], "below"),
        ([1.0, -1.0, 0.5], "ties"),
        ([2.73], "above (1 seed)"),
        ([-2.73], "below (1 seed)"),  # symmetric: not "ties" as it was
    ],
)
def test_verdict_reads_both_sides_alike(values, read):
    assert verdict(estimate(values)) == read
    assert verdict(Estimate(float("nan"), float("nan"), 0)) == "n/a"


def _run(u: float, seed_shift: float = 0.0) -> RunMetrics:
    sub = SubsetMetrics(mean_utility=u + seed_shift, mean_r=0.9, p_r1=0.8, periods=10)
    return RunMetrics({"[1, 2]": SetMetrics(sub, sub, 0.8, 5, 1.0)}, learn_s=0.0)


def test_summarise_reads_floor_and_yardstick_from_their_roles_not_names():
    runs = {
        "mine": {0: _run(2.0), 1: _run(2.5, 0.1)},
        "floor-rule": {0: _run(1.0), 1: _run(1.0, 0.1)},
        "bound-rule": {0: _run(3.0), 1: _run(3.0, 0.1)},
    }
    summary = summarise(runs, floor="floor-rule", yardstick="bound-rule")
    e = summary["mine"]["[1, 2]"]
    assert e.all.diff_vs_equal.mean == pytest.approx(1.25)
    assert e.all.gap_closed.mean == pytest.approx(1.25 / 2.0)
    assert e.recovered == "2/2" and e.learned
    alone = summarise({"mine": runs["mine"]}, floor=None, yardstick=None)["mine"]["[1, 2]"]
    assert alone.all.diff_vs_equal.n == 0  # no floor: no difference, not an error


def test_recovery_is_measured_on_whole_days_only():
    from agents import EqualAgent, run
    from slicesim.envs import make_env
    from slicesim.experiments.metrics import run_metrics

    # 6-h periods: a day is 4 periods; [1, 2, 4] lasts 10 periods after H0, [1, 2, 3, 4] 6
    timeline = {"sim.period_s": 21600.0, "sim.window_s": 2.0, "timeline.n_periods": 16,
                "timeline.phases": [{"name": "H0", "start": 0, "slices": [1, 2, 4]},
                                    {"name": "H1", "start": 2, "slices": [1, 2, 4]},
                                    {"name": "H2", "start": 12, "slices": [1, 2, 3, 4]}]}  # fmt: skip
    traj = run(make_env("small", timeline), EqualAgent(), progress=False, seed=0)
    sets = run_metrics(traj, collect=2, every=1, day=4).sets
    assert sets["[1, 2, 4]"].recovery_measurable
    assert sets["[1, 2, 4]"].recovery_periods in (0, 4)  # a whole day, found within two
    assert not sets["[1, 2, 3, 4]"].recovery_measurable  # 6 periods < two days
    assert sets["[1, 2, 3, 4]"].recovery_periods is None
    summary = summarise({"equal": {0: RunMetrics(sets, 0.0)}}, "equal", None)
    assert summary["equal"]["[1, 2, 3, 4]"].recovered == "n/a"
    assert summary["equal"]["[1, 2, 4]"].recovered == "1/1"
