"""Runs claimed by one process at a time: two benches on one folder share its runs, each run is
computed once, and a killed bench's runs are taken over with the same numbers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from slicesim.experiments.claims import claimed, live_claim

SHORT = {"sim.window_s": 2.0, "timeline.n_periods": 24,
         "timeline.phases": [{"name": "H0", "start": 0, "slices": [1, 2, 4]},
                             {"name": "H1", "start": 8, "slices": [1, 2, 4]},
                             {"name": "H2", "start": 16, "slices": [1, 2, 3, 4]}]}  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]


def bench_process(out: Path, agents: str, seeds: int) -> subprocess.Popen:
    """``bench`` in a process of its own, one worker; prints the runs it computed as JSON."""
    code = (
        "import json, sys\n"
        "from slicesim.experiments.bench import bench\n"
        f"result = bench('small', {agents.split(',')!r}, {seeds}, {str(out)!r}, "
        f"overrides={SHORT!r}, workers=1, progress=False)\n"
        "print(json.dumps([[r['agent'], r['seed']] for r in result.ran]))\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_two_benches_on_one_folder_compute_each_run_once(tmp_path):
    agents, seeds = "equal,traffic,idla", 2
    first, second = (bench_process(tmp_path, agents, seeds) for _ in range(2))
    ran = []
    for proc in (first, second):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        ran.append({tuple(r) for r in json.loads(out.strip().splitlines()[-1])})
    assert not ran[0] & ran[1], "a run was computed by both"
    assert len(ran[0] | ran[1]) == 3 * seeds
    assert ran[0] and ran[1], "one process computed every run: the test shows nothing"
    assert (tmp_path / "report.md").is_file()
    assert not list(tmp_path.glob("runs/*/claim.json"))  # every claim let go


def trajectories(out: Path) -> dict[str, np.ndarray]:
    return {
        folder.name: np.load(folder / "trajectory.npz")["s_utility"]
        for folder in sorted((out / "runs").iterdir())
    }


def test_a_killed_bench_is_resumed_with_the_same_numbers(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    agents = "equal,idla"
    proc = bench_process(whole, agents, 2)
    assert proc.wait(timeout=300) == 0
    proc = bench_process(killed, agents, 2)
    deadline = time.monotonic() + 120
    while not list(killed.glob("runs/*/summary.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # mid-bench: a finished run, a claimed one
    proc.wait()
    left = [p.parent.name for p in killed.glob("runs/*/claim.json")]
    assert len(list(killed.glob("runs/*/summary.json"))) < 4
    again = bench_process(killed, agents, 2)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-2000:]
    ran = {f"{a}-s{s}" for a, s in json.loads(out.strip().splitlines()[-1])}
    assert set(left) <= ran  # the dead process's claims were taken over
    a, b = trajectories(whole), trajectories(killed)
    assert a.keys() == b.keys() and len(a) == 4
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_a_claim_is_held_while_its_owner_lives(tmp_path):
    with claimed(tmp_path) as mine:
        assert mine and (tmp_path / "claim.json").is_file()
        assert not live_claim(tmp_path)  # this process's own claim does not stop it
        with claimed(tmp_path) as again:  # a second claim in the same process: refused
            assert not again
    assert not (tmp_path / "claim.json").exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    claim = {"host": socket.gethostname(), "pid": int(dead.stdout), "started": "1"}
    (tmp_path / "claim.json").write_text(json.dumps(claim))
    assert not live_claim(tmp_path)  # its owner is gone: stale
    with claimed(tmp_path) as mine:
        assert mine  # taken over
