"""QoS and utility (paper eq. 3 and 5), result files and the ``slicesim simulate`` command."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from slicesim import qos, utility
from slicesim.cli import main
from slicesim.envs import make_env
from slicesim.experiments.registry import make_agent
from slicesim.io import atomic_write
from slicesim.rollout import Trajectory, run
from slicesim.sim import p_satisfied


def test_qos_is_the_tighter_of_throughput_and_delay_capped_at_one():
    thr = np.array([1.0, 4.0, 4.0, 0.0])
    delay = np.array([10.0, 400.0, 10.0, 0.0])
    r = qos(thr, delay, thr_need_mbps=2.0, delay_need_ms=100.0, served=np.array([1, 1, 1, 0]) > 0)
    np.testing.assert_allclose(r, [0.5, 0.25, 1.0, 1.0])
    assert utility(r) == pytest.approx(sum(math.log(1 + v) for v in r))
    assert utility(r, active=np.array([True, False, False, False])) == pytest.approx(math.log(1.5))


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("half")
        raise RuntimeError("boom")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with atomic_write(target) as fh:
        fh.write("whole")
    assert target.read_text() == "whole"


def test_simulate_is_the_benchmark_run_written_as_one_table(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["simulate", "--scenario", "small", "--periods", "5", "--policy", "traffic",
                 "--seed", "3", "--out", str(out), "--quiet"]) == 0  # fmt: skip
    with (out / "trajectory.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == ("period", "phase", "cell", "slice_id", *Trajectory.ARRAYS)
    assert len(rows) == 5 * 3 * 4
    r = [float(row["r"]) for row in rows if row["active"] == "1"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["periods"] == 5 and summary["H0"]["p_r1"] == pytest.approx(p_satisfied(r))
    assert all(float(row["x"]) == 0 for row in rows if row["active"] == "0")
    # the same traffic and shares as the benchmark's traffic agent with seed 3
    bench = run(make_env("small"), make_agent("traffic"), periods=5, progress=False, seed=3)
    np.testing.assert_array_equal(Trajectory.load(out).utility, bench.utility)


def test_simulate_reports_bad_input(tmp_path, capsys):
    assert main(["simulate", "--scenario", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown scenario 'nope'" in capsys.readouterr().err
    assert main(["simulate", "--scenario", "small", "--periods", "0", "--out", str(tmp_path)]) == 2
    assert "argument --periods: must be >= 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "trajectory.csv").exists()


def test_cli_checks_output_and_flags_before_running(tmp_path, capsys):
    afile = tmp_path / "a.txt"
    afile.write_text("x")
    for command in (["simulate", "--scenario", "small"], ["bench", "--scenario", "small"]):
        assert main([*command, "--out", str(afile)]) == 2
        assert f"--out '{afile}' is an existing file: give a folder" in capsys.readouterr().err
        assert main([*command, "--out", str(afile / "sub")]) == 2  # cannot be created
        assert "is not a writable folder" in capsys.readouterr().err
    assert main(["simulate", "--scenario", "small", "--seed", "-1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "argument --seed: must be >= 0, got -1" in err and "Traceback" not in err
    assert not (tmp_path / "trajectory.csv").exists()
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("slicesim 0.")
