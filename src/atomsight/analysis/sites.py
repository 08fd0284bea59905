"""Lattice sites of a sequence, their occupancy over time, and the events (paper Fig. 10).

A site is a place where an atom or column is found in some frames: the tracks
(:mod:`atomsight.analysis.tracking`) whose mean drift-corrected positions lie within
``radius`` of each other, chained, form one site, so an atom that leaves and later
returns adds a second track to the same site. A site is occupied in a frame when one of
its tracks has a detection there. It is observed in a frame when its position, moved by
that frame's drift, lies inside the frame by at least ``radius``; frames where a site is
outside the field of view count neither as occupied nor as empty. An event is a change
between consecutive frames that both observe the site: occupied -> empty ("vacated") or
empty -> occupied ("filled"). As in Fig. 10, the occupancy of a site is the fraction of
its observed frames in which it is occupied, and its event rate the fraction of its
observed pairs of consecutive frames with an event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .tracking import Tracks

EVENT_KINDS = ("vacated", "filled")
"""Kinds of event: occupied -> empty, and empty -> occupied, between consecutive frames."""


@dataclass(frozen=True)
class Sites:
    """Sites of a sequence and their state in every frame.

    Attributes
    ----------
    positions : numpy.ndarray
        Mean drift-corrected (x, y) of each site's detections [Å], float64, shape (m, 2).
    occupied : numpy.ndarray
        Whether a detection lies at the site, bool, shape (m, n_frames).
    observed : numpy.ndarray
        Whether the site lies inside the frame, bool, shape (m, n_frames).
    """

    positions: np.ndarray
    occupied: np.ndarray
    observed: np.ndarray

    @property
    def occupancy(self) -> np.ndarray:
        """Fraction of its observed frames in which each site is occupied, shape (m,); nan if never observed."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.occupied & self.observed).sum(axis=1) / self.observed.sum(axis=1)

    @property
    def event_rate(self) -> np.ndarray:
        """Fraction of each site's observed consecutive pairs of frames with an event, shape (m,); nan if none."""
        both = self.observed[:, 1:] & self.observed[:, :-1]
        changed = both & (self.occupied[:, 1:] != self.occupied[:, :-1])
        with np.errstate(invalid="ignore", divide="ignore"):
            return changed.sum(axis=1) / both.sum(axis=1)

    def events(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the events as (site, frame, kind), each shape (e,), ordered by frame then site.

        ``frame`` is the first frame of the new state; ``kind`` indexes :data:`EVENT_KINDS`.
        """
        both = self.observed[:, 1:] & self.observed[:, :-1]
        changed = both & (self.occupied[:, 1:] != self.occupied[:, :-1])
        frame, site = np.nonzero(changed.T)
        kind = self.occupied[site, frame + 1].astype(np.int64)
        return site.astype(np.int64), (frame + 1).astype(np.int64), kind


def find_sites(
    tracks: Tracks, *, n_frames: int, radius: float, drift: np.ndarray, sampling: float, shape: tuple[int, int]
) -> Sites:
    """Group tracks into sites and record each site's state in every frame.

    Parameters
    ----------
    tracks : Tracks
        The linked detections (:func:`atomsight.analysis.tracking.link`).
    n_frames : int
        Number of frames of the sequence.
    radius : float
        Largest distance between the mean positions of two tracks of one site [Å]; below
        half the smallest spacing of sites (e.g. 1.0 Å for gold columns 2.9 Å apart).
    drift : numpy.ndarray
        Drift of each frame [pixels, (row, col)], shape (n_frames, 2) (:func:`atomsight.core.registration.register`).
    sampling : float
        Pixel size [Å/pixel].
    shape : tuple of int
        Frame shape (H, W) [pixels].

    Returns
    -------
    Sites
        The sites, sorted by x then y.

    Raises
    ------
    ValueError
        If ``radius`` is not positive and finite.
    """
    if not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"the site radius must be positive and finite, got {radius} Å")
    n_tracks = tracks.n_tracks
    means = _mean_positions(tracks.track, tracks.positions, n_tracks)
    pairs = cKDTree(means).query_pairs(radius, output_type="ndarray")
    graph = coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_tracks, n_tracks))
    _, site_of_track = connected_components(graph, directed=False)
    site = site_of_track[tracks.track]
    n_sites = int(site_of_track.max()) + 1 if n_tracks else 0
    positions = _mean_positions(site, tracks.positions, n_sites)
    order = np.lexsort((positions[:, 1], positions[:, 0]))
    rank = np.argsort(order)
    occupied = np.zeros((n_sites, n_frames), bool)
    occupied[rank[site], tracks.frame] = True
    return Sites(positions=positions[order], occupied=occupied,
                 observed=_inside(positions[order], drift, sampling=sampling, shape=shape, margin=radius))


def _mean_positions(group: np.ndarray, positions: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean (x, y) of the positions of each of ``n_groups`` groups, float64 (n_groups, 2); 0 for an empty group."""
    sums = np.stack([np.bincount(group, positions[:, axis], n_groups) for axis in (0, 1)], axis=1)
    return sums.astype(np.float64) / np.maximum(np.bincount(group, minlength=n_groups), 1)[:, None]


def _inside(positions: np.ndarray, drift: np.ndarray, *, sampling: float, shape: tuple[int, int],
            margin: float) -> np.ndarray:
    """Whether each position moved by each frame's drift lies ``margin`` [Å] inside the frame, (m, n_frames)."""
    moved = positions[:, None, :] + np.asarray(drift)[None, :, :] * sampling
    upper = (np.asarray(shape) - 1) * sampling - margin
    return np.all((moved >= margin) & (moved <= upper), axis=2)
