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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np

from .formats import FrameReader, check_exists, format_of
from .images import file_sampling, frame_problem
from .microscope_files import SAMPLING_TOLERANCE


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

    A movie is one file of a format in the registry (:data:`atomsight.io.formats.FORMATS`)
    holding its frames (a ``.npy`` array (N, H, W), a multi-page TIFF, a stack or movie in a
    microscope file), or several files
    taken as one movie in the order given, their frames one after the other (a folder of
    ``.dm4`` frames, one a file). Microscope files are read through RosettaSciIO
    (:mod:`atomsight.io.microscope_files`), frame by frame from the file's lazy stack; a
    ``.npy`` file is memory-mapped and a TIFF read page by page. No frame is kept: each
    is read once here to be checked and again whenever :attr:`Movie.frames` is indexed.

    Skipped with a warning naming the file and the frame, the others still read: a frame
    that :func:`atomsight.io.images.frame_problem` finds unusable (not a grey image, too
    small, of another shape than the first usable frame, not finite, constant: the rule of
    every reader) or that is unreadable (a truncated file); and every frame of a
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
        If an extension is not in the registry, the file of a one-file movie
        cannot be read (truncated, a colour image, a ``.npy`` array not (N, H, W), image axes
        in an unknown unit), or fewer than 2 frames are usable; the message names the file.
    """
    files = [check_movie_path(Path(p)) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    indices, usable, shape, total = [], [], None, 0
    first: tuple[Path, float | None] | None = None
    for path in files:
        try:
            calibration = file_sampling(path)
            count, read = format_of(path).frames(path)
        except ValueError as error:
            if len(files) == 1:
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
    where = files[0] if len(files) == 1 else f"{files[0]} .. {files[-1]} ({len(files)} files)"
    if len(usable) < 2 or first is None:
        raise ValueError(f"{where}: {len(usable)} of its {total} frames are usable, a sequence needs 2")
    return Movie(indices=np.asarray(indices, np.int64), frames=MovieFrames(usable), sampling=first[1], path=first[0])


def _check_frame(read: FrameReader, index: int, shape: tuple[int, ...] | None) -> tuple[str | None, tuple[int, ...]]:
    """Read frame ``index`` as float32; return what makes it unusable (or None) and its shape."""
    try:
        frame = np.asarray(read(index), np.float32)
    except (ValueError, OSError) as error:  # a truncated microscope file; the error names the file and frame already
        return f"unreadable ({error})", ()
    return frame_problem(frame, shape), frame.shape


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


def check_movie_path(path: Path) -> Path:
    """Return ``path`` if it is an existing file of a format in the registry; raise naming it otherwise."""
    format_of(path)
    return check_exists(path)


def movie_name(paths: str | Path | Sequence[str | Path]) -> str:
    """Return the prefix of a movie's results: a file's stem, or the folder of the first of several files."""
    files = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    return files[0].stem if len(files) == 1 else files[0].resolve().parent.name
