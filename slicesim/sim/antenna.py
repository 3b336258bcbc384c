"""BS antenna gains: the TR 38.901 element, a vertical column with electrical downtilt, and the
2-D sector pattern of the legacy model.

Angles follow TR 38.901 section 7.1: ``theta`` is the zenith angle (90 deg = the horizon, larger
= below it) of the line from the BS to the user, ``phi`` the azimuth offset from the boresight.
"""

from __future__ import annotations

import numpy as np

from slicesim.config import AntennaConfig, LegacyRadioConfig

__all__ = ["array_factor_db", "element_gain_db", "gain_db", "sector_gain_db", "zenith_deg"]


def zenith_deg(d2d_m: np.ndarray, bs_height_m: float, ue_height_m: np.ndarray) -> np.ndarray:
    """Zenith angle (deg) of the line of sight from a BS to users at 2-D distance ``d2d_m``."""
    return 90.0 + np.degrees(np.arctan2(bs_height_m - ue_height_m, d2d_m))


def element_gain_db(theta_deg: np.ndarray, phi_deg: np.ndarray, ant: AntennaConfig) -> np.ndarray:
    """TR 38.901 Table 7.3-1: G_E,max - min(-(A_V + A_H), A_max), in dBi."""
    phi = (phi_deg + 180.0) % 360.0 - 180.0
    a_v = -np.minimum(12.0 * ((theta_deg - 90.0) / ant.beamwidth_v_deg) ** 2, ant.side_lobe_db)
    a_h = -np.minimum(12.0 * (phi / ant.beamwidth_h_deg) ** 2, ant.max_attenuation_db)
    return ant.element_gain_dbi - np.minimum(-(a_v + a_h), ant.max_attenuation_db)


def array_factor_db(theta_deg: np.ndarray, ant: AntennaConfig) -> np.ndarray:
    """Gain of a uniform vertical column of M elements with electrical downtilt, in dB.

    TR 36.873 section 7.1.1: |sum_m w_m v_m|^2 with v_m = exp(j 2 pi (m-1) d cos(theta)) and
    w_m = exp(-j 2 pi (m-1) d cos(theta_etilt)) / sqrt(M) (d in wavelengths), i.e.
    sin^2(M psi / 2) / (M sin^2(psi / 2)) with psi = 2 pi d (cos theta - cos theta_etilt): M (10 dB
    for M = 10) towards the tilted beam, 0 dB for one element.
    """
    m = ant.elements
    if m == 1:
        return np.zeros(np.shape(theta_deg))
    tilt = np.radians(90.0 + ant.electrical_tilt_deg)
    psi = 2 * np.pi * ant.spacing_wavelengths * (np.cos(np.radians(theta_deg)) - np.cos(tilt))
    half = np.sin(psi / 2)
    small = np.abs(half) < 1e-9  # the beam's peak: the limit is M
    ratio = np.sin(m * psi / 2) ** 2 / (m * np.where(small, 1.0, half) ** 2)
    return 10 * np.log10(np.maximum(np.where(small, float(m), ratio), 1e-30))


def gain_db(theta_deg: np.ndarray, phi_deg: np.ndarray, ant: AntennaConfig) -> np.ndarray:
    """Composite gain (dBi) of the element and the column towards (theta, phi)."""
    return element_gain_db(theta_deg, phi_deg, ant) + array_factor_db(theta_deg, ant)


def sector_gain_db(offset_deg: np.ndarray, legacy: LegacyRadioConfig) -> np.ndarray:
    """The legacy model's 2-D pattern, TR 36.942 4.2.1: G_max - min(12 (phi / phi_3dB)^2, A_m)."""
    theta = (offset_deg + 180.0) % 360.0 - 180.0
    return legacy.antenna_gain_dbi - np.minimum(
        12.0 * (theta / legacy.beamwidth_deg) ** 2, legacy.max_attenuation_db
    )
