"""Sweeps (grid, resume, early errors, Ray) and transfer (save, load, frozen means frozen)."""

from __future__ import annotations

import csv
import json

import pytest
import torch
import yaml

from agents import IDLAAgent, TD3Agent, run
from slicesim.cli import main
from slicesim.config import ConfigError, load_scenario
from slicesim.envs import make_env
from slicesim.experiments.bench import bench
from slicesim.experiments.metrics import SetSummary, SubsetSummary, verdict
from slicesim.experiments.report import BenchNumbers
from slicesim.experiments.stats import Estimate
from slicesim.experiments.sweep import COLUMNS, _cells, parse_sets, sweep
from slicesim.typed_config import to_dict

SHORT = 24  # periods: H0 [0, 10), H1 [10, 16), H2 [16, 24) on `small`


def test_sweep_grid_rows_figure_and_resume(tmp_path):
    sets = {"traffic.load_scale": [0.5, 1.5], "slices.1.thr_mbps": [1.0, 2.0]}
    result = sweep("small", sets, ["equal", "traffic"], 2, tmp_path, periods=SHORT,
                   workers=2, progress=False)  # fmt: skip
    assert len(result.points) == 4 and len(result.ran) == 4 * 2 * 2
    with (tmp_path / "sweep.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["traffic.load_scale", "slices.1.thr_mbps", *COLUMNS]
    assert len(rows) == 4 * 2 * 2 * 2  # points x agents x seeds x slice sets
    assert {r["traffic.load_scale"] for r in rows} == {"0.5", "1.5"}

    def mean_p(load: str) -> float:
        values = [float(r["p_r1"]) for r in rows if r["traffic.load_scale"] == load]
        return sum(values) / len(values)

    assert mean_p("0.5") > mean_p("1.5")  # more load, fewer needs met
    assert (tmp_path / "sweep.png").stat().st_size > 0
    assert "traffic.load_scale=0.5__slices.1.thr_mbps=2.0" in {
        p.name for p in (tmp_path / "points").iterdir()
    }
    # the report's row of one point says what its estimates say
    cell = next(c for c in result.cells if c["agent"] == "traffic" and c["slices"] == "[1, 2, 4]"
                and c["traffic.load_scale"] == 1.5 and c["slices.1.thr_mbps"] == 2.0)  # fmt: skip
    row = (f"| 1.5 | 2.0 | traffic | {cell['p_r1'].text(3)} | {cell['diff_vs_equal'].text()} | "
           f"{cell['gap_closed'].text()} | {verdict(cell['diff_vs_equal'])} |")  # fmt: skip
    assert row in (tmp_path / "report.md").read_text()
    again = sweep("small", sets, ["equal", "traffic"], 2, tmp_path, periods=SHORT, progress=False)
    assert again.ran == []  # every finished run is kept


@pytest.mark.parametrize(("oracle_gain", "defined"), [(0.01, False), (0.5, True)])
def test_gap_closed_is_na_where_the_oracle_ties_equal(oracle_gain, defined):
    def est(mean, half=0.05):
        return Estimate(mean, half, 3)

    def entry(gain, gap):
        part = SubsetSummary(mean_utility=est(20.0), mean_r=est(0.9), p_r1=est(0.9),
                             diff_vs_equal=est(gain), gap_closed=est(gap, 40.0))  # fmt: skip
        return {"[1, 2, 4]": SetSummary(all=part, busy=part, decision_ms=est(1.0),
                                        recovery_periods=est(0.0), converged_p_r1=est(0.9),
                                        recovered="3/3", learn_s=est(0.0), learned=True)}  # fmt: skip

    numbers = BenchNumbers(per_run={}, floor="equal", yardstick="sim-oracle",
                           summary={"equal": entry(0.0, 0.0), "sim-oracle": entry(oracle_gain, 1.0),
                                    "idla": entry(0.0, -17.0)})  # fmt: skip
    cells = {c["agent"]: c for c in _cells({"traffic.load_scale": 0.5}, numbers)}
    # With no gap to close (the oracle's interval reaches 0), the ratio is n/a, not -17 ± 40.
    assert (cells["idla"]["gap_closed"].text() != "n/a") == defined
    assert cells["idla"]["p_r1"].mean == 0.9
    assert cells["equal"]["floor"] and not cells["idla"]["floor"]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["traffic.load_scal=1,2"], r"traffic: unknown key\(s\) \['load_scal'\]"),
        (
            ["traffic.load_scale=1,0"],
            r"traffic\.load_scale = 0\.0 is out of range: allowed \(0, 10\]",
        ),
        (["slices.9.thr_mbps=1"], r"slices\.9: slices is a list of 4; allowed indices 0\.\.3"),
        (["sim.window_s"], r"--set 'sim\.window_s': expected KEY=V1,V2"),
    ],
)
def test_bad_sets_fail_before_any_run(tmp_path, items, message):
    with pytest.raises(ConfigError, match=message):
        sweep("small", parse_sets(items), ["equal"], 1, tmp_path, periods=SHORT, progress=False)
    assert not (tmp_path / "points").exists()


def test_sweep_cli_names_the_bad_set(tmp_path, capsys):
    code = main(["sweep", "--scenario", "small", "--agents", "equal", "--set",
                 "traffic.load_scale=1,abc", "--out", str(tmp_path)])  # fmt: skip
    assert code == 2
    assert "traffic.load_scale = 'abc' must be of type float" in capsys.readouterr().err


def other_small(tmp_path):
    """``small`` as another network: other cell weights and masks."""
    data = to_dict(load_scenario("small"))
    data["traffic"]["cell_weight_sigma"] = 0.8
    for sl, profile in zip(data["slices"], ["office", "transport", "residential", "entertainment"],
                           strict=True):  # fmt: skip
        sl["profile"] = profile
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_transfer_saves_loads_and_frozen_stays_frozen(tmp_path):
    target = other_small(tmp_path)
    out = tmp_path / "bench"
    bench(target, ["equal", "idla", "td3", "sim-oracle"], 1, out, periods=SHORT, oracle_draws=1,
          pretrain_scenario="small", progress=False)  # fmt: skip
    for agent in ("idla", "td3"):
        assert (out / "pretrain" / f"{agent}-small-s0" / "agent").is_dir()
    summaries = {
        p.name: json.loads((p / "summary.json").read_text()) for p in (out / "runs").iterdir()
    }
    assert set(summaries) >= {"idla-from-small-frozen-s0", "idla-from-small-online-s0",
                              "td3-from-small-frozen-s0", "td3-from-small-online-s0"}  # fmt: skip
    assert summaries["td3-from-small-frozen-s0"]["stats"]["gradient_steps"] == 0
    assert summaries["td3-from-small-online-s0"]["stats"]["gradient_steps"] > 0
    assert summaries["idla-from-small-frozen-s0"]["stats"]["refreshes"] == 0
    report = (out / "report.md").read_text()
    assert (out / "fig_transfer.png").stat().st_size > 0
    assert "## Transfer: pretrained on `small`, deployed here" in report
    assert "| idla (small, frozen) |" in report and "| td3 (small, online) |" in report
    # the weights themselves: a frozen deployment changes nothing
    for cls, params in ((IDLAAgent, lambda a: a.model.state_dict()),
                        (TD3Agent, lambda a: a.model.policy.state_dict())):  # fmt: skip
        agent = cls.load(out / "pretrain" / f"{cls.name}-small-s0" / "agent")
        before = {k: v.clone() for k, v in params(agent).items()}
        run(make_env(target, {"timeline.n_periods": 12}), agent, progress=False, seed=3)
        assert all(torch.equal(before[k], v) for k, v in params(agent).items())


def test_ray_two_point_sweep(tmp_path):
    pytest.importorskip("ray")
    result = sweep("small", {"traffic.load_scale": [0.8, 1.2]}, ["equal"], 1, tmp_path,
                   periods=SHORT, executor="ray", workers=2, progress=False)  # fmt: skip
    assert len(result.ran) == 2 and len(result.rows) == 2 * 2


def test_sweep_over_an_agent_setting_writes_its_column(tmp_path, capsys):
    out = tmp_path / "trust"
    args = ["sweep", "--scenario", "small", "--periods", "16", "--agents", "equal,idla",
            "--set", "agent.idla.online.trust=0.1,0.3", "--set", "sim.window_s=2",
            "--quiet", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    with (out / "sweep.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {row["agent.idla.online.trust"] for row in rows} == {"0.1", "0.3"}
    for trust in ("0.1", "0.3"):
        point = out / "points" / f"agent.idla.online.trust={trust}__sim.window_s=2"
        job = json.loads((point / "runs" / "idla-s0" / "job.json").read_text())
        assert job["options"] == {"online.trust": float(trust)}  # only idla gets it
        assert json.loads((point / "runs" / "equal-s0" / "job.json").read_text())["options"] == {}
    assert (
        main([*args[:-2], "--set", "agent.idla.online.trst=0.1", "--out", str(tmp_path / "x")]) == 2
    )
    assert "agent.idla.online: unknown key(s) ['trst']" in capsys.readouterr().err
