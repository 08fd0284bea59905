"""Gold over a movie: the frames' summaries gathered into one table and plot."""

import csv

import numpy as np
import pytest
from test_gold_analysis import A, B, grid_110  # the hand-built <110> lattice

from atomsight.analysis.gold_movies import movie_frames
from atomsight.cli import main


def test_frames_are_grouped_by_movie_and_sorted_by_frame():
    paths = ["out/run_frame0010.csv", "a/run_frame0002.csv", "still.csv", "other_frame0001.csv"]
    assert movie_frames(paths) == {"run": [(2, "run_frame0002"), (10, "run_frame0010")],
                                   "other": [(1, "other_frame0001")]}


def test_analyze_gold_gathers_a_movie_one_row_per_analysed_frame(tmp_path, capsys):
    nx, ny = 6, 4
    columns = grid_110(nx, ny)
    vacancy = nx * ny + 2 * (ny - 1) + 1  # an inner centre column: a hole of 6 triangles of A B / 4
    frames = {0: columns, 1: np.delete(columns, vacancy, axis=0), 3: columns}
    paths = []
    for k, xy in frames.items():
        paths.append(tmp_path / f"particle_frame{k:04d}.csv")
        paths[-1].write_text("x_A,y_A\n" + "".join(f"{x},{y}\n" for x, y in xy))
    paths.append(tmp_path / "particle_frame0002.csv")
    paths[-1].write_text("x_A,y_A\n")  # a frame without columns: an error naming it, the others still gathered
    assert main(["analyze", "gold", *map(str, paths), "--out", str(tmp_path / "out")]) == 2
    assert "particle_frame0002.csv: no columns" in capsys.readouterr().err
    with open(tmp_path / "out" / "particle_gold_frames.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [int(r["frame"]) for r in rows] == [0, 1, 3]
    assert [int(r["columns"]) for r in rows] == [len(frames[k]) for k in (0, 1, 3)]
    assert {r["atoms"] for r in rows} == {""}  # no height classes
    area = np.array([float(r["outline_area_nm2"]) for r in rows])
    # The CSV rounds to 1e-4 nm².
    np.testing.assert_allclose(area[0] - area[1], 6 * A * B / 4 / 100, atol=2e-4)
    np.testing.assert_allclose([float(r["hull_area_nm2"]) for r in rows], (nx - 1) * B * (ny - 1) * A / 100,
                               atol=1e-4)
    assert float(rows[0]["nearest_mean_A"]) == pytest.approx(A * np.sqrt(6) / 4, abs=1e-4)
    assert (tmp_path / "out" / "particle_gold_frames.png").stat().st_size > 0
