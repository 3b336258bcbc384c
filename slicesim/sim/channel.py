"""Large-scale channel: path loss, shadowing and the sector antenna, as coupling gains.

The result of :func:`coupling_gains` is, for every user and cell, the linear gain from the cell's
transmitter to the user (path loss, shadowing, antenna, minimum coupling loss). Users do not move
during a simulated window, so gains are computed once per user (fast fading is averaged out: the
scheduler shares time equally, see ``scheduler.py``).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from slicesim.config import PATHLOSS_NAMES, LayoutConfig, RadioConfig
from slicesim.sim.layout import Layout

__all__ = ["PATHLOSS_MODELS", "Macro36942", "PathLossModel", "UMa38901", "coupling_gains"]


class PathLossModel:
    """Path loss in dB and shadow-fading std for each link; registered by ``name``."""

    name: ClassVar[str] = ""

    def __init__(self, radio: RadioConfig, layout: LayoutConfig) -> None:
        self.radio = radio
        self.layout = layout

    def __call__(
        self, d2d_m: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Path loss (dB) and shadowing std (dB) for 2-D distances ``d2d_m``."""
        raise NotImplementedError


class UMa38901(PathLossModel):
    """TR 38.901 V17 Table 7.4.1-1 UMa, LOS/NLOS drawn with the LOS probability of Table 7.4.2-1."""

    name = "uma_38901"

    def __call__(
        self, d2d_m: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        h_bs, h_ut, fc = self.layout.bs_height_m, self.layout.ue_height_m, self.radio.carrier_ghz
        d2d = np.maximum(d2d_m, 10.0)  # Table 7.4.1-1 validity starts at 10 m
        d3d = np.sqrt(d2d**2 + (h_bs - h_ut) ** 2)
        # Breakpoint with effective heights h' = h - h_E, h_E = 1 m (Note 1 of Table 7.4.1-1).
        d_bp = 4 * (h_bs - 1.0) * (h_ut - 1.0) * fc * 1e9 / 299_792_458.0
        pl1 = 28.0 + 22 * np.log10(d3d) + 20 * math.log10(fc)
        pl2 = (
            28.0
            + 40 * np.log10(d3d)
            + 20 * math.log10(fc)
            - 9 * math.log10(d_bp**2 + (h_bs - h_ut) ** 2)
        )
        pl_los = np.where(d2d <= d_bp, pl1, pl2)
        pl_nlos = np.maximum(
            pl_los, 13.54 + 39.08 * np.log10(d3d) + 20 * math.log10(fc) - 0.6 * (h_ut - 1.5)
        )
        # Table 7.4.2-1 UMa; C'(h_UT) = 0 for h_UT <= 13 m.
        c_h = 0.0 if h_ut <= 13 else ((h_ut - 13) / 10) ** 1.5
        p_los = np.where(
            d2d <= 18,
            1.0,
            (18 / d2d + np.exp(-d2d / 63) * (1 - 18 / d2d))
            * (1 + c_h * 1.25 * (d2d / 100) ** 3 * np.exp(-d2d / 150)),
        )
        los = rng.random(d2d.shape) < p_los
        return np.where(los, pl_los, pl_nlos), np.where(los, 4.0, 6.0)  # sigma_SF 4 / 6 dB


class Macro36942(PathLossModel):
    """TR 36.942 section 4.5.2 macro model.

    L = 40 (1 - 4e-3 Dhb) log10(R km) - 18 log10(Dhb) + 21 log10(f MHz) + 80 dB.

    With Dhb = 15 m and f = 2600 MHz this is 130.5 + 37.6 log10(R km); shadowing 8 dB (4.5.3).
    """

    name = "macro_36942"

    def __call__(
        self, d2d_m: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        dhb = 15.0  # BS antenna height above average rooftop, TR 36.942 4.5.2
        r_km = np.maximum(d2d_m, 1.0) / 1000.0
        f_mhz = self.radio.carrier_ghz * 1000.0
        loss = (
            40 * (1 - 4e-3 * dhb) * np.log10(r_km)
            - 18 * math.log10(dhb)
            + 21 * math.log10(f_mhz)
            + 80.0
        )
        return loss, np.full_like(loss, 8.0)


PATHLOSS_MODELS: dict[str, type[PathLossModel]] = {m.name: m for m in (UMa38901, Macro36942)}
assert tuple(PATHLOSS_MODELS) == PATHLOSS_NAMES, "config.PATHLOSS_NAMES lists the models"


def sector_gain_db(offset_deg: np.ndarray, radio: RadioConfig) -> np.ndarray:
    """TR 36.942 section 4.2.1: G = G_max - min(12 (theta / theta_3dB)^2, A_m)."""
    theta = (offset_deg + 180.0) % 360.0 - 180.0
    return radio.antenna_gain_dbi - np.minimum(
        12.0 * (theta / radio.beamwidth_deg) ** 2, radio.max_attenuation_db
    )


def coupling_gains(
    layout: Layout,
    positions_m: np.ndarray,
    radio: RadioConfig,
    layout_config: LayoutConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """Linear coupling gains (n_users, n_cells) = 10^(-(PL + SF - G_ant) / 10), MCL applied.

    Shadowing is log-normal with inter-site correlation rho (TR 36.942 section 4.5):
    SF_us = sigma_us (sqrt(rho) a_u + sqrt(1 - rho) b_us); the three sectors of a site share it.
    """
    vec = layout.site_vectors(positions_m)  # (n, sites, 2): site -> user
    d2d = np.hypot(vec[..., 0], vec[..., 1])
    model = PATHLOSS_MODELS[radio.pathloss](radio, layout_config)
    loss_db, sigma_db = model(d2d, rng)
    rho = radio.shadowing_correlation
    common = rng.standard_normal((len(positions_m), 1))
    own = rng.standard_normal(d2d.shape)
    loss_db = loss_db + sigma_db * (math.sqrt(rho) * common + math.sqrt(1 - rho) * own)
    bearing = np.degrees(np.arctan2(vec[..., 1], vec[..., 0]))  # (n, sites)
    site = layout.cell_site
    offset = bearing[:, site] - layout.cell_azimuth_deg[None, :]
    coupling_db = loss_db[:, site] - sector_gain_db(offset, radio)
    coupling_db = np.maximum(coupling_db, radio.min_coupling_loss_db)
    return 10.0 ** (-coupling_db / 10.0)
