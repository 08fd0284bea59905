"""A focal series: its images read from one stack or from several files, checked and registered.

A focal-series model takes ``C`` images of one area at ``C`` defoci. They come either as one
file of ``C`` frames (a .dm3/.dm4/.emd/.ser stack, an (C, H, W) .npy, a multi-page TIFF) or
as ``C`` files of one image each, in defocus order. The frames of a real series are not
aligned: the specimen drifts between exposures. Each frame is registered to the one
before it (:func:`atomsight.core.registration.register` with a window of one frame, since a
running mean over frames at other defoci would blur the contrast that differs between
them), moved onto the first frame's grid and the series cropped to the field of view all
frames share. The cross-correlation takes the magnitude of its peak, so frames whose
contrast is inverted by the change of defocus register as well as frames that look alike.

Frames that do not show one area are refused rather than guessed: a registered frame whose
correlation with the frame before it (:func:`frame_correlation`) is below
:data:`MIN_CORRELATION`, or whose shift leaves less than :data:`MIN_OVERLAP` of the field of
view shared.

The limit is the dose: on the test's particle of columns 6 pixels apart (tests/io/test_series.py),
the shifts are found within 0.1 pixel at 150 electrons per pixel and frame (10^4 e/Å^2 at
0.12 Å/pixel), but at 20 electrons per pixel the noise moves the correlation's peak to a
neighbouring lattice vector (7 pixels off), where the frames still correlate. A series
recorded at a lower dose is aligned beforehand and read with ``register_frames=False``. So is a
series whose frames do not look alike: on the held-out gold series of the counting model
(C10 = -170, -40, +90 Å, tests/data/heldout/gold-counting_*) the lattice contrast changes so much
with the focus that the peak falls on a lattice vector, 11-13 pixels off: such a series is
registered by the columns a single-image model finds in each frame
(:mod:`atomsight.network.series_registration`, ``atomsight predict --register-with gold``),
whose drifts :func:`align_series` takes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from ..core.registration import register, shifted
from .images import file_sampling, read_image

SAMPLING_TOLERANCE = 0.05
"""Largest relative difference between the pixel sizes of a series' files: 5 %."""

MIN_CORRELATION = 0.1
"""Smallest magnitude of the correlation of a registered frame with the frame before it.

Two registered frames of one area correlate far above it (0.7 in magnitude on the test's
particle at 150 electrons per pixel, tests/io/test_series.py); two frames of independent
noise of 128 x 128 pixels, smoothed by one pixel, correlate within +-0.05 there.
"""

MIN_OVERLAP = 0.75
"""Smallest fraction of each side that all frames of a series share after registration: a series is
recorded in seconds, over which a specimen drifts by a small part of the field of view."""

SMOOTHING = 1.0
"""Gaussian smoothing of the frames before the correlation [pixels] (see :mod:`atomsight.core.registration`)."""


@dataclass(frozen=True)
class FocalSeries:
    """A registered focal series.

    Attributes
    ----------
    image : numpy.ndarray
        float32 (H, W, C): the frames on the first frame's grid, cropped to the field of
        view they share.
    sampling : float or None
        Pixel size from the files' calibration [Å/pixel]; None if no file has one.
    sources : tuple of pathlib.Path
        The file of each frame (one file repeated for a stack).
    shifts : numpy.ndarray
        Drift of each frame relative to the first [pixels, (row, col)], shape (C, 2).
    correlations : numpy.ndarray
        Correlation of each registered frame with the one before it, shape (C,); 1 for the first.
    origin : tuple of int
        Pixel (row, col) of the first frame at which ``image`` starts: a position ``p``
        [pixels] in ``image`` is ``p + origin`` on the first frame's grid.
    """

    image: np.ndarray
    sampling: float | None
    sources: tuple[Path, ...]
    shifts: np.ndarray
    correlations: np.ndarray
    origin: tuple[int, int]


@dataclass(frozen=True)
class SeriesFrames:
    """The frames of a focal series as read, before registration.

    Attributes
    ----------
    frames : list of numpy.ndarray
        The (H, W) frames, in the order of the model's defoci.
    sources : tuple of pathlib.Path
        The file of each frame (one file repeated for a stack).
    sampling : float or None
        Pixel size from the files' calibration [Å/pixel]; None if no file has one.
    """

    frames: list[np.ndarray]
    sources: tuple[Path, ...]
    sampling: float | None


def read_series(paths: Sequence[str | Path], *, channels: int, register_frames: bool = True) -> FocalSeries:
    """Read, check and register a focal series of ``channels`` images.

    :func:`read_series_frames`, then :func:`align_series` with the frames registered by
    cross-correlation (or not at all).

    Parameters
    ----------
    paths : sequence of path
        One file holding the ``channels`` frames, or ``channels`` files of one image each, in
        the order of the model's defoci.
    channels : int
        The number of images the model takes (its card's ``input_channels``), at least 2.
    register_frames : bool
        Register the frames to each other; False for a series aligned already (shifts 0,
        nothing cropped, correlations still measured and checked).

    Returns
    -------
    FocalSeries
        The registered series.
    """
    found = read_series_frames(paths, channels=channels)
    return align_series(found, shifts=None if register_frames else np.zeros((channels, 2)))


def read_series_frames(paths: Sequence[str | Path], *, channels: int) -> SeriesFrames:
    """Read and check the frames of a focal series of ``channels`` images.

    Parameters
    ----------
    paths : sequence of path
        One file holding the ``channels`` frames, or ``channels`` files of one image each, in
        the order of the model's defoci.
    channels : int
        The number of images the model takes (its card's ``input_channels``), at least 2.

    Returns
    -------
    SeriesFrames
        The frames, their files and the pixel size.

    Raises
    ------
    ValueError
        If the number of frames is not ``channels``, the files' images differ in shape, or
        their pixel sizes differ by more than :data:`SAMPLING_TOLERANCE`; the message names
        the files.
    FileNotFoundError
        If a file does not exist.
    """
    files = [Path(p) for p in paths]
    if channels < 2:
        raise ValueError(f"a focal series has at least 2 images, the model takes {channels}")
    if len(files) == 1:
        frames = list(np.moveaxis(read_image(files[0], channels=channels), -1, 0))
        return SeriesFrames(frames=frames, sources=tuple(files * channels), sampling=file_sampling(files[0]))
    if len(files) != channels:
        raise ValueError(f"{', '.join(str(f) for f in files)}: {len(files)} files given as one focal series, the"
                         f" model takes {channels} images: give {channels} files in defocus order, or one file of"
                         f" {channels} frames")
    frames = [read_image(f)[..., 0] for f in files]
    for f, frame in zip(files[1:], frames[1:]):
        if frame.shape != frames[0].shape:
            raise ValueError(f"{f}: an image of {frame.shape[0]} x {frame.shape[1]} pixels, but {files[0]}"
                             f" has {frames[0].shape[0]} x {frames[0].shape[1]}; a focal series is of one area")
    return SeriesFrames(frames=frames, sources=tuple(files), sampling=_common_sampling(files))


def align_series(found: SeriesFrames, *, shifts: np.ndarray | None) -> FocalSeries:
    """Move the frames of a focal series onto the first frame's grid and crop them to the view they share.

    Parameters
    ----------
    found : SeriesFrames
        The frames as read (:func:`read_series_frames`).
    shifts : numpy.ndarray or None
        Drift of each frame relative to the first [pixels, (row, col)], shape (C, 2), measured
        otherwise (zeros for a series aligned already, or from the columns of each frame,
        :mod:`atomsight.network.series_registration`); None: measured here by cross-correlation
        (:func:`atomsight.core.registration.register`).

    Returns
    -------
    FocalSeries
        The registered series.

    Raises
    ------
    ValueError
        If the registered frames share less than :data:`MIN_OVERLAP` of the view or a frame
        correlates with the one before it by less than :data:`MIN_CORRELATION`; the message
        names the file.
    """
    frames, sources = found.frames, found.sources
    where = ", ".join(dict.fromkeys(str(s) for s in sources))
    if shifts is None:
        shifts = register(frames, window=1, smoothing=SMOOTHING)
    shifts = np.asarray(shifts, dtype=np.float64).reshape(len(frames), 2)
    aligned = [shifted(f, -d) if d.any() else f.astype(np.float64) for f, d in zip(frames, shifts)]
    rows, cols = _shared_view(shifts, frames[0].shape, sources)
    correlations = np.ones(len(frames))
    for k in range(1, len(frames)):
        correlations[k] = frame_correlation(aligned[k - 1][rows, cols], aligned[k][rows, cols])
        if abs(correlations[k]) < MIN_CORRELATION:
            step = shifts[k] - shifts[k - 1]
            raise ValueError(
                f"{sources[k]}: frame {k} of the focal series ({where}) cannot be registered to frame {k - 1}:"
                f" after the best shift ({step[0]:+.1f}, {step[1]:+.1f}) pixels they correlate by"
                f" {correlations[k]:.3f}, expected at least {MIN_CORRELATION:g} in magnitude for two images of one area"
            )
    image = np.stack([a[rows, cols] for a in aligned], axis=-1).astype(np.float32)
    return FocalSeries(image=image, sampling=found.sampling, sources=sources, shifts=shifts,
                       correlations=correlations, origin=(rows.start, cols.start))


def frame_correlation(first: np.ndarray, second: np.ndarray, *, smoothing: float = SMOOTHING) -> float:
    """Return the Pearson correlation of two frames of one shape, each smoothed by ``smoothing`` pixels.

    Negative for frames whose contrast is inverted, near 0 for unrelated frames.
    """
    a, b = (gaussian_filter(np.asarray(x, np.float64), smoothing) if smoothing > 0 else np.asarray(x, np.float64)
            for x in (first, second))
    a, b = a - a.mean(), b - b.mean()
    norm = math.sqrt(float(np.sum(a * a) * np.sum(b * b)))
    return float(np.sum(a * b) / norm) if norm > 0 else 0.0


def _common_sampling(files: Sequence[Path]) -> float | None:
    """The pixel size the files share [Å/pixel] (the first calibrated one's); ValueError naming one that differs."""
    known = [(f, s) for f, s in ((f, file_sampling(f)) for f in files) if s is not None]
    if not known:
        return None
    first, reference = known[0]
    for f, s in known[1:]:
        if abs(s - reference) > SAMPLING_TOLERANCE * reference:
            raise ValueError(f"{f}: pixel size {s:g} Å, but {first} has {reference:g} Å (more than"
                             f" {SAMPLING_TOLERANCE:.0%} apart); the frames of a focal series share one magnification")
    return reference


def _shared_view(shifts: np.ndarray, shape: tuple[int, ...], sources: Sequence[Path]) -> tuple[slice, slice]:
    """Rows and columns of the first frame's grid that every registered frame covers."""
    views = []
    for axis in (0, 1):
        start = int(math.ceil(max(0.0, float(np.max(-shifts[:, axis])))))
        stop = int(math.floor(shape[axis] - max(0.0, float(np.max(shifts[:, axis])))))
        if stop - start < MIN_OVERLAP * shape[axis]:
            worst = int(np.argmax(np.abs(shifts[:, axis])))
            raise ValueError(f"{sources[worst]}: frame {worst} of the focal series is shifted by"
                             f" {shifts[worst, axis]:+.1f} pixels along {'rows' if axis == 0 else 'columns'}, which"
                             f" leaves {max(stop - start, 0)} of {shape[axis]} shared; expected at least"
                             f" {MIN_OVERLAP:.0%} (are these frames of one area?)")
        views.append(slice(start, stop))
    return views[0], views[1]
