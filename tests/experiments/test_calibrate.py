"""``slicesim calibrate``: the radio against the shipped 3GPP references, files and table."""

from __future__ import annotations

import json

import pytest

from slicesim.cli import main
from slicesim.sim.calibration import REFERENCES


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_calibrate_reference_writes_json_figure_and_table(tmp_path, capsys, name):
    assert main(["calibrate", "--reference", name, "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "calibration.json").read_text())
    assert (tmp_path / "calibration.png").stat().st_size > 10_000
    assert result["reference"] == name and list(result["references"]) == [name]
    for metric in ("coupling_loss_db", "geometry_db", "sir_db"):
        stats = result[metric]
        assert stats["p5"] < stats["p50"] < stats["p95"]
        assert len(stats["cdf"]["values"]) == len(stats["cdf"]["percentiles"]) == 101
    diff = result["difference_db"][name]
    assert "coupling_loss_db" in diff and set(diff["coupling_loss_db"]) == {"p5", "p50", "p95"}
    assert result["max_abs_difference_db"][name] <= 1.0  # calibrated: within 1 dB everywhere
    table = capsys.readouterr().out
    assert f"| {name}: " in table and "Full load: cell throughput" in table


def test_calibrate_scenario_and_its_errors(tmp_path, capsys):
    out = tmp_path / "legacy"
    args = ["calibrate", "--scenario", "small", "--set", "radio.model=legacy", "--seeds", "1"]
    assert main([*args, "--out", str(out)]) == 0
    result = json.loads((out / "calibration.json").read_text())
    assert result["radio_model"] == "legacy" and set(result["references"]) == set(REFERENCES)
    assert result["capacity"]["indoor"] == 0.0
    said = capsys.readouterr().out
    # a scenario's radio beside the references: the differences are the networks', and it says so
    assert "These are not calibration errors: small is not a reference network" in said
    assert "- tr38901-uma-6ghz (this scenario vs the reference): carrier 2.6 GHz vs 6 GHz" in said
    assert "sites 1 vs 19" in said and "radio model legacy vs 3gpp" in said
    assert "calibrate --reference NAME" in said
    assert main(["calibrate", "--reference", "tr99", "--out", str(tmp_path)]) == 2
    assert "invalid choice: 'tr99'" in capsys.readouterr().err
    assert main(["calibrate", "--set", "radio.model=2d", "--out", str(tmp_path)]) == 2
    assert "radio.model = '2d' is unknown" in capsys.readouterr().err
