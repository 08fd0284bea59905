"""Rings of a flat bond network: its faces, each walked once around.

The bonds of a flat sheet (of a simulated structure or of positions found in an image)
form a planar network, and its faces are its rings. From a half-bond (directed bond)
u -> v, the walk turns at v to the bond that precedes v -> u in counter-clockwise order
(the sharpest left turn), so it goes once around the face on its left, and an atom with
k bonds borders k faces (the sectors between its bonds). Unlike a search for
shortest-path rings, this needs no size limit and finds each ring once; faces larger than
any ring (holes, the outside of a flake) are left to the caller to set apart by size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Faces:
    """The faces of a planar bond network.

    Attributes
    ----------
    face : numpy.ndarray
        Per half-bond (in the caller's order), the face on its left, which fills the
        sector of the tail atom between it and its next bond counter-clockwise; int64.
    sizes : numpy.ndarray
        Per face, its number of half-bonds (its atoms, counted with repeats); int64.
    walk : numpy.ndarray
        The half-bonds in walking order, face after face: face ``f`` is
        ``walk[starts[f]:starts[f] + sizes[f]]``, its tails in counter-clockwise order.
    starts : numpy.ndarray
        Per face, where it begins in ``walk``; int64.
    """

    face: np.ndarray
    sizes: np.ndarray
    walk: np.ndarray
    starts: np.ndarray


def walk_faces(
    tails: np.ndarray, heads: np.ndarray, vectors: np.ndarray, *, n_atoms: int, shifts: np.ndarray | None = None
) -> Faces:
    """Walk the faces of a planar network given as half-bonds, each bond in both directions.

    Parameters
    ----------
    tails, heads : numpy.ndarray
        Atom indices of the half-bonds tail -> head, shape (m,); each bond appears in both
        directions.
    vectors : numpy.ndarray
        Half-bond vectors head - tail (x, y, ...) [Å], shape (m, >= 2); only x and y are used.
    n_atoms : int
        Number of atoms.
    shifts : numpy.ndarray, optional
        Periodic image of the head for each half-bond, shape (m, d), when the network is
        periodic (as from :func:`ase.neighborlist.neighbor_list`); the reverse of a half-bond
        has the opposite shift.

    Returns
    -------
    Faces
        The face of every half-bond, and the size and walk of every face.
    """
    tails, heads = np.asarray(tails, dtype=np.int64), np.asarray(heads, dtype=np.int64)
    vectors = np.asarray(vectors, dtype=float)
    shifts = np.zeros((len(tails), 0), dtype=np.int64) if shifts is None else np.asarray(shifts)
    angles = np.arctan2(vectors[:, 1], vectors[:, 0])
    order = np.lexsort((angles, tails))  # counter-clockwise around each tail
    tails, heads, shifts = tails[order], heads[order], shifts[order]
    first = np.searchsorted(tails, np.arange(n_atoms))
    degree = np.bincount(tails, minlength=n_atoms)
    position = np.arange(len(tails)) - first[tails]
    keys = list(zip(tails.tolist(), heads.tolist(), map(tuple, shifts.tolist()), strict=True))
    index = {key: e for e, key in enumerate(keys)}
    reverse = np.array([index[(h, t, tuple(-x for x in s))] for t, h, s in keys], dtype=np.int64)
    # After u -> v comes the bond of v preceding v -> u counter-clockwise: the sharpest
    # left turn, so each walk goes once around the face on its left.
    following = first[heads] + (position[reverse] - 1) % np.maximum(degree[heads], 1)
    face, walk = np.full(len(tails), -1, dtype=np.int64), []
    face_sizes: list[int] = []
    for start in range(len(tails)):
        edge, size = start, 0
        while face[edge] < 0:
            face[edge] = len(face_sizes)
            walk.append(edge)
            edge, size = following[edge], size + 1
        if size:
            face_sizes.append(size)
    sizes = np.asarray(face_sizes, dtype=np.int64)
    unsorted = np.empty_like(face)
    unsorted[order] = face
    return Faces(face=unsorted, sizes=sizes, walk=order[np.asarray(walk, dtype=np.int64)],
                 starts=np.cumsum(sizes) - sizes)
