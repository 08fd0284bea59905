"""Evaluation: match detected to true positions, score the detections, bootstrap their confidence
intervals, count column-height errors.

Positions are arrays of shape (n, d), usually d = 2 (row, col) in pixels or (x, y) in Å;
a matching ``radius`` is in the same units. True and detected positions are matched one
to one: a pair matches only when its distance is at most ``radius``, and among such
matchings the one with the most pairs, then the smallest total distance, is chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

SCORES = ("precision", "recall", "f1", "rmse")
"""Scores of a matching that :func:`bootstrap_intervals` gives intervals for (properties of :class:`Scores`)."""

HEIGHT_ERRORS = ("0", "1", "2", ">=3")
"""Keys of :func:`count_errors`: absolute error of a column's height [atoms] (paper Fig. 12)."""


@dataclass(frozen=True)
class Match:
    """One-to-one pairs of true and detected positions.

    Attributes
    ----------
    true_index : numpy.ndarray
        Index of the true position of each pair, int64, shape (m,), increasing.
    detected_index : numpy.ndarray
        Index of the detected position of each pair, int64, shape (m,).
    distances : numpy.ndarray
        Distance within each pair, float64, shape (m,), in the units of the positions.
    """

    true_index: np.ndarray
    detected_index: np.ndarray
    distances: np.ndarray


@dataclass(frozen=True)
class Scores:
    """Counts of a matching and the scores computed from them.

    Only counts and the sum of squared distances are stored, so scores of many images
    combine exactly (:func:`aggregate`). A ratio 0/0 is 1.0 when there are neither true
    nor detected positions (nothing to find and nothing found is a perfect result) and
    0.0 otherwise: precision is 0 when nothing is detected but something was there,
    recall is 0 when something is detected but nothing was there.

    Attributes
    ----------
    true_positives : int
        Matched pairs.
    false_positives : int
        Unmatched detected positions.
    false_negatives : int
        Unmatched true positions.
    sum_squared_distance : float
        Sum of the squared distances of the matched pairs [units of the positions, squared].
    """

    true_positives: int
    false_positives: int
    false_negatives: int
    sum_squared_distance: float

    @property
    def precision(self) -> float:
        """Fraction of the detected positions that match a true one."""
        return self._ratio(self.true_positives, self.true_positives + self.false_positives)

    @property
    def recall(self) -> float:
        """Fraction of the true positions that match a detected one."""
        return self._ratio(self.true_positives, self.true_positives + self.false_negatives)

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall, ``2 TP / (2 TP + FP + FN)``."""
        return self._ratio(2 * self.true_positives, 2 * self.true_positives + self.false_positives + self.false_negatives)

    @property
    def rmse(self) -> float:
        """Root mean square distance of the matched pairs [units of the positions]; nan if none."""
        if self.true_positives == 0:
            return float("nan")
        return float(np.sqrt(self.sum_squared_distance / self.true_positives))

    def _ratio(self, numerator: int, denominator: int) -> float:
        if denominator > 0:
            return numerator / denominator
        return 1.0 if self.true_positives + self.false_positives + self.false_negatives == 0 else 0.0


def match(true_positions: np.ndarray, detected_positions: np.ndarray, radius: float) -> Match:
    """Match true and detected positions one to one within ``radius``.

    Pairs within ``radius`` come from cKDTree's sparse distance matrix. Each connected
    group of such pairs is solved by ``scipy.optimize.linear_sum_assignment`` on a cost
    matrix where pairs beyond ``radius`` cost more than any full set of pairs within it,
    so the matching has the most pairs possible, and among those the smallest total
    distance; a pair beyond ``radius`` never matches.

    Parameters
    ----------
    true_positions : numpy.ndarray
        True positions, shape (n_true, d).
    detected_positions : numpy.ndarray
        Detected positions, shape (n_detected, d).
    radius : float
        Largest distance of a matched pair, inclusive, in the units of the positions.

    Returns
    -------
    Match
        The matched pairs.

    Raises
    ------
    ValueError
        If the positions are not 2-D arrays with the same number of columns, are not
        finite, or the radius is not positive and finite.
    """
    true_positions, detected_positions = _validated_positions(true_positions, detected_positions)
    if not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"matching radius must be positive and finite, got {radius}")
    close = cKDTree(true_positions).sparse_distance_matrix(
        cKDTree(detected_positions), radius, output_type="ndarray"
    )
    alone, groups = _groups(close, len(true_positions))
    pairs = np.sort(np.concatenate([close[alone], *(_assign(close[group], radius) for group in groups)]), order="i")
    return Match(
        true_index=pairs["i"].astype(np.int64),
        detected_index=pairs["j"].astype(np.int64),
        distances=pairs["v"].astype(np.float64),
    )


def score(true_positions: np.ndarray, detected_positions: np.ndarray, radius: float) -> Scores:
    """Score detected positions against true ones.

    Parameters
    ----------
    true_positions : numpy.ndarray
        True positions, shape (n_true, d).
    detected_positions : numpy.ndarray
        Detected positions, shape (n_detected, d).
    radius : float
        Largest distance of a matched pair, inclusive, in the units of the positions
        (see :func:`match`).

    Returns
    -------
    Scores
        Counts, precision, recall, F1 and RMSE of the matching.
    """
    return scores_of(match(true_positions, detected_positions, radius), len(true_positions), len(detected_positions))


def scores_of(pairs: Match, n_true: int, n_detected: int) -> Scores:
    """Score a matching of ``n_true`` true and ``n_detected`` detected positions.

    Parameters
    ----------
    pairs : Match
        The matching (:func:`match`).
    n_true, n_detected : int
        Numbers of true and detected positions that were matched.

    Returns
    -------
    Scores
        Counts, precision, recall, F1 and RMSE of the matching.
    """
    matched = len(pairs.distances)
    return Scores(
        true_positives=matched,
        false_positives=n_detected - matched,
        false_negatives=n_true - matched,
        sum_squared_distance=float(np.sum(pairs.distances**2)),
    )


def recall_by_group(groups: np.ndarray, found: np.ndarray) -> dict[str, dict[str, float]]:
    """Return the recall of the true positions of each group, e.g. each atom's local environment.

    Parameters
    ----------
    groups : numpy.ndarray
        Group name of each true position, shape (n,).
    found : numpy.ndarray
        Whether each true position was matched, bool, shape (n,).

    Returns
    -------
    dict
        For each group present, in sorted order: ``atoms`` (its true positions),
        ``found`` (those matched) and ``recall`` (their ratio).
    """
    groups, found = np.asarray(groups), np.asarray(found, dtype=bool)
    if groups.shape != found.shape:
        raise ValueError(f"groups has shape {groups.shape} but found has {found.shape}")
    result = {}
    for group in np.unique(groups):
        members = groups == group
        atoms, hits = int(members.sum()), int(found[members].sum())
        result[str(group)] = {"atoms": atoms, "found": hits, "recall": hits / atoms}
    return result


def aggregate(scores: Sequence[Scores]) -> Scores:
    """Combine the scores of many images as if they were one.

    Parameters
    ----------
    scores : sequence of Scores
        Scores of the images.

    Returns
    -------
    Scores
        Summed counts and squared distances; precision, recall and F1 from the summed
        counts, RMSE over all matched pairs. An empty sequence gives the scores of an
        empty image (precision, recall and F1 of 1, RMSE nan).
    """
    return Scores(
        true_positives=sum(s.true_positives for s in scores),
        false_positives=sum(s.false_positives for s in scores),
        false_negatives=sum(s.false_negatives for s in scores),
        sum_squared_distance=float(sum(s.sum_squared_distance for s in scores)),
    )


def bootstrap_intervals(
    scores: Sequence[Scores], *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Percentile-bootstrap confidence intervals of the pooled scores of independent units.

    The units (in an evaluation, the held-out structures, each with the pooled scores of
    its images) are the independent draws: each resample draws as many units as there
    are, with replacement, and pools their counts with :func:`aggregate`. The interval of
    a score is the central ``confidence`` fraction of its resampled values. Resamples
    without a matched pair have no RMSE and are left out of its interval.

    Parameters
    ----------
    scores : sequence of Scores
        Scores of the units, at least one.
    resamples : int
        Number of bootstrap resamples.
    confidence : float
        Coverage of the intervals, in (0, 1), e.g. 0.95.
    seed : int
        Seed of the resampling (NumPy's default generator).

    Returns
    -------
    dict of str to tuple of float
        (low, high) for each of :data:`SCORES`: ``precision``, ``recall``, ``f1`` and
        ``rmse`` [units of the positions]; (nan, nan) for the RMSE when no resample has
        a matched pair.

    Raises
    ------
    ValueError
        If there are no units, ``resamples`` is below 1 or ``confidence`` is not in (0, 1).
    """
    if len(scores) == 0 or resamples < 1 or not 0 < confidence < 1:
        raise ValueError(
            f"bootstrap needs at least one unit, one resample and a confidence in (0, 1); got {len(scores)} units, "
            f"{resamples} resamples, confidence {confidence}"
        )
    counts = np.array([[s.true_positives, s.false_positives, s.false_negatives, s.sum_squared_distance]
                       for s in scores])
    picks = np.random.default_rng(seed).integers(0, len(scores), size=(resamples, len(scores)))
    pooled = [Scores(int(tp), int(fp), int(fn), float(ssd)) for tp, fp, fn, ssd in counts[picks].sum(axis=1)]
    quantiles = [(1 - confidence) / 2, (1 + confidence) / 2]
    intervals = {}
    for key in SCORES:
        values = np.array([getattr(p, key) for p in pooled])
        values = values[np.isfinite(values)]
        low, high = np.quantile(values, quantiles) if values.size else (np.nan, np.nan)
        intervals[key] = (float(low), float(high))
    return intervals


def count_errors(true_heights: np.ndarray, detected_heights: np.ndarray) -> dict[str, float]:
    """Fractions of matched columns whose height is off by 0, 1, 2 and at least 3 atoms.

    Parameters
    ----------
    true_heights : numpy.ndarray
        True number of atoms of each matched column, integers, shape (m,).
    detected_heights : numpy.ndarray
        Detected number of atoms of the same columns, integers, shape (m,).

    Returns
    -------
    dict of str to float
        Fraction of the columns for each key of ``HEIGHT_ERRORS`` ("0", "1", "2",
        ">=3"), as in paper Fig. 12; the fractions sum to 1, and are nan when there are
        no columns.

    Raises
    ------
    ValueError
        If the heights are not integer 1-D arrays of the same length.
    """
    true_heights, detected_heights = np.asarray(true_heights), np.asarray(detected_heights)
    if true_heights.ndim != 1 or true_heights.shape != detected_heights.shape:
        raise ValueError(
            f"heights must be 1-D arrays of the same length, got shapes {true_heights.shape} and {detected_heights.shape}"
        )
    if not (np.issubdtype(true_heights.dtype, np.integer) and np.issubdtype(detected_heights.dtype, np.integer)):
        raise ValueError(f"heights must be integers, got {true_heights.dtype} and {detected_heights.dtype}")
    if true_heights.size == 0:
        return dict.fromkeys(HEIGHT_ERRORS, float("nan"))
    errors = np.minimum(np.abs(detected_heights.astype(np.int64) - true_heights.astype(np.int64)), 3)
    fractions = np.bincount(errors, minlength=4) / errors.size
    return {key: float(fraction) for key, fraction in zip(HEIGHT_ERRORS, fractions, strict=True)}


def _validated_positions(*positions: np.ndarray) -> list[np.ndarray]:
    """Return the positions as float64 (n, d) arrays after checking them."""
    arrays = [np.asarray(p, dtype=np.float64) for p in positions]
    if any(a.ndim != 2 for a in arrays) or len({a.shape[1] for a in arrays}) != 1:
        raise ValueError(f"positions must be 2-D arrays (n, d) with the same d, got shapes {[a.shape for a in arrays]}")
    if not all(np.isfinite(a).all() for a in arrays):
        raise ValueError("positions must be finite")
    return arrays


def _groups(close: np.ndarray, n_true: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Split the close pairs by the connected groups of true and detected positions they form.

    Returns a mask over ``close`` of the pairs alone in their group (a pair that shares
    neither of its positions with another pair: it is matched as it is, without an
    assignment, the common case of well-separated atoms), and the indices into ``close``
    of the pairs of each larger group.
    """
    alone = (np.bincount(close["i"])[close["i"]] == 1) & (np.bincount(close["j"])[close["j"]] == 1)
    shared = np.flatnonzero(~alone)
    if len(shared) == 0:
        return alone, []
    detected_nodes = n_true + close["j"][shared]
    n_nodes = detected_nodes.max() + 1
    graph = coo_array((np.ones(len(shared)), (close["i"][shared], detected_nodes)), shape=(n_nodes, n_nodes))
    _, component = connected_components(graph, directed=False)
    group = component[close["i"][shared]]
    order = np.argsort(group, kind="stable")
    return alone, np.split(shared[order], np.flatnonzero(np.diff(group[order])) + 1)

def _assign(close: np.ndarray, radius: float) -> np.ndarray:
    """Optimal pairs of one connected group of close pairs (records i, j, v)."""
    rows, i = np.unique(close["i"], return_inverse=True)
    cols, j = np.unique(close["j"], return_inverse=True)
    beyond = radius * (min(len(rows), len(cols)) + 1)
    cost = np.full((len(rows), len(cols)), beyond)
    cost[i, j] = close["v"]
    r, c = linear_sum_assignment(cost)
    chosen = cost[r, c] < beyond
    pairs = np.empty(np.count_nonzero(chosen), dtype=close.dtype)
    pairs["i"], pairs["j"], pairs["v"] = rows[r[chosen]], cols[c[chosen]], cost[r[chosen], c[chosen]]
    return pairs
