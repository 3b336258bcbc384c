"""Link abstraction: SINR -> CQI -> spectral efficiency -> bits per PRB per second."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from slicesim.config import LINK_NAMES, RadioConfig

__all__ = ["CQI_EFFICIENCY", "CQI_SINR_DB", "LINK_MODELS", "CqiLink", "LinkModel", "ShannonLink"]

#: TS 36.213 Table 7.2.3-1 (4-bit CQI table), efficiency in bit/s/Hz for CQI 1..15.
CQI_EFFICIENCY = np.array(
    [0.1523, 0.2344, 0.3770, 0.6016, 0.8770, 1.1758, 1.4766, 1.9141,
     2.4063, 2.7305, 3.3223, 3.9023, 4.5234, 5.1152, 5.5547]
)  # fmt: skip
#: SINR (dB) at 10 % BLER for CQI 1..15 (Vienna LTE system-level simulator, cqiMapper).
CQI_SINR_DB = np.array(
    [-6.93, -5.15, -3.18, -1.25, 0.76, 2.70, 4.70, 6.53,
     8.58, 10.37, 12.30, 14.18, 15.89, 17.82, 19.83]
)  # fmt: skip


_CQI_SINR_LIN = 10.0 ** (CQI_SINR_DB / 10.0)


def sinr_to_cqi(sinr_db: np.ndarray) -> np.ndarray:
    """Highest CQI whose 10 % BLER threshold the SINR reaches, at least 1 (int, 1..15).

    Below the CQI-1 threshold a real scheduler still serves the user at the most robust
    modulation and coding with more HARQ retransmissions; we keep CQI 1 rather than starving it.
    """
    return np.maximum(np.searchsorted(CQI_SINR_DB, sinr_db, side="right"), 1)


def _cqi_linear(sinr: np.ndarray) -> np.ndarray:
    """:func:`sinr_to_cqi` for linear SINR (the hot path: no logarithms)."""
    return np.maximum(np.searchsorted(_CQI_SINR_LIN, sinr, side="right"), 1)


class LinkModel:
    """Maps SINR to (CQI, bits per second one PRB carries); registered by ``name``."""

    name: ClassVar[str] = ""
    compiled: ClassVar[bool] = False
    """The compiled engine implements :meth:`rates` of the class that declares this (in the class
    body that defines ``rates``; :mod:`slicesim.sim.engines`)."""

    def __init__(self, radio: RadioConfig) -> None:
        self.prb_rate = radio.prb_bandwidth_hz * (1.0 - radio.overhead)  # Hz carrying data

    def rates(self, sinr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CQI (1..15) and bits per second one PRB carries, for linear SINR."""
        raise NotImplementedError

    def __call__(self, sinr_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CQI (1..15) and bits per second that one PRB carries for each SINR in dB."""
        return self.rates(10.0 ** (np.asarray(sinr_db, dtype=float) / 10.0))


class CqiLink(LinkModel):
    """Efficiency of the reported CQI (TS 36.213 Table 7.2.3-1)."""

    name = "cqi"
    compiled = True  # slicesim.sim.compiled.epoch.link, on cqi_tables()

    def __init__(self, radio: RadioConfig) -> None:
        super().__init__(radio)
        self._bps = np.r_[0.0, CQI_EFFICIENCY] * self.prb_rate

    def rates(self, sinr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cqi = _cqi_linear(sinr)
        return cqi, self._bps[cqi]

    def cqi_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """The linear SINR thresholds of CQI 1..15 and bit/s per PRB of CQI 0..15 (what
        :meth:`rates` looks up)."""
        return _CQI_SINR_LIN, self._bps


class ShannonLink(LinkModel):
    """Truncated Shannon bound, TR 36.942 Annex A.2: alpha = 0.6, SINR_min -10 dB, 4.4 bit/s/Hz.

    The CQI reported beside it is still the TS 36.213 one (what the O&M KPI shows).
    """

    name = "shannon"
    alpha, sinr_min_db, max_efficiency = 0.6, -10.0, 4.4

    def rates(self, sinr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        eff = np.minimum(self.alpha * np.log2(1.0 + sinr), self.max_efficiency)
        eff = np.where(sinr < 10.0 ** (self.sinr_min_db / 10.0), 0.0, eff)
        return _cqi_linear(sinr), eff * self.prb_rate


LINK_MODELS: dict[str, type[LinkModel]] = {m.name: m for m in (CqiLink, ShannonLink)}
assert tuple(LINK_MODELS) == LINK_NAMES, "config.LINK_NAMES lists the models"
