"""Layout, propagation, link and traffic models against their 3GPP definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

import slicesim
from slicesim.config import AntennaConfig, LayoutConfig, LegacyRadioConfig, RadioConfig
from slicesim.sim.antenna import array_factor_db, element_gain_db, gain_db, sector_gain_db
from slicesim.sim.calibration import (
    REFERENCES,
    link_budget,
    percentiles,
    reference_config,
    reference_curves,
)
from slicesim.sim.channel import (
    Macro36942,
    UMa38901,
    o2i_loss_db,
    uma_los_probability,
    uma_pathloss_db,
)
from slicesim.sim.layout import make_layout
from slicesim.sim.link import CQI_EFFICIENCY, LINK_MODELS, sinr_to_cqi
from slicesim.sim.traffic import PROFILES, TrafficMasks, daily_profile


def test_paper_layout_is_the_2x2_rhombus_with_wrap_around():
    layout = make_layout(LayoutConfig())
    np.testing.assert_allclose(
        layout.sites_m, [[0, 0], [500, 0], [250, 433.0127], [750, 433.0127]], atol=1e-3
    )
    assert layout.n_cells == 12
    # every site sees its six nearest neighbours at the ISD: no edge sites on the torus
    for s in range(4):
        vec = layout.site_vectors(layout.sites_m[s : s + 1] + 1e-6)[0]
        dist = np.sort(np.hypot(vec[:, 0], vec[:, 1]))
        np.testing.assert_allclose(dist, [0, 500, 500, 500], atol=1e-3)


@pytest.mark.parametrize("n_sites", [1, 3, 7, 19, 37])
def test_hex_clusters(n_sites):
    layout = make_layout(LayoutConfig(n_sites=n_sites))
    assert layout.n_sites == n_sites and layout.n_cells == 3 * n_sites
    area = abs(np.linalg.det(layout.tile_m))
    assert area == pytest.approx(n_sites * 500**2 * math.sqrt(3) / 2)  # one hexagon per site
    d = np.hypot(*(layout.sites_m[:, None] - layout.sites_m[None]).transpose(2, 0, 1))
    if n_sites > 1:
        assert d[d > 0].min() == pytest.approx(500.0)


def test_pathloss_grows_with_distance_and_frequency():
    d = np.array([20.0, 50, 100, 200, 400, 800])
    for model in (
        UMa38901(RadioConfig(), LayoutConfig()),
        Macro36942(RadioConfig(), LayoutConfig()),
    ):
        los_rng = np.random.default_rng(0)
        pl, _ = model(np.tile(d, (500, 1)), los_rng)
        assert np.all(np.diff(pl.mean(axis=0)) > 0)
    high = UMa38901(RadioConfig(carrier_ghz=3.5), LayoutConfig())
    low = UMa38901(RadioConfig(carrier_ghz=2.6), LayoutConfig())
    a, _ = high(d, np.random.default_rng(1))
    b, _ = low(d, np.random.default_rng(1))
    np.testing.assert_allclose(a - b, 20 * math.log10(3.5 / 2.6), atol=1e-9)


def test_36942_formula_at_2600_mhz():
    loss, sigma = Macro36942(RadioConfig(), LayoutConfig())(np.array([1000.0]), None)
    assert loss[0] == pytest.approx(130.5, abs=0.1) and sigma[0] == 8.0


def test_legacy_sector_pattern():
    legacy = LegacyRadioConfig()
    assert sector_gain_db(np.array([0.0]), legacy)[0] == 15.0
    assert sector_gain_db(np.array([32.5]), legacy)[0] == pytest.approx(12.0)  # 3 dB at half beam
    assert sector_gain_db(np.array([180.0]), legacy)[0] == pytest.approx(-5.0)  # 20 dB floor


def test_38901_element_pattern():
    ant = AntennaConfig()
    horizon = np.full(4, 90.0)
    g = element_gain_db(horizon, np.array([0.0, 32.5, 65.0, 180.0]), ant)
    np.testing.assert_allclose(
        g, [8.0, 5.0, -4.0, -22.0]
    )  # 8 dBi, 3 dB at phi_3dB / 2, 30 dB floor
    v = element_gain_db(np.array([90.0 + 32.5, 180.0]), np.zeros(2), ant)
    np.testing.assert_allclose(v, [5.0, 8.0 - 12 * (90 / 65) ** 2])  # straight down: 23 dB
    # the combined floor: far off in both planes is still only 30 dB down (Table 7.3-1)
    assert element_gain_db(np.array([150.0]), np.array([120.0]), ant)[0] == pytest.approx(-22.0)


def test_column_beam_points_at_the_electrical_tilt():
    column, single = AntennaConfig(), AntennaConfig(elements=1)
    theta = np.linspace(60.0, 150.0, 9001)
    af = array_factor_db(theta, column)
    assert theta[np.argmax(af)] == pytest.approx(102.0, abs=0.02)  # 12 deg below the horizon
    assert af.max() == pytest.approx(10.0, abs=1e-6)  # M = 10 elements
    assert np.all(array_factor_db(theta, single) == 0.0)
    # peak about 18 dBi; towards the horizon the column is several dB below its peak
    peak = gain_db(np.array([102.0]), np.zeros(1), column)[0]
    assert peak == pytest.approx(18.0 - 12 * (12 / 65) ** 2, abs=1e-6)
    assert gain_db(np.array([90.0]), np.zeros(1), column)[0] < peak - 3


def test_uma_pathloss_and_los_probability():
    d = np.array([20.0, 50, 100, 200, 400, 800])
    h = np.full_like(d, 1.5)
    los = uma_pathloss_db(d, h, np.ones(6, bool), np.ones(6), 2.6, 25.0)
    nlos = uma_pathloss_db(d, h, np.zeros(6, bool), np.ones(6), 2.6, 25.0)
    assert np.all(np.diff(los) > 0) and np.all(np.diff(nlos) > 0) and np.all(nlos >= los)
    # at 1.5 m the 3GPP function is the legacy model's formula
    legacy = UMa38901(RadioConfig(), LayoutConfig())
    both, _ = legacy(np.tile(d, (4000, 1)), np.random.default_rng(0))
    p = uma_los_probability(d, h)
    expected = p * los + (1 - p) * nlos
    np.testing.assert_allclose(both.mean(axis=0), expected, rtol=0.01)
    assert uma_los_probability(np.array([10.0]), np.array([1.5]))[0] == 1.0  # within 18 m
    # higher floors see the BS more often (C'(h_UT) of Table 7.4.2-1)
    assert uma_los_probability(np.array([300.0]), np.array([22.5]))[0] > p[4]


def test_o2i_penetration_loss_38901_table():
    # TR 38.901 Table 7.4.3-2 at 6 GHz: L_glass 3.2, L_IRRglass 24.8, L_concrete 29 dB
    low, high = o2i_loss_db("tr38901", 6.0, np.array([False, True]), np.zeros(2))
    assert low == pytest.approx(13.40, abs=0.01) and high == pytest.approx(30.69, abs=0.01)
    assert o2i_loss_db("tr38901", 6.0, np.array([False]), np.array([10.0]))[0] == pytest.approx(
        18.40, abs=0.01
    )  # + 0.5 d_2D-in
    assert o2i_loss_db("tr36873", 2.0, np.array([True]), np.array([10.0]))[0] == 25.0


def test_3gpp_drops_indoor_floors_and_own_streams():
    config = slicesim.load_scenario("paper")
    pool = slicesim.Network(config, seed=4).pool
    assert pool.indoor.mean() == pytest.approx(0.8, abs=0.02)
    assert np.all(pool.height_m[~pool.indoor] == 1.5)
    floors = (pool.height_m[pool.indoor] - 1.5) / 3
    assert np.allclose(floors, np.round(floors)) and floors.max() == 7 and floors.min() == 0
    # the indoor state comes from a stream of its own: the positions do not move
    outdoor = slicesim.Network(config.replace({"radio.indoor.fraction": 0.0}), seed=4).pool
    np.testing.assert_array_equal(outdoor.xy_m, pool.xy_m)
    assert not outdoor.indoor.any() and np.all(outdoor.height_m == 1.5)
    # indoor users lose more: the O2I loss shows in the median coupling loss
    assert np.median(pool.coupling_db.min(axis=1)) > np.median(outdoor.coupling_db.min(axis=1)) + 10


def test_uniform_drops_cover_the_sector_evenly():
    layout = make_layout(LayoutConfig())
    cells = np.repeat(np.arange(12), 4000)
    xy = layout.drop_uniform(cells, np.random.default_rng(0), 35.0)
    vec = layout.site_vectors(xy)
    dist = np.hypot(vec[..., 0], vec[..., 1])
    own = dist[np.arange(len(cells)), layout.cell_site[cells]]
    assert np.all(np.argmin(dist, axis=1) == layout.cell_site[cells])  # inside its site's hexagon
    assert own.min() >= 35.0 and own.max() <= 500 / math.sqrt(3) + 1e-9
    # a uniform hexagon has 9.3 % of its area beyond ISD / 2 (disc wedges: 13.4 %)
    assert np.mean(own > 250.0) == pytest.approx(0.093, abs=0.01)
    bearing = np.degrees(np.arctan2(vec[..., 1], vec[..., 0]))[
        np.arange(len(cells)), layout.cell_site[cells]
    ]
    offset = (bearing - layout.cell_azimuth_deg[cells] + 180) % 360 - 180
    assert np.abs(offset).max() <= 60.0


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_link_budget_meets_each_3gpp_reference_within_1_db(name):
    config = reference_config(name)
    budgets = [link_budget(config, seed) for seed in (0, 1)]
    curves = reference_curves(name)
    compared = 0
    for metric in ("coupling_loss_db", "geometry_db", "sir_db"):
        if metric not in curves or (metric == "sir_db" and "geometry_db" in curves):
            continue
        ours = np.percentile(np.concatenate([b[metric] for b in budgets]), [5, 50, 95])
        np.testing.assert_allclose(ours, percentiles(curves[metric]), atol=1.0, err_msg=metric)
        compared += 1
    assert compared == 2


def test_paper_as_shipped_is_calibrated():
    budget = link_budget(slicesim.load_scenario("paper"), seed=0)
    assert np.percentile(budget["sir_db"], 95) >= 23.0
    assert np.median(budget["coupling_loss_db"]) >= 105.0
    legacy = link_budget(slicesim.load_scenario("paper", {"radio.model": "legacy"}), seed=0)
    assert np.percentile(legacy["sir_db"], 95) < 17.1  # the 2-D pattern's 20 dB floor
    with pytest.raises(KeyError, match="unknown calibration reference 'tr99'"):
        reference_config("tr99")


def test_cqi_mapping():
    assert list(sinr_to_cqi(np.array([-20.0, -6.93, 0.0, 19.83, 40.0]))) == [1, 1, 4, 15, 15]
    cqi, bps = LINK_MODELS["cqi"](RadioConfig())(np.array([30.0]))
    # peak: 100 PRBs x 180 kHz x 5.5547 bit/s/Hz x (1 - 0.25) = 75.0 Mbit/s (TS 36.213: 75.4)
    assert cqi[0] == 15 and 100 * bps[0] == pytest.approx(75.0e6, rel=0.01)
    assert np.all(np.diff(CQI_EFFICIENCY) > 0)
    _, shannon = LINK_MODELS["shannon"](RadioConfig())(np.array([-15.0, 0.0, 40.0]))
    assert shannon[0] == 0 and shannon[2] == pytest.approx(4.4 * 180e3 * 0.75)


def test_masks_follow_the_daily_profiles_and_are_reproducible():
    config = slicesim.load_scenario("paper")
    masks = TrafficMasks(config, seed=3)
    two_days = masks.series(0, 192)
    assert two_days.shape == (192, 4)
    assert np.all((two_days >= 0) & (two_days <= 1))
    base = daily_profile(PROFILES["office"], 96)
    assert np.corrcoef(two_days[:96, 2], base)[0, 1] > 0.95
    assert not np.array_equal(two_days[:96], two_days[96:])  # day-to-day variation
    np.testing.assert_array_equal(TrafficMasks(config, seed=3).series(90, 100), two_days[90:100])
    assert not np.array_equal(TrafficMasks(config, seed=4)(5), masks(5))


def test_demand_follows_the_mask():
    net = slicesim.Network(slicesim.load_scenario("paper"), seed=0)
    night, evening = net.expected_demand_mbps(16), net.expected_demand_mbps(84)  # 04:00, 21:00
    assert evening[:, 0].sum() > 3 * night[:, 0].sum()  # residential video
    assert np.all(net.expected_demand_mbps(3500)[:, 2] > 0) and np.all(evening[:, 2] == 0)
