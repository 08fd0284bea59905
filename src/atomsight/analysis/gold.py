"""Gold particles seen along <110>: column heights, column spacings and the particle's outline.

Along a <110> zone axis the columns of an fcc crystal of lattice constant ``a`` form a
centred rectangular lattice: rows a/√2 apart along [1-10] and a along [001], with a column
at each centre. Each column therefore has 4 neighbours at a√6/4 and 2 at a/√2, and the next
are at a; for gold (a = 4.078 Å) 2.497, 2.884 and 4.078 Å (:func:`column_distances`). The
lattice planes seen edge-on are {111} (d = a/√3 = 2.355 Å) and {200} (d = a/2 = 2.039 Å).

The outline is the convex hull of the column centres: its area and perimeter are those of
the polygon through the outermost columns, so they undercount the particle's projected
size by about half a column spacing all around.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull, QhullError, cKDTree

GOLD_LATTICE_CONSTANT = 4.078
"""Lattice constant of gold at room temperature [Å]."""

HEIGHT_CLASS = re.compile(r"-(\d+)\+?$")
"""A column-height class name as a counting model writes it (``column-3``, ``column-5+``)."""


def column_distances(lattice_constant: float = GOLD_LATTICE_CONSTANT) -> dict[str, float]:
    """Return the three shortest column distances of an fcc crystal along <110> [Å].

    Parameters
    ----------
    lattice_constant : float
        Cubic lattice constant ``a`` [Å].

    Returns
    -------
    dict
        ``{"a*sqrt(6)/4": ..., "a/sqrt(2)": ..., "a": ...}`` [Å]: 4, 2 and 2 neighbours.
    """
    a = lattice_constant
    return {"a*sqrt(6)/4": a * np.sqrt(6) / 4, "a/sqrt(2)": a / np.sqrt(2), "a": a}


@dataclass(frozen=True)
class GoldAnalysis:
    """Columns of one particle (one image or frame) and what follows from their positions.

    Attributes
    ----------
    positions : numpy.ndarray
        Column positions (x, y) [Å], shape (n, 2).
    heights : numpy.ndarray or None
        Atoms per column, int64, shape (n,), when the classes are column heights; the
        largest class counts columns of at least that many atoms.
    nearest : numpy.ndarray
        Distance of each column to its nearest neighbour [Å], shape (n,); NaN for one column.
    pairs : numpy.ndarray
        Column pairs (i, j), i < j, closer than the cutoff, shape (p, 2).
    distances : numpy.ndarray
        Their distances [Å], shape (p,).
    outline : numpy.ndarray
        Corners (x, y) [Å] of the convex hull, counter-clockwise in (x, y), shape (m, 2);
        empty when the columns span no area (fewer than 3, or all on a line).
    area : float
        Area of the outline [nm²]; 0 without one.
    perimeter : float
        Perimeter of the outline [nm]; 0 without one.
    """

    positions: np.ndarray
    heights: np.ndarray | None
    nearest: np.ndarray
    pairs: np.ndarray
    distances: np.ndarray
    outline: np.ndarray
    area: float
    perimeter: float


def column_heights(classes: Sequence[str]) -> np.ndarray | None:
    """Return the atoms per column from height class names (``column-3``, ``column-5+``), else None.

    Parameters
    ----------
    classes : sequence of str
        Class name of each column.

    Returns
    -------
    numpy.ndarray or None
        int64 heights, shape (n,), if every name is a height class; None otherwise.
    """
    found = [HEIGHT_CLASS.search(name) for name in classes]
    if not found or not all(found):
        return None
    return np.array([int(m.group(1)) for m in found], dtype=np.int64)


def analyze_gold(positions: np.ndarray, *, classes: Sequence[str] | None = None, cutoff: float = 3.2) -> GoldAnalysis:
    """Analyse the columns of one gold particle.

    Parameters
    ----------
    positions : numpy.ndarray
        Column positions (x, y) [Å], shape (n, 2).
    classes : sequence of str, optional
        Class name of each column; height classes give :attr:`GoldAnalysis.heights`.
    cutoff : float
        Largest distance of a listed column pair [Å]; the default 3.2 Å keeps both
        <110> neighbour distances (2.50, 2.88 Å) and not the next (4.08 Å).

    Returns
    -------
    GoldAnalysis
        Heights, spacings and outline.

    Raises
    ------
    ValueError
        If the positions are not (n, 2) finite values, the classes are not one per
        column, or the cutoff is not positive.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 2 or not np.isfinite(positions).all():
        raise ValueError(f"positions must be finite (x, y) [Å] of shape (n, 2), got shape {positions.shape}")
    if classes is not None and len(classes) != len(positions):
        raise ValueError(f"expected one class per column ({len(positions)}), got {len(classes)}")
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive [Å], got {cutoff!r}")
    tree = cKDTree(positions)
    pairs = tree.query_pairs(cutoff, output_type="ndarray").astype(np.int64).reshape(-1, 2)
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    outline, area, perimeter = convex_outline(positions)
    return GoldAnalysis(
        positions=positions,
        heights=None if classes is None else column_heights(classes),
        nearest=nearest_distances(tree, len(positions)),
        pairs=pairs,
        distances=np.linalg.norm(positions[pairs[:, 1]] - positions[pairs[:, 0]], axis=1),
        outline=outline,
        area=area,
        perimeter=perimeter,
    )


def nearest_distances(tree: cKDTree, n: int) -> np.ndarray:
    """Return each point's distance to its nearest other point [units of the tree], NaN if it is alone."""
    if n < 2:
        return np.full(n, np.nan)
    return tree.query(tree.data, k=2)[0][:, 1]


def convex_outline(positions: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Return the convex hull of (x, y) positions [Å]: corners (m, 2), area [nm²] and perimeter [nm].

    Fewer than 3 positions, or all on one line, span no area: no corners, area and perimeter 0.
    """
    if len(positions) < 3:
        return np.zeros((0, 2)), 0.0, 0.0
    try:
        hull = ConvexHull(positions)
    except QhullError:
        return np.zeros((0, 2)), 0.0, 0.0
    # In 2-D Qhull's "volume" is the area and its "area" the perimeter; 1 nm = 10 Å.
    return positions[hull.vertices], float(hull.volume) / 100.0, float(hull.area) / 10.0
