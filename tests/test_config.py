"""Scenario files: loading, overrides and the error messages of malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import slicesim
from slicesim.config import ConfigError
from slicesim.typed_config import to_dict


def test_shipped_scenarios_load():
    assert {"paper", "small"} <= set(slicesim.list_scenarios())
    paper = slicesim.load_scenario("paper")
    assert paper.layout.n_sites == 4 and paper.radio.carrier_ghz == 2.6
    assert paper.radio.n_prb == 100
    assert [s.thr_mbps for s in paper.slices] == [2.0, 1.0, 1.5, 0.5]
    assert [p.start for p in paper.timeline.phases] == [0, 1000, 3000]
    assert paper.phase_at(2999).slices == (1, 2, 4) and paper.phase_at(3000).slices == (1, 2, 3, 4)
    assert paper.timeline.n_periods == 5000


def test_overrides_nested_and_dotted():
    c = slicesim.load_scenario("small", {"sim.window_s": 5.0, "radio": {"tx_power_dbm": 40}})
    assert c.sim.window_s == 5.0 and c.radio.tx_power_dbm == 40.0
    assert c.layout == slicesim.load_scenario("small").layout


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def base() -> dict:
    return to_dict(slicesim.load_scenario("small"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["radio"].update(carrier_ghz=-1.0), r"radio\.carrier_ghz = -1\.0 is out of range: allowed \[0\.5, 100\] GHz"),
        (lambda d: d["radio"].update(colour="red"), r"radio: unknown key\(s\) \['colour'\]"),
        (lambda d: d.update(extra=1), r"scenario: unknown key\(s\) \['extra'\]"),
        (lambda d: d["sim"].update(window_s="long"), r"sim\.window_s = 'long' must be of type float"),
        (lambda d: d["layout"].update(n_sites=2.5), r"layout\.n_sites = 2\.5 must be of type int"),
        (lambda d: d["slices"][0].update(thr_mbps=0.0), r"slices\[0\]\.thr_mbps = 0\.0 is out of range: allowed \(0, 10000\] Mbit/s"),
        (lambda d: d["timeline"]["phases"][1].update(slices=[1, 9]), r"timeline\.phases\[1\]\.slices: unknown slice id 9"),
        (lambda d: d["timeline"]["phases"][0].update(start=3), r"timeline\.phases must start with a phase at start = 0"),
        (lambda d: d["radio"].update(legacy={"pathloss": "free_space"}), r"radio\.legacy\.pathloss = 'free_space' is unknown: allowed \['macro_36942', 'uma_38901'\]"),
        (lambda d: d["radio"].update(pathloss="uma_38901"), r"radio\.pathloss is now radio\.legacy\.pathloss \(moved in slicesim 0\.2\)"),
        (lambda d: d["radio"].update(model="2d"), r"radio\.model = '2d' is unknown: allowed \['3gpp', 'legacy'\]"),
        (lambda d: d["radio"].update(indoor={"o2i": "none"}), r"radio\.indoor\.o2i = 'none' is unknown: allowed \['tr36873', 'tr38901'\]"),
        (lambda d: d["radio"].update(indoor={"fraction": 1.2}), r"radio\.indoor\.fraction = 1\.2 is out of range: allowed \[0, 1\]"),
        (lambda d: d["radio"].update(indoor={"floors_min": 9}), r"radio\.indoor\.floors_min = 9 must not exceed floors_max = 8"),
        (lambda d: d["radio"].update(antenna={"elements": 0}), r"radio\.antenna\.elements = 0 is out of range: allowed \[1, 64\]"),
        (lambda d: d["sim"].update(kpi_model="fluid"), r"sim\.kpi_model = 'fluid' is unknown: allowed \['legacy', 'user_ps'\]"),
        (lambda d: d["sim"].update(epoch_s=20.0), r"sim\.epoch_s = 20\.0 must not exceed window_s = 10\.0"),
        (lambda d: d["slices"][1].update(id=1), r"slices\[\]\.id = \[1, 1, 3, 4\] must be unique"),
        (lambda d: d["layout"].update(n_sites=5), r"layout\.n_sites = 5 is not a hexagonal cluster size i\^2 \+ ij \+ j\^2: allowed 1, 3, 4, 7"),
        (lambda d: d["slices"][2].update(profile="stadium"), r"slices\[2\]\.profile = 'stadium' is unknown: allowed \['entertainment', 'office', 'residential', 'transport'\]"),
        (lambda d: d["traffic"].update(load_scale=0.0), r"traffic\.load_scale = 0\.0 is out of range: allowed \(0, 10\]"),
        (lambda d: d["traffic"].update(masks_csv="no.csv"), r"traffic\.masks_csv: .*no\.csv' does not exist"),
    ],
)  # fmt: skip
def test_malformed_scenarios_name_the_field(tmp_path, edit, message):
    data = base()
    edit(data)
    with pytest.raises(ConfigError, match=message):
        slicesim.load_scenario(write(tmp_path, data))


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="unknown scenario 'nope'"):
        slicesim.load_scenario("nope")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        slicesim.load_scenario(tmp_path / "missing.yaml")
    (tmp_path / "broken.yaml").write_text("radio: [1, 2\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        slicesim.load_scenario(tmp_path / "broken.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="scenario must be a mapping"):
        slicesim.load_scenario(tmp_path / "list.yaml")


def test_masks_csv_errors_at_load(tmp_path):
    bad = tmp_path / "masks.csv"
    csv = {"traffic.masks_csv": str(bad)}
    bad.write_text("residential,office\n0.5,0.2\n0.4,1.7\n")
    with pytest.raises(
        ConfigError,
        match=r"traffic\.masks_csv: .* line 3, column 'office': '1.7' is out of range: allowed \[0, 1\]",
    ):
        slicesim.load_scenario("small", csv)
    bad.write_text("residential,office,entertainment,transport\n0.5,0.2,0.1\n")
    with pytest.raises(ConfigError, match="line 2: 3 values, expected 4"):
        slicesim.load_scenario("small", csv)
    bad.write_text("residential,office\n0.5,0.2\n")
    with pytest.raises(
        ConfigError,
        match=r"slices\[1\]\.profile = 'entertainment' is unknown: allowed \['residential', 'office'\] \(traffic\.masks_csv columns\)",
    ):
        slicesim.load_scenario("small", csv)
    with pytest.raises(ConfigError, match=r"traffic\.masks_csv: .*no\.csv' does not exist"):
        slicesim.load_scenario("small", {"traffic.masks_csv": str(tmp_path / "no.csv")})


def test_masks_csv_relative_to_the_scenario_file(tmp_path):
    (tmp_path / "m.csv").write_text("residential,office,entertainment,transport\n1,1,1,1\n")
    data = base()
    data["traffic"]["masks_csv"] = "m.csv"
    config = slicesim.load_scenario(write(tmp_path, data))
    assert config.traffic.masks_csv == str(tmp_path / "m.csv")
    assert slicesim.Network(config).masks(0).tolist() == [1.0, 1.0, 1.0, 1.0]


def test_dotted_overrides_index_lists_by_position():
    c = slicesim.load_scenario("small", {"slices.1.thr_mbps": 1.5, "timeline.phases.1.start": 20})
    assert [s.thr_mbps for s in c.slices] == [2.0, 1.5, 1.5, 0.5]
    assert c.timeline.phases[1].start == 20
    with pytest.raises(
        ConfigError, match=r"slices\.7: slices is a list of 4; allowed indices 0\.\.3"
    ):
        slicesim.load_scenario("small", {"slices.7.thr_mbps": 1.0})
    with pytest.raises(ConfigError, match=r"slices\[1\]: unknown key\(s\) \['thr'\]"):
        slicesim.load_scenario("small", {"slices.1.thr": 1.0})
    with pytest.raises(ConfigError, match=r"slices\.x: slices is a list of 4"):
        slicesim.load_scenario("small", {"slices.x.thr_mbps": 1.0})


def test_phase_after_the_end_warns():
    with pytest.warns(
        slicesim.config.TimelineWarning, match=r"\['H1', 'H2'\] start at or after n_periods = 10"
    ):
        slicesim.load_scenario("paper", {"timeline.n_periods": 10})
