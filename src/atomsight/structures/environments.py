"""Local environments of the atoms of a flat, graphene-like sheet: pristine, strained, disordered, edge.

The bonds (pairs closer than a cutoff, periodic where the cell is) of a flat sheet form a
planar network, and its faces are its rings, walked once around by
:func:`atomsight.core.faces.walk_faces`; a face of more than ``max_ring`` atoms is a hole.

Environments, the first that applies:

* ``edge``: fewer than three bonds, or a face open to a hole (every hole cut out of a
  threefold network leaves a face of at least 10 atoms: 12 for a single missing atom in
  pristine graphene).
* ``disordered``: a ring that is not a hexagon (5-, 7-, 8-rings of grain boundaries and
  Stone-Wales defects), or more than three bonds.
* ``strained``: three hexagons around, but a bond off the bond length by more than the
  tolerance.
* ``pristine``: three bonds of about the bond length, three hexagons around.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from ..core.faces import walk_faces

ENVIRONMENTS = ("pristine", "strained", "disordered", "edge")
"""Names returned by :func:`atom_environments`."""


def atom_environments(
    atoms: Atoms,
    *,
    bond_cutoff: float = 1.8,
    bond_length: float = 1.42,
    bond_tolerance: float = 0.1,
    max_ring: int = 9,
) -> np.ndarray:
    """Return the local environment of every atom of a flat sheet.

    Parameters
    ----------
    atoms : ase.Atoms
        A sheet perpendicular to z, periodic along x and y or not; only x and y are used.
    bond_cutoff : float
        Atoms closer than this are bonded [Å]. 1.8 Å lies between the bonds of the
        graphene generator (up to 1.62 Å) and its shortest non-bonded pairs (1.74 Å).
    bond_length : float
        Bond length of the pristine sheet [Å] (1.42 for graphene).
    bond_tolerance : float
        Largest deviation from ``bond_length`` of a pristine atom's bonds [Å]. 0.1 Å is
        about 3 standard deviations of the relaxed generator's bonds (0.036 Å).
    max_ring : int
        Largest ring [atoms]; larger faces are holes. The generator's rings have 4 to 9
        atoms, its smallest holes faces of at least 10.

    Returns
    -------
    numpy.ndarray
        One of :data:`ENVIRONMENTS` per atom, unicode strings, shape (len(atoms),).

    Raises
    ------
    ValueError
        If an argument is out of range.
    """
    _check(bond_cutoff, max_ring)
    if not bond_tolerance >= 0:
        raise ValueError(f"bond_tolerance must be >= 0 Å, got {bond_tolerance!r}")
    tails, lengths, faces, sizes = _faces(atoms, bond_cutoff)
    n = len(atoms)
    bonds = np.bincount(tails, minlength=n)
    edge_sector = np.bincount(tails, weights=sizes[faces] > max_ring, minlength=n) > 0
    odd_ring = np.bincount(tails, weights=sizes[faces] != 6, minlength=n) > 0
    off_length = np.bincount(tails, weights=np.abs(lengths - bond_length) > bond_tolerance, minlength=n) > 0
    return np.select(
        [(bonds < 3) | edge_sector, odd_ring | (bonds > 3), off_length],
        ["edge", "disordered", "strained"],
        default="pristine",
    )


def ring_sizes(atoms: Atoms, *, bond_cutoff: float = 1.8, max_ring: int = 9) -> np.ndarray:
    """Return the number of atoms of every ring of a flat sheet, holes left out.

    Parameters
    ----------
    atoms : ase.Atoms
        A sheet perpendicular to z, periodic along x and y or not.
    bond_cutoff : float
        Atoms closer than this are bonded [Å].
    max_ring : int
        Largest ring [atoms]; larger faces are holes (see :func:`atom_environments`).

    Returns
    -------
    numpy.ndarray
        Ring sizes [atoms], int64, one per ring; ``np.bincount`` gives their statistics.

    Raises
    ------
    ValueError
        If an argument is out of range.
    """
    _check(bond_cutoff, max_ring)
    sizes = _faces(atoms, bond_cutoff)[3]
    return sizes[sizes <= max_ring]


def _check(bond_cutoff: float, max_ring: int) -> None:
    """Check the arguments shared by the public functions."""
    if not bond_cutoff > 0:
        raise ValueError(f"bond_cutoff must be positive [Å], got {bond_cutoff!r}")
    if isinstance(max_ring, bool) or not isinstance(max_ring, int) or max_ring < 3:
        raise ValueError(f"max_ring must be an integer >= 3, got {max_ring!r}")


def _faces(atoms: Atoms, bond_cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Walk the faces of the bond network (:func:`atomsight.core.faces.walk_faces`).

    Returns, per half-bond (directed bond), its tail atom and length [Å] and the face on
    its left, which fills the sector of the tail between it and the next bond
    counter-clockwise; and the number of half-bonds (atoms, counted with repeats) of
    each face.
    """
    tails, heads, shifts, vectors = neighbor_list("ijSD", atoms, bond_cutoff)
    faces = walk_faces(tails, heads, vectors, n_atoms=len(atoms), shifts=shifts)
    return tails, np.hypot(vectors[:, 0], vectors[:, 1]), faces.face, faces.sizes
