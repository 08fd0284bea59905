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

Test-time augmentation (``augment=True``, ``atomsight predict --augment``): the network
sees the image under each of the 8 symmetries of the square (the dihedral group D4:
0, 1, 2 or 3 quarter turns, with or without a mirror, :data:`SYMMETRIES`), each output is
transformed back, and the 8 maps are averaged before detection. Each detection of the
averaged maps is then matched (within :data:`AUGMENT_MATCH_RADIUS`) to the detections of
the 8 back-transformed maps, and the CSV gets :data:`AUGMENT_COLUMNS`: ``sigma_x_A``,
``sigma_y_A`` (standard deviation [Å] of its matched positions along x and y, over the
``n_augment`` predictions that found it, NaN when fewer than 2 did) and ``n_augment``.
Without augmentation these columns are absent, so a CSV either has them all or none.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from ..io.atomic import atomic_path
from ..io.images import check_sampling, file_sampling, frame_count, image_files, read_frames, read_image, resample_to
from ..io.microscope_files import resolve_sampling
from ..evaluation.metrics import match
from ..microscope.normalize import local_normalize
from ..models import WEIGHTS, resolve_model, verify_model
from .exported import load_exported
from .model import load_model, receptive_field, with_precision
from .postprocess import Detections, detect
from .tiling import DEFAULT_TILE, predict_tiled

CSV_COLUMNS = ("x_A", "y_A", "row", "col", "class", "probability")
"""Columns of the CSV written for each image."""

AUGMENT_COLUMNS = ("sigma_x_A", "sigma_y_A", "n_augment")
"""Columns added to the CSV by test-time augmentation (see the module docstring)."""

SYMMETRIES = tuple((turns, mirrored) for mirrored in (False, True) for turns in range(4))
"""The 8 symmetries of the square (dihedral group D4) as (quarter turns, mirrored): the
array is first mirrored along its first axis if ``mirrored``, then turned by ``turns``
quarter turns (:func:`apply_symmetry`)."""

OVERLAY_SIDE = 1024
"""Largest side of the image an overlay shows [pixels]; larger images are shown as block means."""

AUGMENT_MATCH_RADIUS = 0.5
"""Largest distance between a detection of the averaged maps and its counterpart in one
symmetry's maps [Å]; a third of graphene's 1.42 Å bond, so neighbours are never confused."""


def apply_symmetry(array: np.ndarray, symmetry: tuple[int, bool]) -> np.ndarray:
    """Return an (H, W, ...) array transformed by one element of :data:`SYMMETRIES`.

    Parameters
    ----------
    array : numpy.ndarray
        Image or maps, the first two axes spatial.
    symmetry : tuple of (int, bool)
        (quarter turns, mirrored).

    Returns
    -------
    numpy.ndarray
        The transformed array; its first two axes are swapped for an odd number of turns.
    """
    turns, mirrored = symmetry
    return np.rot90(array[::-1] if mirrored else array, turns, axes=(0, 1))


def invert_symmetry(array: np.ndarray, symmetry: tuple[int, bool]) -> np.ndarray:
    """Undo :func:`apply_symmetry`: ``invert_symmetry(apply_symmetry(a, s), s)`` equals ``a``."""
    turns, mirrored = symmetry
    back = np.rot90(array, -turns, axes=(0, 1))
    return back[::-1] if mirrored else back


@dataclass(frozen=True)
class Spread:
    """Spread of each detection's position over the predictions of test-time augmentation.

    Attributes
    ----------
    sigma : numpy.ndarray
        Standard deviation of the matched positions along (row, col) [pixels], shape (n, 2);
        NaN where fewer than 2 predictions found the detection.
    count : numpy.ndarray
        How many predictions found the detection, int64, shape (n,).
    """

    sigma: np.ndarray
    count: np.ndarray


def position_spread(reference: np.ndarray, predictions: Sequence[np.ndarray], *, radius: float) -> Spread:
    """Match each reference position to each prediction's positions and return their spread.

    Parameters
    ----------
    reference : numpy.ndarray
        Positions (row, col) [pixels], shape (n, 2), e.g. the detections of the averaged maps.
    predictions : sequence of numpy.ndarray
        Positions found by each prediction [pixels], shapes (m_k, 2).
    radius : float
        Largest matching distance [pixels] (:func:`atomsight.evaluation.metrics.match`, one to one).

    Returns
    -------
    Spread
        Population standard deviation (ddof 0: the spread of the positions found, not the
        error of their mean) per axis and the number of predictions that found each position.
    """
    positions = np.full((len(predictions), len(reference), 2), np.nan)
    for k, found in enumerate(predictions):
        pairs = match(reference, found, radius)
        positions[k, pairs.true_index] = found[pairs.detected_index]
    seen = np.isfinite(positions[..., 0])
    count = seen.sum(axis=0)
    weights = seen[..., None] / np.maximum(count, 1)[None, :, None]
    mean = np.sum(np.where(seen[..., None], positions, 0.0) * weights, axis=0)
    variance = np.sum(np.where(seen[..., None], positions - mean, 0.0) ** 2 * weights, axis=0)
    sigma = np.where((count >= 2)[:, None], np.sqrt(variance), np.nan)
    return Spread(sigma=sigma, count=count.astype(np.int64))


class Found(NamedTuple):
    """What :meth:`Predictor.find` finds in one image.

    Attributes
    ----------
    probabilities : numpy.ndarray
        Class probabilities at the model's sampling, shape (h, w, K), indexed [x, y, class]
        (the average over :data:`SYMMETRIES` with augmentation).
    detections : Detections
        The post-processed detections, positions in pixels of the model's sampling.
    pixels : numpy.ndarray
        The detections' positions (row, col) in pixels of the image, shape (n, 2).
    spread : Spread or None
        With augmentation, the spread of each position [pixels of the image]; else None.
    """

    probabilities: np.ndarray
    detections: Detections
    pixels: np.ndarray
    spread: Spread | None


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

    def find(self, image: np.ndarray, *, sampling: float, tile: int, augment: bool = False) -> Found:
        """Find the atoms or columns of one image.

        Parameters
        ----------
        image : numpy.ndarray
            Raw image, shape (H, W, C).
        sampling : float
            Its pixel size [Å/pixel].
        tile : int
            Largest side of the tiles [pixels at the model's sampling] (:func:`atomsight.network.tiling.predict_tiled`).
        augment : bool
            Average the maps over the 8 symmetries of :data:`SYMMETRIES` (8 times the cost)
            and measure the spread of each detection over them (see the module docstring).

        Returns
        -------
        Found
            Maps, detections, their positions in the image's pixels, and their spread
            with ``augment``.
        """
        resampled, factor = resample_to(image, sampling, self.card["sampling"])
        normalized = self.normalize(resampled[None])[0]
        if not augment:
            probabilities = self._maps(normalized, tile=tile)
            detections = detect(probabilities, **self.card["postprocess"])
            return Found(probabilities, detections, detections.positions / factor, None)
        total, found = None, []
        for symmetry in SYMMETRIES:
            maps = invert_symmetry(self._maps(apply_symmetry(normalized, symmetry), tile=tile), symmetry)
            total = maps if total is None else total + maps
            found.append(detect(maps, **self.card["postprocess"]).positions)
        probabilities = total / len(SYMMETRIES)
        detections = detect(probabilities, **self.card["postprocess"])
        spread = position_spread(detections.positions, found, radius=AUGMENT_MATCH_RADIUS / self.card["sampling"])
        return Found(probabilities, detections, detections.positions / factor,
                     Spread(sigma=spread.sigma / factor, count=spread.count))

    def _maps(self, normalized: np.ndarray, *, tile: int) -> np.ndarray:
        """Predict the (h, w, K) maps of a normalised (h, w, C) image, in tiles when large."""
        return predict_tiled(self.probabilities, normalized, tile=tile, receptive_field=self.receptive_field,
                             multiple=self.card["size_multiple"])


def load_predictor(model: str | Path, *, precision: str | None = None) -> Predictor:
    """Load a model, by a shipped model's name or a model folder's path, as a :class:`Predictor`.

    Parameters
    ----------
    model : str or pathlib.Path
        A shipped model's name (``atomsight models`` lists them) or a model folder: an
        exported one (``results/models/<system>``: SavedModel, ``model.keras``, card) or a
        released one (``model.keras`` and card, as the shipped models are; its card's
        SHA-256 of ``model.keras`` is checked).
    precision : {None, "float32", "mixed_bfloat16"}
        None: the network as trained (its training precision). Otherwise the folder's
        ``model.keras`` computing in this Keras dtype policy
        (:func:`atomsight.network.model.with_precision`), e.g. a float32 network in
        bfloat16, 1.4 times as fast on a CPU with AVX-512 BF16 for a few detections
        changed near the threshold (BENCHMARKS.md).

    Returns
    -------
    Predictor
        The model. Its receptive field is the card's ``receptive_field``; a card written
        before it held one has it derived from the layers of ``model.keras``
        (:func:`atomsight.network.model.receptive_field`, a second of loading).

    Raises
    ------
    atomsight.models.ModelNotFoundError
        If ``model`` is neither a model folder nor a shipped name.
    """
    folder = resolve_model(model)
    exported = (folder / "saved_model").exists()
    saved, card = load_exported(folder) if exported else (None, verify_model(folder))
    field = card.get("receptive_field")
    # The Keras network is needed to run it (a released folder, or another precision) or to derive the field.
    network = None
    if not exported or precision is not None or field is None:
        network = load_model(folder / WEIGHTS)
    if exported and precision is None:
        def forward(images: tf.Tensor) -> tf.Tensor:
            return saved.probabilities(images)  # refers to ``saved``: its endpoints alone do not keep its variables
    else:
        runnable = network if precision is None else with_precision(network, precision)
        # autograph=False: the lambda has no Python control flow to convert
        forward = tf.function(lambda images: runnable(images, training=False), autograph=False,
                              input_signature=[tf.TensorSpec((None, None, None, card["input_channels"]), tf.float32)])
    sigma = card["normalization_sigma_pixels"]

    def normalize(images: np.ndarray) -> np.ndarray:
        if exported:
            return saved.normalize(tf.constant(images)).numpy()
        return images if sigma is None else local_normalize(tf.constant(images, tf.float32), sigma).numpy()

    def probabilities(images: np.ndarray) -> np.ndarray:
        return forward(tf.constant(images)).numpy()

    return Predictor(
        normalize=normalize,
        probabilities=probabilities,
        card=card,
        receptive_field=receptive_field(network) if field is None else int(field),
    )


def predict_images(
    model: str | Path | Predictor,
    images: Sequence[str | Path],
    *,
    sampling: float | None = None,
    out: str | Path,
    tile: int = DEFAULT_TILE,
    augment: bool = False,
    precision: str | None = None,
) -> list[Path]:
    """Find the atoms or columns in images with an exported model and write the results.

    Parameters
    ----------
    model : str, pathlib.Path or Predictor
        An exported model folder (``results/models/<system>``), or one loaded with
        :func:`load_predictor`.
    images : sequence of path
        Images (.npy, .tif/.tiff, .png) or microscope files (.dm3/.dm4, .emd, .ser/.emi,
        .mrc), or folders of them (:func:`atomsight.io.images.image_files`), all predicted
        with the one loaded model; a focal-series model takes stacks. A microscope file
        holding a sequence of frames is, for a single-image model, predicted frame by
        frame (results named ``<stem>_frame0007.csv`` etc.; unusable frames skipped with
        a warning, see :func:`atomsight.io.images.read_frames`).
    sampling : float, optional
        Sampling of the images [Å/pixel], overriding the pixel size in each file's
        metadata (with a warning where they differ by more than 1 %); needed for files
        without one (:func:`atomsight.io.microscope_files.resolve_sampling`). An image
        more than a factor 2 from the model's sampling is predicted with a warning
        (:func:`atomsight.io.images.check_sampling`).
    out : str or pathlib.Path
        Folder of the results.
    tile : int
        Largest side of the tiles of a large image [pixels at the model's sampling]
        (:func:`atomsight.network.tiling.predict_tiled`); at least twice the network's
        receptive field plus its size multiple (264 for the network of depth 4). A
        2048-pixel tile took 2.1 GB at most with 16 features at full resolution (1.4 GB
        for 1536, 1.2 GB for 1024; BENCHMARKS.md).
    augment : bool
        Test-time augmentation over the 8 symmetries of the square (8 times the cost): the
        maps are averaged and the CSV gets :data:`AUGMENT_COLUMNS`, each detection's
        position spread (see the module docstring).
    precision : {None, "float32", "mixed_bfloat16"}
        For a model folder, the precision the network computes in (:func:`load_predictor`);
        None: as exported.

    Returns
    -------
    list of pathlib.Path
        The written CSV files.

    Raises
    ------
    ValueError
        If the sampling is not positive, an image has neither a pixel size in its file
        nor ``sampling``, the tile is too small, or an image cannot be used (see
        :func:`atomsight.io.images.read_image`).
    FileNotFoundError
        If an image does not exist or a folder holds no image.
    """
    if sampling is not None and not sampling > 0:
        raise ValueError(f"the image sampling must be a positive number of Å/pixel, got {sampling!r}")
    predictor = model if isinstance(model, Predictor) else load_predictor(model, precision=precision)
    card = predictor.card
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in image_files(images):
        pixel = resolve_sampling(path, file_sampling(path), sampling)
        check_sampling(path, pixel, card["sampling"])
        for stem, image in _images_in(path, channels=card["input_channels"]):
            written.append(_predict_image(predictor, image, sampling=pixel, out=out, stem=stem, tile=tile,
                                          augment=augment))
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
    predictor: Predictor, image: np.ndarray, *, sampling: float, out: Path, stem: str, tile: int, augment: bool
) -> Path:
    """Predict one (H, W, C) image of pixel size ``sampling`` [Å/pixel]; write its CSV, maps and overlay in ``out``."""
    card = predictor.card
    probabilities, detections, pixels, spread = predictor.find(image, sampling=sampling, tile=tile, augment=augment)
    write_csv(out / f"{stem}.csv", pixels, detections, sampling=sampling, classes=card["classes"], spread=spread)
    np.save(out / f"{stem}_probabilities.npy", probabilities)
    _plot_overlay(out / f"{stem}_overlay.png", image, pixels, detections, sampling=sampling,
                  classes=card["classes"])
    return out / f"{stem}.csv"


def write_csv(
    path: Path, pixels: np.ndarray, detections: Detections, *, sampling: float, classes: Sequence[str],
    spread: Spread | None = None,
) -> None:
    """Write detections as CSV rows of :data:`CSV_COLUMNS` (and :data:`AUGMENT_COLUMNS`), atomically.

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
    spread : Spread, optional
        The detections' spread under augmentation [pixels of the image], written as
        :data:`AUGMENT_COLUMNS` (sigma in Å: pixels * sampling).
    """
    extra = [[] for _ in range(len(pixels))] if spread is None else [
        [f"{sx * sampling:.4f}", f"{sy * sampling:.4f}", int(n)] for (sx, sy), n in zip(spread.sigma, spread.count)
    ]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(CSV_COLUMNS + (() if spread is None else AUGMENT_COLUMNS))
        for (row, col), k, p, more in zip(pixels, detections.classes, detections.probabilities, extra):
            writer.writerow([f"{row * sampling:.4f}", f"{col * sampling:.4f}", f"{row:.3f}", f"{col:.3f}",
                             classes[k + 1], f"{p:.4f}", *more])


def _plot_overlay(
    path: Path, image: np.ndarray, pixels: np.ndarray, detections: Detections, *, sampling: float,
    classes: Sequence[str],
) -> None:
    """Plot the image's first channel with x [Å] down and y [Å] to the right, and the detections on top."""
    width, height = 7.0, 7 * image.shape[0] / image.shape[1] + 0.6
    fig, ax = plt.subplots(figsize=(width, height))
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
    colours = plt.get_cmap("tab10")
    for k in np.unique(detections.classes):
        chosen = detections.classes == k
        # one marker drawn many times (Agg's draw_markers): half the time of a scatter's collection for 20000 atoms
        ax.plot(pixels[chosen, 1] * sampling, pixels[chosen, 0] * sampling, linestyle="none", marker="o",
                markersize=3.75, markerfacecolor="none", markeredgecolor=colours(int(k)), markeredgewidth=0.8,
                label=f"{classes[k + 1]} ({chosen.sum()})")
    if len(detections.classes):
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("y [Å]")
    ax.set_ylabel("x [Å]")
    ax.set_title(f"{path.name.removesuffix('_overlay.png')}: {len(pixels)} detections")
    fig.savefig(path, dpi=110)
    plt.close(fig)
