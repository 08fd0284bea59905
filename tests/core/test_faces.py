"""Faces of small planar networks, counted by hand."""

import numpy as np

from atomsight.core.faces import walk_faces


def half_bonds(xy, bonds):
    bonds = np.asarray(bonds)
    tails, heads = np.concatenate([bonds[:, 0], bonds[:, 1]]), np.concatenate([bonds[:, 1], bonds[:, 0]])
    return tails, heads, xy[heads] - xy[tails]


def test_square_with_a_diagonal_has_two_triangles_and_the_outside():
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    tails, heads, vectors = half_bonds(xy, [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)])
    faces = walk_faces(tails, heads, vectors, n_atoms=4)
    # Euler: V - E + F = 2 gives 4 - 5 + F = 2, F = 3: the triangles 0-1-2 and 0-2-3 and the outside 0-3-2-1.
    assert sorted(faces.sizes.tolist()) == [3, 3, 4]
    walks = [tails[faces.walk[s:s + k]].tolist() for s, k in zip(faces.starts, faces.sizes)]
    cycles = [w[w.index(0):] + w[:w.index(0)] for w in walks]
    assert sorted(cycles) == [[0, 1, 2], [0, 2, 3], [0, 3, 2, 1]]  # insides counter-clockwise, outside clockwise
    # Every half-bond borders the face whose walk holds it.
    for f, (s, k) in enumerate(zip(faces.starts, faces.sizes)):
        assert (faces.face[faces.walk[s:s + k]] == f).all()


def test_a_dangling_bond_is_walked_on_both_sides_of_its_face():
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 0.8], [0.5, 0.3]])  # a triangle with atom 3 bonded inside it
    tails, heads, vectors = half_bonds(xy, [(0, 1), (1, 2), (2, 0), (0, 3)])
    faces = walk_faces(tails, heads, vectors, n_atoms=4)
    assert sorted(faces.sizes.tolist()) == [3, 5]  # outside; inside walked 0-1-2-0-3 and back to 0


def test_no_bonds_no_faces():
    faces = walk_faces(np.zeros(0, int), np.zeros(0, int), np.zeros((0, 2)), n_atoms=3)
    assert faces.sizes.size == faces.starts.size == faces.walk.size == 0
