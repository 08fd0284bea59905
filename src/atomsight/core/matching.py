"""Match two sets of positions one to one within a radius: true and detected atoms, or any two point sets.

Positions are arrays of shape (n, d), usually d = 2 (row, col) in pixels or (x, y) in Å;
the ``radius`` is in the same units. A pair matches only when its distance is at most
``radius``, and among such matchings the one with the most pairs, then the smallest
total distance, is chosen. Any stage may use it: the evaluation scores detections with
it, test-time augmentation pairs the detections of its predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


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
