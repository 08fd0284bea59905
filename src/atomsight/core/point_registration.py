"""Registration of two sets of points: the translation that lays the columns found in one image onto another's.

Frames of a focal series do not look alike: the lattice contrast changes so much with the focus
that the cross-correlation of the images (:mod:`atomsight.core.registration`) can peak at a
lattice vector or at half of one. The columns a detector finds in each frame are where the
columns are, whatever the focus, so two frames' detections register where the images do not.

A lattice repeats, so every lattice vector lays most points of one set onto the other; what
tells the true translation from those is the outline of the particle or sheet: only the true
one lays (nearly) all points onto a partner, a lattice vector off leaves a row of them at the
edge unmatched. The translation is therefore chosen by the number of points matched, among
candidates voted for by every pair of points (a histogram of their differences), and refined
to the mean difference of the matched pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

CANDIDATES = 40
"""Most candidate translations, the strongest bins of the vote, that are refined and compared."""

REFINEMENTS = 5
"""Rounds of refinement of a candidate: match, then move by the matched pairs' mean difference."""


@dataclass(frozen=True)
class PointRegistration:
    """The translation between two point sets and how well it lays one onto the other.

    Attributes
    ----------
    shift : numpy.ndarray
        Translation ``t`` [units of the points, (row, col)] with ``moving ≈ reference + t``, shape (2,).
    matched : int
        Points of ``moving`` within the matching radius of a point of ``reference`` after the shift.
    fraction : float
        ``matched`` over the size of the smaller set: 1 when every point has a partner.
    rms : float
        Root-mean-square distance of the matched pairs after the shift [units of the points].
    runner_up : int
        Points matched by the best candidate more than the radius away from ``shift`` (a
        lattice vector off): near ``matched`` when the translation is ambiguous.
    """

    shift: np.ndarray
    matched: int
    fraction: float
    rms: float
    runner_up: int


def register_points(
    reference: np.ndarray, moving: np.ndarray, *, max_shift: float, radius: float
) -> PointRegistration:
    """Find the translation that lays the most points of ``moving`` onto ``reference``.

    Parameters
    ----------
    reference, moving : numpy.ndarray
        Points (row, col), shapes (n, 2) and (m, 2), in one unit (pixels or Å).
    max_shift : float
        Largest translation along either axis that is considered [units of the points].
    radius : float
        Two points closer than this are partners [units of the points]: below half the
        smallest distance between two points of one set, above the error of a position.

    Returns
    -------
    PointRegistration
        The translation with the most matched points (ties: the smaller rms), refined.

    Raises
    ------
    ValueError
        If a set is empty or not of shape (n, 2), or ``max_shift`` or ``radius`` is not positive.
    """
    reference, moving = (np.asarray(p, dtype=np.float64) for p in (reference, moving))
    for name, points in (("reference", reference), ("moving", moving)):
        if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
            raise ValueError(f"the {name} points must be a non-empty array of shape (n, 2), got shape {points.shape}")
    if not (max_shift > 0 and radius > 0):
        raise ValueError(f"max_shift and radius must be positive, got {max_shift} and {radius}")
    tree = cKDTree(reference)
    scored = sorted((_refined(tree, moving, start, radius) for start in _candidates(reference, moving, max_shift,
                                                                                     radius)),
                    key=lambda found: (-found[1], found[2]))
    shift, matched, rms = scored[0]
    runner_up = max((m for t, m, _ in scored[1:] if np.hypot(*(t - shift)) > radius), default=0)
    return PointRegistration(shift=shift, matched=matched, fraction=matched / min(len(reference), len(moving)),
                             rms=rms, runner_up=runner_up)


def _candidates(reference: np.ndarray, moving: np.ndarray, max_shift: float, radius: float) -> list[np.ndarray]:
    """The centres of the most voted bins of the pairwise differences ``moving - reference`` within ``max_shift``."""
    differences = (moving[None, :, :] - reference[:, None, :]).reshape(-1, 2)
    differences = differences[np.abs(differences).max(axis=1) <= max_shift]
    if len(differences) == 0:
        return [np.zeros(2)]
    bins = max(1, int(np.ceil(2 * max_shift / radius)))
    votes, rows, cols = np.histogram2d(differences[:, 0], differences[:, 1], bins=bins,
                                       range=[[-max_shift, max_shift], [-max_shift, max_shift]])
    order = np.argsort(votes, axis=None)[::-1][:CANDIDATES]
    width = 2 * max_shift / bins
    return [np.array([rows[i // bins], cols[i % bins]]) + width / 2 for i in order if votes.flat[i] > 0]


def _refined(tree: cKDTree, moving: np.ndarray, start: np.ndarray, radius: float) -> tuple[np.ndarray, int, float]:
    """Refine a translation from ``start``: (translation, points matched, rms of the matched pairs)."""
    shift = start
    matched, rms = 0, np.inf
    for _ in range(REFINEMENTS):
        distance, partner = tree.query(moving - shift, distance_upper_bound=radius)
        pairs = np.isfinite(distance)
        matched = int(pairs.sum())
        if matched == 0:
            return shift, 0, np.inf
        shift = shift + np.mean(moving[pairs] - shift - tree.data[partner[pairs]], axis=0)
    distance, _ = tree.query(moving - shift, distance_upper_bound=radius)
    pairs = np.isfinite(distance)
    matched = int(pairs.sum())
    rms = float(np.sqrt(np.mean(distance[pairs] ** 2))) if matched else np.inf
    return shift, matched, rms
