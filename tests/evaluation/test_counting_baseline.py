"""The classical column counter: features of a column's cell and peak, a linear discriminant."""

import numpy as np
import pytest

from atomsight.evaluation.counting_baseline import (
    column_features,
    count_with_baseline,
    fit_discriminant,
)


def _series(heights: np.ndarray, *, seed: int, dose_per_pixel: float = 200.0) -> tuple[np.ndarray, np.ndarray]:
    """A two-image series of a square lattice of Gaussian columns whose contrast grows with their height."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:96, 0:96].astype(np.float64)
    columns = np.array([(12.0 + 24 * i, 12.0 + 24 * j) for i in range(4) for j in range(4)])
    clean = np.zeros((96, 96, 2))
    for (r, c), h in zip(columns, heights):
        blob = np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * 3.0**2))
        clean[..., 0] += 0.08 * h * blob
        clean[..., 1] -= 0.05 * h * blob  # the second image shows the columns dark
    return rng.poisson((1.0 + clean) * dose_per_pixel) / dose_per_pixel, columns


def test_the_features_are_the_cells_mean_and_the_peak_relative_to_the_image_mean():
    image = np.ones((32, 32, 1))
    image[10, 10, 0] = 5.0
    features = column_features(image, np.array([[10.0, 10.0]]), sampling=0.1)
    mean = image.mean()
    cell = np.hypot(*np.mgrid[-10:22, -10:22]) < 12.0  # pixels nearer than 1.2 Å
    assert features[0, 0] == pytest.approx((cell.sum() - 1 + 5.0) / cell.sum() / mean)
    assert features[0, 1] > 1.0 / mean  # the smoothed peak stands above the background


def test_a_discriminant_fitted_on_training_series_counts_held_out_columns():
    rng = np.random.default_rng(0)
    train = [(*_series(h, seed=k), h) for k, h in enumerate(rng.integers(1, 6, (30, 16)))]
    features = np.concatenate([column_features(image, where, sampling=0.1) for image, where, _ in train])
    model = fit_discriminant(features, np.concatenate([h for _, _, h in train]))
    assert model.heights.tolist() == [1, 2, 3, 4, 5]
    test_heights = rng.integers(1, 6, (5, 16))
    tests = [_series(h, seed=100 + k) for k, h in enumerate(test_heights)]
    counted = count_with_baseline(model, [image for image, _ in tests], [where for _, where in tests],
                                  samplings=[0.1] * len(tests))
    assert np.mean(np.concatenate(counted) == test_heights.ravel()) > 0.95


def test_a_discriminant_needs_two_heights():
    with pytest.raises(ValueError, match=r"at least 2 heights, got \[3\]"):
        fit_discriminant(np.ones((4, 2)), np.array([3, 3, 3, 3]))
