"""Ground-truth label maps: Gaussians at atoms or columns, one map per class (paper section 2.3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    graphene overlap strongly, and a sum would peak near 2).

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
    maps = np.zeros((n_classes, *gpts), np.float32)
    half = [int(np.ceil(TRUNCATE * sigma / s)) for s in sampling]
    for (x, y), k in zip(positions, classes):
        ix = np.arange(int(round(x / sampling[0])) - half[0], int(round(x / sampling[0])) + half[0] + 1)
        iy = np.arange(int(round(y / sampling[1])) - half[1], int(round(y / sampling[1])) + half[1] + 1)
        gx = np.exp(-((ix * sampling[0] - x) ** 2) / (2 * sigma**2))
        gy = np.exp(-((iy * sampling[1] - y) ** 2) / (2 * sigma**2))
        window = np.ix_(ix % gpts[0], iy % gpts[1])
        maps[k][window] = np.maximum(maps[k][window], np.outer(gx, gy))
    return maps
