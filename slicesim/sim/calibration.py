"""Radio calibration against 3GPP: link budgets of a network's drops and the reference networks.

The 3GPP system-level calibrations compare every simulator on the same statistics of users
dropped uniformly over a wrap-around layout: the **coupling loss** to the serving cell (path loss
+ shadowing + O2I - antenna gains), the **geometry** (wideband SINR with every cell fully loaded)
and, for interference-limited references, the **SIR**. :func:`link_budget` gives them for a
scenario's own drop pool (the users its simulator draws from); :func:`reference_config` builds
each reference's network with its own radio parameters, and :func:`reference_curves` returns
that reference's CDFs, shipped with their sources in ``slicesim/data/calibration_3gpp.json``:

* ``tr38901-uma-6ghz``: TR 38.901 7.8.1 large-scale calibration, UMa at 6 GHz (Table 7.8-1:
  19 sites, ISD 500 m, 49 dBm over 20 MHz, UE noise figure 9 dB, 80 % indoor, 50 % high-loss
  O2I, 10-element column with 12 deg downtilt); 3GPP mean of 21 companies (R1-165974).
* ``tr36873-k1``, ``tr36873-k10``: TR 36.873 8.2 phase 1, 3D-UMa at 2 GHz (Table 8.2-1), a single
  element or a 10-element column with 12 deg downtilt; O2I of TR 36.873 Table 7.2-1. These
  references used TR 36.873's own NLOS path loss; slicesim applies TR 38.901's UMa path loss to
  both (measured difference: README, "Calibration").
"""

from __future__ import annotations

import importlib.resources
import json
from functools import cache
from typing import Any

import numpy as np

from slicesim.config import ScenarioConfig
from slicesim.sim.engine import Network
from slicesim.sim.link import CQI_SINR_DB

__all__ = [
    "METRICS",
    "REFERENCES",
    "link_budget",
    "percentiles",
    "reference_config",
    "reference_curves",
]

METRICS = ("coupling_loss_db", "geometry_db", "sir_db")
"""The calibration statistics, each per drop in dB."""

_RADIO_38901 = {
    "carrier_ghz": 6.0,
    "tx_power_dbm": 49.0,  # TR 38.901 Table 7.8-1 (UMa)
    "n_prb": 100,
    "prb_bandwidth_hz": 200e3,  # 20 MHz of noise bandwidth, TR 38.901 Table 7.8-1
    "noise_figure_db": 9.0,
    "indoor": {"o2i": "tr38901", "high_loss_fraction": 0.5},
}
_RADIO_36873 = {
    "carrier_ghz": 2.0,
    "tx_power_dbm": 46.0,  # TR 36.873 Table 8.2-1 (10 MHz; SIR does not depend on it)
    "n_prb": 50,
    "prb_bandwidth_hz": 200e3,
    "indoor": {"o2i": "tr36873"},
}
REFERENCES: dict[str, dict[str, Any]] = {
    "tr38901-uma-6ghz": {"radio": {**_RADIO_38901, "antenna": {"elements": 10}}},
    "tr36873-k1": {"radio": {**_RADIO_36873, "antenna": {"elements": 1}}},
    "tr36873-k10": {"radio": {**_RADIO_36873, "antenna": {"elements": 10}}},
}
"""Each reference's departures from the 3GPP defaults of :class:`~slicesim.config.RadioConfig`."""
_LAYOUT = {"n_sites": 19, "isd_m": 500.0, "bs_height_m": 25.0, "min_distance_m": 35.0}
"""TR 38.901 Table 7.8-1 / TR 36.873 Table 8.2-1: 19 sites x 3 sectors, wrap-around, UMa."""


def reference_config(name: str) -> ScenarioConfig:
    """The network of calibration reference ``name`` (:data:`REFERENCES`), as a scenario.

    Raises:
        KeyError: an unknown reference (the message lists the known ones).
    """
    if name not in REFERENCES:
        raise KeyError(f"unknown calibration reference {name!r}: known {sorted(REFERENCES)}")
    return ScenarioConfig(name=name, description=f"3GPP calibration reference {name}").replace(
        {"layout": _LAYOUT, "radio": {"model": "3gpp", **REFERENCES[name]["radio"]}}
    )


@cache
def _reference_file() -> dict[str, Any]:
    data = importlib.resources.files("slicesim") / "data" / "calibration_3gpp.json"
    return dict(json.loads(data.read_text())["references"])


def reference_curves(name: str) -> dict[str, Any]:
    """The 3GPP CDFs of reference ``name``: its ``title``, ``source`` and, for each of
    :data:`METRICS` it reports, ``{"percentiles": [...], "values": [...]}`` (percent, dB)."""
    refs = _reference_file()
    if name not in refs:
        raise KeyError(f"unknown calibration reference {name!r}: known {sorted(refs)}")
    return refs[name]


def percentiles(curve: dict[str, Any], at: tuple[float, ...] = (5, 50, 95)) -> list[float]:
    """Values of a reference CDF at the percentiles ``at`` (linear interpolation)."""
    return [float(v) for v in np.interp(at, curve["percentiles"], curve["values"])]


def link_budget(config: ScenarioConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Per-drop calibration statistics of the drop pool ``Network(config, seed)`` draws users from.

    The pool has ``sim.drops_per_cell`` users per cell, uniform over the cell's area (3GPP model),
    attached to the cell with the largest coupling gain. Geometry is the SINR with every cell
    transmitting on every PRB; SIR leaves out the noise.

    Returns:
        ``coupling_loss_db``, ``geometry_db``, ``sir_db``, ``snr_db`` (serving cell alone),
        ``cqi`` and ``prb_bps`` (bit/s one PRB carries, at the geometry), ``below_cqi1``
        (geometry under the CQI-1 threshold), ``indoor`` (bool), ``height_m``,
        ``serving_cell`` (int): one entry per drop.
    """
    net = Network(config, seed)
    coupling = net.pool.coupling_db  # (n, n_cells)
    serving = np.argmin(coupling, axis=1)
    rows = np.arange(len(serving))
    gain = 10.0 ** (-coupling / 10.0) * net.tx_mw  # per PRB
    own = gain[rows, serving]
    others = gain.sum(axis=1) - own
    geometry = own / (net.noise_mw + others)
    cqi, prb_bps = net.link.rates(geometry)
    return {
        "coupling_loss_db": coupling[rows, serving],
        "geometry_db": 10 * np.log10(geometry),
        "sir_db": 10 * np.log10(own / others),
        "snr_db": 10 * np.log10(own / net.noise_mw),
        "cqi": cqi,
        "prb_bps": prb_bps,
        "below_cqi1": 10 * np.log10(geometry) < CQI_SINR_DB[0],
        "indoor": net.pool.indoor.copy(),
        "height_m": net.pool.height_m.copy(),
        "serving_cell": serving,
    }
