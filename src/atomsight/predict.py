"""Apply an exported model to experimental images: positions and classes of atoms or columns.

For every image: read it, resample it from its sampling to the model's training sampling,
normalise it locally (as in training), predict probability maps (in tiles whose overlap
covers the network's receptive field when the image is large, so the tiles join without
seams), find the atoms or columns, and map their positions back to the input image's
pixels.

Coordinates follow the exit-wave stores and abTEM: ``x`` runs along the image array's
first axis (rows) and ``y`` along its second (columns), from the centre of the first
pixel. Written for ``<name>.tif``: ``<name>.csv`` (x_A, y_A [Å]; row, col [input
pixels], with x_A = row * S and y_A = col * S for the image's sampling S; class;
probability), ``<name>_probabilities.npy`` (the maps as [x, y, class], at the model's
sampling) and ``<name>_overlay.png`` (x down, y to the right).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from .atomic import atomic_path
from .export import load_exported
from .images import check_sampling, file_sampling, frame_count, read_frames, read_image, resample_to
from .io.microscope_files import resolve_sampling
from .model import load_model, receptive_field
from .postprocess import Detections, detect
from .tiling import predict_tiled

CSV_COLUMNS = ("x_A", "y_A", "row", "col", "class", "probability")
"""Columns of the CSV written for each image."""


@dataclass(frozen=True)
class Predictor:
    """An exported model ready to apply.

    Attributes
    ----------
    normalize : callable
        Raw float32 images (1, h, w, C) to locally normalised images, as in training.
    probabilities : callable
        Normalised images (1, h, w, C), h and w multiples of ``card["size_multiple"]``, to
        class probabilities (1, h, w, K), background first.
    card : mapping
        The model card (``model.json``): ``sampling`` [Å/pixel], ``input_channels``,
        ``size_multiple``, ``classes``, ``postprocess``.
    receptive_field : int
        Radius of the network's receptive field [pixels at the model's sampling].
    """

    normalize: Callable[[np.ndarray], np.ndarray]
    probabilities: Callable[[np.ndarray], np.ndarray]
    card: Mapping[str, Any]
    receptive_field: int

    def find(self, image: np.ndarray, *, sampling: float, tile: int) -> tuple[np.ndarray, Detections, np.ndarray]:
        """Find the atoms or columns of one image.

        Parameters
        ----------
        image : numpy.ndarray
            Raw image, shape (H, W, C).
        sampling : float
            Its pixel size [Å/pixel].
        tile : int
            Side of the tiles [pixels at the model's sampling] (:func:`atomsight.tiling.predict_tiled`).

        Returns
        -------
        probabilities : numpy.ndarray
            Class probabilities at the model's sampling, shape (h, w, K), indexed [x, y, class].
        detections : Detections
            The post-processed detections, positions in pixels of the model's sampling.
        pixels : numpy.ndarray
            The detections' positions (row, col) in pixels of ``image``, shape (n, 2).
        """
        resampled, factor = resample_to(image, sampling, self.card["sampling"])
        probabilities = predict_tiled(
            self.probabilities, self.normalize(resampled[None])[0], tile=tile,
            receptive_field=self.receptive_field, multiple=self.card["size_multiple"],
        )
        detections = detect(probabilities, **self.card["postprocess"])
        return probabilities, detections, detections.positions / factor


def load_predictor(folder: str | Path) -> Predictor:
    """Load an exported model folder (``results/models/<system>``) as a :class:`Predictor`.

    The receptive field is derived from the layers of the folder's ``model.keras``
    (:func:`atomsight.model.receptive_field`).
    """
    saved, card = load_exported(folder)
    return Predictor(
        normalize=lambda images: saved.normalize(tf.constant(images)).numpy(),
        probabilities=lambda images: saved.probabilities(tf.constant(images)).numpy(),
        card=card,
        receptive_field=receptive_field(load_model(Path(folder) / "model.keras")),
    )


def predict_images(
    model: str | Path | Predictor,
    images: Sequence[str | Path],
    *,
    sampling: float | None = None,
    out: str | Path,
    tile: int = 1024,
) -> list[Path]:
    """Find the atoms or columns in images with an exported model and write the results.

    Parameters
    ----------
    model : str, pathlib.Path or Predictor
        An exported model folder (``results/models/<system>``), or one loaded with
        :func:`load_predictor`.
    images : sequence of path
        Images (.npy, .tif/.tiff, .png) or microscope files (.dm3/.dm4, .emd, .ser/.emi,
        .mrc); a focal-series model takes stacks. A microscope file holding a sequence of
        frames is, for a single-image model, predicted frame by frame (results named
        ``<stem>_frame0007.csv`` etc.; unusable frames skipped with a warning, see
        :func:`atomsight.images.read_frames`).
    sampling : float, optional
        Sampling of the images [Å/pixel], overriding the pixel size in each file's
        metadata (with a warning where they differ by more than 1 %); needed for files
        without one (:func:`atomsight.io.microscope_files.resolve_sampling`). An image
        more than a factor 2 from the model's sampling is predicted with a warning
        (:func:`atomsight.images.check_sampling`).
    out : str or pathlib.Path
        Folder of the results.
    tile : int
        Side of the tiles of a large image [pixels at the model's sampling]; at least
        twice the network's receptive field plus its size multiple (264 for the
        network of depth 4).

    Returns
    -------
    list of pathlib.Path
        The written CSV files.

    Raises
    ------
    ValueError
        If the sampling is not positive, an image has neither a pixel size in its file
        nor ``sampling``, the tile is too small, or an image cannot be used (see
        :func:`atomsight.images.read_image`).
    """
    if sampling is not None and not sampling > 0:
        raise ValueError(f"the image sampling must be a positive number of Å/pixel, got {sampling!r}")
    predictor = model if isinstance(model, Predictor) else load_predictor(model)
    card = predictor.card
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in map(Path, images):
        pixel = resolve_sampling(path, file_sampling(path), sampling)
        check_sampling(path, pixel, card["sampling"])
        for stem, image in _images_in(path, channels=card["input_channels"]):
            written.append(_predict_image(predictor, image, sampling=pixel, out=out, stem=stem, tile=tile))
    return written


def _images_in(path: Path, *, channels: int) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (stem of the results, (H, W, channels) image) for each image a file holds.

    A microscope file's sequence for a single-image model gives its usable frames,
    ``<stem>_frame0007``; any other file gives one image (a stack is a focal series).
    """
    if channels == 1 and frame_count(path) > 1:
        for index, frame in read_frames(path):
            yield f"{path.stem}_frame{index:04d}", frame
    else:
        yield path.stem, read_image(path, channels=channels)


def _predict_image(
    predictor: Predictor, image: np.ndarray, *, sampling: float, out: Path, stem: str, tile: int
) -> Path:
    """Predict one (H, W, C) image of pixel size ``sampling`` [Å/pixel]; write its CSV, maps and overlay in ``out``."""
    card = predictor.card
    probabilities, detections, pixels = predictor.find(image, sampling=sampling, tile=tile)
    write_csv(out / f"{stem}.csv", pixels, detections, sampling=sampling, classes=card["classes"])
    np.save(out / f"{stem}_probabilities.npy", probabilities)
    _plot_overlay(out / f"{stem}_overlay.png", image, pixels, detections, sampling=sampling,
                  classes=card["classes"])
    return out / f"{stem}.csv"


def write_csv(
    path: Path, pixels: np.ndarray, detections: Detections, *, sampling: float, classes: Sequence[str]
) -> None:
    """Write detections as CSV rows of :data:`CSV_COLUMNS`, atomically.

    Parameters
    ----------
    path : pathlib.Path
        The CSV file.
    pixels : numpy.ndarray
        Positions (row, col) [pixels of the image], shape (n, 2); row is along x.
    detections : Detections
        The detections, for their classes and probabilities.
    sampling : float
        The image's sampling [Å/pixel]: x_A = row * sampling, y_A = col * sampling.
    classes : sequence of str
        Class names, background first.
    """
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(CSV_COLUMNS)
        for (row, col), k, p in zip(pixels, detections.classes, detections.probabilities):
            writer.writerow([f"{row * sampling:.4f}", f"{col * sampling:.4f}", f"{row:.3f}", f"{col:.3f}",
                             classes[k + 1], f"{p:.4f}"])


def _plot_overlay(
    path: Path, image: np.ndarray, pixels: np.ndarray, detections: Detections, *, sampling: float,
    classes: Sequence[str],
) -> None:
    """Plot the image's first channel with x [Å] down and y [Å] to the right, and the detections on top."""
    fig, ax = plt.subplots(figsize=(7, 7 * image.shape[0] / image.shape[1] + 0.6), constrained_layout=True)
    low, high = np.percentile(image[:, :, 0], [0.5, 99.5])
    extent = (-0.5 * sampling, (image.shape[1] - 0.5) * sampling, (image.shape[0] - 0.5) * sampling, -0.5 * sampling)
    ax.imshow(image[:, :, 0], cmap="gray", vmin=low, vmax=high, extent=extent)
    colours = plt.get_cmap("tab10")
    for k in np.unique(detections.classes):
        chosen = detections.classes == k
        ax.scatter(pixels[chosen, 1] * sampling, pixels[chosen, 0] * sampling, s=14, facecolors="none",
                   edgecolors=[colours(int(k))], linewidths=0.8, label=f"{classes[k + 1]} ({chosen.sum()})")
    if len(detections.classes):
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("y [Å]")
    ax.set_ylabel("x [Å]")
    ax.set_title(f"{path.name.removesuffix('_overlay.png')}: {len(pixels)} detections")
    fig.savefig(path, dpi=110)
    plt.close(fig)
