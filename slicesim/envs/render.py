"""An RGB picture of the layout: every cell coloured by its last PRB utilisation and QoS.

matplotlib is imported on first use and drawn with the Agg canvas (no window, no pyplot state).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from slicesim.sim.layout import Layout

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["render_cells"]


def render_cells(
    layout: Layout,
    cell_util: np.ndarray | None,
    cell_qos: np.ndarray | None,
    title: str = "",
    size_px: tuple[int, int] = (800, 400),
) -> np.ndarray:
    """Draw the sectors of ``layout`` in two panels: PRB utilisation and min_s QoS r per cell.

    Args:
        layout: sites, sectors and the wrap-around tile.
        cell_util: PRB utilisation of every cell in [0, 1]; None before any period (grey).
        cell_qos: the cell reward min_s r of every cell in [0, 1]; None before any period.
        title: figure title (period and phase).
        size_px: width and height of the picture.

    Returns:
        The picture, shape (height, width, 3), uint8.
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(size_px[0] / dpi, size_px[1] / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    panels = (("PRB utilisation", cell_util, "viridis"), ("QoS min_s r", cell_qos, "RdYlGn"))
    norm = Normalize(0.0, 1.0)
    for ax, (label, values, cmap_name) in zip(fig.subplots(1, 2), panels, strict=True):
        cmap = colormaps[cmap_name]
        _draw_layout(ax, layout, None if values is None else cmap(norm(values)))
        ax.set_title(label, fontsize=9)
        fig.colorbar(ScalarMappable(norm, cmap), ax=ax, fraction=0.046, pad=0.04)
    if title:
        fig.suptitle(title, fontsize=10)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _draw_layout(ax: Axes, layout: Layout, colours: np.ndarray | None) -> None:
    """Sector wedges, sites, cell numbers and the outline of the wrap-around tile."""
    from matplotlib.patches import Polygon, Wedge

    radius = layout.isd_m / 2  # inscribed circle of the site hexagon: wedges do not overlap
    half = 180.0 / layout.n_sectors
    sites = layout.sites_m[layout.cell_site]
    for c, (xy, az) in enumerate(zip(sites, layout.cell_azimuth_deg, strict=True)):
        face = "lightgrey" if colours is None else colours[c]
        ax.add_patch(
            Wedge(
                tuple(xy), radius, az - half, az + half, facecolor=face, edgecolor="black", lw=0.6
            )
        )
    for c, (x, y) in enumerate(layout.cell_xy_m):
        ax.text(x, y, str(c), ha="center", va="center", fontsize=7)
    t1, t2 = layout.tile_m
    corners = np.array([[0.0, 0.0], t1, t1 + t2, t2])
    ax.add_patch(Polygon(corners, fill=False, ls="--", lw=0.8))
    ax.plot(layout.sites_m[:, 0], layout.sites_m[:, 1], "k^", ms=5)
    points = np.vstack([corners, layout.sites_m - radius, layout.sites_m + radius])
    lo, hi = points.min(axis=0), points.max(axis=0)
    lo, hi = lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_axis_off()
