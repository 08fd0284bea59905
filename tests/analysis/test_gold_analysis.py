"""Gold analysis on hand-built <110> column lattices: spacings, outline and heights, from Python and the CLI."""

import csv
import json

import numpy as np
import pytest

from atomsight.analysis.gold import analyze_gold, atom_count, column_distances, column_heights
from atomsight.analysis.gold_files import OUTPUT_SUFFIXES, analyze_gold_file
from atomsight.cli import main

A = 4.078  # [Å], gold
B = A / np.sqrt(2)  # [Å], the row spacing along [1-10]


def grid_110(nx, ny):
    """Columns of fcc along <110>: a rectangle of nx x ny columns B apart along x and A along y, plus the
    (nx - 1)(ny - 1) columns at the centres of its cells. The convex hull is the rectangle (nx - 1) B x (ny - 1) A;
    the covered region leaves out, on each of its two sides along y, one triangle (two corner columns A apart and
    the centre column between them, area A B / 4) per cell."""
    corners = np.stack(np.meshgrid(np.arange(nx) * B, np.arange(ny) * A, indexing="ij"), -1).reshape(-1, 2)
    centres = np.stack(np.meshgrid((np.arange(nx - 1) + 0.5) * B, (np.arange(ny - 1) + 0.5) * A, indexing="ij"),
                       -1).reshape(-1, 2)
    return np.concatenate([corners, centres]) + [5.0, 7.0]


def test_the_reference_distances_are_those_of_fcc_along_110():
    distances = column_distances(A)
    # The centred column is (B/2, A/2) away: sqrt(A^2/8 + A^2/4) = A sqrt(6)/4.
    np.testing.assert_allclose(list(distances.values()), [np.hypot(B / 2, A / 2), B, A], rtol=1e-12)
    np.testing.assert_allclose(list(distances.values()), [2.497, 2.884, 4.078], atol=5e-4)


def test_spacings_and_outline_of_a_110_grid():
    nx, ny = 6, 4
    result = analyze_gold(grid_110(nx, ny))
    # Every column has a neighbour at A sqrt(6)/4 (a corner column the centre of its cell) and none closer.
    np.testing.assert_allclose(result.nearest, A * np.sqrt(6) / 4, rtol=1e-12)
    # Pairs within 3.2 Å, counted by hand: each centre column has 4 neighbours at A sqrt(6)/4; along x, rows of
    # ny corner columns have nx - 1 pairs at B and rows of ny - 1 centre columns nx - 2.
    short = np.isclose(result.distances, A * np.sqrt(6) / 4)
    assert short.sum() == 4 * (nx - 1) * (ny - 1)
    assert np.isclose(result.distances, B).sum() == ny * (nx - 1) + (ny - 1) * (nx - 2)
    assert len(result.distances) == short.sum() + np.isclose(result.distances, B).sum()
    # Convex hull: the rectangle; areas and lengths in nm (1 nm = 10 Å).
    np.testing.assert_allclose(result.hull_area, (nx - 1) * B * (ny - 1) * A / 100, rtol=1e-12)
    np.testing.assert_allclose(result.hull_perimeter, 2 * ((nx - 1) * B + (ny - 1) * A) / 10, rtol=1e-12)
    # Outline: one ring through every column on the rectangle's edge (2 nx + 2 (ny - 2)) and the 2 (ny - 1) centre
    # columns next to its sides along y, where it zigzags in sides of A sqrt(6)/4 while the hull runs straight.
    [ring] = result.outline
    assert len(ring) == 2 * nx + 2 * (ny - 2) + 2 * (ny - 1)
    np.testing.assert_allclose(result.area, ((nx - 1) * (ny - 1) - 2 * (ny - 1) / 4) * A * B / 100, rtol=1e-12)
    np.testing.assert_allclose(result.perimeter, (2 * (nx - 1) * B + 4 * (ny - 1) * A * np.sqrt(6) / 4) / 10,
                               rtol=1e-12)


def signed_area(ring):
    """Shoelace area of a ring (x, y): positive counter-clockwise in (x, y)."""
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)


def test_a_missing_column_is_a_hole_in_the_outline_and_not_in_the_hull():
    nx, ny = 6, 4
    full = analyze_gold(grid_110(nx, ny))
    vacancy = analyze_gold(np.delete(grid_110(nx, ny), nx * ny + 2 * (ny - 1) + 1, axis=0))  # an inner centre column
    assert vacancy.hull_area == pytest.approx(full.hull_area, rel=1e-12)
    outer, hole = vacancy.outline
    # The hole is the hexagon of the column's 6 neighbours (4 at A sqrt(6)/4, 2 at B): 6 triangles of A B / 4.
    assert len(hole) == 6 and signed_area(hole) < 0 < signed_area(outer)
    np.testing.assert_allclose(full.area - vacancy.area, 6 * A * B / 4 / 100, rtol=1e-12)
    np.testing.assert_allclose(vacancy.perimeter - full.perimeter, (4 * A * np.sqrt(6) / 4 + 2 * B) / 10, rtol=1e-12)
    np.testing.assert_allclose(-signed_area(hole), 6 * A * B / 4, rtol=1e-12)


def test_a_notch_is_outside_the_outline_and_inside_the_hull():
    nx, ny = 6, 4
    columns = grid_110(nx, ny)
    x, y = (columns - [5.0, 7.0]).T
    # Remove the middle of one side along x: corner columns 2..3 of the first row and the centre column between.
    notch = (np.isclose(y, 0) & (x > 1.5 * B) & (x < 3.5 * B)) | (np.isclose(y, A / 2) & np.isclose(x, 2.5 * B))
    assert notch.sum() == 3
    full, notched = analyze_gold(columns), analyze_gold(columns[~notch])
    assert notched.hull_area == pytest.approx(full.hull_area, rel=1e-12)  # the hull bridges the notch
    assert len(notched.outline) == 1
    # Lost: the triangles on the 3 removed columns, each of A B / 4: the 6 around the centre column, and on each
    # removed corner column one more, the one with the centre column of the next cell.
    np.testing.assert_allclose(full.area - notched.area, 8 * A * B / 4 / 100, rtol=1e-12)


def test_the_outline_of_a_turned_particle_keeps_its_area():
    columns = grid_110(5, 5)
    angle = np.deg2rad(37.0)
    turned = columns @ np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    result, straight = analyze_gold(turned), analyze_gold(columns)
    np.testing.assert_allclose(result.hull_area, 4 * B * 4 * A / 100, rtol=1e-12)
    np.testing.assert_allclose([result.area, result.perimeter], [straight.area, straight.perimeter], rtol=1e-12)


def test_columns_on_a_line_or_too_few_have_no_outline():
    line = np.column_stack([np.arange(5) * B, np.zeros(5)])
    assert analyze_gold(line).area == 0 and len(analyze_gold(line).outline) == 0
    single = analyze_gold(np.array([[1.0, 2.0]]))
    assert np.isnan(single.nearest).all() and single.area == 0


def test_heights_come_from_height_classes_only():
    np.testing.assert_array_equal(column_heights(["column-1", "column-3", "column-5+"]), [1, 3, 5])
    assert column_heights(["column", "column"]) is None
    assert column_heights(["column-2", "column"]) is None


def test_the_atom_count_is_the_sum_of_expected_heights_with_their_variances():
    # column 1 surely 2 atoms; column 2 one or two atoms alike; the background's share drops out
    p = {"column-1": np.array([0.0, 0.25]), "column-2": np.array([0.9, 0.25]), "column-3+": np.array([0.0, 0.0])}
    mean, std = atom_count(p)
    assert mean == pytest.approx(2.0 + 1.5, abs=1e-12) and std == pytest.approx(0.5, abs=1e-12)
    assert atom_count({"column": np.array([0.9])}) is None


def test_the_columns_keep_each_heights_probability_and_the_summary_the_expected_atoms(tmp_path):
    xy = grid_110(3, 2)
    path = tmp_path / "p.csv"
    lines = ["x_A,y_A,row,col,class,probability,p_column-1,p_column-2"]
    lines += [f"{x},{y},{x / 0.1},{y / 0.1},column-2,0.7,0.2,0.7" for x, y in xy]
    path.write_text("\n".join(lines) + "\n")
    analyze_gold_file(path, out=tmp_path / "out")
    with open(tmp_path / "out" / "p_columns.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["p_column-1"], r["p_column-2"]) for r in rows] == [("0.2000", "0.7000")] * len(xy)
    summary = json.loads((tmp_path / "out" / "p_summary.json").read_text())
    p1, p2 = 0.2 / 0.9, 0.7 / 0.9
    assert summary["atoms"] == 2 * len(xy) and summary["height_histogram"] == {"2": len(xy)}
    assert summary["atoms_expected"] == pytest.approx(len(xy) * (p1 + 2 * p2), abs=0.005)
    assert summary["atoms_std"] == pytest.approx(np.sqrt(len(xy) * p1 * p2), abs=0.005)


def write_csv(path, xy, classes, probability):
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["x_A", "y_A", "row", "col", "class", "probability"])
        for (x, y), c, p in zip(xy, classes, probability):
            writer.writerow([x, y, x / 0.1, y / 0.1, c, p])
    return path


def test_cli_writes_every_output_and_names_a_bad_file(tmp_path, capsys):
    nx, ny = 5, 3
    xy = grid_110(nx, ny)
    heights = 1 + np.arange(len(xy)) % 5  # 1..5, the last class "column-5+"
    classes = [f"column-{h}" if h < 5 else "column-5+" for h in heights]
    probability = np.linspace(0.6, 0.99, len(xy))
    good = write_csv(tmp_path / "particle_frame0000.csv", xy, classes, probability)
    (tmp_path / "bad.csv").write_text("x_A,row\n1,2\n")
    assert main(["analyze", "gold", str(good), str(tmp_path / "bad.csv"), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert "bad.csv: expected columns x_A, y_A" in captured.err
    # and the height histogram, and the movie particle_: its table and plot
    assert captured.out.count("wrote") == len(OUTPUT_SUFFIXES) + 1 + 2
    assert (tmp_path / "out" / "particle_frame0000_heights.png").stat().st_size > 0
    summary = json.loads((tmp_path / "out" / "particle_frame0000_summary.json").read_text())
    assert summary["columns"] == len(xy)
    assert summary["atoms"] == heights.sum()
    assert summary["classes"]["column-5+"] == (heights == 5).sum()
    np.testing.assert_allclose(summary["probability_mean"], probability.mean(), rtol=1e-12)
    np.testing.assert_allclose(summary["nearest_A"]["mean"], A * np.sqrt(6) / 4, rtol=1e-12)
    assert summary["pairs"]["a*sqrt(6)/4"]["count"] == 4 * (nx - 1) * (ny - 1)
    assert summary["pairs"]["a/sqrt(2)"]["count"] == ny * (nx - 1) + (ny - 1) * (nx - 2)
    assert summary["pairs"]["a"]["count"] == 0  # beyond the 3.2 Å cutoff
    np.testing.assert_allclose(summary["convex_hull"]["area_nm2"], (nx - 1) * B * (ny - 1) * A / 100, rtol=1e-12)
    np.testing.assert_allclose(summary["outline"]["area_nm2"], ((nx - 1) * (ny - 1) - (ny - 1) / 2) * A * B / 100,
                               rtol=1e-12)
    assert summary["outline"]["rings"] == 1
    with open(tmp_path / "out" / "particle_frame0000_columns.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [int(r["height"]) for r in rows] == heights.tolist()
    # The CSV rounds positions and distances to 1e-4 Å.
    np.testing.assert_allclose([float(r["nearest_A"]) for r in rows], A * np.sqrt(6) / 4, atol=1e-4)
    with open(tmp_path / "out" / "particle_frame0000_outline.csv", newline="") as stream:
        outline = np.array([[float(r["ring"]), float(r["x_A"]), float(r["y_A"])] for r in csv.DictReader(stream)])
    assert set(outline[:, 0]) == {0.0}
    # Every corner of the outline is a column; the grid's 4 corner columns are among them.
    distance = np.linalg.norm(outline[:, None, 1:] - xy[None], axis=2).min(axis=1)
    assert distance.max() < 1e-4
    assert all(np.linalg.norm(outline[:, 1:] - xy[k], axis=1).min() < 1e-4 for k in (0, ny - 1, (nx - 1) * ny,
                                                                                       nx * ny - 1))


def test_a_csv_without_classes_is_analysed_without_heights(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("x_A,y_A\n" + "".join(f"{x},{y}\n" for x, y in grid_110(3, 3)))
    analyze_gold_file(path, out=tmp_path)
    summary = json.loads((tmp_path / "plain_summary.json").read_text())
    assert summary["classes"] is None and summary["atoms"] is None and summary["probability_mean"] is None


@pytest.mark.parametrize("text, message", [("x_A,y_A\n", "no columns"), ("x_A,y_A\n1,abc\n", "row 1, column y_A")])
def test_unreadable_csvs_are_named(tmp_path, text, message):
    path = tmp_path / "broken.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"broken.csv.*{message}"):
        analyze_gold_file(path, out=tmp_path)


def test_cli_refuses_a_table_holding_a_column_twice_and_writes_nothing_for_it(tmp_path, capsys):
    xy = grid_110(3, 3)
    twice = write_csv(tmp_path / "twice.csv", np.vstack([xy, xy[4] + 0.01]), ["column-1"] * (len(xy) + 1),
                      np.full(len(xy) + 1, 0.9))
    assert main(["analyze", "gold", str(twice), "--out", str(tmp_path / "out")]) == 2
    assert (f"twice.csv: rows 4 and {len(xy)} (counting from 0) lie 0.014 Å apart, 1 pair(s) closer than 0.05 Å"
            in capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_the_111_references_are_those_of_a_triangular_lattice_of_spacing_a_over_sqrt6():
    a = 4.08
    assert column_distances(a, "111") == pytest.approx({"a/sqrt(6)": a / np.sqrt(6), "a/sqrt(2)": a / np.sqrt(2),
                                                        "2a/sqrt(6)": 2 * a / np.sqrt(6)})
    with pytest.raises(ValueError, match="zone '100'"):
        column_distances(a, "100")


def test_a_111_particle_is_analysed_against_its_own_distances(tmp_path):
    d = 4.08 / np.sqrt(6)
    xy = np.array([(d * (i + 0.5 * j), d * np.sqrt(3) / 2 * j) for i in range(6) for j in range(6)])
    path = tmp_path / "p111.csv"
    path.write_text("x_A,y_A\n" + "".join(f"{x},{y}\n" for x, y in xy))
    assert main(["analyze", "gold", str(path), "--zone", "111", "--out", str(tmp_path / "out")]) == 0
    summary = json.loads((tmp_path / "out" / "p111_summary.json").read_text())
    assert summary["parameters"]["zone"] == "111"
    # a 6 x 6 rhombus of a triangular lattice: 3 * 36 - 4 * 6 + 1 nearest pairs
    assert summary["pairs"]["a/sqrt(6)"]["count"] == 3 * 36 - 4 * 6 + 1
    np.testing.assert_allclose(summary["nearest_A"]["mean"], d, rtol=1e-6)
