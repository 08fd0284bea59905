"""A sequence of frames and their detections in, drift, tracks, sites, occupancy and events out.

:func:`analyze_sequence` takes frames and per-frame positions, so it runs on detections
from any source; :func:`track_movies` reads movies, finds the atoms in every frame with
an exported model loaded once, and writes everything :func:`write_sequence` writes for
movie ``<name>``:

* ``<name>_drift.csv``: frame, drift_x_A, drift_y_A (where frame 0's features appear in the frame [Å]);
* ``<name>_tracks.csv``: track, frame, x_A, y_A (drift-corrected: on frame 0's grid [Å]);
* ``<name>_sites.csv``: site, x_A, y_A, occupancy, event_rate, observed_frames (occupancy is
  empty for a site never inside a frame's margin, observed_frames 0, and event_rate for one never
  inside two consecutive frames: there is nothing to count them over);
* ``<name>_events.csv``: site, frame, kind (vacated or filled), x_A, y_A;
* ``<name>_occupancy.png``, ``<name>_events.png``, ``<name>_drift.png`` and
  ``<name>_overlay.gif`` (detections on the registered frames).

A movie is one file or several files read as one (:func:`atomsight.io.movies.read_movie`),
of any format that :mod:`atomsight.io.microscope_files` reads or ``.npy``, with the pixel
size from the file unless given. Frames are numbered by their index in the movie; an
unusable frame (constant, with NaN or infinite values, unreadable, of another shape or pixel
size than the first) is skipped with a warning naming the file and the frame, and the
analysis runs on the others, "consecutive" meaning consecutive usable frames. Frames are
read one at a time, for the detections, for the registration and for the figures, and
never held together: the memory needed is that of a few frames (the registration's
reference window) whatever the length of the movie.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.registration import corrected, register, shifted
from ..io.atomic import atomic_files, write_csv_rows
from ..io.images import check_sampling
from ..io.microscope_files import resolve_sampling
from ..io.movies import check_movie_path, movie_name, read_movie
from ..network.tiling import DEFAULT_TILE
from .sequence_plots import GIF_MAX_FRAMES, plot_drift, plot_site_map, write_overlay_gif
from .sites import EVENT_KINDS, Sites, find_sites
from .tracking import Tracks, link

if TYPE_CHECKING:
    from ..network.predictor import Predictor

TABLE_SUFFIXES = ("_drift.csv", "_tracks.csv", "_sites.csv", "_events.csv")
"""Tables written per movie, after its name (:func:`write_sequence`)."""

FIGURE_SUFFIXES = ("_occupancy.png", "_events.png", "_drift.png", "_overlay.gif")
"""Figures written per movie, after its name (:func:`write_sequence`)."""

@dataclass(frozen=True)
class SequenceAnalysis:
    """Drift, tracks and sites of a sequence.

    Attributes
    ----------
    frames : numpy.ndarray
        Index of each analysed frame in the movie, int64, shape (n,).
    drift : numpy.ndarray
        Drift (row, col) of each analysed frame [pixels], shape (n, 2) (:func:`atomsight.core.registration.register`).
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
    frame_indices: Sequence[int] | np.ndarray | None = None,
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
        Previous frames averaged into the registration reference (:func:`atomsight.core.registration.register`).

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

    The files (:data:`TABLE_SUFFIXES`, :data:`FIGURE_SUFFIXES`) replace those of an earlier
    run together or not at all (:func:`atomsight.io.atomic.atomic_files`), the tables last.

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
    tables = [Path(out) / f"{name}{suffix}" for suffix in TABLE_SUFFIXES]
    figures = [Path(out) / f"{name}{suffix}" for suffix in FIGURE_SUFFIXES]
    with atomic_files([*figures, *tables]) as written:
        _write_figures(analysis, frames, written[:len(figures)], name=name)
        _write_tables(analysis, written[len(figures):])
    return [*tables, *figures]


def _fraction(value: float) -> str:
    """A fraction for a CSV: four decimals, empty where there was nothing to count it over (nan)."""
    return "" if np.isnan(value) else f"{value:.4f}"


def _write_tables(analysis: SequenceAnalysis, paths: Sequence[Path]) -> None:
    """Write the drift, tracks, sites and events CSV files (:data:`TABLE_SUFFIXES`) to ``paths``.

    Positions are in Å, frames numbered as in the movie.
    """
    number, sampling, tracks, sites = analysis.frames, analysis.sampling, analysis.tracks, analysis.sites
    site, frame, kind = sites.events()
    site_rows = zip(sites.positions, sites.occupancy, sites.event_rate, sites.observed.sum(axis=1))
    drift, tracked, sited, events = paths
    write_csv_rows(drift, ("frame", "drift_x_A", "drift_y_A"),
                   [(k, f"{dx * sampling:.4f}", f"{dy * sampling:.4f}") for k, (dx, dy) in zip(number, analysis.drift)])
    write_csv_rows(tracked, ("track", "frame", "x_A", "y_A"),
                   [(t, number[k], f"{x:.4f}", f"{y:.4f}")
                    for t, k, (x, y) in zip(tracks.track, tracks.frame, tracks.positions)])
    write_csv_rows(sited, ("site", "x_A", "y_A", "occupancy", "event_rate", "observed_frames"),
                   [(i, f"{x:.4f}", f"{y:.4f}", _fraction(occupancy), _fraction(rate), observed)
                    for i, ((x, y), occupancy, rate, observed) in enumerate(site_rows)])
    write_csv_rows(events, ("site", "frame", "kind", "x_A", "y_A"),
                   [(i, number[k], EVENT_KINDS[c], f"{sites.positions[i, 0]:.4f}", f"{sites.positions[i, 1]:.4f}")
                    for i, k, c in zip(site, frame, kind)])


def _write_figures(analysis: SequenceAnalysis, frames: Sequence[np.ndarray], paths: Sequence[Path], *,
                   name: str) -> None:
    """Write the occupancy, events and drift PNGs and the animated overlay (:data:`FIGURE_SUFFIXES`) to ``paths``.

    The frames are read twice, one at a time: for the mean registered frame (the maps'
    background) and for the overlay, which shows at most
    :data:`atomsight.analysis.sequence_plots.GIF_MAX_FRAMES` of them, evenly spaced.
    """
    sampling, tracks, sites = analysis.sampling, analysis.tracks, analysis.sites
    background = np.zeros(np.shape(frames[0]))
    for frame, d in zip(frames, analysis.drift):
        background += shifted(np.asarray(frame, np.float64), -d)
    background /= len(analysis.drift)
    span = f"frames {analysis.frames[0]}-{analysis.frames[-1]}"
    n_events = len(sites.events()[0])
    step = -(-len(analysis.frames) // GIF_MAX_FRAMES)  # every step-th frame in the overlay
    shown = range(0, len(analysis.frames), step)
    registered = (shifted(np.asarray(frames[k], np.float64), -analysis.drift[k]) for k in shown)
    occupancy, events, drift, overlay = paths
    plot_site_map(occupancy, background, sites.positions, 100 * sites.occupancy, sampling=sampling,
                  label="occupancy [% of observed frames]",
                  title=f"{name}: occupancy of {len(sites.positions)} sites, {span}")
    plot_site_map(events, background, sites.positions, 100 * sites.event_rate, sampling=sampling,
                  label="events [% of consecutive frame pairs]", title=f"{name}: {n_events} events, {span}")
    plot_drift(drift, analysis.frames, analysis.drift, sampling=sampling, title=f"{name}: drift, {span}")
    write_overlay_gif(overlay, registered, [tracks.positions[tracks.frame == k] / sampling for k in shown],
                      labels=[f"frame {analysis.frames[k]}" for k in shown], sampling=sampling)


def track_movies(
    model: str | Path | Predictor,
    movies: Sequence[str | Path | Sequence[str | Path]],
    *,
    out: str | Path,
    sampling: float | None = None,
    max_displacement: float = 1.0,
    site_radius: float = 1.0,
    tile: int = DEFAULT_TILE,
) -> list[Path]:
    """Find the atoms in every frame of each movie with an exported model, loaded once, and analyse each movie.

    Parameters
    ----------
    model : str, pathlib.Path or Predictor
        An exported model folder (``results/models/<system>``) or a loaded
        :class:`atomsight.network.predictor.Predictor`.
    movies : sequence of path or of sequences of path
        Movies (:func:`atomsight.io.movies.read_movie`): each a file, or the files of one movie in frame order.
        The results of each are prefixed by :func:`atomsight.io.movies.movie_name`.
    out : str or pathlib.Path
        Folder of the results.
    sampling : float, optional
        Pixel size of the movies [Å/pixel] (see :func:`track_movie`).
    max_displacement, site_radius : float
        See :func:`analyze_sequence` [Å].
    tile : int
        Tile side for large frames [pixels at the model's sampling] (:func:`atomsight.network.predict.predict_images`).

    Returns
    -------
    list of pathlib.Path
        The written files.
    """
    files = [[Path(movie)] if isinstance(movie, (str, Path)) else list(map(Path, movie)) for movie in movies]
    for path in (path for movie in files for path in movie):
        check_movie_path(path)  # before the model is loaded
    predictor = _single_frame_predictor(model)
    return [written for paths in files
            for written in track_movie(predictor, paths, out=out, name=movie_name(paths), sampling=sampling,
                                       max_displacement=max_displacement, site_radius=site_radius, tile=tile)]


def track_movie(
    model: str | Path | Predictor,
    paths: str | Path | Sequence[str | Path],
    *,
    out: str | Path,
    name: str,
    sampling: float | None = None,
    max_displacement: float = 1.0,
    site_radius: float = 1.0,
    tile: int = DEFAULT_TILE,
) -> list[Path]:
    """Find the atoms in every frame of one movie with an exported model, and write its analysis.

    Parameters
    ----------
    model : str, pathlib.Path or Predictor
        An exported model folder (``results/models/<system>``) or a loaded
        :class:`atomsight.network.predictor.Predictor`.
    paths : path or sequence of path
        The movie's file, or its files in frame order (:func:`atomsight.io.movies.read_movie`).
    out : str or pathlib.Path
        Folder of the results.
    name : str
        Prefix of the result files (:func:`write_sequence`).
    sampling : float, optional
        Pixel size of the movie [Å/pixel]; default: the movie's own calibration, which this
        overrides (:func:`atomsight.io.microscope_files.resolve_sampling`: an error when neither
        exists, a warning when they differ by more than 1 %).
    max_displacement, site_radius : float
        See :func:`analyze_sequence` [Å].
    tile : int
        Tile side for large frames [pixels at the model's sampling] (:func:`atomsight.network.predict.predict_images`).

    Returns
    -------
    list of pathlib.Path
        The written files.
    """
    if sampling is not None and not sampling > 0:
        raise ValueError(f"the movie sampling must be a positive number of Å/pixel, got {sampling!r}")
    predictor = _single_frame_predictor(model)
    movie = read_movie(paths)
    pixel = resolve_sampling(movie.path, movie.sampling, sampling)
    check_sampling(movie.path, pixel, predictor.card["sampling"])
    positions = [_find_atoms(predictor, frame, sampling=pixel, tile=tile) for frame in movie.frames]
    analysis = analyze_sequence(movie.frames, positions, sampling=pixel, frame_indices=movie.indices,
                                max_displacement=max_displacement, site_radius=site_radius)
    return write_sequence(analysis, movie.frames, out=Path(out), name=name)


def _single_frame_predictor(model: str | Path | Predictor) -> Predictor:
    """Return a loaded predictor of single images; load it if ``model`` is an exported model folder."""
    from ..network.predictor import Predictor, load_predictor

    predictor = model if isinstance(model, Predictor) else load_predictor(model)
    if predictor.card["input_channels"] != 1:
        raise ValueError(f"{model}: a focal-series model ({predictor.card['input_channels']} images) cannot track a"
                         " movie of single frames")
    return predictor


def _find_atoms(predictor: Predictor, frame: np.ndarray, *, sampling: float, tile: int) -> np.ndarray:
    """Return the (x, y) [Å] of the atoms a loaded model finds in one frame (H, W)."""
    return predictor.find(frame[..., None], sampling=sampling, tile=tile)[2] * sampling

