"""The tf.data pipeline: exit-wave stores in, a fresh random microscope for every image out.

Each element e of a stream draws its microscope from the stateless seed (seed, e), so a
given seed gives the same images whatever the parallelism. Stores are read once into
band-limited spectra (small: ~0.1 MB per structure) and kept in memory when they fit;
otherwise each element reads its structure from its store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from ..io.store import StoreError, open_shard, shard_attrs
from ..simulation.labels import class_names
from . import Microscope, draw
from .modalities import imaging
from .spectra import band_frequencies, band_limited_spectra, label_band_limit

log = logging.getLogger(__name__)

VALIDATION_SEED = 2**31 - 1
"""Seed of the fixed validation images (combined with the system's seed)."""


@dataclass(frozen=True)
class Grid:
    """The common grid of a split's stores: extent (x, y) [Å] and grid points (nx, ny)."""

    extent: tuple[float, float]
    gpts: tuple[int, int]


class SpectraSource:
    """Band-limited spectra of the exit waves and label maps of a split's shard stores.

    Parameters
    ----------
    stores : sequence of path
        The split's shard stores, in order.
    system : mapping
        The system's validated configuration section.

    Raises
    ------
    StoreError
        If a store is incomplete, its classes differ from the configuration's, its
        grid differs from the other stores', or the training images would be larger
        than its exit waves; the message names the store.
    """

    def __init__(self, stores: Sequence[str | Path], system: Mapping[str, Any]) -> None:
        if not stores:
            raise StoreError("no exit-wave stores were given")
        self.imaging = imaging(system)
        self.settings = self.imaging.settings(system)
        expected = class_names(system["labels"])
        self.roots = []
        known: Grid | None = None
        for path in stores:
            root = open_shard(path)
            attrs = shard_attrs(root)
            stored = attrs.get("modality", "hrtem")  # stores made before the imaging modes hold plane-wave exit waves
            if stored != system["modality"]:
                raise StoreError(f"{path}: store holds {stored} data but the configuration's modality is"
                                 f" {system['modality']}; simulate it again with this configuration")
            if attrs["class_names"] != expected:
                raise StoreError(
                    f"{path}: store has the classes {attrs['class_names']} ({len(attrs['class_names'])}) but the"
                    f" configuration asks for {expected} ({len(expected)}); simulate it again with this configuration"
                )
            if not np.isclose(attrs["label_sigma"], system["labels"]["sigma"]):
                raise StoreError(
                    f"{path}: store's labels are Gaussians of sigma {attrs['label_sigma']} Å but the configuration's"
                    f" labels.sigma is {system['labels']['sigma']} Å; simulate it again with this configuration"
                )
            grid = Grid(tuple(attrs["extent"]), tuple(attrs["gpts"]))
            if known is not None and not np.allclose(grid.extent, known.extent):
                raise StoreError(f"{path}: extent {grid.extent} Å differs from the other stores' {known.extent} Å")
            self.grid: Grid = grid
            known = grid
            self._check_field_of_view(path)
            self.roots.append(root)
        self.locations = [(s, j) for s, root in enumerate(self.roots) for j in range(root["index"].shape[0])]
        self.k_max = self.settings.band_limit()
        self.label_k_max = label_band_limit(system["labels"]["sigma"])
        self.wave_frequencies = band_frequencies(self.grid.gpts, self.grid.extent, self.k_max)
        self.label_frequencies = band_frequencies(self.grid.gpts, self.grid.extent, self.label_k_max)
        self.n_classes = len(expected)

    def _check_field_of_view(self, path: str | Path) -> None:
        settings = self.settings
        view = settings.largest_field_of_view
        if view > min(self.grid.extent) * (1 + 1e-6):
            raise StoreError(
                f"{path}: training images of {settings.image_size} pixels at up to"
                f" {settings.sampling * (1 + settings.scale_jitter):.4g} Å/pixel (sampling x (1 + scale_jitter))"
                f" ({view:.2f} Å) are larger than the store's exit waves ({self.grid.extent[0]:.2f} x"
                f" {self.grid.extent[1]:.2f} Å); lower microscope.image_size, sampling or scale_jitter"
            )

    def __len__(self) -> int:
        return len(self.locations)

    @property
    def nbytes(self) -> int:
        """Memory that all spectra of the split take [bytes]."""
        wave = np.prod([len(k) for k in self.wave_frequencies])
        label = self.n_classes * np.prod([len(k) for k in self.label_frequencies])
        return int(len(self) * (wave + label) * np.dtype(np.complex64).itemsize)

    def microscope(self) -> Microscope:
        """The microscope that turns this source's spectra into images (the system's imaging mode's)."""
        return self.imaging.microscope(
            self.settings, wave_frequencies=self.wave_frequencies, label_frequencies=self.label_frequencies,
            extent=self.grid.extent,
        )

    def read(self, structure: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the wave spectrum (Kx, Ky) and label spectra (C, Lx, Ly) of one structure of the split."""
        store, j = self.locations[structure]
        root = self.roots[store]
        wave, _ = band_limited_spectra(root["array0"][j], self.grid.extent, self.k_max)
        labels, _ = band_limited_spectra(root["labels"][j], self.grid.extent, self.label_k_max)
        return wave, labels

    def read_all(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the spectra of every structure, stacked: (n, Kx, Ky) and (n, C, Lx, Ly)."""
        waves, labels = zip(*(self.read(i) for i in range(len(self))))
        return np.stack(waves), np.stack(labels)

    def lookup(self, cache_limit_mb: float) -> tf.types.experimental.GenericFunction:
        """Return a function from a structure index to its (wave, label) spectra tensors.

        All spectra are loaded into memory when they need less than ``cache_limit_mb``;
        otherwise every call reads its structure from its store.
        """
        if self.nbytes <= cache_limit_mb * 1e6:
            log.info("keeping the spectra of %d structures in memory (%.1f MB)", len(self), self.nbytes / 1e6)
            waves, labels = (tf.constant(a) for a in self.read_all())
            return lambda index: (tf.gather(waves, index), tf.gather(labels, index))
        log.info("reading %d structures from their stores as needed (%.0f MB)", len(self), self.nbytes / 1e6)
        shapes = ((len(self.wave_frequencies[0]), len(self.wave_frequencies[1])),
                  (self.n_classes, len(self.label_frequencies[0]), len(self.label_frequencies[1])))

        def read(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            wave, labels = tf.numpy_function(lambda i: self.read(int(i)), [index], [tf.complex64, tf.complex64])
            return tf.ensure_shape(wave, shapes[0]), tf.ensure_shape(labels, shapes[1])

        return read


def _elements(
    source: SpectraSource, structures: tf.data.Dataset, seed: int, cache_limit_mb: float,
    curriculum: tuple[int, int] | None = None,
) -> tf.data.Dataset:
    """Map (element index, structure index) pairs to (spectra, label spectra, microscope parameters).

    With ``curriculum`` = (held, widening) elements, element e draws from the
    curriculum's ranges at progress clip((e - held) / widening, 0, 1); else from the
    full ranges.
    """
    lookup = source.lookup(cache_limit_mb)
    extent = tf.constant(source.grid.extent, tf.float32)
    settings = source.settings

    def element(index: tf.Tensor, structure: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]:
        wave, labels = lookup(structure)
        progress = None
        if curriculum is not None:
            held, widening = curriculum
            progress = tf.clip_by_value((tf.cast(index, tf.float32) - held) / widening, 0.0, 1.0)
        params = draw(tf.stack([tf.constant(seed, tf.int64), index]), settings, extent, progress)
        return wave, labels, params

    return structures.map(element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _render(
    batches: tf.data.Dataset, microscope: Microscope, full_weight_contrast: float | None = None
) -> tf.data.Dataset:
    """Render batches of elements through the microscope, in parallel, in order.

    With ``full_weight_contrast``, batches are (images, labels, per-pixel weights) from
    :meth:`Microscope.weighted`; else (images, labels).
    """
    render: Callable[..., Any]
    if full_weight_contrast is None:
        render = microscope
    else:
        def render(spectra: tf.Tensor, label_spectra: tf.Tensor, params: dict[str, tf.Tensor]) -> tuple[tf.Tensor, ...]:
            return microscope.weighted(spectra, label_spectra, params, full_weight_contrast=full_weight_contrast)
    return batches.map(render, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def training_spectra(
    stores: Sequence[str | Path], system: Mapping[str, Any], *, seed: int, batch_size: int, start_batch: int = 0,
    replicas: int = 1, pipeline: tuple[int, int] = (0, 1),
) -> tuple[tf.data.Dataset, Microscope]:
    """Return the endless stream of training batches before the microscope, and the microscope.

    Structures are shuffled anew every pass (seeded), and element e of the stream draws
    its microscope from the seed (seed, e), from ranges that a curriculum
    (``training.curriculum``) holds at its start for its first steps, then widens. The microscope maps a batch to the
    batch of
    (images, labels) that :func:`training_dataset` yields, wherever it runs: in a
    ``Dataset.map`` (:func:`training_dataset`) or inside a training step.

    Parameters
    ----------
    stores : sequence of path
        The training split's shard stores.
    system : mapping
        The system's validated configuration section.
    seed : int
        Seed of the stream.
    batch_size : int
        Images per batch.
    start_batch : int
        Steps to skip, e.g. those an interrupted run already trained on; cheap, since
        skipped elements are never rendered.
    replicas : int
        Replicas a step trains on (:mod:`atomsight.network.distribute`): a step takes the
        global batch of ``batch_size * replicas`` consecutive elements of the stream, and
        the curriculum counts steps, so a run on R replicas of batch B sees the images of a
        run on one device of batch R * B, in the same order.
    pipeline : tuple of int
        (index, count) of this input pipeline (one per worker,
        ``tf.distribute.InputContext``): it keeps, of every global batch, the
        ``batch_size * replicas / count`` elements of its own replicas, which it yields as
        consecutive batches of ``batch_size``, one per replica.

    Returns
    -------
    batches : tf.data.Dataset
        Batches of exit-wave spectra (B, Kx, Ky) complex64, label spectra (B, C, Lx, Ly)
        complex64 and microscope parameters (a dict of (B,) tensors).
    microscope : Microscope
        The microscope that renders them.
    """
    index, count = pipeline
    step = batch_size * replicas  # the global batch
    if replicas % count or not 0 <= index < count:
        raise ValueError(f"input pipeline {index} of {count} for {replicas} replicas: expected 0 <= index < count"
                         " and replicas a multiple of count")
    source = SpectraSource(stores, system)
    structures = (
        tf.data.Dataset.range(len(source))
        .shuffle(len(source), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .enumerate()
        .skip(start_batch * step)
    )
    if count > 1:
        share = step // count
        structures = structures.filter(lambda e, s: tf.equal((e % step) // share, index))
    curriculum = system["training"]["curriculum"]
    elements = _elements(source, structures, seed, system["microscope"]["cache_limit_mb"],
                         curriculum=(curriculum["hold"] * step, curriculum["steps"] * step)
                         if curriculum["start"] else None)
    return elements.batch(batch_size, drop_remainder=True), source.microscope()


def training_dataset(
    stores: Sequence[str | Path], system: Mapping[str, Any], *, seed: int, batch_size: int, start_batch: int = 0,
    replicas: int = 1, pipeline: tuple[int, int] = (0, 1),
) -> tf.data.Dataset:
    """Return the endless stream of training batches (images, labels) of a split.

    The batches of :func:`training_spectra` (same arguments), rendered by its microscope
    in a parallel ``Dataset.map``.

    Returns
    -------
    tf.data.Dataset
        Batches of images (B, M, M, F) float32 and labels (B, M, M, 1 + C) float32 and,
        when ``training.contrast_weight`` is set, per-pixel loss weights (B, M, M)
        float32 that grow with each image's noise-free contrast
        (:meth:`atomsight.microscope.Microscope.weighted`).
    """
    spectra, microscope = training_spectra(stores, system, seed=seed, batch_size=batch_size, start_batch=start_batch,
                                           replicas=replicas, pipeline=pipeline)
    return _render(spectra, microscope, system["training"]["contrast_weight"])


def validation_dataset(
    stores: Sequence[str | Path], system: Mapping[str, Any], *, count: int, batch_size: int
) -> tf.data.Dataset:
    """Return a fixed set of ``count`` validation batches' worth of images from the validation split.

    The held-out structures are taken in order (cycling when ``count`` exceeds them),
    each with a microscope drawn from a fixed seed, and the images are cached after
    their first pass, so every epoch validates on identical images.

    Parameters
    ----------
    stores : sequence of path
        The ``validation`` split's shard stores.
    system : mapping
        The system's validated configuration section.
    count : int
        Number of validation images.
    batch_size : int
        Images per batch.

    Returns
    -------
    tf.data.Dataset
        Batches of (images, labels), the last one possibly smaller.
    """
    source = SpectraSource(stores, system)
    seed = VALIDATION_SEED - system["seed"]
    structures = tf.data.Dataset.range(count).map(lambda e: (e, e % len(source)))
    elements = _elements(source, structures, seed, system["microscope"]["cache_limit_mb"])
    return _render(elements.batch(batch_size), source.microscope()).cache()
