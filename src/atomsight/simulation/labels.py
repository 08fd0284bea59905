"""Ground-truth label maps: Gaussians at atoms or columns, one map per class (paper section 2.3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numba
import numpy as np

TRUNCATE = 4.0
"""Gaussians are evaluated out to this many standard deviations (exp(-8) ~ 3e-4 beyond)."""


def class_names(labels: Mapping[str, Any]) -> list[str]:
    """Return the names of the non-background classes of a ``labels`` config section.

    Parameters
    ----------
    labels : mapping
        The system's validated ``labels`` section.

    Returns
    -------
    list of str
        ``[name]`` for ``classes: single``; ``["name-1", ..., "name-N+"]`` for
        ``classes: heights`` with ``N = max_height`` (the last class holds columns of
        N atoms or more).
    """
    name = labels["name"]
    if labels["classes"] == "single":
        return [name]
    n = labels["max_height"]
    return [f"{name}-{h}" for h in range(1, n)] + [f"{name}-{n}+"]


def assign_classes(heights: np.ndarray, labels: Mapping[str, Any]) -> np.ndarray:
    """Return the class index (0-based, background excluded) of each atom or column.

    Parameters
    ----------
    heights : numpy.ndarray
        Number of atoms in each column (1 for single atoms), shape (n,).
    labels : mapping
        The system's validated ``labels`` section.

    Returns
    -------
    numpy.ndarray
        int16 class indices, shape (n,).
    """
    heights = np.asarray(heights)
    if heights.size and heights.min() < 1:
        raise ValueError(f"column heights must be at least 1 atom, got minimum {heights.min()}")
    if labels["classes"] == "single":
        return np.zeros(heights.shape, np.int16)
    return (np.minimum(heights, labels["max_height"]) - 1).astype(np.int16)


def gaussian_label_maps(
    positions: np.ndarray,
    classes: np.ndarray,
    *,
    n_classes: int,
    gpts: tuple[int, int],
    sampling: tuple[float, float],
    sigma: float,
) -> np.ndarray:
    """Render one map per class of unit-amplitude Gaussians on a periodic grid.

    Pixel ``[i, j]`` lies at ``(x, y) = (i * sampling[0], j * sampling[1])``, the grid
    convention of abTEM. Overlapping Gaussians of the same class combine by their
    maximum, so a map never exceeds 1 (with sigma = 1 Å, neighbours 1.42 Å apart in
    graphene overlap strongly, and a sum would peak near 2). Each Gaussian is
    evaluated on a window of +-4 sigma as the outer product of its 1D profiles and
    written into a padded grid by a compiled loop; the padding is then folded back
    periodically.

    Parameters
    ----------
    positions : numpy.ndarray
        (x, y) of the atoms or columns [Å], shape (n, 2).
    classes : numpy.ndarray
        Class index of each position, shape (n,), values in ``[0, n_classes)``.
    n_classes : int
        Number of (non-background) classes.
    gpts : tuple of int
        Grid points (nx, ny).
    sampling : tuple of float
        Grid sampling (dx, dy) [Å/pixel].
    sigma : float
        Standard deviation of the Gaussians [Å].

    Returns
    -------
    numpy.ndarray
        float32 maps, shape (n_classes, nx, ny), values in [0, 1].
    """
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    classes = np.asarray(classes)
    if len(classes) != len(positions):
        raise ValueError(f"got {len(positions)} positions but {len(classes)} classes")
    if classes.size and not (0 <= classes.min() and classes.max() < n_classes):
        raise ValueError(f"class indices must lie in [0, {n_classes}), got [{classes.min()}, {classes.max()}]")
    pixel = np.asarray(sampling, dtype=np.float64)
    shape = np.asarray(gpts)
    half = np.ceil(TRUNCATE * sigma / pixel).astype(int)
    if np.any(half > shape):
        raise ValueError(f"the grid {tuple(shape)} is smaller than a Gaussian's {TRUNCATE:g}-sigma window")
    nearest = np.rint(positions / pixel).astype(int)
    centre = np.mod(nearest, shape)
    positions = positions + (centre - nearest) * pixel  # the periodic image nearest the wrapped pixel
    profiles = [
        np.exp(-(((centre[:, a, None] + np.arange(-half[a], half[a] + 1)) * pixel[a] - positions[:, a, None]) ** 2)
               / (2 * sigma**2)).astype(np.float32)
        for a in (0, 1)
    ]
    padded = np.zeros((n_classes, *(shape + 2 * half)), np.float32)
    _splat_maximum(padded, centre, classes.astype(np.int64), *profiles)
    return _fold_periodic(padded, half, shape)


@numba.njit(nogil=True, cache=True)
def _splat_maximum(padded: np.ndarray, corner: np.ndarray, classes: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> None:
    """Write outer(gx[a], gy[a]) into padded[classes[a]] at corner[a] by maximum, for every a.

    Compiled without the GIL, so label maps render in a thread beside the multislice.
    """
    for a in range(corner.shape[0]):
        k, i0, j0 = classes[a], corner[a, 0], corner[a, 1]
        for p in range(gx.shape[1]):
            for q in range(gy.shape[1]):
                value = gx[a, p] * gy[a, q]
                if value > padded[k, i0 + p, j0 + q]:
                    padded[k, i0 + p, j0 + q] = value


def _fold_periodic(padded: np.ndarray, half: np.ndarray, gpts: np.ndarray) -> np.ndarray:
    """Fold a grid padded by ``half`` pixels on each side back onto the periodic grid by maximum."""
    for axis in (1, 2):
        h, n = half[axis - 1], gpts[axis - 1]
        core = padded.take(np.arange(h, h + n), axis=axis)
        head = [slice(None)] * 3
        for target, source in ((slice(0, h), slice(h + n, None)), (slice(n - h, n), slice(0, h))):
            head[axis] = target
            region = core[tuple(head)]
            head[axis] = source
            np.maximum(region, padded[tuple(head)], out=region)
        padded = core
    return padded
