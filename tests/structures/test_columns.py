"""Tests of the ground-truth atomic columns."""

import numpy as np
from ase import Atoms

from atomsight.structures.columns import column_ground_truth


def test_without_column_array_every_atom_is_a_column():
    positions = [[1.0, 2.0, 0.5], [3.0, 4.0, 0.5], [-0.5, 5.0, 0.5]]
    atoms = Atoms("C3", positions=positions, cell=[6, 6, 1], pbc=True)
    positions, heights = column_ground_truth(atoms)
    assert positions.dtype == np.float64 and positions.shape == (3, 2)
    np.testing.assert_array_equal(positions, atoms.positions[:, :2])
    np.testing.assert_array_equal(heights, [1, 1, 1])
    assert np.issubdtype(heights.dtype, np.integer)


def test_columns_are_means_sorted_by_id():
    atoms = Atoms(
        "Au5",
        positions=[[1, 1, 0], [5, 5, 0], [1.2, 0.8, 2], [3, 2, 1], [1.1, 0.9, 4]],
        cell=[10, 10, 10],
    )
    atoms.arrays["column"] = np.array([2, 0, 2, 1, 2])
    positions, heights = column_ground_truth(atoms)
    np.testing.assert_allclose(positions, [[5.0, 5.0], [3.0, 2.0], [1.1, 0.9]])
    np.testing.assert_array_equal(heights, [1, 1, 3])


def test_column_straddling_a_periodic_boundary_is_not_torn_apart():
    positions = [[0.1, 5.0, 0.0], [9.9, 5.0, 2.0], [0.3, 5.0, 4.0]]
    atoms = Atoms("Au3", positions=positions, cell=[10, 10, 10], pbc=(True, True, False))
    atoms.arrays["column"] = np.zeros(3, dtype=int)
    mean, heights = column_ground_truth(atoms)
    np.testing.assert_allclose(mean, [[0.1, 5.0]], atol=1e-12)  # images about the first atom
    np.testing.assert_array_equal(heights, [3])

    atoms.pbc = False  # without periodicity the plain mean is taken
    np.testing.assert_allclose(column_ground_truth(atoms)[0], [[10.3 / 3, 5.0]])


def test_straddling_column_in_an_oblique_cell():
    cell = [[10.0, 0.0, 0.0], [5.0, 8.0, 0.0], [0.0, 0.0, 10.0]]
    atoms = Atoms("Au2", positions=[[1, 1, 0], [1, 1, 2]], cell=cell, pbc=(True, True, False))
    atoms.positions[1] += np.array(cell[1])  # the same column, one periodic image over
    atoms.arrays["column"] = np.array([0, 0])
    np.testing.assert_allclose(column_ground_truth(atoms)[0], [[1.0, 1.0]], atol=1e-12)
