"""O-RAN names: the env's and simulate's TS 28.552 measurements and the RRMPolicyRatio records."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from slicesim.cli import main
from slicesim.config import ConfigError, load_scenario
from slicesim.envs import SlicingVectorEnv, make_env
from slicesim.experiments.registry import make_agent
from slicesim.experiments.simulate import write_kpm_csv
from slicesim.rollout import Trajectory, run
from slicesim.sim.oran import MEASUREMENTS, rrm_policy_ratio, snssai

SHORT = {"timeline.n_periods": 6}


def _step_info(env, periods=3):
    env.reset(seed=2)
    shares = np.full(env.action_space.shape, 0.25, dtype=np.float32)
    for _ in range(periods):
        _, _, _, _, info = env.step(shares)
    return info


def test_kpm_is_the_kpis_in_the_units_of_ts_28552():
    env = make_env("paper", SHORT)
    info = _step_info(env)
    kpi, kpm, active = info["kpi"], info["kpm"], info["active"]
    assert list(kpm) == [m.name for m in MEASUREMENTS]
    sample = active & kpi["served"]
    assert sample.any() and (active & ~kpi["served"]).any()  # both cases are exercised
    np.testing.assert_allclose(kpm["DRB.UEThpDl"][sample], 1e3 * kpi["thr_mbps"][sample])  # kbit/s
    np.testing.assert_allclose(kpm["DRB.RlcSduDelayDl"][sample], 10 * kpi["delay_ms"][sample])
    assert (kpm["DRB.UEThpDl"][~sample] == 0).all()  # no data, no sample: 0 as in info["kpi"]
    assert (kpm["DRB.RlcSduDelayDl"][~sample] == 0).all()
    n_prb = env.unwrapped.config.radio.n_prb
    np.testing.assert_allclose(kpm["RRU.PrbUsedDl"][active], n_prb * kpi["prb_util"][active])
    assert (kpm["RRU.PrbUsedDl"][~active] == 0).all()
    np.testing.assert_allclose(kpm["DRB.MeanActiveUeDl"][active], kpi["users"][active])
    assert kpm["RRU.PrbAvailDl"].shape == kpm["RRU.PrbTotDl"].shape == (env.unwrapped.n_cells,)
    assert (kpm["RRU.PrbAvailDl"] == n_prb).all()
    used = kpm["RRU.PrbUsedDl"].sum(axis=1)
    np.testing.assert_allclose(kpm["RRU.PrbTotDl"], 100 * used / n_prb)  # percent of the cell
    # a slice never uses more than its share: the PRBs it used stay within its ratio
    assert (kpm["RRU.PrbUsedDl"][active] <= 0.25 * n_prb + 1e-9).all()


def test_every_replica_of_the_vector_env_reports_its_own_kpm():
    vec = SlicingVectorEnv(2, "small", config=SHORT)
    vec.reset(seed=[3, 4])
    shares = np.full(vec.action_space.shape, 0.25, dtype=np.float32)
    _, _, _, _, info = vec.step(shares)
    assert info["kpm"]["DRB.UEThpDl"].shape == (2, *vec.single_action_space.shape)
    single = make_env("small", SHORT)
    single.reset(seed=4)
    _, _, _, _, one = single.step(shares[1])
    for name, value in one["kpm"].items():
        np.testing.assert_array_equal(info["kpm"][name][1], value)


def test_simulate_writes_the_kpm_table(tmp_path):
    out, table = tmp_path / "run", tmp_path / "kpm.csv"
    assert main(["simulate", "--scenario", "small", "--periods", "4", "--out", str(out),
                 "--kpm-csv", str(table), "--quiet"]) == 0  # fmt: skip
    with table.open() as fh:
        rows = list(csv.DictReader(fh))
    header = ("period", "phase", "cell", "slice_id", "snssai", *(m.name for m in MEASUREMENTS))
    assert tuple(rows[0]) == header
    trajectory = Trajectory.load(out)
    active = trajectory.stacked("active")
    assert len(rows) == active.sum()  # one row per period, cell and active slice
    thr = trajectory.stacked("thr_mbps")[active]
    for row, value in zip(rows, thr, strict=True):
        assert row["snssai"] == f"1-{int(row['slice_id']):06x}"
        expected = 1e3 * value if value > 0 else float("nan")  # no data: no sample
        assert float(row["DRB.UEThpDl"]) == pytest.approx(expected, rel=1e-5, nan_ok=True)


def test_the_kpm_table_names_slices_by_the_scenarios_snssai(tmp_path):
    config = load_scenario("small", {"slices.0.sst": 2, "slices.0.sd": "00A0B1", **SHORT})
    assert snssai(config.slices[0]) == "2-00a0b1" and snssai(config.slices[1]) == "1-000002"
    trajectory = run(make_env(config), make_agent("equal"), progress=False, seed=0)
    write_kpm_csv(tmp_path / "k.csv", trajectory, config)
    with (tmp_path / "k.csv").open() as fh:
        names = {row["snssai"] for row in csv.DictReader(fh) if row["slice_id"] == "1"}
    assert names == {"2-00a0b1"}


def test_a_bad_sd_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match=r"slices\[1\]\.sd = 'xyz' must be six hex digits"):
        load_scenario("small", {"slices.1.sd": "xyz"})
    with pytest.raises(ConfigError, match=r"sst"):
        load_scenario("small", {"slices.1.sst": 0})


def test_rrm_policy_ratio_records_reserve_each_share_and_never_oversubscribe():
    config = load_scenario("paper")
    active = np.array([[True, True, False, True], [True, True, True, True]])
    x = np.where(active, 1 / active.sum(axis=1, keepdims=True), 0.0)
    records = rrm_policy_ratio(x, active, config.slices)
    assert len(records) == active.sum()
    first = records[0]
    assert first["cell"] == 0 and first["resourceType"] == "PRB_DL"
    assert first["rRMPolicyMemberList"] == [{"sNSSAI": "1-000001"}]
    # isolated slicing: the share is reserved (dedicated), guaranteed (min) and the cap (max)
    assert first["rRMPolicyDedicatedRatio"] == first["rRMPolicyMinRatio"] == 33
    assert first["rRMPolicyMaxRatio"] == 33
    for cell in (0, 1):
        mine = [r for r in records if r["cell"] == cell]
        assert sum(r["rRMPolicyDedicatedRatio"] for r in mine) <= 100
        assert {r["rRMPolicyMemberList"][0]["sNSSAI"][-1] for r in mine} == {
            str(s) for s in np.array(config.slice_ids)[active[cell]]
        }
    assert [r["rRMPolicyMaxRatio"] for r in records if r["cell"] == 1] == [25, 25, 25, 25]
    # a share never maps to a larger ratio, nor to more than 1 % less
    ratios = np.array([r["rRMPolicyMaxRatio"] for r in records]) / 100
    assert ((x[active] - ratios >= -1e-12) & (x[active] - ratios < 0.01)).all()


def test_rrm_policy_ratio_rejects_bad_shares():
    slices = load_scenario("paper").slices
    active = np.ones((2, 4), dtype=bool)
    with pytest.raises(ValueError, match=r"x has shape \(2, 3\).*\(n_cells, 4\)"):
        rrm_policy_ratio(np.full((2, 3), 0.25), active[:, :3], slices)
    with pytest.raises(ValueError, match=r"share must lie in \[0, 1\]"):
        rrm_policy_ratio(np.full((2, 4), np.nan), active, slices)
    with pytest.raises(ValueError, match=r"share must lie in \[0, 1\]"):
        rrm_policy_ratio(np.full((2, 4), 1.5), active, slices)


@pytest.mark.parametrize(
    ("action", "expected"),
    [("min", (0, 33, 100)), ("max", (0, 0, 33)), ("dedicated", (33, 33, 33))],
)
def test_rrm_policy_ratio_records_the_ratios_the_simulator_applies(action, expected):
    config = load_scenario("paper", {"sim.slicing": "rrm_policy", "sim.rrm_action": action})
    active = np.array([[True, True, False, True]])
    x = np.where(active, 1 / 3, 0.0)
    first = rrm_policy_ratio(x, active, config.slices, config.sim)[0]
    got = tuple(first[f"rRMPolicy{k}Ratio"] for k in ("Dedicated", "Min", "Max"))
    assert got == expected


def test_rrm_policy_ratio_takes_a_minimum_and_a_maximum_under_min_max():
    config = load_scenario("paper", {"sim.slicing": "rrm_policy", "sim.rrm_action": "min_max"})
    active = np.ones((1, 4), dtype=bool)
    x = np.stack([np.full((1, 4), 0.2), np.full((1, 4), 0.6)], axis=-1)
    records = rrm_policy_ratio(x, active, config.slices, config.sim)
    assert {(r["rRMPolicyMinRatio"], r["rRMPolicyMaxRatio"]) for r in records} == {(20, 60)}
    with pytest.raises(ValueError, match=r"expected x \(1, 4, 2\)"):
        rrm_policy_ratio(x[..., 0], active, config.slices, config.sim)
