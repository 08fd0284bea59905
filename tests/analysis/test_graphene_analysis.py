"""Bonds, rings and strain of hand-built graphene sheets whose answers are known analytically or by hand,
and ``atomsight analyze graphene`` on CSVs of them: the files written, their numbers, and bad input."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from atomsight.analysis.graphene import analyze_graphene, bond_uncertainties
from atomsight.analysis.graphene_files import OUTPUT_SUFFIXES
from atomsight.cli import main

BOND = 1.42  # [Å]


def sheet(cells=(8, 6), bond=BOND):
    """Flat, non-periodic graphene of ``cells`` rectangular cells sqrt(3) b x 3 b, 4 atoms each, zigzag along x.

    Bonds, counted by hand: per cell one along y inside it and one to the cell above
    (nx (2 ny - 1) along y), two slanted inside it and two to the cell to the right
    (2 ny (2 nx - 1) slanted, at ±30° from x).
    """
    a, c = np.sqrt(3) * bond, 3 * bond
    basis = np.array([[0, 0], [a / 2, bond / 2], [a / 2, 3 * bond / 2], [0, 2 * bond]])
    return np.array([basis + (i * a, j * c) for i in range(cells[0]) for j in range(cells[1])]).reshape(-1, 2)


def rotation(degrees):
    t = np.radians(degrees)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def stone_wales(xy):
    """Turn by 90° the bond along y nearest the middle of the sheet, about its centre."""
    xy = xy.copy()
    centres = (xy[:, None] + xy[None]) / 2
    lengths = np.hypot(*(xy[:, None] - xy[None]).T)
    vertical = (np.abs(lengths - BOND) < 1e-6) & (np.abs(xy[:, None, 0] - xy[None, :, 0]) < 1e-6)
    i, j = np.argwhere(np.triu(vertical))[np.argmin(np.hypot(*(centres[np.triu(vertical)] - xy.mean(0)).T))]
    centre = (xy[i] + xy[j]) / 2
    xy[[i, j]] = centre + np.array([[-BOND / 2, 0], [BOND / 2, 0]])
    return xy, (i, j)


def test_perfect_flake_has_hand_counted_bonds_and_rings():
    result = analyze_graphene(sheet((8, 6)))
    # 192 atoms; bonds 8 * 11 along y + 2 * 6 * 15 slanted = 268; a connected planar network
    # whose inner faces are all hexagons has E - V + 1 = 77 of them (Euler), the outside a hole.
    assert len(result.positions) == 192 and len(result.bonds) == 268
    assert np.bincount(result.ring_sizes).tolist() == [0] * 6 + [77]
    assert all(len(ring) == 6 for ring in result.rings)
    np.testing.assert_allclose(result.lengths, BOND)


def test_loose_fragments_and_outsides_are_open_faces_not_rings():
    hexagon = BOND * np.column_stack([np.cos(np.arange(6) * np.pi / 3), np.sin(np.arange(6) * np.pi / 3)])
    triangle = BOND * np.column_stack([np.cos(np.arange(3) * 2 * np.pi / 3), np.sin(np.arange(3) * 2 * np.pi / 3)])
    dimer, chain = np.array([[0.0, 0.0], [BOND, 0.0]]), np.array([[0.0, 0.0], [BOND, 0.0], [2 * BOND, 0.0]])
    xy = np.concatenate([hexagon, (hexagon * 0.85) + 10, dimer + (20, 0), chain + (0, 20), triangle / np.sqrt(3) + 30])
    result = analyze_graphene(xy)
    # Faces: each polygon's inside (counter-clockwise) and outside (clockwise, no area enclosed),
    # the dimer's one face of 2 half-bonds and the chain's of 4 (meeting atoms twice): 3 rings.
    assert sorted(result.ring_sizes.tolist()) == [3, 6, 6]
    assert result.atom_rings[0] == (0, 6) and result.atom_rings[12] == (0,) and result.atom_rings[15] == (0, 0)


def test_bond_mean_and_spread_of_a_sheet_stretched_along_y_match_hand_values():
    stretch = 1.1
    result = analyze_graphene(sheet((3, 2)) * (1, stretch))
    # 3 x 2 cells: 3 * 3 = 9 bonds along y of length 1.1 b and 2 * 2 * 5 = 20 slanted ones of b sqrt(3/4 + 1.1²/4).
    along_y, slanted = stretch * BOND, BOND * np.sqrt(0.75 + stretch**2 / 4)
    assert len(result.lengths) == 29
    assert np.isclose(result.lengths, along_y).sum() == 9 and np.isclose(result.lengths, slanted).sum() == 20
    mean = (9 * along_y + 20 * slanted) / 29
    std = np.sqrt((9 * (along_y - mean) ** 2 + 20 * (slanted - mean) ** 2) / 28)
    assert result.lengths.mean() == pytest.approx(mean, rel=1e-12)
    assert result.lengths.std(ddof=1) == pytest.approx(std, rel=1e-9)


def test_stone_wales_defect_gives_two_pentagons_and_two_heptagons():
    xy, (i, j) = stone_wales(sheet((8, 6)))
    result = analyze_graphene(xy)
    # Unrelaxed, the turned bond's atoms make 1.51 Å bonds and stay 1.89 Å from their old
    # partners, so the 1.8 Å cutoff sees the 5-7-7-5 network: 4 of the 77 hexagons replaced.
    assert np.bincount(result.ring_sizes).tolist() == [0, 0, 0, 0, 0, 2, 73, 2]
    defect = np.unique(np.concatenate([ring for ring in result.rings if len(ring) != 6]))
    assert len(defect) == 16  # the pyrene-shaped C16 patch of the four replaced hexagons
    assert {i, j} <= set(defect.tolist())
    assert result.atom_rings[i] == result.atom_rings[j] == (5, 7, 7)
    assert np.isnan(result.strain[defect]).all()


def test_uniformly_strained_rotated_sheet_gives_its_strain():
    strain = np.array([[0.01, 0.003], [0.003, 0.005]])  # 1 % along x, 0.5 % along y, shear 0.3 %
    xy = sheet((8, 6)) @ rotation(17).T @ (np.eye(2) + strain).T  # turned, then strained in the x, y frame
    result = analyze_graphene(xy)
    known = np.isfinite(result.strain[:, 0])
    # Every threefold atom in three hexagons: the 192 atoms less the 72 on the outer face.
    assert known.sum() == 120
    # The left stretch of F is exactly I + strain for any orientation of the ideal lattice,
    # so only rounding remains (1e-12), far inside the issue's 0.2 %.
    np.testing.assert_allclose(result.strain[known], np.tile([0.01, 0.005, 0.003], (120, 1)), atol=1e-12)
    np.testing.assert_allclose(result.planar_strain[known], 0.015, atol=1e-12)


@pytest.mark.parametrize("degrees", [0, 13, 60, 90, 211])
def test_unstrained_rotated_sheet_has_no_strain(degrees):
    result = analyze_graphene(sheet((8, 6)) @ rotation(degrees).T + (5.0, -3.0))
    known = np.isfinite(result.strain[:, 0])
    assert known.sum() == 120
    np.testing.assert_allclose(result.strain[known], 0, atol=1e-12)


def test_noisy_strained_sheet_gives_mean_strain_within_0_2_percent():
    strain = np.array([[0.01, 0.003], [0.003, 0.005]])
    rng = np.random.default_rng(11)
    xy = sheet((40, 25)) @ (np.eye(2) + strain).T + rng.normal(0, 0.02, (4000, 2))  # σ = 0.02 Å per axis
    result = analyze_graphene(xy)
    known = np.isfinite(result.strain[:, 0])
    assert known.sum() > 3500
    # One atom's strain scatters by about σ / b = 1.4 % (three bonds, each with noise
    # sqrt(2) σ, fit three unknowns), so the mean of > 3500 atoms by < 0.03 %, and the noise
    # biases lengths by s² / 2b², 0.02 % (s = sqrt(2) σ): the issue's 0.2 % is over 4 times both.
    np.testing.assert_allclose(result.strain[known].mean(axis=0), [0.01, 0.005, 0.003], atol=0.002)


def test_bond_spread_of_noisy_positions_follows_the_rice_distribution():
    sigma = 0.05  # [Å] per axis and atom
    rng = np.random.default_rng(3)
    result = analyze_graphene(sheet((40, 25)) + rng.normal(0, sigma, (4000, 2)))
    n = len(result.lengths)
    assert n == 40 * 49 + 2 * 25 * 79  # no bond lost or gained: 1.8 Å is 5 s above 1.42 Å
    # A bond d + e_j - e_i with e ~ N(0, σ² I) is d plus a 2-D Gaussian of s = sqrt(2) σ per
    # axis: its length is Rice distributed, ν = |d|, scale s: mean ν + s²/2ν + ..., spread ≈ s.
    s = np.sqrt(2) * sigma
    expected = stats.rice(BOND / s, scale=s)
    # Standard errors of n independent bonds: mean s / sqrt(n), spread s / sqrt(2 n). Bonds
    # sharing an atom correlate by -1/4 in length (cancelling in the mean) and by +1/16 in
    # squared length (4 such neighbours: spread error x sqrt(1.25)); 4 standard errors allowed.
    assert result.lengths.mean() == pytest.approx(expected.mean(), abs=4 * s / np.sqrt(n))
    assert result.lengths.std(ddof=1) == pytest.approx(expected.std(), abs=4 * np.sqrt(1.25) * s / np.sqrt(2 * n))


def test_bond_error_bars_project_both_atoms_covariances_on_the_bond():
    xy = np.array([[0.0, 0.0], [BOND * np.cos(np.pi / 6), BOND * np.sin(np.pi / 6)]])  # a bond at 30°
    sigma = np.array([[0.03, 0.01], [0.02, 0.04]])  # [Å]
    # By hand: cos² 30° (0.03² + 0.02²) + sin² 30° (0.01² + 0.04²)
    # = 0.75 * 0.0013 + 0.25 * 0.0017 = 0.0014 Å².
    result = analyze_graphene(xy, sigma=sigma)
    assert result.length_errors == pytest.approx([np.sqrt(0.0014)], rel=1e-12)
    # And against sampling: 20000 draws give the spread to 0.5 %; the linearisation is off
    # by about σ² / b ~ 0.1 %: 3 % allowed.
    rng = np.random.default_rng(5)
    draws = xy + rng.normal(0, 1, (20000, 2, 2)) * sigma
    lengths = np.hypot(*(draws[:, 1] - draws[:, 0]).T)
    assert lengths.std() == pytest.approx(np.sqrt(0.0014), rel=0.03)


def test_bond_error_along_x_is_the_quadrature_sum_of_the_x_errors():
    xy = np.array([[0.0, 0.0], [BOND, 0.0]])
    errors = bond_uncertainties(xy, np.array([[0.03, 0.5], [0.04, 0.7]]), np.array([[0, 1]]))
    assert errors == pytest.approx([0.05], rel=1e-12)  # the y errors are across the bond: no effect


def test_without_sigma_there_are_no_error_bars():
    assert analyze_graphene(sheet((2, 2))).length_errors is None


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"cutoff": 0.0}, "cutoff"), ({"bond_length": -1.0}, "bond_length"), ({"max_ring": 2}, "max_ring"),
     ({"sigma": np.zeros((3, 2))}, "sigma")],
)
def test_invalid_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name} must"):
        analyze_graphene(sheet((2, 2)), **kwargs)


def write_positions(path, xy, *, sigma=None, extra=()):
    """Write a CSV as predict does (x_A, y_A, row, col, class, probability), with sigma columns if given."""
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["x_A", "y_A", "row", "col", "class", "probability",
                         *(["sigma_x_A", "sigma_y_A"] if sigma is not None else [])])
        for n, (x, y) in enumerate(xy):
            writer.writerow([x, y, x / 0.1, y / 0.1, "C", 0.9, *(sigma[n] if sigma is not None else [])])
    return path


def read_rows(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def test_cli_writes_bonds_atoms_summary_and_figures(tmp_path, capsys):
    xy, _ = stone_wales(sheet((8, 6)))
    sigma = np.full_like(xy, 0.02)
    source = write_positions(tmp_path / "flake.csv", xy, sigma=sigma)
    assert main(["analyze", "graphene", str(source), "--out", str(tmp_path / "out")]) == 0
    files = [tmp_path / "out" / f"flake{suffix}" for suffix in OUTPUT_SUFFIXES]
    assert all(path.exists() for path in files)
    assert capsys.readouterr().out.count("wrote") == len(OUTPUT_SUFFIXES)
    for png in files[3:]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    summary = json.loads(files[2].read_text())
    assert summary["atoms"] == 192 and summary["bonds"]["count"] == 268  # turning a bond keeps their number
    assert summary["rings"] == {"5": 2, "6": 73, "7": 2, "8": 0, "other": 0}
    # Equal σ on both atoms: σ_bond = sqrt(2) σ whatever the bond's direction.
    assert summary["bonds"]["length_error_median_A"] == pytest.approx(np.sqrt(2) * 0.02, abs=1e-4)

    bonds = read_rows(files[0])
    assert len(bonds) == 268
    lengths = np.array([float(b["length_A"]) for b in bonds])
    assert summary["bonds"]["length_mean_A"] == pytest.approx(lengths.mean(), abs=1e-4)  # CSV rounds to 1e-4 Å
    assert {float(b["length_error_A"]) for b in bonds} == {round(np.sqrt(2) * 0.02, 4)}

    atoms = read_rows(files[1])
    rings = [a["rings"] for a in atoms]
    assert rings.count("5-7-7") == 2 and rings.count("6-6-6") + 16 + 72 == 192  # 16 defect, 72 outer atoms
    assert all("open" in r for r, a in zip(rings, atoms) if int(a["bonds"]) < 3)
    planar = np.array([float(a["eps_planar"]) for a in atoms])
    assert np.isnan(planar[[r != "6-6-6" for r in rings]]).all()


def test_positions_without_sigma_give_nan_errors(tmp_path):
    source = write_positions(tmp_path / "plain.csv", sheet((3, 2)))
    assert main(["analyze", "graphene", str(source), "--out", str(tmp_path)]) == 0
    assert all(row["length_error_A"] == "nan" for row in read_rows(tmp_path / "plain_bonds.csv"))
    summary = json.loads((tmp_path / "plain_summary.json").read_text())
    assert summary["bonds"]["length_error_median_A"] is None
    assert summary["bonds"]["length_mean_A"] == pytest.approx(BOND)


@pytest.mark.parametrize(
    ("content", "message"),
    [("row,col\n1,2\n", "expected columns x_A, y_A"),
     ("x_A,y_A,sigma_x_A\n1,2,0.1\n", "both sigma_x_A and sigma_y_A"),
     ("x_A,y_A\n", "no atoms"),
     ("x_A,y_A\n1,oops\n", "row 1, column y_A: expected a number"),
     ("x_A,y_A,sigma_x_A,sigma_y_A\n1,2,-0.1,0.1\n", "must be >= 0"),
     ("x_A,y_A\n1.0,1.0\n3.0,1.0\n1.0,1.01\n", "rows 0 and 2 (counting from 0) lie 0.010 Å apart")],
)
def test_bad_files_are_named_and_the_others_still_analysed(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    good = write_positions(tmp_path / "good.csv", sheet((2, 2)))
    assert main(["analyze", "graphene", str(bad), str(good), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert str(bad) in error and message in error
    assert (tmp_path / "out" / "good_summary.json").exists()
    assert not (tmp_path / "out" / "bad_summary.json").exists()


def test_readme_example_runs_on_the_committed_predictions(tmp_path):
    source = Path(__file__).parents[1] / "data" / "graphene_positions.csv"
    assert main(["analyze", "graphene", str(source), "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "graphene_positions_summary.json").read_text())
    assert summary["atoms"] == len(read_rows(source))  # one atom per row of the file
    assert summary["bonds"]["count"] == len(read_rows(tmp_path / "graphene_positions_bonds.csv"))
