"""Tests of the random roughened FCC nanoparticles (paper section 4.1)."""

import itertools

import ase.io
import numpy as np
import pytest
from scipy.spatial import cKDTree

from atomsight.structures.columns import column_ground_truth
from atomsight.structures.nanoparticle import addition_probabilities, fcc_nanoparticle, roughen

A = 4.08
NN = A / np.sqrt(2)
COLUMN_SPACING = {"[110]": A * np.sqrt(3 / 8), "[111]": A / np.sqrt(6), "[100]": A / 2}
"""Nearest distance between projected FCC columns along each zone axis [Å]."""


def particle(seed, **kwargs):
    return fcc_nanoparticle(np.random.default_rng(seed), **kwargs)


# --- roughening, paper eq. 9 ------------------------------------------------------------


def star_graph(coordination):
    """Empty sites 0..m-1 with the given numbers of occupied neighbours among sites m...

    Returns (occupied, neighbours) for :func:`roughen`.
    """
    m, k = len(coordination), max(coordination)
    occupied = np.r_[np.zeros(m, bool), np.ones(k, bool)]
    neighbours = np.full((m + k, 12), -1)
    for site, n in enumerate(coordination):
        neighbours[site, :n] = m + np.arange(n)
    return occupied, neighbours


@pytest.mark.parametrize("temperature", [0.3, 1.0, 5.0])
def test_first_choice_follows_eq9(temperature):
    coordination = np.array([0, 1, 2, 3, 3, 4, 5])
    occupied, neighbours = star_graph(coordination)
    rng = np.random.default_rng(1)
    draws = 10_000
    chosen = [roughen(occupied, neighbours, 1, temperature, rng)[0] for _ in range(draws)]
    freq = np.bincount(chosen, minlength=len(coordination)) / draws

    weights = np.where(coordination >= 1, np.exp(coordination / temperature), 0.0)
    expected = weights / weights.sum()
    np.testing.assert_allclose(addition_probabilities(coordination, temperature), expected)
    sigma = np.sqrt(expected * (1 - expected) / draws)
    assert np.all(np.abs(freq - expected) <= 5 * sigma + 1e-12)
    assert freq[0] == 0  # a site with no occupied neighbour is never chosen
    if temperature == 0.3:
        assert freq[-1] > 0.9 and freq[:4].sum() < 0.01  # high coordination dominates
    if temperature == 5.0:
        assert freq[1:].min() > 0.08  # nearly flat: each of 6 sites gets about 1/6


def test_coordination_is_updated_after_each_atom():
    # A chain 0-1-2-...-9 with site 0 occupied: only the next site is ever adjacent.
    neighbours = np.full((10, 12), -1)
    neighbours[1:, 0] = np.arange(9)
    neighbours[:-1, 1] = np.arange(1, 10)
    occupied = np.zeros(10, bool)
    occupied[0] = True
    added = roughen(occupied, neighbours, 6, 1.0, np.random.default_rng(0))
    np.testing.assert_array_equal(added, [1, 2, 3, 4, 5, 6])
    assert occupied.sum() == 1  # input not modified


def fcc_graph(radius):
    """An FCC lattice block (half-lattice-constant units) and its neighbour table."""
    sites = np.array(
        [s for s in itertools.product(range(-radius, radius + 1), repeat=3) if sum(s) % 2 == 0]
    )
    pairs = cKDTree(sites).query_pairs(np.sqrt(2) + 1e-9, output_type="ndarray")
    neighbours = np.full((len(sites), 12), -1)
    fill = np.zeros(len(sites), int)
    for i, j in np.r_[pairs, pairs[:, ::-1]]:
        neighbours[i, fill[i]] = j
        fill[i] += 1
    return sites, neighbours


def test_each_added_atom_touches_the_particle():
    sites, neighbours = fcc_graph(5)
    occupied = np.abs(sites).sum(axis=1) <= 2  # a small octahedron
    added = roughen(occupied, neighbours, 30, 2.0, np.random.default_rng(3))
    assert len(set(added)) == 30 and not occupied[added].any()
    state = occupied.copy()
    for site in added:
        near = neighbours[site]
        assert state[near[near >= 0]].sum() >= 1
        state[site] = True


# --- the particle ------------------------------------------------------------------------


def assert_on_fcc_lattice(positions, a):
    """All atoms lie on one FCC lattice: integer coordinates in a primitive NN basis."""
    tree = cKDTree(positions)
    near = tree.query_ball_point(positions, a / np.sqrt(2) + 1e-6)
    centre = np.argmax([len(n) for n in near])
    vectors = positions[near[centre]] - positions[centre]
    vectors = vectors[np.linalg.norm(vectors, axis=1) > 1e-6]
    basis = next(
        vectors[list(t)]
        for t in itertools.combinations(range(len(vectors)), 3)
        if np.isclose(abs(np.linalg.det(vectors[list(t)])), a**3 / 4)
    )
    coords = np.linalg.solve(basis.T, (positions - positions[centre]).T)
    np.testing.assert_allclose(coords, np.round(coords), atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_particle_is_a_roughened_fcc_cluster(seed):
    atoms = particle(seed)
    assert set(atoms.get_chemical_symbols()) == {"Au"}
    assert_on_fcc_lattice(atoms.positions, A)
    distances = cKDTree(atoms.positions).sparse_distance_matrix(cKDTree(atoms.positions), NN + 1e-6)
    dense = distances.toarray()
    assert np.all(dense[dense > 0] >= NN - 1e-6)
    assert np.all((dense > 0).sum(axis=1) >= 1)  # no isolated atoms
    assert 0 <= atoms.info["added_atoms"] <= 40 and 0.5 <= atoms.info["temperature"] <= 2.0


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_equal_layers_without_roughening_give_a_regular_octahedron(n):
    # The cell is just big enough: the octahedron's vertices lie n * a from its centre.
    cell = (2 * (n * A + 2.0),) * 2
    atoms = particle(n, cell=cell, layers=(n, n), added_atoms=(0, 0), zone_axes=[(1, 0, 0)])
    edge = 2 * n + 1  # atoms along an edge
    assert len(atoms) == (2 * edge**3 + edge) // 3
    assert atoms.info["added_atoms"] == 0


@pytest.mark.parametrize("seed", range(4))
def test_particle_is_centred_in_its_cell_with_vacuum(seed):
    atoms = particle(seed, vacuum=3.0)
    np.testing.assert_allclose(atoms.cell.lengths()[:2], (43.2, 43.2))
    assert atoms.cell.orthorhombic and list(atoms.pbc) == [True, True, False]
    low, high = atoms.positions.min(axis=0), atoms.positions.max(axis=0)
    assert np.all(low >= 3.0 - 1e-9) and np.all(high <= atoms.cell.lengths() - 3.0 + 1e-9)
    assert np.isclose(atoms.cell[2, 2], high[2] - low[2] + 6.0)


@pytest.mark.parametrize("axis", [(1, 1, 0), (1, 1, 1), (1, 0, 0)])
@pytest.mark.parametrize("seed", range(3))
def test_untilted_columns_are_exact(axis, seed):
    atoms = particle(seed, zone_axes=[axis], max_tilt=0.0)
    assert atoms.info["zone_axis"] == "[" + "".join(map(str, axis)) + "]"
    assert atoms.info["tilt_deg"] == 0.0
    ids = atoms.arrays["column"]
    positions, heights = column_ground_truth(atoms)
    np.testing.assert_array_equal(np.unique(ids), np.arange(len(heights)))
    np.testing.assert_allclose(atoms.positions[:, :2], positions[ids], atol=1e-6)
    spacing = cKDTree(positions).query(positions, k=2)[0][:, 1].min()
    assert spacing == pytest.approx(COLUMN_SPACING[atoms.info["zone_axis"]], abs=1e-6)

    # Heights counted independently, by binning the atoms on their rounded (x, y).
    bins, counts = np.unique(np.round(atoms.positions[:, :2], 2), axis=0, return_counts=True)
    lookup = {tuple(b): c for b, c in zip(bins, counts)}
    assert [lookup[tuple(p)] for p in np.round(positions, 2)] == heights.tolist()
    assert heights.sum() == len(atoms) and len(bins) == len(heights)


@pytest.mark.parametrize("seed", range(6))
def test_tilt_of_the_zone_axis(seed):
    atoms = particle(seed, max_tilt=5.0)
    ids = atoms.arrays["column"]
    tallest = np.argmax(np.bincount(ids))
    line = atoms.positions[ids == tallest]
    direction = line[np.argmax(line[:, 2])] - line[np.argmin(line[:, 2])]
    direction /= np.linalg.norm(direction)
    tilt = np.degrees(np.arccos(abs(direction[2])))
    assert 0.0 <= tilt <= 5.0 + 1e-9
    assert tilt == pytest.approx(atoms.info["tilt_deg"], abs=1e-6)
    # Every column is a straight line along that direction.
    for column in np.unique(ids):
        offsets = atoms.positions[ids == column] - atoms.positions[ids == column][0]
        np.testing.assert_allclose(np.cross(offsets, direction), 0.0, atol=1e-6)


def test_extxyz_round_trip_keeps_columns(tmp_path):
    atoms = particle(7)
    ase.io.write(tmp_path / "particle.xyz", atoms, format="extxyz")
    back = ase.io.read(tmp_path / "particle.xyz", format="extxyz")
    np.testing.assert_array_equal(back.arrays["column"], atoms.arrays["column"])
    for got, want in zip(column_ground_truth(back), column_ground_truth(atoms)):
        np.testing.assert_allclose(got, want, atol=1e-6)
    for key in ("zone_axis", "rotation_deg", "tilt_deg", "temperature", "added_atoms"):
        assert back.info[key] == pytest.approx(atoms.info[key])


def test_same_generator_state_gives_the_same_particle():
    first, second, other = particle(11), particle(11), particle(12)
    np.testing.assert_array_equal(first.positions, second.positions)
    np.testing.assert_array_equal(first.arrays["column"], second.arrays["column"])
    np.testing.assert_array_equal(first.cell, second.cell)
    assert first.info == second.info
    assert len(first) != len(other) or not np.allclose(first.positions, other.positions)


def test_both_default_zone_axes_are_used_and_sizes_are_sensible():
    atoms = [particle(seed) for seed in range(20)]
    assert {a.info["zone_axis"] for a in atoms} == {"[110]", "[111]"}
    sizes = [np.ptp(a.positions, axis=0)[:2].max() for a in atoms]
    assert 12.0 < min(sizes) and max(sizes) < 43.2 - 4.0


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"element": "Xx"}, ["element"]),
        ({"lattice_constant": 0.0}, ["lattice_constant"]),
        ({"cell": (43.2,)}, ["cell"]),
        ({"cell": (20.0, 43.2)}, ["layers", "cell"]),
        ({"layers": (2, 6)}, ["layers", "cell"]),
        ({"layers": (4, 2)}, ["layers"]),
        ({"layers": (0, 3)}, ["layers"]),
        ({"layers": (2.5, 4)}, ["layers"]),
        ({"added_atoms": (-1, 3)}, ["added_atoms"]),
        ({"temperature": (0.0, 1.0)}, ["temperature"]),
        ({"temperature": (2.0, 1.0)}, ["temperature"]),
        ({"zone_axes": []}, ["zone_axes"]),
        ({"zone_axes": [(0, 0, 0)]}, ["zone_axes"]),
        ({"zone_axes": [(1, 1)]}, ["zone_axes"]),
        ({"max_tilt": -1.0}, ["max_tilt"]),
        ({"vacuum": -1.0}, ["vacuum"]),
    ],
)
def test_invalid_arguments_are_named(kwargs, names):
    with pytest.raises(ValueError) as error:
        particle(0, **kwargs)
    assert all(name in str(error.value) for name in names)
