"""Site layout: a hexagonal grid of three-sector sites on a torus (wrap-around).

A cluster of N = i^2 + ij + j^2 sites tiles the plane with the translation vectors
t1 = i e1 + j e2 and t2 = t1 rotated by 60 deg (e1, e2 the hexagonal lattice basis with spacing
ISD). Every distance is measured to the nearest translated copy of a site, so edge cells see the
same interference as centre cells (the wrap-around of TR 36.814 Annex A.2.1.1). N = 4 with
(i, j) = (2, 0) is the paper's 2x2 rhombus of 4 sites: sites (0,0), (500,0), (250,433),
(750,433) m for ISD 500 m; N = 7 and 19 are the usual 3GPP hexagonal clusters.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from slicesim.config import LayoutConfig, cluster_indices

__all__ = ["Layout", "make_layout"]


@dataclass(frozen=True)
class Layout:
    """Sites, sectors and the wrap-around torus. Cells are numbered site-major."""

    sites_m: np.ndarray  # (n_sites, 2)
    tile_m: np.ndarray  # (2, 2): rows t1, t2 (translation vectors of the torus)
    azimuths_deg: np.ndarray  # (n_sectors,)
    isd_m: float

    @property
    def n_sites(self) -> int:
        return len(self.sites_m)

    @property
    def n_sectors(self) -> int:
        return len(self.azimuths_deg)

    @property
    def n_cells(self) -> int:
        return self.n_sites * self.n_sectors

    @property
    def cell_site(self) -> np.ndarray:
        """Site index of every cell, shape (n_cells,)."""
        return np.repeat(np.arange(self.n_sites), self.n_sectors)

    @property
    def cell_azimuth_deg(self) -> np.ndarray:
        """Boresight azimuth of every cell, shape (n_cells,)."""
        return np.tile(self.azimuths_deg, self.n_sites)

    @property
    def cell_xy_m(self) -> np.ndarray:
        """A point inside each cell (a third of the ISD along boresight), for plots."""
        az = np.deg2rad(self.cell_azimuth_deg)
        off = self.isd_m / 3 * np.stack([np.cos(az), np.sin(az)], axis=1)
        return self.sites_m[self.cell_site] + off

    def wrap(self, points: np.ndarray) -> np.ndarray:
        """Map points into the fundamental parallelogram [0, 1)^2 of (t1, t2)."""
        coeffs = points @ np.linalg.inv(self.tile_m)
        return (coeffs - np.floor(coeffs)) @ self.tile_m

    def site_vectors(self, points: np.ndarray) -> np.ndarray:
        """Vectors from the nearest copy of every site to every point: (n_points, n_sites, 2)."""
        diff = points[:, None, :] - self.sites_m[None, :, :]
        coeffs = diff @ np.linalg.inv(self.tile_m)
        coeffs -= np.round(coeffs)  # into [-0.5, 0.5]^2, then the nearest of its neighbours
        diff = coeffs @ self.tile_m
        shifts = np.array(list(itertools.product((-1, 0, 1), repeat=2)), dtype=float) @ self.tile_m
        cand = diff[:, :, None, :] + shifts[None, None, :, :]
        best = np.argmin(np.einsum("nskd,nskd->nsk", cand, cand), axis=2)
        return np.take_along_axis(cand, best[:, :, None, None], axis=2)[:, :, 0, :]

    def drop(
        self, cells: np.ndarray, rng: np.random.Generator, min_distance_m: float
    ) -> np.ndarray:
        """Positions of users dropped uniformly in the sector wedges of ``cells`` (legacy model).

        A wedge spans boresight +-180/n_sectors deg and radius [min_distance_m, ISD/sqrt(3)]
        (the hexagon's circumradius), so a site's sectors tile its hexagon. The serving cell is
        decided later by RSRP, so a user may attach to another cell than the one it was dropped for.
        """
        n = len(cells)
        r_max = self.isd_m / math.sqrt(3)
        radius = np.sqrt(rng.uniform(min_distance_m**2, r_max**2, n))
        half = math.pi / self.n_sectors
        angle = np.deg2rad(self.cell_azimuth_deg[cells]) + rng.uniform(-half, half, n)
        xy = self.sites_m[self.cell_site[cells]] + radius[:, None] * np.stack(
            [np.cos(angle), np.sin(angle)], axis=1
        )
        return self.wrap(xy)

    def drop_uniform(
        self, cells: np.ndarray, rng: np.random.Generator, min_distance_m: float
    ) -> np.ndarray:
        """Positions uniform over the part of its site's hexagon that each cell's sector covers.

        The hexagons of the sites tile the torus, and sector s of a site covers the points within
        boresight +-180/n_sectors deg: for three sectors at 30/150/270 deg, the rhombi of TR 38.901
        Figure 7.8-1's hexagonal layout. Points nearer the site than ``min_distance_m`` are drawn
        again (TR 38.901 Table 7.8-1: 35 m for UMa). Unlike :meth:`drop`'s disc wedges, this does
        not over-weight the cell edge.
        """
        r_max = self.isd_m / math.sqrt(3)  # circumradius; the hexagon's vertices at 30 + 60 k deg
        normals = np.deg2rad(np.array([0.0, 60.0, 120.0]))  # towards the six neighbour sites
        normals = np.stack([np.cos(normals), np.sin(normals)])
        half = math.pi / self.n_sectors
        az = np.deg2rad(self.cell_azimuth_deg[cells])
        out = np.empty((len(cells), 2))
        todo = np.arange(len(cells))
        while len(todo):  # uniform in the wedge of the circumscribed disc, kept inside the hexagon
            shape = (len(todo), 2)  # two candidates a round (acceptance 3 sqrt(3) / (2 pi) = 0.83)
            radius = np.sqrt(rng.uniform(min_distance_m**2, r_max**2, shape))
            angle = az[todo, None] + rng.uniform(-half, half, shape)
            vec = radius[..., None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
            ok = np.all(np.abs(vec @ normals) <= self.isd_m / 2, axis=-1)
            found = ok.any(axis=1)
            first = np.argmax(ok, axis=1)
            out[todo[found]] = vec[found, first[found]]
            todo = todo[~found]
        return self.wrap(self.sites_m[self.cell_site[cells]] + out)


def make_layout(config: LayoutConfig) -> Layout:
    """The hexagonal wrap-around cluster of ``config.n_sites`` sites."""
    i, j = cluster_indices(config.n_sites)
    e = config.isd_m * np.array([[1.0, 0.0], [0.5, math.sqrt(3) / 2]])
    t1 = i * e[0] + j * e[1]
    rot = np.array([[0.5, -math.sqrt(3) / 2], [math.sqrt(3) / 2, 0.5]])
    tile = np.stack([t1, rot @ t1])
    inv = np.linalg.inv(tile)
    span = range(-2 * (i + j) - 1, 2 * (i + j) + 2)
    found: dict[tuple[float, float], np.ndarray] = {}
    for a, b in itertools.product(span, span):
        p = a * e[0] + b * e[1]
        c = p @ inv
        if np.all(c >= -1e-9) and np.all(c < 1 - 1e-9):
            found[(round(p[1], 6), round(p[0], 6))] = p
    sites = np.array([found[k] for k in sorted(found)])
    assert len(sites) == config.n_sites, (len(sites), config.n_sites)
    return Layout(
        sites_m=sites,
        tile_m=tile,
        azimuths_deg=np.asarray(config.azimuths_deg, dtype=float),
        isd_m=config.isd_m,
    )
