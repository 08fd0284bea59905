"""Bonds, rings and planar strain of a graphene sheet from the positions of its atoms.

The analyses of Madsen et al. (2018), Figs. 6 and 7, on the positions found in one image:

* Bonds: pairs of atoms closer than a cutoff (1.8 Å by default: between the 1.42 Å bond
  and the 2.46 Å second neighbours, and above bonds stretched by 25 %), with their lengths
  and, when each atom's position uncertainty is known, the length's standard error
  (:func:`bond_uncertainties`).
* Rings: the faces of the flat bond network (:func:`atomsight.core.faces.walk_faces`), so
  Stone-Wales defects show as 5-7-7-5 rings and grain boundaries as 5-7 pairs. A ring is a
  face of 3 to ``max_ring`` atoms, each met once, that encloses area counter-clockwise;
  other faces (holes, the outside of the imaged area or of a loose fragment, which is walked
  clockwise, and the two sides of a chain) are open.
* Strain: for every threefold atom whose three rings are hexagons, the deformation
  gradient F that maps the ideal bond vectors (three at 120°, ``bond_length`` long, turned
  to the atom's own lattice orientation) onto its measured ones, by least squares. Its
  left stretch V = sqrt(F Fᵀ) (polar decomposition F = V R) gives the strain
  ε = V - I in the image's x, y frame; for a deformation without rotation this is the small
  strain (F + Fᵀ)/2 - I, and, unlike that, it does not depend on the orientation picked for
  the ideal lattice (a rotated sheet has no strain). The planar (areal) strain is
  ε_xx + ε_yy. Other atoms get NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..config import generator_default
from ..core.faces import walk_faces

BOND_LENGTH: float = generator_default("graphene", "bond_length")
"""C-C bond length of unstrained graphene [Å]: the configuration's, which the graphene models trained on."""


@dataclass(frozen=True)
class GrapheneAnalysis:
    """Bonds, rings and strain of one sheet.

    Attributes
    ----------
    positions : numpy.ndarray
        Atom positions (x, y) [Å], shape (n, 2).
    bonds : numpy.ndarray
        Bonded atom pairs (i, j), i < j, shape (b, 2), int64.
    lengths : numpy.ndarray
        Bond lengths [Å], shape (b,).
    length_errors : numpy.ndarray or None
        Standard errors of the bond lengths [Å], shape (b,), when position uncertainties
        were given.
    ring_sizes : numpy.ndarray
        Atoms of every ring, holes left out, int64.
    rings : list of numpy.ndarray
        Atom indices of every ring, counter-clockwise, in the order of ``ring_sizes``.
    atom_rings : list of tuple of int
        Per atom, the sizes of the rings around it, sorted, 0 for each open face (a hole or
        the outside) it borders.
    strain : numpy.ndarray
        Per atom (ε_xx, ε_yy, ε_xy), shape (n, 3) [dimensionless]; NaN where not defined.
    """

    positions: np.ndarray
    bonds: np.ndarray
    lengths: np.ndarray
    length_errors: np.ndarray | None
    ring_sizes: np.ndarray
    rings: list[np.ndarray]
    atom_rings: list[tuple[int, ...]]
    strain: np.ndarray

    @property
    def planar_strain(self) -> np.ndarray:
        """Per atom ε_xx + ε_yy, the relative change of area [dimensionless]; NaN where not defined."""
        return self.strain[:, 0] + self.strain[:, 1]


def analyze_graphene(
    positions: np.ndarray,
    *,
    sigma: np.ndarray | None = None,
    cutoff: float = 1.8,
    bond_length: float = BOND_LENGTH,
    max_ring: int = 9,
) -> GrapheneAnalysis:
    """Find the bonds, rings and strain of a graphene sheet.

    Parameters
    ----------
    positions : numpy.ndarray
        Atom positions (x, y) [Å], shape (n, 2).
    sigma : numpy.ndarray, optional
        Standard deviations of the positions along x and y [Å], shape (n, 2), independent
        between atoms and axes; gives the bonds' length errors.
    cutoff : float
        Atoms closer than this are bonded [Å].
    bond_length : float
        Bond length of the unstrained sheet [Å], the strain's reference.
    max_ring : int
        Largest ring [atoms]; larger faces are holes or the outside of the sheet.

    Returns
    -------
    GrapheneAnalysis
        Bonds, rings and strain.

    Raises
    ------
    ValueError
        If an argument is out of range or the shapes disagree.
    """
    positions = np.asarray(positions, dtype=float)
    _check(positions, sigma, cutoff, bond_length, max_ring)
    bonds = find_bonds(positions, cutoff=cutoff)
    vectors = positions[bonds[:, 1]] - positions[bonds[:, 0]]
    tails = np.concatenate([bonds[:, 0], bonds[:, 1]])
    heads = np.concatenate([bonds[:, 1], bonds[:, 0]])
    faces = walk_faces(tails, heads, np.concatenate([vectors, -vectors]), n_atoms=len(positions))
    members = [tails[faces.walk[s:s + k]] for s, k in zip(faces.starts, faces.sizes)]
    is_ring = np.array([_is_ring(positions[m], len(np.unique(m)), max_ring) for m in members], dtype=bool)
    ring_size = np.where(is_ring, faces.sizes, 0)[faces.face]  # per half-bond; 0 for an open face
    return GrapheneAnalysis(
        positions=positions,
        bonds=bonds,
        lengths=np.hypot(vectors[:, 0], vectors[:, 1]),
        length_errors=None if sigma is None else bond_uncertainties(positions, np.asarray(sigma, float), bonds),
        ring_sizes=faces.sizes[is_ring],
        rings=[m for m, ring in zip(members, is_ring) if ring],
        atom_rings=_atom_rings(tails, ring_size, len(positions)),
        strain=local_strain(positions, tails, heads, ring_size, bond_length=bond_length),
    )


def find_bonds(positions: np.ndarray, *, cutoff: float) -> np.ndarray:
    """Return the pairs (i, j), i < j, of atoms closer than ``cutoff`` [Å], sorted; shape (b, 2), int64."""
    pairs = cKDTree(positions).query_pairs(cutoff, output_type="ndarray").astype(np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))].reshape(-1, 2)


def bond_uncertainties(positions: np.ndarray, sigma: np.ndarray, bonds: np.ndarray) -> np.ndarray:
    """Return the standard errors of the bond lengths [Å] from the atoms' position errors.

    To first order the length |r_j - r_i| changes by u·(δr_j - δr_i), u the unit vector
    along the bond, so for independent errors of standard deviations σ (per atom and axis)
    σ_bond² = u_x² (σ_xi² + σ_xj²) + u_y² (σ_yi² + σ_yj²): both atoms' covariances
    projected onto the bond.

    Parameters
    ----------
    positions : numpy.ndarray
        Atom positions (x, y) [Å], shape (n, 2).
    sigma : numpy.ndarray
        Standard deviations of the positions along x and y [Å], shape (n, 2).
    bonds : numpy.ndarray
        Atom pairs (i, j), shape (b, 2).

    Returns
    -------
    numpy.ndarray
        Standard errors [Å], shape (b,).
    """
    vectors = positions[bonds[:, 1]] - positions[bonds[:, 0]]
    unit = vectors / np.hypot(vectors[:, 0], vectors[:, 1])[:, None]
    variance = sigma[bonds[:, 0]] ** 2 + sigma[bonds[:, 1]] ** 2
    return np.sqrt(np.sum(unit**2 * variance, axis=1))


def local_strain(
    positions: np.ndarray, tails: np.ndarray, heads: np.ndarray, face_sizes: np.ndarray, *, bond_length: float
) -> np.ndarray:
    """Return the strain (ε_xx, ε_yy, ε_xy) of every threefold atom in three hexagons, NaN elsewhere.

    Parameters
    ----------
    positions : numpy.ndarray
        Atom positions (x, y) [Å], shape (n, 2).
    tails, heads : numpy.ndarray
        The half-bonds (each bond in both directions), shape (m,).
    face_sizes : numpy.ndarray
        Size of the ring on the left of each half-bond [atoms], 0 for an open face, shape (m,).
    bond_length : float
        Bond length of the unstrained sheet [Å].

    Returns
    -------
    numpy.ndarray
        Strain components, shape (n, 3) [dimensionless].
    """
    n = len(positions)
    degree = np.bincount(tails, minlength=n)
    odd = np.bincount(tails, weights=face_sizes != 6, minlength=n) > 0
    chosen = np.flatnonzero((degree == 3) & ~odd)
    strain = np.full((n, 3), np.nan)
    if not len(chosen):
        return strain
    vectors = positions[heads] - positions[tails]
    angles = np.arctan2(vectors[:, 1], vectors[:, 0])
    keep = np.isin(tails, chosen)
    order = np.lexsort((angles[keep], tails[keep]))  # three bonds per chosen atom, counter-clockwise
    measured = vectors[keep][order].reshape(-1, 3, 2)
    ideal = _ideal_bonds(angles[keep][order].reshape(-1, 3), bond_length)
    # Least squares for F in measured_k = F ideal_k: Fᵀ = (IᵀI)⁻¹ Iᵀ M per atom.
    gradient = np.linalg.solve(ideal.transpose(0, 2, 1) @ ideal, ideal.transpose(0, 2, 1) @ measured)
    gradient = gradient.transpose(0, 2, 1)
    values, axes = np.linalg.eigh(gradient @ gradient.transpose(0, 2, 1))
    stretch = axes @ (np.sqrt(values)[:, :, None] * axes.transpose(0, 2, 1))
    strain[chosen] = np.stack([stretch[:, 0, 0] - 1, stretch[:, 1, 1] - 1, stretch[:, 0, 1]], axis=1)
    return strain


def _ideal_bonds(angles: np.ndarray, bond_length: float) -> np.ndarray:
    """Ideal bond vectors [Å], shape (m, 3, 2), matched to measured bond angles (m, 3) sorted counter-clockwise.

    The lattice orientation θ (modulo 120°) is the circular mean of the threefold angles,
    θ = arg(Σ exp(3iφ)) / 3; the first bond takes the ideal direction nearest it, the next
    ones the following directions counter-clockwise, so each ideal bond is used once.
    """
    theta = np.angle(np.exp(3j * angles).sum(axis=1)) / 3
    step = 2 * np.pi / 3
    first = np.round((angles[:, 0] - theta) / step)
    directions = theta[:, None] + step * (first[:, None] + np.arange(3))
    return bond_length * np.stack([np.cos(directions), np.sin(directions)], axis=-1)


def _is_ring(corners: np.ndarray, distinct: int, max_ring: int) -> bool:
    """Return whether a face with these corners [Å] (walk order) and ``distinct`` atoms is a ring."""
    x, y = corners[:, 0], corners[:, 1]
    area = np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))  # twice the signed (shoelace) area
    return 3 <= len(corners) <= max_ring and distinct == len(corners) and area > 0


def _atom_rings(tails: np.ndarray, face_sizes: np.ndarray, n: int) -> list[tuple[int, ...]]:
    """Return, per atom, the sorted sizes of the rings around it (0 for an open face)."""
    order = np.lexsort((face_sizes, tails))
    split = np.searchsorted(tails[order], np.arange(1, n))
    return [tuple(int(k) for k in sizes) for sizes in np.split(face_sizes[order], split)]


def _check(positions: np.ndarray, sigma: np.ndarray | None, cutoff: float, bond_length: float, max_ring: int) -> None:
    """Check the arguments of :func:`analyze_graphene`."""
    if positions.ndim != 2 or positions.shape[1] != 2:
        raise ValueError(f"positions must have shape (n, 2) [Å], got {positions.shape}")
    if sigma is not None and np.shape(sigma) != positions.shape:
        raise ValueError(f"sigma must have the shape of positions {positions.shape}, got {np.shape(sigma)}")
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive [Å], got {cutoff!r}")
    if not bond_length > 0:
        raise ValueError(f"bond_length must be positive [Å], got {bond_length!r}")
    if isinstance(max_ring, bool) or not isinstance(max_ring, int) or max_ring < 3:
        raise ValueError(f"max_ring must be an integer >= 3, got {max_ring!r}")
