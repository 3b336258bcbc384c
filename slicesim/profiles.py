"""Daily traffic profiles: the built-in hourly shapes and a user's masks from CSV (scenario layer).

The built-in profiles are hourly means digitised from published measurements (Xu et al.,
"Understanding mobile traffic patterns of large scale cellular towers in urban environment",
IEEE/ACM ToN 2017, via the open mob-traffic-ds collection), 00:00 first, normalised to a peak of
1. :mod:`slicesim.sim.traffic` turns them into per-period masks.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import numpy as np

__all__ = ["PROFILES", "MasksCsvError", "load_masks_csv"]

PROFILES: dict[str, tuple[float, ...]] = {
    "residential": (.52, .33, .25, .19, .16, .19, .30, .40, .47, .52, .57, .59,
                    .60, .61, .62, .63, .65, .71, .83, .89, .95, 1.00, .96, .78),
    "office": (.17, .13, .09, .07, .05, .07, .11, .31, .76, .95, .99, 1.00,
               .99, 1.00, .99, .93, .79, .56, .45, .39, .37, .35, .32, .25),
    "entertainment": (.18, .14, .12, .09, .10, .12, .16, .28, .50, .66, .91, .94,
                      .93, .92, .93, .95, .97, 1.00, .99, .92, .81, .67, .39, .28),
    "transport": (.04, .03, .02, .02, .02, .04, .26, 1.00, .89, .55, .45, .40,
                  .42, .41, .47, .53, .70, .95, .91, .57, .46, .39, .35, .09),
}  # fmt: skip


class MasksCsvError(ValueError):
    """A masks CSV is malformed; the message names the file, line and column."""


def load_masks_csv(path: str | Path) -> dict[str, np.ndarray]:
    """A user's masks: a header row of profile names, then one row per period, values in [0, 1].

    Raises:
        FileNotFoundError: no file at ``path``.
        MasksCsvError: a short file, a row of the wrong length or a value outside [0, 1].
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"traffic.masks_csv: file {str(path)!r} does not exist")
    return _read(path.resolve(), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _read(path: Path, _mtime_ns: int) -> dict[str, np.ndarray]:
    """The parsed file (cached per path and modification time: loading and simulating share it)."""
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 2:
        raise MasksCsvError(f"{str(path)!r}: needs a header row and >= 1 data row")
    header = [h.strip() for h in rows[0]]
    values = np.empty((len(rows) - 1, len(header)))
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise MasksCsvError(
                f"{str(path)!r} line {i}: {len(row)} values, expected {len(header)}"
            )
        for j, cell in enumerate(row):
            try:
                v = float(cell)
            except ValueError:
                v = float("nan")
            if not 0.0 <= v <= 1.0:
                raise MasksCsvError(
                    f"{str(path)!r} line {i}, column {header[j]!r}: {cell!r} is out of range: "
                    "allowed [0, 1]"
                )
            values[i - 2, j] = v
    values.flags.writeable = False  # shared by every caller of the cache
    return {name: values[:, j] for j, name in enumerate(header)}
