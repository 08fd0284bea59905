"""The overlay of one image's detections: the image with x [Å] down and y [Å] to the right, and markers on top."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ..core.scale_bar import add_scale_bar
from ..detections import Detections

OVERLAY_SIDE = 1024
"""Largest side of the image an overlay shows [pixels]; larger images are shown as block means."""

MARKER_DIAMETER = 0.9
"""Diameter of a detection's circle [Å], within the 1.4 Å of the closest atoms; 2-12 points whatever the image."""

COLOURS = ("#ff3030", "#00e0ff", "#ffd000", "#70ff20", "#ff40e0", "#ff9000", "#ffffff", "#a070ff", "#20ffa0", "#c0c0c0")
"""Marker colours per class, bright against a grey image."""


def plot_overlay(
    path: Path, image: np.ndarray, pixels: np.ndarray, detections: Detections, *, sampling: float,
    classes: Sequence[str], title: str,
) -> None:
    """Plot the image's first channel with x [Å] down and y [Å] to the right, and the detections on top.

    Parameters
    ----------
    path : pathlib.Path
        The PNG to write.
    image : numpy.ndarray
        The image, (H, W, C).
    pixels : numpy.ndarray
        The detections' positions (row, col) [pixels of the image], shape (n, 2).
    detections : Detections
        The detections, for their classes.
    sampling : float
        The image's pixel size [Å/pixel].
    classes : sequence of str
        Object class names (background excluded).
    title : str
        Names the image in the title.
    """
    width, height = 7.0, 7 * image.shape[0] / image.shape[1] + 0.6
    fig, ax = plt.subplots(figsize=(width, height))
    try:  # closed also when interrupted: pyplot keeps every open figure
        # Fixed margins [inches] for the labels and title: a layout engine would draw the figure twice
        fig.subplots_adjust(left=0.75 / width, right=1 - 0.15 / width, bottom=0.55 / height, top=1 - 0.4 / height)
        # The figure is 770 pixels wide: a larger image is shown as means over blocks of block x block
        # pixels (its last rows and columns short of a block left out), block^2 times less to resample.
        block = -(-max(image.shape[:2]) // OVERLAY_SIDE)
        rows, cols = image.shape[0] // block * block, image.shape[1] // block * block
        shown = image[:rows, :cols, 0].reshape(rows // block, block, cols // block, block).mean(axis=(1, 3))
        low, high = np.percentile(shown, [0.5, 99.5])
        extent = (-0.5 * sampling, (cols - 0.5) * sampling, (rows - 0.5) * sampling, -0.5 * sampling)
        ax.imshow(shown, cmap="gray", vmin=low, vmax=high, extent=extent)
        points_per_angstrom = 72 * (width - 0.9) / (cols * sampling)
        size = float(np.clip(MARKER_DIAMETER * points_per_angstrom, 2.0, 12.0))
        for k in np.unique(detections.classes):
            chosen = detections.classes == k
            # one marker drawn many times (Agg's draw_markers): half the time of a scatter's collection for 20000 atoms
            ax.plot(pixels[chosen, 1] * sampling, pixels[chosen, 0] * sampling, linestyle="none", marker="o",
                    markersize=size, markerfacecolor="none", markeredgecolor=COLOURS[int(k) % len(COLOURS)],
                    markeredgewidth=max(0.6, size / 8), label=f"{classes[int(k)]} ({chosen.sum()})")
        add_scale_bar(ax, cols * sampling)
        if len(detections.classes):
            ax.legend(loc="upper right", fontsize=8)
        ax.set_xlabel("y [Å]")
        ax.set_ylabel("x [Å]")
        ax.set_title(f"{title}: {len(pixels)} detections")
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
