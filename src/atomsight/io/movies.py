"""Movies: the usable frames of one or several files, read one frame at a time, with their calibration.

A movie is one file holding its frames (a ``.npy`` array (N, H, W), a multi-page TIFF, a
stack or movie in a microscope file read through :mod:`atomsight.io.microscope_files`) or
several files taken as one movie in the order given. :func:`read_movie` checks every frame
once and keeps none: :attr:`Movie.frames` reads each frame from its file when it is used,
so a movie of hundreds of 2048 x 2048 frames needs the memory of a few frames, not of the
movie. Frames are numbered by their index in the movie; an unusable frame (constant, with
NaN or infinite values, unreadable, of another shape or pixel size than the first) is
skipped with a warning naming the file and the frame.
"""

from __future__ import annotations

import glob
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np
import tifffile

from .images import file_sampling
from .microscope_files import FORMATS, SAMPLING_TOLERANCE, read_microscope_file

MOVIE_SUFFIXES = (".npy", *FORMATS)
"""Extensions of the movies :func:`read_movie` reads: a ``.npy`` array (N, H, W), a multi-page TIFF, or a stack or
movie in a microscope file (.dm3/.dm4, .emd, .ser/.emi, .mrc; :mod:`atomsight.io.microscope_files`)."""


FrameReader = Callable[[int], np.ndarray]
"""Reads frame k of one file, as stored."""


class MovieFrames(Sequence[np.ndarray]):
    """The usable frames of a movie, each read from its file when indexed (float32, (H, W)); none is held.

    Parameters
    ----------
    frames : sequence of (FrameReader, int)
        For each usable frame, the reader of its file and its index in that file.
    """

    def __init__(self, frames: Sequence[tuple[FrameReader, int]]) -> None:
        self._frames = list(frames)

    def __len__(self) -> int:
        return len(self._frames)

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, index: slice) -> list[np.ndarray]: ...

    def __getitem__(self, index: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        read, k = self._frames[index]
        return np.asarray(read(k), np.float32)


@dataclass(frozen=True)
class Movie:
    """The usable frames of a movie and its calibration.

    Attributes
    ----------
    indices : numpy.ndarray
        Number of each usable frame in the movie (counting every frame of its files, in order), int64, shape (n,).
    frames : MovieFrames
        The usable frames, float32 (H, W), one shape, each read from its file when indexed.
    sampling : float or None
        Pixel size in the file of the first usable frame [Å/pixel]; None if it holds none.
    path : pathlib.Path
        The file of the first usable frame, named in messages about the calibration.
    """

    indices: np.ndarray
    frames: MovieFrames
    sampling: float | None
    path: Path


def read_movie(paths: str | Path | Sequence[str | Path]) -> Movie:
    """Check the frames of a movie, one at a time, and return its usable frames (read again when used) and calibration.

    A movie is one file of :data:`MOVIE_SUFFIXES` holding its frames (a ``.npy`` array
    (N, H, W), a multi-page TIFF, a stack or movie in a microscope file), or several files
    taken as one movie in the order given, their frames one after the other (a folder of
    ``.dm4`` frames, one a file). Microscope files are read through RosettaSciIO
    (:mod:`atomsight.io.microscope_files`), frame by frame from the file's lazy stack; a
    ``.npy`` file is memory-mapped and a TIFF read page by page. No frame is kept: each
    is read once here to be checked and again whenever :attr:`Movie.frames` is indexed.

    Skipped with a warning naming the file and the frame, the others still read: a frame
    that is not a grey image, of another shape than the first usable frame, not finite,
    constant (a dropped camera frame) or unreadable (a truncated file); and every frame of a
    file whose pixel size (:func:`atomsight.io.images.file_sampling`) differs from the first
    usable frame's file's by more than :data:`atomsight.io.microscope_files.SAMPLING_TOLERANCE`,
    or that is calibrated when that one is not or the other way round. In a movie of several
    files, a file that cannot be read at all (truncated, a colour image, an unknown unit) is
    skipped with a warning and counted as one frame.

    Parameters
    ----------
    paths : path or sequence of path
        The movie's file, or its files in frame order.

    Returns
    -------
    Movie
        The usable frames, their numbers in the movie and the movie's calibration.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        If an extension is not one of :data:`MOVIE_SUFFIXES`, the file of a one-file movie
        cannot be read (truncated, a colour image, a ``.npy`` array not (N, H, W), image axes
        in an unknown unit), or fewer than 2 frames are usable; the message names the file.
    """
    paths = [check_movie_path(Path(p)) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    indices, usable, first, shape, total = [], [], None, None, 0
    for path in paths:
        try:
            calibration = file_sampling(path)
            count, read = _frame_reader(path)
        except ValueError as error:
            if len(paths) == 1:
                raise
            warnings.warn(f"{error}; file skipped, counted as one frame", UserWarning, stacklevel=2)
            total += 1
            continue
        if first is not None and _calibrations_differ(calibration, first[1]):
            warnings.warn(f"{path} frames 0-{count - 1}: pixel size {_describe(calibration)} differs from the first"
                          f" frame's ({first[0]}: {_describe(first[1])}); frames skipped", UserWarning, stacklevel=2)
            total += count
            continue
        for k in range(count):
            problem, frame_shape = _check_frame(read, k, shape)
            if problem:
                warnings.warn(f"{path} frame {k}: {problem}; frame skipped", UserWarning, stacklevel=2)
            else:
                first, shape = first or (path, calibration), frame_shape
                indices.append(total + k)
                usable.append((read, k))
        total += count
    where = paths[0] if len(paths) == 1 else f"{paths[0]} .. {paths[-1]} ({len(paths)} files)"
    if len(usable) < 2:
        raise ValueError(f"{where}: {len(usable)} of its {total} frames are usable, a sequence needs 2")
    return Movie(indices=np.asarray(indices, np.int64), frames=MovieFrames(usable), sampling=first[1], path=first[0])


def _frame_reader(path: Path) -> tuple[int, FrameReader]:
    """Return the number of frames of a movie file and a function reading frame k, as stored, without reading any."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        array = np.load(path, mmap_mode="r")
        if array.ndim != 3:
            raise ValueError(f"{path}: expected a movie of shape (frames, H, W), got shape {array.shape}")
        return len(array), array.__getitem__
    if suffix in (".tif", ".tiff"):
        with tifffile.TiffFile(path) as tif:
            if tif.pages[0].photometric == tifffile.PHOTOMETRIC.RGB:
                raise ValueError(f"{path}: a colour image, not a movie of grey frames")
            count = len(tif.pages)
        return count, lambda k: tifffile.imread(path, key=k)
    image = read_microscope_file(path)
    return image.n_frames, image.frame


def _check_frame(read: FrameReader, index: int, shape: tuple[int, ...] | None) -> tuple[str | None, tuple[int, ...]]:
    """Read frame ``index`` as float32; return what makes it unusable (or None) and its shape."""
    try:
        frame = np.asarray(read(index), np.float32)
    except (ValueError, OSError) as error:  # a truncated microscope file; the error names the file and frame already
        return f"unreadable ({error})", ()
    return _frame_problem(frame, shape), frame.shape


def _calibrations_differ(sampling: float | None, reference: float | None) -> bool:
    """Whether two files' pixel sizes [Å/pixel] (None: uncalibrated) differ beyond :data:`SAMPLING_TOLERANCE`."""
    if sampling is None or reference is None:
        return (sampling is None) != (reference is None)
    return abs(sampling - reference) > SAMPLING_TOLERANCE * reference


def _describe(sampling: float | None) -> str:
    """Return a pixel size [Å/pixel] as text."""
    return "none" if sampling is None else f"{sampling:g} Å"


def movie_files(patterns: Sequence[str | Path]) -> list[Path]:
    """Return the files of a movie given as paths and glob patterns, each pattern's matches sorted by name.

    Parameters
    ----------
    patterns : sequence of str or pathlib.Path
        Files, in frame order, or patterns such as ``frames/*.dm4`` (name the frames with
        zero-padded numbers, ``frame_0007.dm4``, so that sorting by name is frame order).

    Raises
    ------
    FileNotFoundError
        If a pattern matches no file.
    """
    files = []
    for pattern in map(str, patterns):
        if not glob.has_magic(pattern):
            files.append(Path(pattern))
            continue
        matches = sorted(glob.glob(pattern))
        if not matches:
            raise FileNotFoundError(f"no movie frame matches {pattern}")
        files += map(Path, matches)
    return files


def _frame_problem(frame: np.ndarray, shape: tuple[int, ...] | None) -> str | None:
    """Say what makes a frame unusable, or None: not 2-D, not the shape ``shape``, not finite, or constant."""
    if frame.ndim != 2:
        return f"expected a grey frame (H, W), got shape {frame.shape}"
    if shape is not None and frame.shape != shape:
        return f"shape {frame.shape} differs from the first frame's {shape}"
    if not np.all(np.isfinite(frame)):
        return "holds NaN or infinite values"
    if frame.min() == frame.max():
        return "constant"
    return None


def check_movie_path(path: Path) -> Path:
    """Return ``path`` if it is an existing movie file of a supported extension; raise naming it otherwise."""
    if path.suffix.lower() not in MOVIE_SUFFIXES:
        raise ValueError(f"{path}: unsupported movie extension {path.suffix!r}, expected one of {MOVIE_SUFFIXES}")
    if not path.is_file():
        raise FileNotFoundError(f"movie file not found: {path}")
    return path


def movie_name(paths: str | Path | Sequence[str | Path]) -> str:
    """Return the prefix of a movie's results: a file's stem, or the folder of the first of several files."""
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    return paths[0].stem if len(paths) == 1 else paths[0].resolve().parent.name
