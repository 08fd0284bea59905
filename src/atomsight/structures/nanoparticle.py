"""Random, roughened FCC nanoparticles in a zone axis (after Madsen et al. 2018, section 4.1).

A particle is cut from an FCC crystal by 26 planes, one per <100>, <110> and <111>
direction, each at its own random number of atomic layers from a central atom, so
particles are irregular. Atoms are then added one at a time to empty lattice sites next
to the particle with probability ``exp(n/T)`` of their number ``n`` of occupied nearest
neighbours (paper eq. 9). The particle is finally turned so that a zone axis lies along
the beam (z), rotated about it and tilted slightly off it.

Lattice sites are integer triples ``(i, j, k)`` with even ``i + j + k``, at
``lattice_constant / 2 * (i, j, k)``, so cuts, neighbours and columns are exact.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

_NEIGHBOURS = np.array(
    [v for v in itertools.product((-1, 0, 1), repeat=3) if sum(map(abs, v)) == 2]
)
"""The 12 nearest-neighbour steps of the FCC lattice, in half lattice constants."""

_DIRECTIONS = {
    family: np.array(
        sorted({v for v in itertools.product((-1, 0, 1), repeat=3) if sum(map(abs, v)) == nonzero})
    )
    for family, nonzero in (("100", 1), ("110", 2), ("111", 3))
}
"""The 6 <100>, 12 <110> and 8 <111> cutting directions as integer vectors."""

_PLANE_STEP = {"100": 1, "110": 1, "111": 2}
"""Spacing of a family's atomic planes in units of ``site @ direction``."""


def fcc_nanoparticle(
    rng: np.random.Generator,
    *,
    element: str = "Au",
    lattice_constant: float = 4.08,
    cell: tuple[float, float] = (43.2, 43.2),
    layers: tuple[int, int] = (2, 4),
    added_atoms: tuple[int, int] = (0, 40),
    temperature: tuple[float, float] = (0.5, 2.0),
    zone_axes: Sequence[Sequence[int]] = ((1, 1, 0), (1, 1, 1)),
    max_tilt: float = 5.0,
    vacuum: float = 2.0,
) -> Atoms:
    """Return a random roughened FCC particle near a zone axis, with its atomic columns.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of all randomness; the same generator state gives the same particle.
    element : str
        Chemical symbol of the atoms.
    lattice_constant : float
        FCC lattice constant ``a`` [Å].
    cell : tuple of float
        Side lengths ``(Lx, Ly)`` of the cell perpendicular to the beam [Å].
    layers : tuple of int
        Inclusive range ``(low, high)`` of the particle radius in {111} atomic layers
        (spacing ``a / sqrt(3)``) from the central atom. Each of the 8 <111> cuts keeps
        ``low..high`` {111} layers; each of the 6 <100> and 12 <110> cuts keeps
        ``2 low..2 high`` of its own atomic layers (spacing ``a / 2``, ``a / (2 sqrt(2))``),
        i.e. it lies between the vertices (edges) of the octahedra of ``low`` and ``high``
        {111} layers, all drawn independently. ``high * a`` (the largest octahedron's
        vertex) must not exceed ``min(cell) / 2 - vacuum``.
    added_atoms : tuple of int
        Inclusive range of the number of atoms added to roughen the surface.
    temperature : tuple of float
        Range of the roughening temperature ``T`` of ``exp(n/T)`` (paper eq. 9), drawn
        uniformly per particle [dimensionless].
    zone_axes : sequence of sequence of int
        Zone axes (Miller indices) to choose from uniformly; the chosen one is turned
        along the beam (z).
    max_tilt : float
        Largest tilt of the zone axis away from the beam [degrees], drawn uniformly from
        ``[0, max_tilt]`` about a random axis in the xy plane.
    vacuum : float
        Least gap between any atom and the cell faces [Å], along the beam and across it.

    Returns
    -------
    ase.Atoms
        The particle, centred in a cell ``(Lx, Ly, height + 2 vacuum)`` periodic in x and
        y. ``arrays["column"]`` holds each atom's column id (0..n_columns-1): atoms in
        one column lie on one line along the zone axis. ``info`` holds ``zone_axis``
        (e.g. ``"[110]"``), ``rotation_deg``, ``tilt_deg``, ``tilt_axis_deg``,
        ``temperature`` and ``added_atoms``.

    Raises
    ------
    ValueError
        If an argument is invalid, or the largest possible particle does not fit in
        ``cell``.
    """
    _validate(
        element, lattice_constant, cell, layers, added_atoms, temperature, zone_axes,
        max_tilt, vacuum,
    )
    # Roughening may fill any site of the largest ball that fits in the cell.
    sites, neighbours = _fcc_ball(int(2 * (min(cell) / 2 - vacuum) / lattice_constant + 1e-9))
    occupied = _cut(sites, layers, rng)
    n_added = int(rng.integers(added_atoms[0], added_atoms[1] + 1))
    temp = float(rng.uniform(*temperature))
    occupied[roughen(occupied, neighbours, n_added, temp, rng)] = True
    zone_axis = np.asarray(zone_axes[int(rng.integers(len(zone_axes)))], dtype=np.int64)
    rotation, tilt, tilt_axis = rng.uniform((0.0, 0.0, 0.0), (360.0, max_tilt, 360.0))

    particle = sites[occupied]
    matrix = _orientation(zone_axis, *np.radians([rotation, tilt, tilt_axis]))
    positions = lattice_constant / 2 * particle @ matrix.T
    low, high = positions.min(axis=0), positions.max(axis=0)
    box = np.array([cell[0], cell[1], high[2] - low[2] + 2 * vacuum])
    atoms = Atoms(
        symbols=[element] * len(particle),
        positions=positions - (low + high) / 2 + box / 2,
        cell=box,
        pbc=(True, True, False),
    )
    atoms.arrays["column"] = _columns(particle, zone_axis)
    atoms.info.update(
        zone_axis="[" + "".join(str(i) for i in zone_axis) + "]",
        rotation_deg=float(rotation),
        tilt_deg=float(tilt),
        tilt_axis_deg=float(tilt_axis),
        temperature=temp,
        added_atoms=n_added,
    )
    return atoms


def addition_probabilities(coordination: np.ndarray, temperature: float) -> np.ndarray:
    """Return the probability of adding the next atom to each empty site (paper eq. 9).

    Parameters
    ----------
    coordination : numpy.ndarray
        Number of occupied nearest neighbours ``n_i`` of each empty site, shape (m,).
    temperature : float
        Roughening temperature ``T`` [dimensionless, in units of one bond].

    Returns
    -------
    numpy.ndarray
        ``exp(n_i/T) / sum_j exp(n_j/T)`` over the sites with ``n_j >= 1``; 0 where
        ``n_i == 0``. Shape (m,).
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    n = np.asarray(coordination, dtype=float)
    if not np.any(n >= 1):
        raise ValueError("no empty site has an occupied neighbour; cannot add an atom")
    weights = np.where(n >= 1, np.exp((n - n.max()) / temperature), 0.0)
    return weights / weights.sum()


def roughen(
    occupied: np.ndarray,
    neighbours: np.ndarray,
    n_atoms: int,
    temperature: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Add atoms one at a time to empty sites next to occupied ones (paper eq. 9).

    Parameters
    ----------
    occupied : numpy.ndarray
        Whether each site holds an atom, bool, shape (s,). Not modified.
    neighbours : numpy.ndarray
        Indices of the nearest-neighbour sites of each site, ``-1`` where a neighbour
        lies outside the set of sites, int, shape (s, k).
    n_atoms : int
        Number of atoms to add.
    temperature : float
        Roughening temperature ``T`` of :func:`addition_probabilities`.
    rng : numpy.random.Generator
        Source of the random choices.

    Returns
    -------
    numpy.ndarray
        Indices of the sites filled, in the order they were filled, shape (n_atoms,).
    """
    occupied = np.asarray(occupied, dtype=bool).copy()
    padded = np.append(occupied, False)  # index -1 is an always-empty sentinel
    coordination = padded[neighbours].sum(axis=1)
    added = np.empty(n_atoms, dtype=int)
    for step in range(n_atoms):
        empty = np.flatnonzero(~occupied)
        p = addition_probabilities(coordination[empty], temperature)
        site = empty[rng.choice(len(empty), p=p)]
        occupied[site] = True
        near = neighbours[site]
        coordination[near[near >= 0]] += 1
        added[step] = site
    return added


def _fcc_ball(radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the FCC sites within ``radius`` half lattice constants of the origin.

    Returns the sites (s, 3) in half lattice constants and their neighbour table (s, 12)
    with ``-1`` for neighbours outside the ball.
    """
    axis = np.arange(-radius, radius + 1)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    sites = grid[(grid.sum(axis=1) % 2 == 0) & ((grid**2).sum(axis=1) <= radius**2)]
    index = np.full((2 * radius + 3,) * 3, -1)
    index[tuple((sites + radius + 1).T)] = np.arange(len(sites))
    steps = sites[:, None, :] + _NEIGHBOURS + radius + 1
    return sites, index[steps[..., 0], steps[..., 1], steps[..., 2]]


def _cut(sites: np.ndarray, layers: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Return which sites lie inside 26 cutting planes at random numbers of layers.

    The octahedron of ``n`` {111} layers is ``|site @ d| <= 2n`` for every <111> direction
    ``d``; its vertices lie at ``site @ d = 2n`` along <100> and its edges along <110>.
    Each plane is an atomic plane of its family drawn uniformly between the planes of
    the octahedra of ``layers[0]`` and ``layers[1]`` layers.
    """
    inside = np.ones(len(sites), dtype=bool)
    for family, directions in _DIRECTIONS.items():
        step = _PLANE_STEP[family]
        low, high = 2 * layers[0] // step, 2 * layers[1] // step
        planes = rng.integers(low, high, len(directions), endpoint=True)
        inside &= np.all(sites @ directions.T <= step * planes, axis=1)
    return inside


def _orientation(
    zone_axis: np.ndarray, rotation: float, tilt: float, tilt_axis: float
) -> np.ndarray:
    """Return the matrix turning ``zone_axis`` to z, rotating about z, then tilting.

    Angles in radians; the tilt is about the in-plane axis at ``tilt_axis`` from x.
    """
    e3 = zone_axis / np.linalg.norm(zone_axis)
    helper = np.eye(3)[np.argmin(np.abs(e3))]
    e1 = np.cross(helper, e3)
    e1 /= np.linalg.norm(e1)
    to_beam = np.array([e1, np.cross(e3, e1), e3])
    c, s = np.cos(rotation), np.sin(rotation)
    about_z = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    k = np.array([np.cos(tilt_axis), np.sin(tilt_axis), 0.0])
    k_cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    tilt_matrix = np.eye(3) + np.sin(tilt) * k_cross + (1 - np.cos(tilt)) * k_cross @ k_cross
    return tilt_matrix @ about_z @ to_beam


def _columns(sites: np.ndarray, zone_axis: np.ndarray) -> np.ndarray:
    """Return the column id of each site: sites differing by a multiple of the axis share one."""
    _, ids = np.unique(np.cross(sites, zone_axis), axis=0, return_inverse=True)
    return ids.ravel()


def _check_range(name: str, value: Sequence[float], minimum: float, integer: bool) -> None:
    """Raise ValueError unless ``value`` is ``(low, high)`` with ``minimum <= low <= high``."""
    types = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    ok = np.ndim(value) == 1 and len(value) == 2 and all(isinstance(v, types) for v in value)
    if not ok or not minimum <= value[0] <= value[1]:
        kind = "integers" if integer else "numbers"
        raise ValueError(
            f"{name} must be two {kind} (low, high) with {minimum} <= low <= high, got {value!r}"
        )


def _validate(
    element: str,
    lattice_constant: float,
    cell: tuple[float, float],
    layers: tuple[int, int],
    added_atoms: tuple[int, int],
    temperature: tuple[float, float],
    zone_axes: Sequence[Sequence[int]],
    max_tilt: float,
    vacuum: float,
) -> None:
    """Raise ValueError naming the first invalid argument of :func:`fcc_nanoparticle`."""
    if element not in atomic_numbers:
        raise ValueError(f"element must be a chemical symbol such as 'Au', got {element!r}")
    if not lattice_constant > 0:
        raise ValueError(f"lattice_constant must be positive [Å], got {lattice_constant}")
    if len(cell) != 2 or not min(cell) > 0:
        raise ValueError(f"cell must be two positive side lengths (Lx, Ly) [Å], got {cell!r}")
    if not vacuum >= 0:
        raise ValueError(f"vacuum must be non-negative [Å], got {vacuum}")
    if not 0 <= max_tilt <= 90:
        raise ValueError(f"max_tilt must lie in [0, 90] degrees, got {max_tilt}")
    _check_range("layers", layers, 1, integer=True)
    _check_range("added_atoms", added_atoms, 0, integer=True)
    _check_range("temperature", temperature, 0, integer=False)
    if not temperature[0] > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    axes = [np.asarray(axis) for axis in zone_axes]
    if not axes or any(t.shape != (3,) or t.dtype.kind not in "iu" or not t.any() for t in axes):
        raise ValueError(
            f"zone_axes must be a non-empty list of non-zero integer triples, got {zone_axes!r}"
        )
    reach, radius = min(cell) / 2 - vacuum, layers[1] * lattice_constant
    if radius > reach:
        raise ValueError(
            f"layers[1]={layers[1]} makes particles up to {radius:.1f} Å in radius, which do not"
            f" fit in cell={tuple(cell)} with vacuum={vacuum} (radius at most {reach:.1f} Å);"
            f" use layers[1] <= {reach // lattice_constant:.0f} or a larger cell"
        )
