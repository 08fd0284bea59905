"""Local environments and rings of hand-built sheets whose answers are counted by hand."""

import numpy as np
import pytest
from ase import Atoms

from atomsight.structures.environments import ENVIRONMENTS, atom_environments, ring_sizes

BOND = 1.42  # [Å]


def sheet(cells=(6, 4), bond=BOND):
    """Periodic graphene of ``cells`` rectangular cells sqrt(3) b x 3 b, 4 atoms each, zigzag along x."""
    a, c = np.sqrt(3) * bond, 3 * bond
    basis = np.array([[0, 0], [a / 2, bond / 2], [a / 2, 3 * bond / 2], [0, 2 * bond]])
    xy = np.array([basis + (i * a, j * c) for i in range(cells[0]) for j in range(cells[1])]).reshape(-1, 2)
    return Atoms("C" * len(xy), positions=np.column_stack([xy, np.ones(len(xy))]),
                 cell=[cells[0] * a, cells[1] * c, 2.0], pbc=(True, True, False))


def hexagon_centre(atoms):
    """Centre [Å] of the hexagon (0, b) + a lattice vector nearest the middle of the cell."""
    a, c = np.sqrt(3) * BOND, 3 * BOND
    middle = atoms.cell.lengths()[:2] / 2
    return np.round((middle - (0, BOND)) / (a, c)) * (a, c) + (0, BOND)


def counts(environments):
    return {name: int(np.count_nonzero(environments == name)) for name in ENVIRONMENTS}


def test_perfect_sheet_is_all_pristine_hexagons():
    atoms = sheet()
    assert counts(atom_environments(atoms)) == {"pristine": 96, "strained": 0, "disordered": 0, "edge": 0}
    # Euler's formula on the torus: a threefold network of V atoms has V / 2 rings.
    assert ring_sizes(atoms).tolist() == [6] * 48


def test_stone_wales_defect_has_two_pentagons_two_heptagons_of_sixteen_atoms():
    atoms = sheet()
    xy = atoms.positions[:, :2]
    # The bond of the hexagon nearest the middle along y, from (a/2, b/2) to (a/2, 3b/2)
    # of its cell, turned by 90 degrees about its centre.
    centre = hexagon_centre(atoms) + (np.sqrt(3) * BOND / 2, 0)
    ends = np.flatnonzero(np.hypot(*(xy - centre).T) < 0.6 * BOND)
    assert len(ends) == 2
    atoms.positions[ends, :2] = centre + np.array([[-BOND / 2, 0], [BOND / 2, 0]])
    # Unrelaxed: the turned atoms' new bonds are 1.07 b = 1.51 Å long, their nearest
    # non-bonded atoms 1.33 b = 1.89 Å away, so the 1.8 Å cutoff sees the Stone-Wales network.
    sizes = ring_sizes(atoms)
    assert np.bincount(sizes).tolist() == [0, 0, 0, 0, 0, 2, 44, 2]  # 48 rings: 4 hexagons became 5-7-7-5
    found = counts(atom_environments(atoms))
    # The four rings cover the 16 atoms of the four hexagons they replace (pyrene, C16).
    assert found == {"pristine": 80, "strained": 0, "disordered": 16, "edge": 0}


def test_hole_of_one_hexagon_is_lined_by_eighteen_edge_atoms():
    atoms = sheet()
    removed = np.hypot(*(atoms.positions[:, :2] - hexagon_centre(atoms)).T) < 1.1 * BOND
    assert removed.sum() == 6
    del atoms[removed]
    environments = atom_environments(atoms)
    # The hole joins the removed hexagon and its 6 neighbours (coronene, C24): its face is
    # lined by 24 - 6 = 18 atoms, 6 of which lost a bond.
    assert counts(environments) == {"pristine": 90 - 18, "strained": 0, "disordered": 0, "edge": 18}
    twofold = _bond_counts(atoms) == 2
    assert twofold.sum() == 6 and (environments[twofold] == "edge").all()
    assert ring_sizes(atoms).tolist() == [6] * (48 - 7)  # the 18-atom face is a hole, not a ring


def test_coronene_flake_without_periodicity():
    flake = sheet()
    flake.pbc = False
    keep = np.hypot(*(flake.positions[:, :2] - hexagon_centre(flake)).T) < 2.7 * BOND  # shells b, 2b, sqrt(7) b
    flake = flake[keep]
    assert len(flake) == 24
    assert ring_sizes(flake).tolist() == [6] * 7
    # The outer face is open: the 18 atoms on it are edge atoms, the inner 6 pristine.
    assert counts(atom_environments(flake)) == {"pristine": 6, "strained": 0, "disordered": 0, "edge": 18}


@pytest.mark.parametrize(("bond", "environment"), [(1.50, "pristine"), (1.54, "strained"), (1.31, "strained")])
def test_bonds_off_by_more_than_the_tolerance_are_strained(bond, environment):
    environments = atom_environments(sheet(bond=bond))  # default tolerance 0.1 Å around 1.42 Å
    assert set(environments) == {environment}


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"bond_cutoff": 0.0}, "bond_cutoff"), ({"max_ring": 2}, "max_ring"), ({"max_ring": 8.5}, "max_ring"),
     ({"bond_tolerance": -0.1}, "bond_tolerance")],
)
def test_invalid_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name} must"):
        atom_environments(sheet(), **kwargs)


def _bond_counts(atoms, cutoff=1.8):
    """Number of neighbours closer than ``cutoff`` [Å] of each atom (periodic along x and y)."""
    d = atoms.positions[None, :, :2] - atoms.positions[:, None, :2]
    box = atoms.cell.lengths()[:2]
    d -= box * np.round(d / box)
    r = np.hypot(d[..., 0], d[..., 1])
    return ((r > 0) & (r < cutoff)).sum(axis=1)
