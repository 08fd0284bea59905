"""Gold particles seen along <110>: column heights, column spacings and the particle's outline.

Along a <110> zone axis the columns of an fcc crystal of lattice constant ``a`` form a
centred rectangular lattice: rows a/√2 apart along [1-10] and a along [001], with a column
at each centre. Each column therefore has 4 neighbours at a√6/4 and 2 at a/√2, and the next
are at a; for gold (a = 4.08 Å) 2.50, 2.88 and 4.08 Å (:func:`column_distances`). The
lattice planes seen edge-on are {111} (d = a/√3 = 2.355 Å) and {200} (d = a/2 = 2.039 Å).

The outline is the boundary of the region the columns cover: the union of the Delaunay
triangles of the column centres whose three sides are column-pair distances (at most the
pair cutoff, 3.2 Å by default). A notch, a step on a facet or a hole in the particle stays
out of it, where the convex hull would bridge it; on a perfect <110> lattice every
Delaunay side is 2.50 or 2.88 Å, so the whole crystal is covered, and only gaps of a missing
column or more (4.08 Å and over) are left out. Its area and perimeter are those of the
polygons through the outermost columns, so they undercount the particle's projected size by
about half a column spacing all around. The convex hull is given too, for comparison.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull, Delaunay, QhullError, cKDTree

from ..config import generator_default

GOLD_LATTICE_CONSTANT: float = generator_default("fcc_nanoparticle", "lattice_constant")
"""Lattice constant of gold [Å]: the configuration's, which the gold models' particles were built with."""

HEIGHT_CLASS = re.compile(r"-(\d+)\+?$")
"""A column-height class name as a counting model writes it (``column-3``, ``column-5+``)."""


ZONES = ("110", "111")
"""Zone axes whose column distances :func:`column_distances` knows."""


def column_distances(lattice_constant: float = GOLD_LATTICE_CONSTANT, zone: str = "110") -> dict[str, float]:
    """Return the three shortest column distances of an fcc crystal seen along a zone axis [Å], nearest first.

    Along <110> the columns form a centred rectangular lattice (4 neighbours at a√6/4, 2 at
    a/√2, 2 at a). Along <111> the close-packed planes, stacked ABC, project onto one
    triangular lattice of spacing a/√6 (each column holds every third plane): 6 neighbours
    at a/√6, 6 at a/√2 and 6 at 2a/√6.

    Parameters
    ----------
    lattice_constant : float
        Cubic lattice constant ``a`` [Å].
    zone : {"110", "111"}
        The zone axis.

    Returns
    -------
    dict
        Name of each distance to its value [Å], nearest first.

    Raises
    ------
    ValueError
        For a zone not in :data:`ZONES`.
    """
    a = lattice_constant
    if zone == "110":
        return {"a*sqrt(6)/4": a * np.sqrt(6) / 4, "a/sqrt(2)": a / np.sqrt(2), "a": a}
    if zone == "111":
        return {"a/sqrt(6)": a / np.sqrt(6), "a/sqrt(2)": a / np.sqrt(2), "2a/sqrt(6)": 2 * a / np.sqrt(6)}
    raise ValueError(f"zone {zone!r}: the column distances are known along {', '.join(ZONES)}")


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
    outline : list of numpy.ndarray
        The outline's closed rings of corners (x, y) [Å], shapes (m, 2), the longest first:
        around each covered region counter-clockwise in (x, y), around each hole in it
        clockwise (:func:`covered_outline`); none when no three columns are within the
        cutoff of one another.
    area : float
        Area inside the outline [nm²]; 0 without one.
    perimeter : float
        Length of the outline, holes included [nm]; 0 without one.
    hull_area : float
        Area of the convex hull of the columns [nm²]; 0 when they span no area.
    hull_perimeter : float
        Perimeter of the convex hull [nm]; 0 when the columns span no area.
    """

    positions: np.ndarray
    heights: np.ndarray | None
    nearest: np.ndarray
    pairs: np.ndarray
    distances: np.ndarray
    outline: list[np.ndarray]
    area: float
    perimeter: float
    hull_area: float
    hull_perimeter: float


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
    matches = [m for m in found if m is not None]
    if not found or len(matches) < len(found):
        return None
    return np.array([int(m.group(1)) for m in matches], dtype=np.int64)


def atom_count(class_probabilities: Mapping[str, np.ndarray]) -> tuple[float, float] | None:
    """The expected number of atoms in a particle and its standard deviation, from the columns' height probabilities.

    Each column's height is taken as distributed over the height classes by its
    probabilities (eq. 7 of the paper, renormalised over the height classes, so the
    background's share drops out), and the columns as independent: the mean is the sum of
    the columns' expected heights, the variance the sum of their variances. A class of
    "N+" columns counts as N atoms, so the count is then a lower bound.

    Parameters
    ----------
    class_probabilities : mapping of str to numpy.ndarray
        Per class name, each column's probability of it, shape (n,) (a results table's
        ``p_<class>`` columns).

    Returns
    -------
    tuple of float or None
        (mean, standard deviation) [atoms]; None unless every class is a height class.
    """
    names = list(class_probabilities)
    heights = column_heights(names)
    if heights is None:
        return None
    p = np.stack([np.asarray(class_probabilities[name], np.float64) for name in names], axis=-1)
    p = p / np.maximum(p.sum(axis=-1, keepdims=True), np.finfo(np.float64).tiny)
    mean = p @ heights
    variance = p @ heights.astype(np.float64) ** 2 - mean**2
    return float(mean.sum()), float(np.sqrt(max(variance.sum(), 0.0)))


def analyze_gold(positions: np.ndarray, *, classes: Sequence[str] | None = None, cutoff: float = 3.2) -> GoldAnalysis:
    """Analyse the columns of one gold particle.

    Parameters
    ----------
    positions : numpy.ndarray
        Column positions (x, y) [Å], shape (n, 2).
    classes : sequence of str, optional
        Class name of each column; height classes give :attr:`GoldAnalysis.heights`.
    cutoff : float
        Largest distance of a listed column pair, and of a side of the outline's triangles
        [Å]; the default 3.2 Å keeps both <110> neighbour distances (2.50, 2.88 Å) and not
        the next (4.08 Å).

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
    outline, area, perimeter = covered_outline(positions, cutoff=cutoff)
    hull_area, hull_perimeter = convex_hull_size(positions)
    return GoldAnalysis(
        positions=positions,
        heights=None if classes is None else column_heights(classes),
        nearest=nearest_distances(tree, len(positions)),
        pairs=pairs,
        distances=np.linalg.norm(positions[pairs[:, 1]] - positions[pairs[:, 0]], axis=1),
        outline=outline,
        area=area,
        perimeter=perimeter,
        hull_area=hull_area,
        hull_perimeter=hull_perimeter,
    )


def nearest_distances(tree: cKDTree, n: int) -> np.ndarray:
    """Return each point's distance to its nearest other point [units of the tree], NaN if it is alone."""
    if n < 2:
        return np.full(n, np.nan)
    return tree.query(tree.data, k=2)[0][:, 1]


def covered_outline(positions: np.ndarray, *, cutoff: float) -> tuple[list[np.ndarray], float, float]:
    """Return the outline of the region the columns cover, its area [nm²] and its length [nm].

    The region is the union of the Delaunay triangles of the positions whose three sides are
    at most ``cutoff``; its outline is made of the triangles' sides that belong to one kept
    triangle only, joined into closed rings.

    Parameters
    ----------
    positions : numpy.ndarray
        Column positions (x, y) [Å], shape (n, 2).
    cutoff : float
        Longest side of a kept triangle [Å].

    Returns
    -------
    rings : list of numpy.ndarray
        Corners (x, y) [Å] of each closed ring, the longest first: counter-clockwise in
        (x, y) around covered regions, clockwise around holes. Two regions that touch at
        one column are drawn as one ring through that column twice.
    area : float
        Covered area [nm²].
    perimeter : float
        Total length of the rings [nm].
    """
    if len(positions) < 3:
        return [], 0.0, 0.0
    try:
        triangles = Delaunay(positions).simplices
    except QhullError:  # all on one line
        return [], 0.0, 0.0
    corners = positions[triangles]
    sides = np.linalg.norm(corners - np.roll(corners, -1, axis=1), axis=2)
    triangles, corners = triangles[(sides <= cutoff).all(axis=1)], corners[(sides <= cutoff).all(axis=1)]
    edge1, edge2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    cross = edge1[:, 0] * edge2[:, 1] - edge1[:, 1] * edge2[:, 0]
    triangles = np.where((cross < 0)[:, None], triangles[:, [0, 2, 1]], triangles)  # all counter-clockwise
    sides = {(int(a), int(b)) for t in triangles for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))}
    boundary = sorted(side for side in sides if side[::-1] not in sides)
    rings = sorted(_rings(boundary), key=len, reverse=True)
    length = sum(float(np.linalg.norm(positions[b] - positions[a])) for a, b in boundary)
    # 1 nm = 10 Å.
    return [positions[ring] for ring in rings], float(np.abs(cross).sum()) / 2 / 100.0, length / 10.0


def _rings(sides: list[tuple[int, int]]) -> list[list[int]]:
    """Join directed sides (a, b) in which every vertex starts as many sides as it ends into closed rings."""
    following: dict[int, list[int]] = {}
    for a, b in sides:
        following.setdefault(a, []).append(b)
    rings = []
    while following:
        start = current = min(following)
        ring = [start]
        while True:
            step = following[current].pop(0)
            if not following[current]:
                del following[current]
            if step == start:
                break
            ring.append(step)
            current = step
        rings.append(ring)
    return rings


def convex_hull_size(positions: np.ndarray) -> tuple[float, float]:
    """Return the area [nm²] and perimeter [nm] of the convex hull of (x, y) positions [Å]; 0 if they span no area."""
    if len(positions) < 3:
        return 0.0, 0.0
    try:
        hull = ConvexHull(positions)
    except QhullError:
        return 0.0, 0.0
    # In 2-D Qhull's "volume" is the area and its "area" the perimeter; 1 nm = 10 Å.
    return float(hull.volume) / 100.0, float(hull.area) / 10.0
