"""The shipped counting model counts the atoms of the columns of held-out focal series through ``atomsight predict``.

tests/data/heldout/gold-counting_* are two test-split particles of the gold-counting configuration
(never trained or tuned on; tests/data/make_heldout_series.py made them), the least tilted (0.48°)
and one tilted by 2°, each a series of three images at C10 = -170, -40, +90 Å, 10^4 e/Å^2 each
(3x10^4 for the series), drifted by a known 0.6-1.4 pixels, with the true height of every column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from atomsight.analysis.gold import column_heights
from atomsight.cli import main
from atomsight.detections import read_table
from atomsight.models import shipped_models

HELDOUT = Path(__file__).resolve().parents[1] / "data" / "heldout"
MODEL = "gold-counting"
MATCH_RADIUS = 0.6  # Å, a column found this close to a true one is that column
BOUNDS = {"untilted_s8": (0.55, 0.94), "tilted_s2": (0.75, 0.95)}
"""Per particle, the fraction of its columns that must be counted exactly and within one atom. Measured
2026-12-08 with the columns registered by the gold model (`--register-with gold`): untilted 62.5 % exact,
96.9 % within one (40 and 62 of 64 columns), tilted 83.1 % and 98.3 % (49 and 58 of 59). The bounds are
those less about four columns (6-7 %) for the exact counts and two for within one: the images and the
network are fixed, and only floating-point differences between CPUs (bfloat16 with or without AVX-512
BF16) move a few columns across a class boundary. Issue 20's targets (98 % exact untilted, 85 % tilted)
are not reached (README, Counting atoms in columns)."""


def frames(particle: str) -> list[Path]:
    return [HELDOUT / f"gold-counting_{particle}_c10{c10}.tif" for c10 in ("-170", "-40", "+90")]


def counts(table: Path, particle: str) -> tuple[np.ndarray, np.ndarray]:
    """Each true column's counted height and true height (a column found nowhere near counts as 0)."""
    truth, found = read_table(HELDOUT / f"gold-counting_{particle}.csv"), read_table(table)
    true_heights = np.loadtxt(HELDOUT / f"gold-counting_{particle}.csv", delimiter=",", skiprows=1, usecols=2)
    heights = column_heights(found.classes)
    distance, nearest = cKDTree(found.xy).query(truth.xy)
    return np.where(distance < MATCH_RADIUS, heights[nearest], 0), true_heights.astype(int)


def test_the_counting_model_ships_for_a_series_of_three_focus_values():
    card = shipped_models()[MODEL]
    assert card["input_channels"] == 3 and card["classes"][0] == "background" and len(card["classes"]) == 11
    assert card["intended_conditions"]["c10_offsets_A"] == [-170.0, -40.0, 90.0]


@pytest.mark.parametrize("particle", sorted(BOUNDS))
def test_columns_of_held_out_particles_are_counted_through_atomsight_predict(particle, tmp_path):
    assert main(["predict", "--series", *map(str, frames(particle)), "--model", MODEL, "--register-with", "gold",
                 "--out", str(tmp_path)]) == 0
    (table,) = tmp_path.glob("*_series.csv")
    counted, true = counts(table, particle)
    exact, within_one = np.mean(counted == true), np.mean(np.abs(counted - true) <= 1)
    assert exact >= BOUNDS[particle][0] and within_one >= BOUNDS[particle][1], (exact, within_one)
