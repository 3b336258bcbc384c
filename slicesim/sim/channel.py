"""Large-scale channel: user drops and their coupling losses to every cell.

A radio model (``radio.model``, registry :data:`RADIO_MODELS`) drops users for given cells and
returns :class:`Drops`: for every user and cell the coupling loss = path loss + shadowing + O2I
loss - antenna gain. Users do not move during a simulated window, so this is computed once per
user drop (fast fading is averaged out: the scheduler shares time equally, ``scheduler.py``).

* ``3gpp`` (default): TR 38.901 UMa as calibrated in TR 38.901 7.8 / TR 36.873 8.2 -
  uniform drops over the area (:meth:`Layout.drop_uniform`), 80 % indoor users on floors with O2I
  penetration loss, UMa path loss with the LOS probability on the outdoor distance and the user's
  own height, shadowing per link (LOS 4 / NLOS 6 / O2I 7 dB) uncorrelated between sites, the 3-D
  antenna (:mod:`slicesim.sim.antenna`), attachment by the full coupling gain. Its new random
  quantities (indoor state, floors, O2I, LOS, shadowing) come from their own generator streams,
  so changing one of them leaves the others' draws alone.
* ``legacy``: slicesim 0.1, frozen so that earlier results reproduce bit for bit: disc-wedge
  drops, every user outdoors at the layout's UE height, the 2-D sector pattern, inter-site
  correlated shadowing, a minimum coupling loss. Its path-loss classes (:class:`UMa38901`,
  :class:`Macro36942`) are kept as they were, even where they repeat the 3GPP model's formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from slicesim.config import (
    O2I_NAMES,
    PATHLOSS_NAMES,
    RADIO_MODEL_NAMES,
    LayoutConfig,
    RadioConfig,
    ScenarioConfig,
)
from slicesim.sim.antenna import gain_db, sector_gain_db, zenith_deg
from slicesim.sim.layout import Layout

__all__ = [
    "PATHLOSS_MODELS",
    "RADIO_MODELS",
    "Drops",
    "Macro36942",
    "PathLossModel",
    "Radio3GPP",
    "RadioLegacy",
    "RadioModel",
    "UMa38901",
    "coupling_gains",
    "o2i_loss_db",
    "uma_los_probability",
    "uma_pathloss_db",
]

_C = 299_792_458.0  # speed of light, m/s


@dataclass(frozen=True)
class Drops:
    """User drops: where they are and what they couple to every cell.

    Attributes:
        xy_m: positions on the torus, (n, 2).
        height_m: user heights, (n,).
        indoor: indoor users, (n,).
        coupling_db: coupling loss to every cell (path loss + shadowing + O2I - antenna gain),
            (n, n_cells).
    """

    xy_m: np.ndarray
    height_m: np.ndarray
    indoor: np.ndarray
    coupling_db: np.ndarray


class RadioModel:
    """Drops users for cells and computes their coupling losses; registered by ``name``."""

    name: ClassVar[str] = ""

    def __init__(self, config: ScenarioConfig, seed: int) -> None:
        self.config, self.seed = config, int(seed)

    def drops(self, layout: Layout, cells: np.ndarray, rng: np.random.Generator) -> Drops:
        """Users dropped for ``cells`` (positions drawn from ``rng``) and their coupling losses."""
        raise NotImplementedError


# ---------------------------------------------------------------- the 3GPP model


def uma_los_probability(d2d_out_m: np.ndarray, ue_height_m: np.ndarray) -> np.ndarray:
    """TR 38.901 Table 7.4.2-1 UMa LOS probability on the outdoor 2-D distance."""
    d = np.maximum(d2d_out_m, 1e-9)
    c_h = np.where(ue_height_m <= 13.0, 0.0, ((np.maximum(ue_height_m, 13.0) - 13.0) / 10) ** 1.5)
    p = (18 / d + np.exp(-d / 63) * (1 - 18 / d)) * (
        1 + c_h * 1.25 * (d / 100) ** 3 * np.exp(-d / 150)
    )
    return np.where(d <= 18.0, 1.0, p)


def _uma_environment_height(
    d2d_m: np.ndarray, ue_height_m: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """TR 38.901 Table 7.4.1-1 note 1: h_E = 1 m with probability 1 / (1 + C(d_2D, h_UT)), else
    uniform on {12, 15, ..., h_UT - 1.5} m; C = 0 below 13 m."""
    g = np.where(d2d_m <= 18.0, 0.0, 1.25 * (d2d_m / 100) ** 3 * np.exp(-d2d_m / 150))
    c_h = np.where(ue_height_m < 13.0, 0.0, ((np.maximum(ue_height_m, 13.0) - 13.0) / 10) ** 1.5)
    steps = np.maximum(np.floor((ue_height_m - 1.5 - 12.0) / 3.0 + 1e-9), 0.0) + 1.0
    u, v = rng.random(d2d_m.shape), rng.random(d2d_m.shape)
    high = 12.0 + 3.0 * np.floor(v * steps)
    return np.where(u < 1.0 / (1.0 + c_h * g), 1.0, high)


def uma_pathloss_db(
    d2d_m: np.ndarray,
    ue_height_m: np.ndarray,
    los: np.ndarray,
    env_height_m: np.ndarray,
    carrier_ghz: float,
    bs_height_m: float,
) -> np.ndarray:
    """TR 38.901 Table 7.4.1-1 UMa path loss (dB), LOS or NLOS per link.

    The 2-D distance is clipped at the model's 10 m; the breakpoint uses the effective heights
    h - h_E.
    """
    d2d = np.maximum(d2d_m, 10.0)
    d3d = np.sqrt(d2d**2 + (bs_height_m - ue_height_m) ** 2)
    f_db = 20 * math.log10(carrier_ghz)
    d_bp = 4 * (bs_height_m - env_height_m) * (ue_height_m - env_height_m) * carrier_ghz * 1e9 / _C
    pl1 = 28.0 + 22 * np.log10(d3d) + f_db
    dh2 = (bs_height_m - ue_height_m) ** 2
    pl2 = 28.0 + 40 * np.log10(d3d) + f_db - 9 * np.log10(d_bp**2 + dh2)
    pl_los = np.where(d2d <= d_bp, pl1, pl2)
    nlos = 13.54 + 39.08 * np.log10(d3d) + f_db - 0.6 * (ue_height_m - 1.5)
    return np.where(los, pl_los, np.maximum(pl_los, nlos))


def o2i_loss_db(
    model: str, carrier_ghz: float, high_loss: np.ndarray, d2d_in_m: np.ndarray
) -> np.ndarray:
    """Building penetration loss PL_tw + PL_in (dB) of indoor users, without its random part.

    ``tr38901``: TR 38.901 Table 7.4.3-2 (materials of Table 7.4.3-1, f in GHz): low loss
    5 - 10 log10(0.3 10^(-L_glass/10) + 0.7 10^(-L_concrete/10)), high loss
    5 - 10 log10(0.7 10^(-L_IRRglass/10) + 0.3 10^(-L_concrete/10)), plus 0.5 d_2D-in.
    ``tr36873``: TR 36.873 Table 7.2-1, 20 dB + 0.5 d_2D-in.
    """
    if model == "tr36873":
        return 20.0 + 0.5 * d2d_in_m
    f = carrier_ghz
    glass, irr_glass, concrete = 2 + 0.2 * f, 23 + 0.3 * f, 5 + 4 * f
    low = 5 - 10 * math.log10(0.3 * 10 ** (-glass / 10) + 0.7 * 10 ** (-concrete / 10))
    high = 5 - 10 * math.log10(0.7 * 10 ** (-irr_glass / 10) + 0.3 * 10 ** (-concrete / 10))
    return np.where(high_loss, high, low) + 0.5 * d2d_in_m


_O2I_SIGMA_DB = {"tr38901": (4.4, 6.5), "tr36873": (0.0, 0.0)}
"""sigma_P of the penetration loss, (low, high) loss: TR 38.901 Table 7.4.3-2; TR 36.873 none."""
_SF_SIGMA_DB = (4.0, 6.0, 7.0)
"""Shadow fading std, LOS / NLOS / O2I: TR 38.901 Table 7.4.1-1 (UMa) and Table 7.5-6 (O2I)."""


class Radio3GPP(RadioModel):
    """The 3GPP-calibrated model (module docstring; parameters: ``radio``, ``radio.antenna``,
    ``radio.indoor``)."""

    name = "3gpp"

    def _stream(self, tag: int) -> np.random.Generator:
        """A generator of its own for one kind of quantity (indoor, LOS, shadowing)."""
        return np.random.default_rng([self.seed, 0x33677070, tag])  # "3gpp"

    def _indoor(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Indoor state, height, O2I loss (dB) and d_2D-in (m) of ``n`` users (0 outdoors)."""
        ind, lay = self.config.radio.indoor, self.config.layout
        rng = self._stream(1)
        indoor = rng.random(n) < ind.fraction
        floors = rng.integers(ind.floors_min, ind.floors_max + 1, n)  # N_fl
        floor = np.floor(rng.random(n) * floors) + 1.0  # n_fl ~ U{1..N_fl}
        height = np.where(indoor, 3.0 * (floor - 1.0) + 1.5, lay.ue_height_m)
        d_in = ind.max_distance_m * rng.random((2, n))
        # TR 38.901 7.4.3.1: UMa takes the minimum of two uniform draws; TR 36.873 one
        d_in = d_in.min(axis=0) if ind.o2i == "tr38901" else d_in[0]
        high = rng.random(n) < ind.high_loss_fraction
        sigma = np.where(high, *_O2I_SIGMA_DB[ind.o2i][::-1])
        loss = o2i_loss_db(ind.o2i, self.config.radio.carrier_ghz, high, d_in)
        loss = loss + sigma * rng.standard_normal(n)
        return indoor, height, np.where(indoor, loss, 0.0), np.where(indoor, d_in, 0.0)

    def drops(self, layout: Layout, cells: np.ndarray, rng: np.random.Generator) -> Drops:
        radio, lay = self.config.radio, self.config.layout
        n = len(cells)
        xy = layout.drop_uniform(cells, rng, lay.min_distance_m)
        indoor, height, o2i_db, d_in = self._indoor(n)
        vec = layout.site_vectors(xy)  # (n, sites, 2): site -> user
        d2d = np.hypot(vec[..., 0], vec[..., 1])
        h = height[:, None]
        links = self._stream(2)
        los = links.random(d2d.shape) < uma_los_probability(d2d - d_in[:, None], h)
        h_env = _uma_environment_height(d2d, h, links)
        loss = uma_pathloss_db(d2d, h, los, h_env, radio.carrier_ghz, lay.bs_height_m)
        sigma = np.where(indoor[:, None], _SF_SIGMA_DB[2], np.where(los, *_SF_SIGMA_DB[:2]))
        shadow = self._stream(3)
        rho = radio.shadowing_correlation
        common = shadow.standard_normal((n, 1))
        own = shadow.standard_normal(d2d.shape)
        loss = loss + sigma * (math.sqrt(rho) * common + math.sqrt(1 - rho) * own) + o2i_db[:, None]
        site = layout.cell_site
        phi = np.degrees(np.arctan2(vec[..., 1], vec[..., 0]))[:, site] - layout.cell_azimuth_deg
        theta = zenith_deg(d2d, lay.bs_height_m, h)[:, site]
        coupling = loss[:, site] - gain_db(theta, phi, radio.antenna)
        if radio.min_coupling_loss_db > 0:
            coupling = np.maximum(coupling, radio.min_coupling_loss_db)
        return Drops(xy, height, indoor, coupling)


# ---------------------------------------------------------------- the legacy model (frozen)


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
    """TR 38.901 V17 Table 7.4.1-1 UMa, LOS/NLOS drawn with the LOS probability of Table 7.4.2-1.

    Every user at the layout's UE height (legacy model; :func:`uma_pathloss_db` is the 3GPP one).
    """

    name = "uma_38901"

    def __call__(
        self, d2d_m: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        h_bs, h_ut, fc = self.layout.bs_height_m, self.layout.ue_height_m, self.radio.carrier_ghz
        d2d = np.maximum(d2d_m, 10.0)  # Table 7.4.1-1 validity starts at 10 m
        d3d = np.sqrt(d2d**2 + (h_bs - h_ut) ** 2)
        # Breakpoint with effective heights h' = h - h_E, h_E = 1 m (Note 1 of Table 7.4.1-1).
        d_bp = 4 * (h_bs - 1.0) * (h_ut - 1.0) * fc * 1e9 / _C
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


def coupling_gains(
    layout: Layout,
    positions_m: np.ndarray,
    radio: RadioConfig,
    layout_config: LayoutConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """Legacy model: coupling loss (n_users, n_cells) in dB, the MCL applied.

    Shadowing is log-normal with inter-site correlation rho (TR 36.942 section 4.5):
    SF_us = sigma_us (sqrt(rho) a_u + sqrt(1 - rho) b_us); the three sectors of a site share it.
    """
    legacy = radio.legacy
    vec = layout.site_vectors(positions_m)  # (n, sites, 2): site -> user
    d2d = np.hypot(vec[..., 0], vec[..., 1])
    model = PATHLOSS_MODELS[legacy.pathloss](radio, layout_config)
    loss_db, sigma_db = model(d2d, rng)
    rho = legacy.shadowing_correlation
    common = rng.standard_normal((len(positions_m), 1))
    own = rng.standard_normal(d2d.shape)
    loss_db = loss_db + sigma_db * (math.sqrt(rho) * common + math.sqrt(1 - rho) * own)
    bearing = np.degrees(np.arctan2(vec[..., 1], vec[..., 0]))  # (n, sites)
    site = layout.cell_site
    offset = bearing[:, site] - layout.cell_azimuth_deg[None, :]
    coupling_db = loss_db[:, site] - sector_gain_db(offset, legacy)
    return np.maximum(coupling_db, legacy.min_coupling_loss_db)


class RadioLegacy(RadioModel):
    """slicesim 0.1's model (module docstring; parameters: ``radio.legacy``)."""

    name = "legacy"

    def drops(self, layout: Layout, cells: np.ndarray, rng: np.random.Generator) -> Drops:
        lay = self.config.layout
        xy = layout.drop(cells, rng, lay.min_distance_m)
        coupling = coupling_gains(layout, xy, self.config.radio, lay, rng)
        n = len(cells)
        return Drops(xy, np.full(n, lay.ue_height_m), np.zeros(n, dtype=bool), coupling)


RADIO_MODELS: dict[str, type[RadioModel]] = {m.name: m for m in (Radio3GPP, RadioLegacy)}
assert tuple(RADIO_MODELS) == RADIO_MODEL_NAMES, "config.RADIO_MODEL_NAMES lists the models"
assert tuple(_O2I_SIGMA_DB) == O2I_NAMES, "config.O2I_NAMES lists the O2I models"
