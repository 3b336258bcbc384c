"""The paper benchmark end to end on a short timeline: files, report table, user agents, resume."""

from __future__ import annotations

import numpy as np
import pytest

from slicesim.cli import main
from slicesim.experiments.bench import bench, make_agent

SHORT = {"sim.window_s": 3.0, "timeline.n_periods": 36,
         "timeline.phases": [{"name": "H0", "start": 0, "slices": [1, 2, 4]},
                             {"name": "H1", "start": 14, "slices": [1, 2, 4]},
                             {"name": "H2", "start": 26, "slices": [1, 2, 3, 4]}]}  # fmt: skip
FILES = ("fig2_traffic_mask.png", "fig3_estimator_mae.png", "fig4_throughput.png",
         "fig5_qos_cdf.png", "report.md")  # fmt: skip


class HalfFirst:
    """A user's agent for ``--agent tests.test_bench:HalfFirst``: half to the first slice."""

    def act(self, obs, info):
        active = info["active_next"].astype(float)
        x = 0.5 * active / np.maximum(active[:, 1:].sum(axis=1, keepdims=True), 1)
        x[:, 0] = 0.5
        return x


def test_bench_writes_every_file_and_the_table(tmp_path):
    result = bench("small", ["idla", "traffic", "tests.test_bench:HalfFirst"], 1, tmp_path,
                   overrides=SHORT, workers=2)  # fmt: skip
    assert len(result.ran) == 3
    for name in FILES:
        assert (tmp_path / name).stat().st_size > 0, name
    report = (tmp_path / "report.md").read_text()
    for agent in ("idla", "traffic", "HalfFirst"):
        assert f"| {agent} | [1, 2, 4] |" in report and f"| {agent} | [1, 2, 3, 4] |" in report
    assert "paper P(r = 1)" in report and "| 0.973 |" in report
    assert (tmp_path / "runs" / "HalfFirst-s0" / "trajectory.csv").is_file()
    # a rerun resumes: finished runs are kept, not run again
    again = bench("small", ["idla", "traffic"], 1, tmp_path, overrides=SHORT)
    assert again.ran == [] and len(again.skipped) == 2


def test_bench_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="agent 'nope' is unknown"):
        make_agent("nope")
    with pytest.raises(ValueError, match=r"agent 'tests\.test_bench:Missing' cannot be imported"):
        make_agent("tests.test_bench:Missing")
    assert main(["bench", "--scenario", "small", "--agents", "traffic", "--seeds", "0",
                 "--out", str(tmp_path)]) == 2  # fmt: skip
    assert "argument --seeds: must be >= 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "report.md").exists()


def test_ray_executor_runs_the_jobs(tmp_path):
    result = bench("small", ["traffic"], 2, tmp_path, overrides=SHORT, executor="ray", workers=2)
    assert sorted(r["seed"] for r in result.ran) == [0, 1]
    assert (tmp_path / "runs" / "traffic-s1" / "summary.json").is_file()
