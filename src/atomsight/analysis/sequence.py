"""A sequence of frames and their detections in, drift, tracks, sites, occupancy and events out.

:func:`analyze_sequence` takes frames and per-frame positions, so it runs on detections
from any source; :func:`track_movies` reads movies, finds the atoms in every frame with
an exported model loaded once, and writes everything :func:`write_sequence` writes for
movie ``<name>``:

* ``<name>_drift.csv``: frame, drift_x_A, drift_y_A (where frame 0's features appear in the frame [Å]);
* ``<name>_tracks.csv``: track, frame, x_A, y_A (drift-corrected: on frame 0's grid [Å]);
* ``<name>_sites.csv``: site, x_A, y_A, occupancy, event_rate, observed_frames;
* ``<name>_events.csv``: site, frame, kind (vacated or filled), x_A, y_A;
* ``<name>_occupancy.png``, ``<name>_events.png``, ``<name>_drift.png`` and
  ``<name>_overlay.gif`` (detections on the registered frames).

Frames are numbered by their index in the movie; an unusable frame (constant, with NaN or
infinite values, or of another shape than the first) is skipped with a warning naming the
file and the frame, and the analysis runs on the others, "consecutive" meaning
consecutive usable frames.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import tifffile

from ..atomic import atomic_path
from ..images import check_sampling
from .drift import corrected, register, shifted
from .sequence_plots import plot_drift, plot_site_map, write_overlay_gif
from .sites import EVENT_KINDS, Sites, find_sites
from .tracking import Tracks, link

if TYPE_CHECKING:
    from ..predict import Predictor

MOVIE_SUFFIXES = (".npy", ".tif", ".tiff")
"""Extensions of the movies :func:`read_movie` reads: a (N, H, W) array or a multi-page TIFF."""


@dataclass(frozen=True)
class SequenceAnalysis:
    """Drift, tracks and sites of a sequence.

    Attributes
    ----------
    frames : numpy.ndarray
        Index of each analysed frame in the movie, int64, shape (n,).
    drift : numpy.ndarray
        Drift (row, col) of each analysed frame [pixels], shape (n, 2) (:func:`atomsight.analysis.drift.register`).
    tracks : Tracks
        Linked drift-corrected detections; their ``frame`` counts analysed frames (0..n-1).
    sites : Sites
        Sites with their state in each analysed frame.
    sampling : float
        Pixel size [Å/pixel].
    """

    frames: np.ndarray
    drift: np.ndarray
    tracks: Tracks
    sites: Sites
    sampling: float


def analyze_sequence(
    frames: Sequence[np.ndarray],
    positions: Sequence[np.ndarray],
    *,
    sampling: float,
    frame_indices: Sequence[int] | None = None,
    max_displacement: float = 1.0,
    site_radius: float = 1.0,
    window: int = 4,
) -> SequenceAnalysis:
    """Register the frames, link the detections and find the sites' occupancy and events.

    Parameters
    ----------
    frames : sequence of numpy.ndarray
        Frames (H, W) of one shape, at least 2.
    positions : sequence of numpy.ndarray
        (x, y) of the detections of each frame [Å], in that frame (x = row * sampling).
    sampling : float
        Pixel size [Å/pixel].
    frame_indices : sequence of int, optional
        Index of each frame in the movie (default 0, 1, ...).
    max_displacement : float
        Largest move of a detection between consecutive frames on one track [Å].
    site_radius : float
        Largest distance between tracks of one site [Å] (:func:`atomsight.analysis.sites.find_sites`).
    window : int
        Previous frames averaged into the registration reference (:func:`atomsight.analysis.drift.register`).

    Returns
    -------
    SequenceAnalysis
        The analysis.

    Raises
    ------
    ValueError
        If the numbers of frames and of position arrays differ, or see :func:`register`.
    """
    if len(frames) != len(positions):
        raise ValueError(f"got {len(frames)} frames but detections of {len(positions)}")
    drift = register(frames, window=window)
    tracks = link([corrected(p, d, sampling=sampling) for p, d in zip(positions, drift)],
                  max_displacement=max_displacement)
    sites = find_sites(tracks, n_frames=len(frames), radius=site_radius, drift=drift, sampling=sampling,
                       shape=np.shape(frames[0]))
    indices = np.arange(len(frames)) if frame_indices is None else np.asarray(frame_indices, np.int64)
    return SequenceAnalysis(frames=indices, drift=drift, tracks=tracks, sites=sites, sampling=sampling)


def write_sequence(analysis: SequenceAnalysis, frames: Sequence[np.ndarray], *, out: Path, name: str) -> list[Path]:
    """Write the CSV files, PNG plots and animated overlay of an analysis under ``out``.

    Parameters
    ----------
    analysis : SequenceAnalysis
        The analysis (:func:`analyze_sequence`).
    frames : sequence of numpy.ndarray
        The analysed frames (H, W).
    out : pathlib.Path
        Folder of the results.
    name : str
        Prefix of the files, e.g. the movie's stem.

    Returns
    -------
    list of pathlib.Path
        The written files.
    """
    out = Path(out)
    return [*_write_tables(analysis, out=out, name=name), *_write_figures(analysis, frames, out=out, name=name)]


def _write_tables(analysis: SequenceAnalysis, *, out: Path, name: str) -> list[Path]:
    """Write the drift, tracks, sites and events CSV files; positions in Å, frames numbered as in the movie."""
    number, sampling, tracks, sites = analysis.frames, analysis.sampling, analysis.tracks, analysis.sites
    site, frame, kind = sites.events()
    site_rows = zip(sites.positions, sites.occupancy, sites.event_rate, sites.observed.sum(axis=1))
    return [
        _write_csv(out / f"{name}_drift.csv", ("frame", "drift_x_A", "drift_y_A"),
                   [(k, f"{dx * sampling:.4f}", f"{dy * sampling:.4f}")
                    for k, (dx, dy) in zip(number, analysis.drift)]),
        _write_csv(out / f"{name}_tracks.csv", ("track", "frame", "x_A", "y_A"),
                   [(t, number[k], f"{x:.4f}", f"{y:.4f}")
                    for t, k, (x, y) in zip(tracks.track, tracks.frame, tracks.positions)]),
        _write_csv(out / f"{name}_sites.csv", ("site", "x_A", "y_A", "occupancy", "event_rate", "observed_frames"),
                   [(i, f"{x:.4f}", f"{y:.4f}", f"{occupancy:.4f}", f"{rate:.4f}", observed)
                    for i, ((x, y), occupancy, rate, observed) in enumerate(site_rows)]),
        _write_csv(out / f"{name}_events.csv", ("site", "frame", "kind", "x_A", "y_A"),
                   [(i, number[k], EVENT_KINDS[c], f"{sites.positions[i, 0]:.4f}", f"{sites.positions[i, 1]:.4f}")
                    for i, k, c in zip(site, frame, kind)]),
    ]


def _write_figures(analysis: SequenceAnalysis, frames: Sequence[np.ndarray], *, out: Path, name: str) -> list[Path]:
    """Write the occupancy, events and drift PNGs and the animated overlay on the registered frames."""
    sampling, tracks, sites = analysis.sampling, analysis.tracks, analysis.sites
    registered = [shifted(np.asarray(frame, np.float64), -d) for frame, d in zip(frames, analysis.drift)]
    background = np.mean(registered, axis=0)
    span = f"frames {analysis.frames[0]}-{analysis.frames[-1]}"
    n_events = len(sites.events()[0])
    return [
        plot_site_map(out / f"{name}_occupancy.png", background, sites.positions, 100 * sites.occupancy,
                      sampling=sampling, label="occupancy [% of observed frames]",
                      title=f"{name}: occupancy of {len(sites.positions)} sites, {span}"),
        plot_site_map(out / f"{name}_events.png", background, sites.positions, 100 * sites.event_rate,
                      sampling=sampling, label="events [% of consecutive frame pairs]",
                      title=f"{name}: {n_events} events, {span}"),
        plot_drift(out / f"{name}_drift.png", analysis.frames, analysis.drift, sampling=sampling,
                   title=f"{name}: drift, {span}"),
        write_overlay_gif(out / f"{name}_overlay.gif", registered,
                          [tracks.positions[tracks.frame == k] / sampling for k in range(len(frames))]),
    ]


def read_movie(path: str | Path) -> tuple[np.ndarray, list[np.ndarray]]:
    """Read the usable frames of a movie stored as ``.npy`` (N, H, W) or a multi-page TIFF.

    A frame that is constant, holds NaN or infinite values, or differs in shape from the
    first usable frame is skipped with a warning naming the file and the frame.

    Parameters
    ----------
    path : str or pathlib.Path
        The movie.

    Returns
    -------
    indices : numpy.ndarray
        Index of each usable frame in the movie, int64.
    frames : list of numpy.ndarray
        The usable frames, float32 (H, W).

    Raises
    ------
    ValueError
        If the extension is not one of :data:`MOVIE_SUFFIXES`, the file is a colour image,
        a ``.npy`` array is not (N, H, W), or fewer than 2 frames are usable; the message
        names the file.
    """
    path = _check_movie_path(Path(path))
    indices, frames, total = [], [], 0
    for index, frame in enumerate(_raw_frames(path)):
        total += 1
        problem = _frame_problem(frame, frames[0].shape if frames else None)
        if problem:
            warnings.warn(f"{path} frame {index}: {problem}; frame skipped", UserWarning, stacklevel=2)
            continue
        indices.append(index)
        frames.append(np.asarray(frame, np.float32))
    if len(frames) < 2:
        raise ValueError(f"{path}: {len(frames)} of its {total} frames are usable, a sequence needs 2")
    return np.asarray(indices, np.int64), frames


def _raw_frames(path: Path) -> Iterator[np.ndarray]:
    """Yield the frames of a movie one at a time, as stored (a ``.npy`` file is memory-mapped)."""
    if path.suffix.lower() == ".npy":
        array = np.load(path, mmap_mode="r")
        if array.ndim != 3:
            raise ValueError(f"{path}: expected a movie of shape (frames, H, W), got shape {array.shape}")
        yield from array
        return
    with tifffile.TiffFile(path) as tif:
        if tif.pages[0].photometric == tifffile.PHOTOMETRIC.RGB:
            raise ValueError(f"{path}: a colour image, not a movie of grey frames")
        for page in tif.pages:
            yield page.asarray()


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


def _check_movie_path(path: Path) -> Path:
    """Return ``path`` if it is an existing movie file of a supported extension; raise naming it otherwise."""
    if path.suffix.lower() not in MOVIE_SUFFIXES:
        raise ValueError(f"{path}: unsupported movie extension {path.suffix!r}, expected one of {MOVIE_SUFFIXES}")
    if not path.is_file():
        raise FileNotFoundError(f"movie file not found: {path}")
    return path


def track_movies(
    model: str | Path | Predictor,
    movies: Sequence[str | Path],
    *,
    sampling: float,
    out: str | Path,
    max_displacement: float = 1.0,
    site_radius: float = 1.0,
    tile: int = 1024,
) -> list[Path]:
    """Find the atoms in every frame of each movie with an exported model, and analyse each movie.

    Parameters
    ----------
    model : str, pathlib.Path or Predictor
        An exported model folder (``results/models/<system>``), loaded once, or a loaded
        :class:`atomsight.predict.Predictor`.
    movies : sequence of path
        Movies (:func:`read_movie`).
    sampling : float
        Pixel size of the movies [Å/pixel].
    out : str or pathlib.Path
        Folder of the results.
    max_displacement, site_radius : float
        See :func:`analyze_sequence` [Å].
    tile : int
        Tile side for large frames [pixels at the model's sampling] (:func:`atomsight.predict.predict_images`).

    Returns
    -------
    list of pathlib.Path
        The written files.
    """
    from ..predict import Predictor, load_predictor

    if not sampling > 0:
        raise ValueError(f"the movie sampling must be a positive number of Å/pixel, got {sampling!r}")
    for path in map(Path, movies):
        _check_movie_path(path)
    predictor = model if isinstance(model, Predictor) else load_predictor(model)
    if predictor.card["input_channels"] != 1:
        raise ValueError(f"{model}: a focal-series model ({predictor.card['input_channels']} images) cannot track a"
                         " movie of single frames")
    written = []
    for path in map(Path, movies):
        indices, frames = read_movie(path)
        check_sampling(path, sampling, predictor.card["sampling"])
        positions = [_find_atoms(predictor, frame, sampling=sampling, tile=tile) for frame in frames]
        analysis = analyze_sequence(frames, positions, sampling=sampling, frame_indices=indices,
                                    max_displacement=max_displacement, site_radius=site_radius)
        written += write_sequence(analysis, frames, out=Path(out), name=path.stem)
    return written


def _find_atoms(predictor: Predictor, frame: np.ndarray, *, sampling: float, tile: int) -> np.ndarray:
    """Return the (x, y) [Å] of the atoms a loaded :class:`atomsight.predict.Predictor` finds in one frame (H, W)."""
    return predictor.find(frame[..., None], sampling=sampling, tile=tile)[2] * sampling


def _write_csv(path: Path, header: Sequence[str], rows: list[Sequence[object]]) -> Path:
    """Write a CSV file atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return path
