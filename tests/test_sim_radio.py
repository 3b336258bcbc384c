"""Layout, propagation, link and traffic models against their 3GPP definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

import slicesim
from slicesim.config import LayoutConfig, RadioConfig
from slicesim.sim.channel import Macro36942, UMa38901, sector_gain_db
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


def test_sector_pattern():
    radio = RadioConfig()
    assert sector_gain_db(np.array([0.0]), radio)[0] == 15.0
    assert sector_gain_db(np.array([32.5]), radio)[0] == pytest.approx(12.0)  # 3 dB at half beam
    assert sector_gain_db(np.array([180.0]), radio)[0] == pytest.approx(-5.0)  # front-to-back 20 dB


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
