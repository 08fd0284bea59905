import numpy as np
import pytest

from atomsight.simulation.labels import assign_classes, class_names, gaussian_label_maps

SINGLE = {"classes": "single", "name": "atom", "sigma": 1.0, "max_height": 5}
HEIGHTS = {"classes": "heights", "name": "column", "sigma": 1.0, "max_height": 3}


def test_class_names():
    assert class_names(SINGLE) == ["atom"]
    assert class_names(HEIGHTS) == ["column-1", "column-2", "column-3+"]


def test_heights_map_to_capped_classes():
    assert assign_classes(np.array([1, 2, 3, 7]), HEIGHTS).tolist() == [0, 1, 2, 2]
    assert assign_classes(np.array([1, 4]), SINGLE).tolist() == [0, 0]
    with pytest.raises(ValueError, match="at least 1"):
        assign_classes(np.array([0]), HEIGHTS)


def test_gaussian_matches_the_analytic_profile():
    sampling, sigma = (0.1, 0.1), 1.0
    position = np.array([[2.03, 3.51]])
    maps = gaussian_label_maps(position, np.array([0]), n_classes=1, gpts=(80, 90), sampling=sampling, sigma=sigma)
    dx = np.arange(80)[:, None] * 0.1 - 2.03
    dy = np.arange(90)[None, :] * 0.1 - 3.51
    dx, dy = dx - 8.0 * np.round(dx / 8.0), dy - 9.0 * np.round(dy / 9.0)  # minimum image: the cell is periodic
    expected = np.exp(-(dx**2 + dy**2) / (2 * sigma**2))
    inside = expected > np.exp(-0.5 * 4.0**2)  # within the 4-sigma truncation
    np.testing.assert_allclose(maps[0][inside], expected[inside], atol=1e-6)
    assert maps[0][~inside].max() < 3.4e-4  # exp(-8): the truncation error


def test_peak_of_the_map_is_one_at_the_position():
    maps = gaussian_label_maps(np.array([[1.0, 2.0]]), np.array([0]), n_classes=1, gpts=(40, 40), sampling=(0.1, 0.1),
                               sigma=0.5)
    assert maps.max() == pytest.approx(1.0)
    assert np.unravel_index(maps[0].argmax(), (40, 40)) == (10, 20)


def test_gaussians_wrap_around_the_periodic_cell():
    maps = gaussian_label_maps(np.array([[0.0, 0.0]]), np.array([0]), n_classes=1, gpts=(50, 50), sampling=(0.1, 0.1),
                               sigma=0.5)
    assert maps[0, -5, 0] == pytest.approx(np.exp(-(0.5**2) / (2 * 0.25)), rel=1e-6)
    assert maps[0, 0, -5] == pytest.approx(maps[0, 5, 0])


def test_overlapping_gaussians_of_a_class_combine_by_maximum():
    positions = np.array([[2.0, 2.5], [3.42, 2.5]])  # a graphene bond apart
    maps = gaussian_label_maps(positions, np.array([0, 0]), n_classes=2, gpts=(60, 50), sampling=(0.1, 0.1), sigma=1.0)
    assert maps.max() == pytest.approx(1.0)
    assert maps[1].max() == 0.0
    midpoint = maps[0, 27, 25]
    assert midpoint == pytest.approx(np.exp(-(0.7**2) / 2), rel=1e-6)  # pixel 27 is 0.70 Å from the first atom


def test_classes_go_to_their_own_maps():
    maps = gaussian_label_maps(np.array([[1, 1], [3, 3]]), np.array([0, 2]), n_classes=3, gpts=(40, 40),
                               sampling=(0.1, 0.1), sigma=0.3)
    assert maps[0, 10, 10] == pytest.approx(1) and maps[2, 30, 30] == pytest.approx(1)
    assert maps[1].max() == 0 and maps[0, 30, 30] < 1e-3


def test_bad_class_indices_are_reported():
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        gaussian_label_maps(np.array([[1, 1]]), np.array([2]), n_classes=2, gpts=(10, 10), sampling=(0.1, 0.1),
                            sigma=0.3)


def test_positions_outside_the_cell_are_their_periodic_images():
    grid = {"n_classes": 1, "gpts": (50, 40), "sampling": (0.1, 0.1), "sigma": 0.4}
    inside = gaussian_label_maps(np.array([[4.7, 0.2]]), np.array([0]), **grid)
    outside = gaussian_label_maps(np.array([[-0.3, 4.2]]), np.array([0]), **grid)
    np.testing.assert_allclose(inside, outside, atol=1e-6)


def test_grid_smaller_than_a_gaussian_is_rejected():
    with pytest.raises(ValueError, match="smaller than a Gaussian"):
        gaussian_label_maps(np.zeros((1, 2)), np.array([0]), n_classes=1, gpts=(10, 10), sampling=(0.1, 0.1), sigma=1.0)
