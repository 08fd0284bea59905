"""Test-time augmentation: the 8 symmetries of the square, and the spread of a detection over them.

With augmentation (``atomsight predict --augment``) the network sees the image under each
of the 8 symmetries of the square (the dihedral group D4: 0, 1, 2 or 3 quarter turns, with
or without a mirror, :data:`SYMMETRIES`), each output is transformed back, and the 8 maps
are averaged before detection. Each detection of the averaged maps is then matched (within
:data:`AUGMENT_MATCH_RADIUS`) to the detections of the 8 back-transformed maps, and its
position's spread over them (:func:`position_spread`) goes into the results table
(:data:`atomsight.detections.SPREAD_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.matching import match
from ..detections import Spread

SYMMETRIES = tuple((turns, mirrored) for mirrored in (False, True) for turns in range(4))
"""The 8 symmetries of the square (dihedral group D4) as (quarter turns, mirrored): the
array is first mirrored along its first axis if ``mirrored``, then turned by ``turns``
quarter turns (:func:`apply_symmetry`)."""

AUGMENT_MATCH_RADIUS = 0.5
"""Largest distance between a detection of the averaged maps and its counterpart in one
symmetry's maps [Å]; a third of graphene's 1.42 Å bond, so neighbours are never confused."""


def apply_symmetry(array: np.ndarray, symmetry: tuple[int, bool]) -> np.ndarray:
    """Return an (H, W, ...) array transformed by one element of :data:`SYMMETRIES`.

    Parameters
    ----------
    array : numpy.ndarray
        Image or maps, the first two axes spatial.
    symmetry : tuple of (int, bool)
        (quarter turns, mirrored).

    Returns
    -------
    numpy.ndarray
        The transformed array; its first two axes are swapped for an odd number of turns.
    """
    turns, mirrored = symmetry
    return np.rot90(array[::-1] if mirrored else array, turns, axes=(0, 1))


def invert_symmetry(array: np.ndarray, symmetry: tuple[int, bool]) -> np.ndarray:
    """Undo :func:`apply_symmetry`: ``invert_symmetry(apply_symmetry(a, s), s)`` equals ``a``."""
    turns, mirrored = symmetry
    back = np.rot90(array, -turns, axes=(0, 1))
    return back[::-1] if mirrored else back


def position_spread(reference: np.ndarray, predictions: Sequence[np.ndarray], *, radius: float) -> Spread:
    """Match each reference position to each prediction's positions and return their spread.

    Parameters
    ----------
    reference : numpy.ndarray
        Positions (row, col) [pixels], shape (n, 2), e.g. the detections of the averaged maps.
    predictions : sequence of numpy.ndarray
        Positions found by each prediction [pixels], shapes (m_k, 2).
    radius : float
        Largest matching distance [pixels] (:func:`atomsight.core.matching.match`, one to one).

    Returns
    -------
    Spread
        Population standard deviation (ddof 0: the spread of the positions found, not the
        error of their mean) per axis and the number of predictions that found each position.
    """
    positions = np.full((len(predictions), len(reference), 2), np.nan)
    for k, found in enumerate(predictions):
        pairs = match(reference, found, radius)
        positions[k, pairs.true_index] = found[pairs.detected_index]
    seen = np.isfinite(positions[..., 0])
    count = seen.sum(axis=0)
    weights = seen[..., None] / np.maximum(count, 1)[None, :, None]
    mean = np.sum(np.where(seen[..., None], positions, 0.0) * weights, axis=0)
    variance = np.sum(np.where(seen[..., None], positions - mean, 0.0) ** 2 * weights, axis=0)
    sigma = np.where((count >= 2)[:, None], np.sqrt(variance), np.nan)
    return Spread(sigma=sigma, count=count.astype(np.int64))
