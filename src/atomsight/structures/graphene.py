"""Graphene-like quasi-random sheets (after Madsen et al. 2018, Fig. 4).

A periodic rectangle is filled with Poisson-disc points, which a few Lloyd steps make
more regular. The vertices of their periodic Voronoi tessellation become the atoms and
its edges the bonds: a threefold-coordinated network of mostly 5-, 6- and 7-membered
rings. Raw Voronoi edges range from almost zero to over 2 Å (after 3 Lloyd steps, bond
lengths 1.46 +- 0.60 Å, a quarter below 1.1 Å), so by default, unlike the paper, the
network is relaxed with springs on bonds and second neighbours (1.425 +- 0.036 Å) before
random holes are cut and dangling atoms pruned.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers
from scipy import sparse
from scipy.optimize import minimize
from scipy.spatial import Voronoi, cKDTree

_HEXAGON_AREA_FACTOR = 3.0 * np.sqrt(3.0) / 2.0
"""A regular hexagon of side ``b`` has area ``_HEXAGON_AREA_FACTOR * b**2``."""

_POISSON_SEPARATION = 0.7
"""Poisson-disc minimum separation, as a fraction of the honeycomb generator spacing."""

_TILE_MARGIN = 4.0
"""Periodic images within this many generator spacings of the cell enter the Voronoi."""

_ANGLE_STIFFNESS = 0.2
"""Weight of second-neighbour springs (rest length ``sqrt(3) * b``, i.e. 120° angles)
relative to bond springs; larger values trade bond-length for bond-angle spread."""

_MIN_CELL_BONDS = 8.0
"""Smallest allowed cell side, in bond lengths."""

_SAME_VERTEX = 1e-6
"""Periodic images of one Voronoi vertex lie closer than this [Å]."""


def graphene_like(
    rng: np.random.Generator,
    *,
    cell: tuple[float, float] = (43.2, 43.2),
    bond_length: float = 1.42,
    lloyd_steps: int = 3,
    holes: tuple[int, int] = (0, 4),
    hole_radius: tuple[float, float] = (2.0, 8.0),
    thickness: float = 2.0,
    element: str = "C",
    relax: bool = True,
) -> Atoms:
    """Return a periodic graphene-like sheet of random rings with random holes.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of all randomness; the same generator state gives the same sheet.
    cell : tuple of float
        Side lengths ``(Lx, Ly)`` of the periodic rectangle [Å], each at least
        8 bond lengths.
    bond_length : float
        Target mean bond length [Å]. Sets the number of rings, one per
        ``3 * sqrt(3) / 2 * bond_length**2`` of area, and the springs' rest length.
    lloyd_steps : int
        Number of Lloyd relaxation steps of the ring centres (>= 0); more steps give
        more hexagons.
    holes : tuple of int
        Inclusive range ``(min, max)`` of the number of holes, drawn uniformly.
    hole_radius : tuple of float
        Range ``(min, max)`` of the semi-major axis of the elliptical holes [Å],
        with ``max`` below half the shorter cell side.
    thickness : float
        Cell height along z [Å]; the atoms lie at ``z = thickness / 2``.
    element : str
        Chemical symbol of every atom.
    relax : bool
        Relax the network with springs after the Lloyd steps. False gives the paper's
        sheets (Fig. 4), whose bonds spread from 0 to over 2.5 Å.

    Returns
    -------
    ase.Atoms
        The sheet, with cell ``(Lx, Ly, thickness)``, ``pbc=(True, True, False)``
        and positions wrapped into ``[0, Lx) x [0, Ly)``. Every atom has two or three
        bonds.

    Raises
    ------
    TypeError
        If ``rng`` is not a ``numpy.random.Generator``.
    ValueError
        If any other argument is out of range.
    """
    box = _validated_box(
        rng, cell, bond_length, lloyd_steps, holes, hole_radius, thickness, element, relax
    )
    n_rings = round(box.prod() / (_HEXAGON_AREA_FACTOR * bond_length**2))
    spacing = np.sqrt(box.prod() / n_rings * 2.0 / np.sqrt(3.0))
    centres = _poisson_disc(rng, box, n_rings, _POISSON_SEPARATION * spacing)
    for _ in range(lloyd_steps):
        centres = _lloyd_step(centres, box, _TILE_MARGIN * spacing)
    xy, bonds = _periodic_network(centres, box, _TILE_MARGIN * spacing)
    if relax:
        xy = _relax(xy, bonds, box, bond_length)
    keep = np.ones(len(xy), dtype=bool)
    for _ in range(rng.integers(holes[0], holes[1], endpoint=True)):
        keep &= ~_in_random_ellipse(rng, xy, box, hole_radius)
    xy = xy[_without_dangling(keep, bonds)]
    return Atoms(
        symbols=[element] * len(xy),
        positions=np.column_stack([xy, np.full(len(xy), thickness / 2.0)]),
        cell=[box[0], box[1], thickness],
        pbc=(True, True, False),
    )


def _validated_box(
    rng: object,
    cell: tuple[float, float],
    bond_length: float,
    lloyd_steps: int,
    holes: tuple[int, int],
    hole_radius: tuple[float, float],
    thickness: float,
    element: str,
    relax: bool,
) -> np.ndarray:
    """Check the arguments of ``graphene_like``; return the cell sides as an array [Å]."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not bond_length > 0:
        raise ValueError(f"bond_length must be positive, got {bond_length!r}")
    box = np.asarray(cell, dtype=float)
    min_side = _MIN_CELL_BONDS * bond_length
    if box.shape != (2,) or not np.all(np.isfinite(box) & (box >= min_side)):
        raise ValueError(f"cell must be two side lengths >= {min_side:g} Å, got {cell!r}")
    if isinstance(lloyd_steps, bool) or not isinstance(lloyd_steps, int) or lloyd_steps < 0:
        raise ValueError(f"lloyd_steps must be a non-negative integer, got {lloyd_steps!r}")
    if (
        len(holes) != 2
        or not all(isinstance(h, int) and not isinstance(h, bool) for h in holes)
        or not 0 <= holes[0] <= holes[1]
    ):
        raise ValueError(f"holes must be integers (min, max) with 0 <= min <= max, got {holes!r}")
    if len(hole_radius) != 2 or not 0 < hole_radius[0] <= hole_radius[1] < box.min() / 2:
        raise ValueError(
            f"hole_radius must be (min, max) with 0 < min <= max < {box.min() / 2:g} Å "
            f"(half the shorter cell side), got {hole_radius!r}"
        )
    if not thickness > 0:
        raise ValueError(f"thickness must be positive, got {thickness!r}")
    if element not in atomic_numbers:
        raise ValueError(f"element must be a chemical symbol, got {element!r}")
    if not isinstance(relax, bool):
        raise ValueError(f"relax must be true or false, got {relax!r}")
    return box


def _poisson_disc(rng: np.random.Generator, box: np.ndarray, n: int, radius: float) -> np.ndarray:
    """Return ``n`` periodic points at least ``radius`` [Å] apart, by batched dart throwing."""
    points = np.empty((0, 2))
    for _ in range(1000):
        darts = rng.random((4 * n, 2)) * box
        if len(points):
            nearest = cKDTree(points, boxsize=box).query(darts, distance_upper_bound=radius)[0]
            darts = darts[np.isinf(nearest)]
        keep = np.ones(len(darts), dtype=bool)
        # Sorted pairs make the greedy pass keep every dart that is clear of earlier ones.
        clashes = cKDTree(darts, boxsize=box).query_pairs(radius, output_type="ndarray")
        for i, j in np.unique(clashes, axis=0):
            keep[j] &= ~keep[i]
        points = np.concatenate([points, darts[keep]])[:n]
        if len(points) == n:
            return points
    raise RuntimeError(f"could not place {n} points {radius:.3g} Å apart")


def _tiled_voronoi(points: np.ndarray, box: np.ndarray, margin: float) -> Voronoi:
    """Return the Voronoi diagram of ``points`` and their periodic images near the cell.

    The original points come first, so for ``i < len(points)`` region
    ``point_region[i]`` is the periodic cell of point ``i``.
    """
    shifts = np.array([(i, j) for i in (0, -1, 1) for j in (0, -1, 1)]) * box
    tiled = (shifts[:, None, :] + points[None, :, :]).reshape(-1, 2)
    near = np.all((tiled > -margin) & (tiled < box + margin), axis=1)
    return Voronoi(tiled[near])


def _lloyd_step(points: np.ndarray, box: np.ndarray, margin: float) -> np.ndarray:
    """Move every point to the centroid of its periodic Voronoi cell [Å]."""
    vor = _tiled_voronoi(points, box, margin)
    ridge_vertices = np.asarray(vor.ridge_vertices)
    # Each ridge spans a triangle with the generator of each adjacent cell.
    rows, sides = np.nonzero(vor.ridge_points < len(points))
    owner = vor.ridge_points[rows, sides]
    g = points[owner]
    v1, v2 = vor.vertices[ridge_vertices[rows, 0]], vor.vertices[ridge_vertices[rows, 1]]
    (ax, ay), (bx, by) = (v1 - g).T, (v2 - g).T
    area = 0.5 * np.abs(ax * by - ay * bx)
    centre = (g + v1 + v2) / 3.0
    n = len(points)
    total = np.bincount(owner, weights=area, minlength=n)
    moment = [np.bincount(owner, weights=area * centre[:, k], minlength=n) for k in (0, 1)]
    return _wrap(np.column_stack(moment) / total[:, None], box)


def _periodic_network(
    points: np.ndarray, box: np.ndarray, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return the vertices [Å] and edges (index pairs) of the periodic Voronoi tessellation."""
    vor = _tiled_voronoi(points, box, margin)
    ridges = np.asarray(vor.ridge_vertices)[(vor.ridge_points < len(points)).any(axis=1)]
    corners = _wrap(vor.vertices[ridges.ravel()], box)
    vertices = np.unique(corners, axis=0)
    images = cKDTree(vertices, boxsize=box).query_pairs(_SAME_VERTEX, output_type="ndarray")
    vertices = np.delete(vertices, images[:, 1], axis=0)
    index = cKDTree(vertices, boxsize=box).query(corners)[1].reshape(-1, 2)
    return vertices, np.unique(np.sort(index, axis=1), axis=0)


def _relax(xy: np.ndarray, bonds: np.ndarray, box: np.ndarray, bond_length: float) -> np.ndarray:
    """Relax a periodic network with springs on bonds and on second neighbours [Å]."""
    n = len(xy)
    adjacency = sparse.coo_array((np.ones(len(bonds)), (bonds[:, 0], bonds[:, 1])), shape=(n, n))
    adjacency = (adjacency + adjacency.T).tocsr()
    # Entry (i, j) of A @ A counts the angles with i and j as outer atoms.
    second = sparse.triu(adjacency @ adjacency, k=1).tocoo()
    pairs = np.concatenate([bonds, np.column_stack([second.row, second.col])])
    rest = bond_length * np.concatenate([np.ones(len(bonds)), np.full(second.nnz, np.sqrt(3.0))])
    weight = np.concatenate([np.ones(len(bonds)), _ANGLE_STIFFNESS * second.data])

    first, last = np.ascontiguousarray(pairs.T)
    period = box[:, None]

    def energy(flat: np.ndarray) -> tuple[float, np.ndarray]:
        coords = flat.reshape(2, n)
        d = coords[:, last] - coords[:, first]
        d -= period * np.round(d / period)
        length = np.hypot(*d)
        stretch = length - rest
        force = (2.0 * weight * stretch / length) * d
        grad = [np.bincount(last, f, n) - np.bincount(first, f, n) for f in force]
        return float(np.sum(weight * stretch**2)), np.concatenate(grad)

    # Conjugate gradients need no BLAS matrix products, whose threads stall on busy cores.
    result = minimize(energy, xy.T.ravel(), jac=True, method="CG")
    return _wrap(result.x.reshape(2, n).T, box)


def _in_random_ellipse(
    rng: np.random.Generator, xy: np.ndarray, box: np.ndarray, radius: tuple[float, float]
) -> np.ndarray:
    """Return which points lie in an ellipse of random size, shape, angle and place."""
    centre = rng.random(2) * box
    semi_major = rng.uniform(*radius)
    semi_minor = semi_major * rng.uniform(0.5, 1.0)
    angle = rng.uniform(0.0, np.pi)
    d = xy - centre
    d -= box * np.round(d / box)
    u = (d[:, 0] * np.cos(angle) + d[:, 1] * np.sin(angle)) / semi_major
    v = (d[:, 1] * np.cos(angle) - d[:, 0] * np.sin(angle)) / semi_minor
    return u**2 + v**2 <= 1.0


def _without_dangling(keep: np.ndarray, bonds: np.ndarray) -> np.ndarray:
    """Drop atoms with fewer than two bonds from ``keep``, repeatedly; return the new mask."""
    keep = keep.copy()
    while True:
        degree = np.bincount(bonds[keep[bonds].all(axis=1)].ravel(), minlength=len(keep))
        dangling = keep & (degree < 2)
        if not dangling.any():
            return keep
        keep &= ~dangling


def _wrap(xy: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Wrap points into ``[0, Lx) x [0, Ly)``, also when rounding gives exactly ``L``."""
    wrapped = np.mod(xy, box)
    return np.where(wrapped >= box, 0.0, wrapped)
