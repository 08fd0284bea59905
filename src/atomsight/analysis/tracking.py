"""Link the detections of consecutive frames into tracks.

Detections of frame ``k`` are matched one to one to those of frame ``k - 1``, on
drift-corrected positions, by :func:`atomsight.core.matching.match` (optimal assignment with
``scipy.optimize.linear_sum_assignment``, the most pairs within ``max_displacement``,
then the smallest total distance). A matched detection continues its partner's track; an
unmatched one starts a new track, so an atom that hops farther than ``max_displacement``
ends one track and starts another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.matching import match


@dataclass(frozen=True)
class Tracks:
    """Detections of a sequence, each with the track it belongs to.

    Attributes
    ----------
    track : numpy.ndarray
        Track id of each detection, int64, shape (n,); ids are 0, 1, ... in order of first appearance.
    frame : numpy.ndarray
        Frame of each detection, int64, shape (n,), non-decreasing.
    positions : numpy.ndarray
        Drift-corrected (x, y) of each detection [Å], float64, shape (n, 2).
    """

    track: np.ndarray
    frame: np.ndarray
    positions: np.ndarray

    @property
    def n_tracks(self) -> int:
        """Number of tracks."""
        return int(self.track.max()) + 1 if len(self.track) else 0


def link(positions: Sequence[np.ndarray], *, max_displacement: float) -> Tracks:
    """Link per-frame positions into tracks.

    Parameters
    ----------
    positions : sequence of numpy.ndarray
        Drift-corrected (x, y) of the detections of each frame [Å], shapes (n_k, 2).
    max_displacement : float
        Largest distance a detection may move between consecutive frames and stay on its track [Å].

    Returns
    -------
    Tracks
        Every detection with its track.

    Raises
    ------
    ValueError
        If ``max_displacement`` is not positive, or a frame's positions are not (n, 2) and finite.
    """
    if not (np.isfinite(max_displacement) and max_displacement > 0):
        raise ValueError(f"the largest displacement must be positive and finite, got {max_displacement} Å")
    frames = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in positions]
    tracks, previous, next_id = [], np.zeros(0, np.int64), 0
    for k, current in enumerate(frames):
        ids = np.full(len(current), -1, np.int64)
        if k and len(current) and len(frames[k - 1]):
            pairs = match(frames[k - 1], current, max_displacement)
            ids[pairs.detected_index] = previous[pairs.true_index]
        new = ids < 0
        ids[new] = np.arange(next_id, next_id + new.sum())
        next_id += int(new.sum())
        tracks.append(ids)
        previous = ids
    return Tracks(
        track=np.concatenate([np.zeros(0, np.int64), *tracks]),
        frame=np.concatenate([np.zeros(0, np.int64), *(np.full(len(p), k, np.int64) for k, p in enumerate(frames))]),
        positions=np.concatenate([np.zeros((0, 2)), *frames]),
    )
