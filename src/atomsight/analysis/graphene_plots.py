"""Figures of a graphene analysis: bond-length histogram, ring map and planar strain map.

Maps are drawn as predict's overlays are: x [Å] down, y [Å] to the right, with a scale bar.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.patches import Patch

from ..core.scale_bar import add_scale_bar
from .graphene import BOND_LENGTH, GrapheneAnalysis

RING_COLOURS = {4: "tab:purple", 5: "tab:blue", 6: "0.88", 7: "tab:red", 8: "tab:orange", 9: "tab:green"}
"""Fill colour of the rings in the ring map, by size [atoms]; other sizes are black."""


def plot_bond_lengths(path: Path, analysis: GrapheneAnalysis, *, title: str) -> None:
    """Write a histogram of the bond lengths [Å] with their mean and standard deviation."""
    fig, ax = plt.subplots(figsize=(5, 3.6), constrained_layout=True)
    lengths = analysis.lengths
    if len(lengths):
        edges = np.arange(lengths.min() - 0.01, lengths.max() + 0.03, 0.02)
        counts, _, _ = ax.hist(lengths, bins=edges.tolist(), color="0.55")
        ax.set_ylim(0, 1.4 * np.max(counts))  # room for the legend
        mean, std = lengths.mean(), lengths.std(ddof=1) if len(lengths) > 1 else 0.0
        ax.axvline(mean, color="tab:red", label=f"mean {mean:.3f} ± {std:.3f} Å ({len(lengths)} bonds)")
    ax.axvline(BOND_LENGTH, color="k", linestyle="--", label=f"graphene {BOND_LENGTH} Å")
    if analysis.length_errors is not None and np.isfinite(analysis.length_errors).any():
        ax.plot([], [], " ", label=f"median error per bond {np.nanmedian(analysis.length_errors):.3f} Å")
    ax.legend(fontsize=8)
    ax.set_xlabel("bond length [Å]")
    ax.set_ylabel("bonds")
    ax.set_title(title)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def plot_rings(path: Path, analysis: GrapheneAnalysis, *, title: str) -> None:
    """Write the bond network with every ring filled by the colour of its size (:data:`RING_COLOURS`)."""
    fig, ax = _map_axes(analysis, title)
    polygons = [analysis.positions[ring][:, ::-1] for ring in analysis.rings]
    colours = [RING_COLOURS.get(len(ring), "k") for ring in analysis.rings]
    ax.add_collection(PolyCollection(polygons, facecolors=colours, edgecolors="none"))
    _draw_bonds(ax, analysis, colour="k")
    sizes, counts = np.unique(analysis.ring_sizes, return_counts=True)
    handles = [Patch(color=RING_COLOURS.get(int(k), "k"), label=f"{k}-rings: {c}") for k, c in zip(sizes, counts)]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def plot_strain(path: Path, analysis: GrapheneAnalysis, *, title: str) -> None:
    """Write the atoms coloured by planar strain ε_xx + ε_yy [%], atoms without strain as grey circles."""
    fig, ax = _map_axes(analysis, title)
    _draw_bonds(ax, analysis, colour="0.7")
    planar = 100 * analysis.planar_strain
    known = np.isfinite(planar)
    xy = analysis.positions
    ax.scatter(xy[~known, 1], xy[~known, 0], s=10, facecolors="none", edgecolors="0.5", linewidths=0.6)
    limit = max(float(np.percentile(np.abs(planar[known]), 99)), 0.1) if known.any() else 1.0
    points = ax.scatter(xy[known, 1], xy[known, 0], c=planar[known], cmap="RdBu_r", vmin=-limit, vmax=limit, s=24)
    fig.colorbar(points, ax=ax, shrink=0.8, label="planar strain ε_xx + ε_yy [%]")
    fig.savefig(path, dpi=150)
    plt.close(fig)


def _map_axes(analysis: GrapheneAnalysis, title: str) -> tuple[plt.Figure, plt.Axes]:
    """Return equal-aspect axes over the atoms, x down and y to the right, with a scale bar."""
    xy = analysis.positions
    low, high = (xy.min(axis=0), xy.max(axis=0)) if len(xy) else (np.zeros(2), np.ones(2))
    extent = np.maximum(high - low, 1.0)
    fig, ax = plt.subplots(figsize=(7.5, 6 * min(max(extent[0] / extent[1], 0.3), 3)), constrained_layout=True)
    ax.set_xlim(low[1] - 1, high[1] + 1)
    ax.set_ylim(high[0] + 1, low[0] - 1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title)
    add_scale_bar(ax, extent[1], location="lower right", color="black", frameon=True)
    return fig, ax


def _draw_bonds(ax: plt.Axes, analysis: GrapheneAnalysis, *, colour: str) -> None:
    """Draw the bonds as lines, (y, x) on the axes."""
    segments = analysis.positions[analysis.bonds][:, :, ::-1]
    ax.add_collection(LineCollection(segments, colors=colour, linewidths=0.7))
