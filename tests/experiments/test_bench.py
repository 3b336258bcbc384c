"""The benchmark end to end on a short timeline: files, yardsticks, seeds, user agents, resume."""

from __future__ import annotations

import json
import re
import warnings

import matplotlib.image as plt_image
import numpy as np
import pytest

from agents import EqualAgent, TD3Agent, run
from slicesim import load_scenario
from slicesim.cli import main
from slicesim.envs import make_env
from slicesim.experiments.bench import bench, make_agent
from slicesim.experiments.figures import fig5_cdf
from slicesim.experiments.jobs import _Ticks, seed_list
from slicesim.experiments.report import smoke_note, summary_table
from slicesim.experiments.stats import estimate, gap_closed, paired

SHORT = {"sim.window_s": 3.0, "timeline.n_periods": 30,
         "timeline.phases": [{"name": "H0", "start": 0, "slices": [1, 2, 4]},
                             {"name": "H1", "start": 10, "slices": [1, 2, 4]},
                             {"name": "H2", "start": 20, "slices": [1, 2, 3, 4]}]}  # fmt: skip
FILES = ("fig2_traffic_mask.png", "fig3_estimator_mae.png", "fig4_throughput.png",
         "fig5_qos_cdf.png", "report.md", "bench.json")  # fmt: skip


class HalfFirst:
    """A user's agent for ``--agent tests.experiments.test_bench:HalfFirst``: half to the first slice."""

    def act(self, obs, info):
        active = info["active_next"].astype(float)
        x = 0.5 * active / np.maximum(active[:, 1:].sum(axis=1, keepdims=True), 1)
        x[:, 0] = 0.5
        return x


def test_bench_reads_every_agent_against_the_yardsticks(tmp_path):
    agents = ["equal", "traffic", "idla", "sim-oracle", "tests.experiments.test_bench:HalfFirst"]
    result = bench("small", agents, 2, tmp_path, overrides=SHORT, workers=2, oracle_draws=2,
                   oracle_every=1, progress=False)  # fmt: skip
    assert len(result.ran) == 10
    for name in FILES:
        assert (tmp_path / name).stat().st_size > 0, name
    report = (tmp_path / "report.md").read_text()
    for key in ("[1, 2, 4]", "[1, 2, 3, 4]"):
        assert f"### Slices {key}: all scored periods" in report
        assert f"### Slices {key}: busy hours (top quarter of demand)" in report
    assert "| equal | " in report and "| floor |" in report and "yardstick" in report
    assert "| HalfFirst | " in report and "seeds [0, 1]" in report
    # the recovery table sets each learner beside the paper's figure its class declares, if any
    recovery = {line.split(" | ")[0] + " | " + line.split(" | ")[1]: line
                for line in report.splitlines() if line.startswith(("| idla |", "| HalfFirst |"))
                and "two days) |" in line}  # fmt: skip
    # 10 periods of 30 min per slice set: no day to measure a recovery on, and it says so
    assert recovery["| idla | [1, 2, 3, 4]"].endswith("| 0.629 |")
    assert recovery["| HalfFirst | [1, 2, 3, 4]"].endswith("|  |")
    numbers = json.loads((tmp_path / "bench.json").read_text())
    engine = load_scenario("small").sim.engine  # the engine every run ran on is recorded
    assert numbers["engine"] == engine
    assert json.loads(next(tmp_path.glob("runs/equal*/summary.json")).read_text())["engine"] == (
        engine
    )
    per_seed = numbers["per_run"]["traffic"]
    assert set(per_seed) == {"0", "1"}
    # the gap closed is the ratio of the seeds' mean differences against the two yardsticks
    runs = numbers["per_run"]
    mean_u = {a: np.mean([runs[a][s]["sets"]["[1, 2, 3, 4]"]["all"]["mean_utility"] for s in ("0", "1")])
              for a in ("traffic", "equal", "sim-oracle")}  # fmt: skip
    gap = numbers["summary"]["traffic"]["[1, 2, 3, 4]"]["all"]["gap_closed"]["mean"]
    expected = (mean_u["traffic"] - mean_u["equal"]) / (mean_u["sim-oracle"] - mean_u["equal"])
    assert gap == pytest.approx(expected)
    u = [per_seed[s]["sets"]["[1, 2, 3, 4]"]["all"]["mean_utility"] for s in ("0", "1")]
    floor = [
        numbers["per_run"]["equal"][s]["sets"]["[1, 2, 3, 4]"]["all"]["mean_utility"]
        for s in ("0", "1")
    ]
    diff = numbers["summary"]["traffic"]["[1, 2, 3, 4]"]["all"]["diff_vs_equal"]
    assert diff["mean"] == pytest.approx(np.mean(u) - np.mean(floor))
    # a rerun resumes: finished runs are kept, not run again
    again = bench("small", ["equal", "traffic"], 1, tmp_path, overrides=SHORT, progress=False)
    assert again.ran == [] and len(again.skipped) == 2


def test_oracle_every_scores_every_agent_on_the_same_periods(tmp_path):
    bench("small", ["equal", "sim-oracle"], 1, tmp_path, overrides=SHORT, oracle_draws=1,
          oracle_every=3, progress=False, workers=1)  # fmt: skip
    numbers = json.loads((tmp_path / "bench.json").read_text())
    sets = [
        numbers["per_run"][a]["0"]["sets"]["[1, 2, 3, 4]"]["all"]["periods"]
        for a in ("equal", "sim-oracle")
    ]
    assert sets == [3, 3]  # H2 = [20, 30): periods 21, 24, 27
    assert "every 3-th period only" in (tmp_path / "report.md").read_text()


def test_bench_says_what_it_does_shows_periods_as_they_run_and_a_short_summary(tmp_path, capsys):
    out = tmp_path / "b"
    args = ["bench", "--scenario", "small", "--agents", "equal,traffic,idla,sim-oracle",
            "--seeds", "2", "--set", "sim.window_s=2", "--oracle-draws", "1", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    done = capsys.readouterr()
    assert done.err.startswith("8 runs to do on 2 worker(s)\n")  # before anything runs
    assert "384/384" in done.err and "8/8 runs done" in done.err  # 8 runs x 48 periods
    summary = done.out.splitlines()
    assert summary[0] == f"8 runs done; wrote {out / 'report.md'}, bench.json and the figures"
    assert len(summary) - 1 <= 40 and "| idla | [1, 2, 3, 4] |" in done.out
    assert "| sim-oracle (yardstick) | [1, 2, 4] |" in done.out
    assert "# Benchmark report" not in done.out and "--verbose prints it" in done.out
    # the same command again re-uses every run; --verbose prints the whole report
    assert main([*args, "--verbose"]) == 0
    again = capsys.readouterr()
    assert again.err.startswith(f"0 runs to do on 2 worker(s); 8 finished ones re-used from {out}")
    assert again.out.splitlines()[0].startswith("0 runs done; 8 finished ones re-used")
    assert "# Benchmark report: small" in again.out and "### Slices [1, 2, 4]" in again.out


def test_the_summary_keeps_to_its_limit_and_a_short_run_says_it_is_a_smoke_run(tmp_path):
    result = bench("small", ["equal", "traffic", "tests.experiments.test_bench:HalfFirst"], 1,
                   tmp_path, overrides=SHORT, progress=False)  # fmt: skip
    assert result.numbers is not None
    table = summary_table(result.numbers, result.meta, result.report, limit=12)
    assert len(table.splitlines()) <= 12 and "more rows in the report" in table
    full = summary_table(result.numbers, result.meta, result.report)
    assert "more rows" not in full and full.count("| [1, 2") == 6  # 3 agents x 2 slice sets
    note = "**A smoke run** (one seed: no intervals; the timeline compressed from 48 to 30 periods)"
    assert note in full and note in (tmp_path / "report.md").read_text()
    assert smoke_note(n_seeds=3, n_periods=5000, full_periods=5000) == ""


def test_periods_are_reported_as_they_run():
    counts: list[int] = []
    env = _Ticks(make_env("small", {"sim.window_s": 2.0}), counts.append, every_s=0.0)
    run(env, EqualAgent(), periods=5, progress=False, seed=0)
    assert counts == [1, 1, 1, 1, 1]
    batched: list[int] = []
    env = _Ticks(make_env("small", {"sim.window_s": 2.0}), batched.append, every_s=3600.0)
    run(env, EqualAgent(), periods=5, progress=False, seed=0)
    env.flush()
    assert batched == [5]


def test_fig5_draws_only_slice_sets_with_scored_periods(tmp_path):
    traj = run(make_env("small", {"sim.window_s": 2.0}), EqualAgent(), progress=False, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "No artists with labels found" for an empty panel
        fig5_cdf({"equal": traj}, 32, 1, tmp_path / "one.png", set())  # H2 only is scored
        fig5_cdf({"equal": traj}, 20, 1, tmp_path / "two.png", set())
    one, two = (plt_image.imread(tmp_path / f"{n}.png").shape[1] for n in ("one", "two"))
    assert two == 2 * one  # 4.2 inches a panel


def test_stats_intervals_and_the_gap():
    e = estimate([1.0, 2.0, 3.0])
    assert e.mean == 2.0 and e.half_width == pytest.approx(4.303 * 1.0 / np.sqrt(3), rel=1e-3)
    assert paired([2.0, 3.0, 4.0], [1.0, 2.0, 3.1]).above_zero()
    assert not paired([2.0, 1.0], [1.0, 2.0]).above_zero()
    g = gap_closed([1.0, 1.5], [0.0, 0.5], [2.0, 2.5])
    assert g.mean == pytest.approx(0.5) and g.half_width == pytest.approx(0.0)
    assert np.isnan(gap_closed([1.0], [1.0], [0.5]).mean)  # no gap to close


def test_an_agent_that_cannot_learn_says_so(recwarn):
    config = {**SHORT, "timeline.n_periods": 14}
    agent = TD3Agent()  # batch 256, at least 32: 10 periods x 3 cells = 30 transitions
    run(make_env("small", config), agent, periods=10, progress=False, seed=0)
    assert not agent.stats()["learned"] and agent.stats()["gradient_steps"] == 0
    adapted = TD3Agent(collect_periods=12)
    with pytest.warns(
        RuntimeWarning, match=r"fewer than batch_size = 256: training on batches of 36"
    ):
        run(make_env("small", config), adapted, progress=False, seed=0)
    assert adapted.stats()["learned"] and adapted.stats()["batch_size"] == 36


def test_bench_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="agent 'nope' is unknown"):
        make_agent("nope")
    with pytest.raises(
        ValueError, match=r"agent 'tests\.experiments\.test_bench:Missing' cannot be imported"
    ):
        make_agent("tests.experiments.test_bench:Missing")
    with pytest.raises(ValueError, match=r"agent\.sim-oracle\.draws = 0 is out of range"):
        bench("small", ["equal", "sim-oracle"], 1, tmp_path, oracle_draws=0)
    assert main(["bench", "--scenario", "small", "--agents", "traffic", "--seeds", "0",
                 "--out", str(tmp_path)]) == 2  # fmt: skip
    assert "argument --seeds: must be >= 1, got 0" in capsys.readouterr().err
    assert main(["bench", "--scenario", "small", "--agents", "sim-oracle", "--oracle-every",
                 "-1", "--out", str(tmp_path)]) == 2  # fmt: skip
    assert "argument --oracle-every: must be >= 1, got -1" in capsys.readouterr().err
    assert not (tmp_path / "report.md").exists()


def test_a_one_seed_report_marks_nothing_and_reads_each_sign(tmp_path):
    bench("small", ["equal", "tests.experiments.test_bench:HalfFirst"], 1, tmp_path,
          overrides=SHORT, progress=False)  # fmt: skip
    report = (tmp_path / "report.md").read_text()
    assert "✓" not in report
    numbers = json.loads((tmp_path / "bench.json").read_text())
    diffs = {key: numbers["summary"]["HalfFirst"][key]["all"]["diff_vs_equal"]["mean"]
             for key in ("[1, 2, 4]", "[1, 2, 3, 4]")}  # fmt: skip
    assert min(diffs.values()) < 0  # half the PRBs to slice 1 loses to equal shares somewhere
    for key, diff in diffs.items():  # each sign read alike: above or below, never "ties"
        side = "above" if diff > 0 else "below"
        assert f"slices {key}: all: {side} equal shares (1 seed: no interval)" in report


def test_seeds_take_a_count_or_a_list(tmp_path, capsys):
    out = tmp_path / "seeds"
    assert main(["bench", "--scenario", "small", "--agents", "equal,traffic", "--periods", "6",
                 "--set", "sim.window_s=2", "--seeds", "5,7", "--quiet", "--out", str(out)]) == 0  # fmt: skip
    assert sorted(p.name for p in (out / "runs").iterdir()) == [
        "equal-s5", "equal-s7", "traffic-s5", "traffic-s7"]  # fmt: skip
    assert "seeds [5, 7]" in (out / "report.md").read_text()
    swept = tmp_path / "sweep"
    assert main(["sweep", "--scenario", "small", "--agents", "equal", "--periods", "6", "--quiet",
                 "--set", "sim.window_s=2,3", "--seeds", "4,9", "--out", str(swept)]) == 0  # fmt: skip
    rows = (swept / "sweep.csv").read_text().splitlines()[1:]
    assert sorted({row.split(",")[2] for row in rows}) == ["4", "9"]
    assert "2 seed(s) per point (4, 9)" in (swept / "report.md").read_text()
    assert seed_list(3) == [0, 1, 2] and seed_list([11, 4]) == [11, 4]
    for bad, match in ((0, "count >= 1"), ([], "empty"), ([3, 3], "repeats"), ([-1], "not a seed")):
        with pytest.raises(ValueError, match=match):
            seed_list(bad)
    assert main(["bench", "--scenario", "small", "--seeds", "5,5", "--out", str(out)]) == 2
    assert "argument --seeds: a seed is repeated in '5,5'" in capsys.readouterr().err
    assert main(["bench", "--scenario", "small", "--seeds", "5,x", "--out", str(out)]) == 2
    assert "argument --seeds: expected a whole number, got 'x'" in capsys.readouterr().err


def test_ray_executor_runs_the_jobs(tmp_path):
    pytest.importorskip("ray")
    result = bench("small", ["traffic"], 2, tmp_path, overrides=SHORT, executor="ray", workers=2,
                   progress=False)  # fmt: skip
    assert sorted(r["seed"] for r in result.ran) == [0, 1]
    assert (tmp_path / "runs" / "traffic-s1" / "summary.json").is_file()


def test_bench_set_addresses_the_scenario_and_each_agent(tmp_path, capsys):
    out = tmp_path / "set"
    args = ["bench", "--scenario", "small", "--agents", "equal,td3,sim-oracle", "--periods", "12",
            "--set", "sim.window_s=2", "--set", "traffic.load_scale=1.2",
            "--set", "agent.td3.learning_rate=3e-4", "--set", "agent.sim-oracle.draws=2",
            "--quiet", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    numbers = json.loads((out / "bench.json").read_text())
    assert numbers["overrides"]["traffic.load_scale"] == 1.2
    assert numbers["settings"]["td3"] == {"learning_rate": 3e-4}
    # --set wins; every: the default on a 12-period timeline (phases too short for every 8th)
    assert numbers["settings"]["sim-oracle"] == {"draws": 2, "every": 1}
    assert "over K = 2 other draws" in (out / "report.md").read_text()  # the K that ran
    assert numbers["settings"]["equal"] == {}  # options reach an agent only when addressed
    job = json.loads((out / "runs" / "td3-s0" / "job.json").read_text())
    assert job["options"] == {"learning_rate": 3e-4}
    oracle = json.loads((out / "runs" / "sim-oracle-s0" / "summary.json").read_text())
    assert oracle["stats"]["draws"] == 2


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("agent.td3.learnin_rate=1e-3", r"agent\.td3: unknown key\(s\) \['learnin_rate'\]; allowed: \["),
        ("agent.td3.gamma=2", r"agent\.td3\.gamma = 2\.0 is out of range: allowed \[0, 1\]"),
        ("agent.idla.online.trust=0.01", r"agent\.idla\.online\.trust = 0\.01 is out of range: allowed \[0\.05, 1\]"),
        ("agent.equal.x=1", r"agent 'equal' has no settings"),
        ("agent.dqn.lr=1", r"--set agent\.dqn\.lr: expected agent\.<name>\.<field> with <name> one of --agents"),
        ("traffic.load_scal=1.2", r"traffic: unknown key\(s\) \['load_scal'\]"),
        ("sim.window_s=2,3", r"--set sim\.window_s: bench takes one value per key \(got 2\)"),
    ],
)  # fmt: skip
def test_a_bad_setting_fails_before_any_run(tmp_path, capsys, item, message):
    args = ["bench", "--scenario", "small", "--agents", "equal,idla,td3", "--set", item,
            "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "Traceback" not in err and not (tmp_path / "runs").exists()
