"""Apply an exported model to experimental images: positions and classes of atoms or columns.

For every image: read it, resample it from its sampling to the model's training sampling,
normalise it locally (as in training), predict probability maps (tiled with overlap when
the image is large), find the atoms or columns, and map their positions back to the
input image's pixels. Written for ``<name>.tif``: ``<name>.csv`` (row, col in input
pixels; x_A = col * S, y_A = row * S; class; probability), ``<name>_probabilities.npy``
(at the model's sampling) and ``<name>_overlay.png``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from .atomic import atomic_path
from .export import load_exported
from .images import read_image, resample_to
from .postprocess import Detections, detect
from .tiling import predict_tiled


def _write_csv(path: Path, detections: Detections, positions: np.ndarray, sampling: float, classes: list[str]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["row", "col", "x_A", "y_A", "class", "probability"])
        for (row, col), k, p in zip(positions, detections.classes, detections.probabilities):
            writer.writerow([f"{row:.3f}", f"{col:.3f}", f"{col * sampling:.4f}", f"{row * sampling:.4f}",
                             classes[k + 1], f"{p:.4f}"])


def _plot_overlay(path: Path, image: np.ndarray, positions: np.ndarray, detections: Detections, classes: list[str]) -> None:
    fig, ax = plt.subplots(figsize=(7, 7 * image.shape[0] / image.shape[1] + 0.4), constrained_layout=True)
    low, high = np.percentile(image[:, :, 0], [0.5, 99.5])
    ax.imshow(image[:, :, 0], cmap="gray", vmin=low, vmax=high)
    colours = plt.get_cmap("tab10")
    for k in np.unique(detections.classes):
        chosen = detections.classes == k
        ax.scatter(positions[chosen, 1], positions[chosen, 0], s=14, facecolors="none", edgecolors=[colours(int(k))],
                   linewidths=0.8, label=f"{classes[k + 1]} ({chosen.sum()})")
    if len(detections.classes):
        ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"{path.name.removesuffix('_overlay.png')}: {len(positions)} detections")
    ax.axis("off")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def predict_images(
    model: str | Path,
    images: Sequence[str | Path],
    *,
    sampling: float,
    out: str | Path,
    tile: int = 512,
    overlap: int = 64,
) -> list[Path]:
    """Find the atoms or columns in images with an exported model and write the results.

    Parameters
    ----------
    model : str or pathlib.Path
        An exported model folder (``results/models/<system>``).
    images : sequence of path
        Images (.npy, .tif/.tiff, .png); a focal-series model takes stacks.
    sampling : float
        Sampling of the images [Å/pixel].
    out : str or pathlib.Path
        Folder of the results.
    tile, overlap : int
        Tile size and overlap [pixels at the model's sampling] for large images.

    Returns
    -------
    list of pathlib.Path
        The written CSV files.

    Raises
    ------
    ValueError
        If the sampling is not positive or an image cannot be used (see
        :func:`atomsight.images.read_image`).
    """
    if not sampling or sampling <= 0:
        raise ValueError(f"the image sampling must be a positive number of Å/pixel, got {sampling!r}")
    saved, card = load_exported(model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in map(Path, images):
        image = read_image(path, channels=card["input_channels"])
        resampled, factor = resample_to(image, sampling, card["sampling"])
        normalised = saved.normalize(tf.constant(resampled[None])).numpy()[0]
        probabilities = predict_tiled(
            lambda batch: saved.probabilities(tf.constant(batch)).numpy(), normalised, tile=tile, overlap=overlap,
            multiple=card["size_multiple"],
        )
        detections = detect(probabilities, **card["postprocess"])
        positions = detections.positions / factor
        stem = path.stem
        _write_csv(out / f"{stem}.csv", detections, positions, sampling, card["classes"])
        np.save(out / f"{stem}_probabilities.npy", probabilities)
        _plot_overlay(out / f"{stem}_overlay.png", image, positions, detections, card["classes"])
        written.append(out / f"{stem}.csv")
    return written
