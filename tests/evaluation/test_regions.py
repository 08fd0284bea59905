"""Inside, edge and vacuum: the regions that tell where false detections are."""

import numpy as np

from atomsight.core.matching import match
from atomsight.evaluation.regions import (
    EDGE_WIDTH,
    OBJECT_REACH,
    REGIONS,
    region_areas,
    region_counts,
    region_map,
    region_scores,
    regions_of,
)

SAMPLING = 0.1  # Å/pixel
SIZE = 200      # pixels: 20 Å


def square_lattice(low: float, high: float, spacing: float = 2.0) -> np.ndarray:
    """A square patch of positions [pixels] from low to high Å."""
    axis = np.arange(low, high + 1e-9, spacing) / SAMPLING
    return np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)


def test_a_patch_in_vacuum_has_an_inside_an_edge_band_of_the_stated_width_and_vacuum_around():
    patch = square_lattice(6.0, 14.0)  # 8 Å x 8 Å of columns 2 Å apart, in the middle of 20 Å
    codes = region_map(patch, SIZE, SAMPLING)
    row = codes[100]  # through the patch's middle
    object_pixels = np.flatnonzero(row < 2)
    # the object reaches OBJECT_REACH beyond the outermost positions, on both sides
    assert abs(object_pixels[0] * SAMPLING - (6.0 - OBJECT_REACH)) <= SAMPLING
    assert abs(object_pixels[-1] * SAMPLING - (14.0 + OBJECT_REACH)) <= SAMPLING
    inside = np.flatnonzero(row == 0)
    assert abs((inside[0] - object_pixels[0]) * SAMPLING - (OBJECT_REACH + EDGE_WIDTH)) <= 1.5 * SAMPLING
    # the outermost columns are edge columns, the next row and the middle ones inside, an image corner vacuum
    assert list(regions_of(np.array([[60.0, 100.0], [80.0, 100.0], [100.0, 100.0], [5.0, 5.0]]), codes)) == [1, 0, 0, 2]


def test_an_image_full_of_columns_is_all_inside_and_one_without_any_is_all_vacuum():
    assert (region_map(square_lattice(-2.0, 22.0), SIZE, SAMPLING) == 0).all()
    assert (region_map(np.zeros((0, 2)), SIZE, SAMPLING) == 2).all()


def test_counts_and_scores_put_each_error_in_its_region():
    patch = square_lattice(6.0, 14.0)
    codes = region_map(patch, SIZE, SAMPLING)
    centre = np.array([[100.0, 100.0]])
    found = np.concatenate([patch[1:] + 0.5,       # every column found but the first (a corner: edge)
                            centre + [10.0, 10.0],  # a spurious detection between columns, inside
                            [[10.0, 10.0], [190.0, 20.0]]])  # two in the vacuum
    pairs = match(patch * SAMPLING, found * SAMPLING, 0.5)
    counts = region_counts(pairs, regions_of(patch, codes), regions_of(found, codes))
    areas = region_areas(codes, SAMPLING, margin=0.0)
    assert np.isclose(areas.sum(), (SIZE * SAMPLING) ** 2)
    scores = region_scores([counts], [areas])
    assert list(scores) == list(REGIONS)
    assert scores["vacuum"]["false_positives"] == 2 and scores["vacuum"]["precision"] == 0.0
    assert scores["vacuum"]["true"] == 0 and scores["vacuum"]["recall"] == 1.0
    assert np.isclose(scores["vacuum"]["false_positives_per_nm2"], 2 / (areas[2] / 100))
    assert scores["edge"]["false_negatives"] == 1 and scores["edge"]["false_positives"] == 0
    assert scores["inside"]["false_positives"] == 1 and scores["inside"]["false_negatives"] == 0
    edge_true = int(np.sum(regions_of(patch, codes) == 1))
    assert np.isclose(scores["edge"]["recall"], (edge_true - 1) / edge_true)
    assert sum(s["true"] for s in scores.values()) == len(patch)
    assert sum(s["detections"] for s in scores.values()) == len(found)
