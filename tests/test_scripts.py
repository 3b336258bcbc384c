"""The example and every benchmark script run, at tiny sizes, as a user would start them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from slicesim.cli import main

ROOT = Path(__file__).resolve().parents[1]

SCRIPTS = {
    "calibration.py": ["--seeds", "1", "--scenarios", "small"],
    "env_overhead.py": ["--scenario", "small", "--runs", "1", "--periods", "3"],
    "idla_diagnose.py": ["--periods", "80", "--draws", "2", "--set", "agent.idla.train.epochs=2"],
    "idla_offline.py": ["--periods", "60", "--every", "4", "--epochs", "2"],
    "idla_speed.py": ["--runs", "1", "--sizes", "12"],
    "kpi_model_cost.py": ["--runs", "1", "--periods", "2"],
    "oracle_k.py": [
        "--draws",
        "1",
        "--seeds",
        "1",
        "--periods",
        "40",
        "--every",
        "3",
        "--workers",
        "1",
        "--out",
        "runs/test-oracle-k",
    ],
    "oracle_speed.py": ["--draws", "2", "--periods", "3", "--runs", "1"],
    "memory.py": ["--short", "10", "--long", "20"],
    "sim_speed.py": ["--runs", "1", "--periods", "2", "--seeds", "1"],
    "td3_speed.py": ["--runs", "1", "--periods", "3"],
    "vector_speed.py": [
        "--sizes",
        "3",
        "--periods",
        "2",
        "--runs",
        "1",
        "--warmup",
        "1",
        "--layouts",
        "paper",
    ],
}


def test_every_benchmark_script_is_smoke_tested():
    assert sorted(SCRIPTS) == sorted(p.name for p in ROOT.joinpath("benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_benchmark_script_runs(script):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *SCRIPTS[script]],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "|" in done.stdout  # every script prints its result as a table


def test_the_custom_agent_example_runs_in_the_benchmark(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # as the example's docstring runs it: from the checkout
    out = tmp_path / "custom"
    args = ["bench", "--scenario", "small", "--periods", "12", "--set", "sim.window_s=2",
            "--agents", "equal", "--agent", "examples.custom_agent:Headroom", "--quiet",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((out / "runs" / "Headroom-s0" / "summary.json").read_text())
    assert summary["agent"] == "Headroom" and summary["periods"] == 12
    assert "| Headroom | " in (out / "report.md").read_text()


def test_the_ppo_vector_example_trains_and_compares_with_equal_shares():
    done = subprocess.run([sys.executable, "examples/ppo_vector.py", "--replicas", "2", "--periods", "24",
                           "--eval-periods", "3", "--window", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trained on 2 replicas x 12 periods" in done.stdout
    assert "| PPO (cell-wise, 2 replicas) |" in done.stdout and "| equal shares |" in done.stdout
