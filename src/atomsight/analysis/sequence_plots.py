"""Figures of a sequence analysis: occupancy and events maps, drift trace, animated overlay.

Maps show the mean of the registered frames (frame 0's grid) with x [Å] down and y [Å]
to the right, as the overlays of :mod:`atomsight.network.predict`, a scale bar, and the sites
coloured by a quantity with its colour bar. Each function writes the file it is given; the
caller writes a sequence's files together (:func:`atomsight.io.atomic.atomic_files`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import imageio.v3 as iio
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from skimage.draw import circle_perimeter
from skimage.transform import resize

from ..core.scale_bar import add_scale_bar, scale_bar_length

GIF_SIDE = 256
"""Largest side of the animated overlay [pixels]; larger frames are scaled down."""

GIF_FRAME_SECONDS = 0.2
"""Display time of one frame of the animated overlay [s]."""

GIF_MAX_FRAMES = 250
"""Most frames in the animated overlay (50 s at :data:`GIF_FRAME_SECONDS`); a longer movie shows every k-th
frame, so the overlay's memory is bounded whatever the movie's length."""


def plot_site_map(
    path: Path, background: np.ndarray, positions: np.ndarray, values: np.ndarray, *, sampling: float,
    label: str, title: str,
) -> Path:
    """Plot sites coloured by ``values`` over ``background`` and write a PNG.

    Parameters
    ----------
    path : pathlib.Path
        The PNG.
    background : numpy.ndarray
        Mean registered frame, shape (H, W).
    positions : numpy.ndarray
        Site (x, y) on frame 0's grid [Å], shape (m, 2).
    values : numpy.ndarray
        Value of each site in percent, shape (m,); nan for a site never observed (drawn hollow).
    sampling : float
        Pixel size [Å/pixel].
    label : str
        Colour-bar label, with its unit.
    title : str
        Title of the plot.
    """
    fig, ax = plt.subplots(figsize=(6.4, 5.4), constrained_layout=True)
    _show(ax, background, sampling)
    known = np.isfinite(values)
    dots = ax.scatter(positions[known, 1], positions[known, 0], c=values[known], cmap="viridis", vmin=0, vmax=100,
                      s=36, edgecolors="white", linewidths=0.4)
    ax.scatter(positions[~known, 1], positions[~known, 0], s=36, facecolors="none", edgecolors="white", linewidths=0.6)
    fig.colorbar(dots, ax=ax, label=label, shrink=0.85)
    ax.set_title(title)
    return _save(fig, path)


def plot_drift(path: Path, frames: np.ndarray, drift: np.ndarray, *, sampling: float, title: str) -> Path:
    """Plot the drift [Å] along x and y against the frame index and write a PNG.

    Parameters
    ----------
    path : pathlib.Path
        The PNG.
    frames : numpy.ndarray
        Frame index of each row of ``drift``, shape (n,).
    drift : numpy.ndarray
        Drift (row, col) [pixels], shape (n, 2).
    sampling : float
        Pixel size [Å/pixel].
    title : str
        Title of the plot.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.6), constrained_layout=True)
    for axis, name in enumerate("xy"):
        ax.plot(frames, drift[:, axis] * sampling, marker=".", label=f"{name} (along {('rows', 'columns')[axis]})")
    ax.set_xlabel("frame")
    ax.set_ylabel("drift [Å]")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    return _save(fig, path)


def write_overlay_gif(
    path: Path, frames: Iterable[np.ndarray], pixels: Sequence[np.ndarray], *, labels: Sequence[str] | None = None,
    sampling: float | None = None,
) -> Path:
    """Write the registered frames with their detections as rings, as an animated GIF.

    Each frame is shrunk to at most :data:`GIF_SIDE` pixels a side as it arrives, so only
    the shrunk frames are held; the grey scale spans the 0.5-99.5 percentiles of all of them.

    Parameters
    ----------
    path : pathlib.Path
        The GIF.
    frames : iterable of numpy.ndarray
        Registered frames (H, W), on frame 0's grid, one for each entry of ``pixels``.
    pixels : sequence of numpy.ndarray
        Drift-corrected detections (row, col) of each frame [pixels], shapes (n_k, 2).
    labels : sequence of str, optional
        Written at the top left of each frame (its number in the movie).
    sampling : float, optional
        Pixel size of the frames [Å/pixel]: a scale bar at the bottom left
        (:func:`atomsight.core.scale_bar.scale_bar_length`).
    """
    shrunk, scale, width = [], 1.0, 0
    for frame in frames:
        width = frame.shape[1]
        scale = min(1.0, GIF_SIDE / max(frame.shape))
        shrunk.append(resize(frame, np.round(np.multiply(frame.shape, scale))).astype(np.float32))
    low, high = np.percentile(np.stack(shrunk), [0.5, 99.5])
    movie: list[np.ndarray] = []
    for grey, found in zip(shrunk, pixels):
        grey = np.clip((grey - low) / max(high - low, 1e-12), 0, 1)
        rgb = np.repeat((grey * 255).astype(np.uint8)[..., None], 3, axis=2)
        radius = max(2, round(0.03 * max(grey.shape)))
        for row, col in np.rint(np.asarray(found).reshape(-1, 2) * scale).astype(int):
            rr, cc = circle_perimeter(row, col, radius, shape=grey.shape)
            rgb[rr, cc] = (255, 64, 160)
        label = None if labels is None else labels[len(movie)]
        movie.append(_annotated(rgb, label, None if sampling is None else (width * sampling, sampling / scale)))
    iio.imwrite(path, np.stack(movie), extension=".gif", duration=GIF_FRAME_SECONDS * 1000, loop=0)
    return path


def _annotated(rgb: np.ndarray, label: str | None, field: tuple[float, float] | None) -> np.ndarray:
    """Write ``label`` at a GIF frame's top left and, for ``field`` = (width [Å], Å per pixel), a scale bar."""
    if label is None and field is None:
        return rgb
    from PIL import Image, ImageDraw  # Pillow, which imageio writes GIFs with

    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    if label is not None:
        draw.text((4, 2), label, fill=(255, 230, 0))
    if field is not None:
        length = scale_bar_length(field[0])
        bar, bottom = max(1, round(length / field[1])), rgb.shape[0] - 6
        draw.rectangle((4, bottom - 2, 4 + bar, bottom), fill=(255, 255, 255))
        draw.text((4, bottom - 14), f"{length / 10:g} nm" if length >= 10 else f"{length:g} Å", fill=(255, 255, 255))
    return np.asarray(image)


def _show(ax: plt.Axes, image: np.ndarray, sampling: float) -> None:
    """Show ``image`` in grey with x [Å] down, y [Å] to the right, and a scale bar."""
    low, high = np.percentile(image, [0.5, 99.5])
    extent = (-0.5 * sampling, (image.shape[1] - 0.5) * sampling, (image.shape[0] - 0.5) * sampling, -0.5 * sampling)
    ax.imshow(image, cmap="gray", vmin=low, vmax=high, extent=extent)
    add_scale_bar(ax, image.shape[1] * sampling)
    ax.set_xlabel("y [Å]")
    ax.set_ylabel("x [Å]")


def _save(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG and close it."""
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
