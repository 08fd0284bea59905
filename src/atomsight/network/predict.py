"""Apply a model to experimental images and write what it finds: ``atomsight predict``.

For every image: read it (any format of :mod:`atomsight.io.images`; for a focal-series model
a stack, or several files with ``series``, registered by :mod:`atomsight.io.series`), find its
atoms or columns with a model loaded once (:mod:`atomsight.network.predictor`), and write into the
output folder, for ``<name>.tif``: ``<name>.csv`` and ``<name>.json``, the results table and
its sidecar (:mod:`atomsight.detections.table`), ``<name>_probabilities.npy`` (the maps as
[x, y, class], at the model's sampling) and ``<name>_overlay.png`` (x down, y to the right).

Coordinates follow the exit-wave stores and abTEM: ``x`` runs along the image array's
first axis (rows) and ``y`` along its second (columns), from the centre of the first pixel.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..detections import sidecar, sidecar_path, write_table
from ..io.atomic import atomic_files
from ..io.images import frame_count, image_files, read_frames, read_image
from ..io.microscope_files import resolve_sampling
from ..io.series import FocalSeries, align_series, read_series_frames
from ..models.card import file_sha256, series_frames
from .overlay import plot_overlay
from .predictor import Predictor, load_predictor
from .preflight import check_image
from .series_registration import register_by_columns
from .tiling import DEFAULT_TILE

log = logging.getLogger(__name__)


def predict_images(
    model: str | Path | Predictor,
    images: Sequence[str | Path],
    *,
    sampling: float | None = None,
    out: str | Path,
    tile: int = DEFAULT_TILE,
    augment: bool = False,
    precision: str | None = "auto",
    series: bool = False,
    aligned: bool = False,
    register_with: str | Path | Predictor | None = None,
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
        with the one loaded model. A focal-series model takes a stack of its images per
        file, or with ``series`` the files of one series in defocus order; each series is
        registered and checked (:mod:`atomsight.io.series`, or by ``register_with``), positions are on
        its first frame's grid, and the sidecar says which C10 each image was expected at
        (:func:`atomsight.models.card.series_frames`). A microscope file
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
        maps are averaged and the table gets each detection's position spread
        (:mod:`atomsight.network.augment`).
    precision : {None, "auto", "float32", "mixed_bfloat16"}
        For a model folder, the precision the network computes in (:func:`load_predictor`);
        None: as trained; "auto" (the default): as trained where the hardware computes it.
    series : bool
        ``images`` are the files of one focal series, in the order of the model's defoci.
    aligned : bool
        A focal series' frames are aligned already: they are not registered (see
        :mod:`atomsight.io.series` for when registration fails).
    register_with : str, pathlib.Path, Predictor or None
        A single-image model of the material (``gold`` for gold): a focal series' frames are
        registered by the columns it finds in each
        (:func:`atomsight.network.series_registration.register_by_columns`) instead of by the
        cross-correlation of the images, which frames at very different focus can fool by a
        lattice vector. Ignored with ``aligned``.

    Returns
    -------
    list of pathlib.Path
        The written tables (CSV files).

    Raises
    ------
    ValueError
        If the sampling is not positive, an image has neither a pixel size in its file
        nor ``sampling``, the tile is too small, or an image cannot be used (see
        :func:`atomsight.io.images.read_image`), or a focal series is refused
        (:func:`atomsight.io.series.read_series_frames`, :func:`atomsight.io.series.align_series`;
        ``series`` for a single-image model).
    FileNotFoundError
        If an image does not exist or a folder holds no image.
    """
    if sampling is not None and not sampling > 0:
        raise ValueError(f"the image sampling must be a positive number of Å/pixel, got {sampling!r}")
    predictor = model if isinstance(model, Predictor) else load_predictor(model, precision=precision)
    card = predictor.card
    channels = card["input_channels"]
    if series and channels == 1:
        raise ValueError(f"{', '.join(map(str, images))}: given as a focal series, but the model"
                         f" {predictor.identity.get('name', '')!r} takes one image; leave out --series")
    out = Path(out)
    registrar = (load_predictor(register_with) if isinstance(register_with, (str, Path)) else register_with)
    if series:
        return [_predict_series(predictor, [Path(p) for p in images], sampling=sampling, out=out, tile=tile,
                                augment=augment, aligned=aligned, registrar=registrar)]
    written = []
    for path in image_files(images):
        if channels > 1:
            written.append(_predict_series(predictor, [path], sampling=sampling, out=out, tile=tile, augment=augment,
                                           aligned=aligned, registrar=registrar))
            continue
        pixel = check_image(card, path, sampling=sampling)
        image_info = {"source": str(path), "sampling_A": pixel,
                      "sampling_source": "--sampling" if sampling is not None else "the file's calibration"}
        for stem, frame, image in _images_in(path):
            written.append(_predict_image(predictor, image, out=out, stem=stem, tile=tile, augment=augment,
                                          image_info={**image_info, "frame": frame, "shape": list(image.shape)}))
    return written


def _predict_series(
    predictor: Predictor, paths: list[Path], *, sampling: float | None, out: Path, tile: int, augment: bool,
    aligned: bool, registrar: Predictor | None,
) -> Path:
    """Read, register and predict one focal series; its results are named after its first file."""
    card = predictor.card
    for path in paths:
        check_image(card, path, sampling=sampling)
    raw = read_series_frames(paths, channels=card["input_channels"])
    pixel = resolve_sampling(paths[0], raw.sampling, sampling)
    channels = card["input_channels"]
    if aligned:
        shifts, methods = np.zeros((channels, 2)), ["none (aligned already)"] * channels
    elif registrar is not None:
        registration = register_by_columns(registrar, raw.frames, sampling=pixel, tile=tile)
        shifts = registration.shifts
        methods = [f"columns found by {registrar.identity.get('name', '')!r}: {m}" for m in registration.methods]
    else:
        shifts, methods = None, ["cross-correlation with the frame before"] * channels
    found: FocalSeries = align_series(raw, shifts=shifts)
    frames = []
    for k, (source, expected) in enumerate(zip(found.sources, series_frames(card))):
        log.info("%s frame %d, %s: registered by (%+.2f, %+.2f) pixels (%s), correlation %.2f with the frame"
                 " before", source, k, expected, *found.shifts[k], methods[k], found.correlations[k])
        frames.append({"source": str(source), "expected": expected, "shift_px": found.shifts[k].tolist(),
                       "registered_by": methods[k], "correlation": float(found.correlations[k])})
    image_info = {"source": [str(p) for p in paths], "sampling_A": pixel,
                  "sampling_source": "--sampling" if sampling is not None else "the file's calibration",
                  "frame": None, "shape": list(found.image.shape), "series": frames,
                  "origin_px": list(found.origin)}
    stem = paths[0].stem if len(paths) == 1 else f"{paths[0].stem}_series"
    return _predict_image(predictor, found.image, out=out, stem=stem, tile=tile, augment=augment,
                          image_info=image_info, origin=found.origin)


def _images_in(path: Path) -> Iterator[tuple[str, int | None, np.ndarray]]:
    """Yield (stem of the results, frame index or None, (H, W, 1) image) for each image a file holds.

    A microscope file's sequence gives its usable frames, ``<stem>_frame0007``; any other
    file gives one image.
    """
    if frame_count(path) > 1:
        for index, frame in read_frames(path):
            yield f"{path.stem}_frame{index:04d}", index, frame
    else:
        yield path.stem, None, read_image(path)


def _predict_image(
    predictor: Predictor, image: np.ndarray, *, out: Path, stem: str, tile: int, augment: bool,
    image_info: dict[str, Any], origin: tuple[int, int] = (0, 0),
) -> Path:
    """Predict one (H, W, C) image; write its table and sidecar, maps and overlay in ``out``.

    ``origin`` [pixels] is where the image starts on the grid the table's positions refer to
    (a registered series' first frame).
    """
    sampling = image_info["sampling_A"]
    probabilities, detections, pixels, spread = predictor.find(image, sampling=sampling, tile=tile, augment=augment)
    metadata = sidecar(model=predictor.identity, settings=predictor.settings.to_card(), image=image_info,
                       version=__version__)
    table = out / f"{stem}.csv"
    maps, overlay = out / f"{stem}_probabilities.npy", out / f"{stem}_overlay.png"
    # the folder only now, so nothing is left for an image that could not be read; the four files replace the
    # previous run's together, the table last
    with atomic_files([maps, overlay, sidecar_path(table), table]) as (maps_tmp, overlay_tmp, sidecar_tmp, table_tmp):
        np.save(maps_tmp, probabilities)
        plot_overlay(overlay_tmp, image, pixels, detections, sampling=sampling, classes=predictor.classes, title=stem)
        metadata["files"] = {maps.name: file_sha256(maps_tmp), overlay.name: file_sha256(overlay_tmp)}
        write_table(table_tmp, pixels=pixels + np.asarray(origin), detections=detections, sampling=sampling,
                    classes=predictor.classes, spread=spread, metadata=metadata, sidecar_file=sidecar_tmp)
    return table
