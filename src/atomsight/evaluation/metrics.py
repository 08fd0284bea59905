"""Evaluation: score detections matched to the true positions, bootstrap their confidence
intervals, count column-height errors.

Positions are arrays of shape (n, d), usually d = 2 (row, col) in pixels or (x, y) in Å;
a matching ``radius`` is in the same units. True and detected positions are matched one
to one by :func:`atomsight.core.matching.match`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.matching import Match, match

SCORES = ("precision", "recall", "f1", "rmse")
"""Scores of a matching that :func:`bootstrap_intervals` gives intervals for (properties of :class:`Scores`)."""

HEIGHT_ERRORS = ("0", "1", "2", ">=3")
"""Keys of :func:`count_errors`: absolute error of a column's height [atoms] (paper Fig. 12)."""


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
        errors = self.false_positives + self.false_negatives
        return self._ratio(2 * self.true_positives, 2 * self.true_positives + errors)

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
        (see :func:`atomsight.core.matching.match`).

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
        The matching (:func:`atomsight.core.matching.match`).
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
            f"heights must be 1-D arrays of the same length, got shapes {true_heights.shape} and"
            f" {detected_heights.shape}"
        )
    if not (np.issubdtype(true_heights.dtype, np.integer) and np.issubdtype(detected_heights.dtype, np.integer)):
        raise ValueError(f"heights must be integers, got {true_heights.dtype} and {detected_heights.dtype}")
    if true_heights.size == 0:
        return dict.fromkeys(HEIGHT_ERRORS, float("nan"))
    errors = np.minimum(np.abs(detected_heights.astype(np.int64) - true_heights.astype(np.int64)), 3)
    fractions = np.bincount(errors, minlength=4) / errors.size
    return {key: float(fraction) for key, fraction in zip(HEIGHT_ERRORS, fractions, strict=True)}
