"""Ground-truth atomic columns of a structure: where they are and how many atoms they hold."""

from __future__ import annotations

import numpy as np
from ase import Atoms


def column_ground_truth(atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
    """Return the positions and heights of the atomic columns of ``atoms``.

    Columns are the groups of atoms sharing an id in ``atoms.arrays["column"]``; without
    that array every atom is a column of its own (e.g. a graphene sheet).

    Parameters
    ----------
    atoms : ase.Atoms
        The structure, optionally with an integer per-atom array ``"column"``.

    Returns
    -------
    positions : numpy.ndarray
        Mean (x, y) of each column's atoms [Å], float64, shape (n_columns, 2). Along
        periodic cell vectors the mean is taken over the images nearest to the column's
        first atom, so a column that straddles the cell boundary is not torn apart.
    heights : numpy.ndarray
        Number of atoms in each column, int, shape (n_columns,).

    Columns are sorted by column id.
    """
    positions = atoms.get_positions()
    ids = atoms.arrays.get("column", np.arange(len(atoms)))
    _, first, inverse, heights = np.unique(
        ids, return_index=True, return_inverse=True, return_counts=True
    )
    inverse = inverse.ravel()
    offsets = positions - positions[first][inverse]
    if atoms.pbc.any():
        cell = atoms.cell.complete()
        images = np.round(np.linalg.solve(cell.T, offsets.T).T) * atoms.pbc
        offsets -= images @ cell
    means = positions[first, :2] + np.stack(
        [np.bincount(inverse, weights=offsets[:, axis]) for axis in (0, 1)], axis=1
    ) / heights[:, None]
    return means, heights.astype(int)
