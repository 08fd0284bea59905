"""The peak finder's markers equal those of ``skimage.feature.peak_local_max``, which it replaces for speed."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.measure import label

from atomsight.network.postprocess import _maxima_markers, find_peaks


def peak_local_max_markers(objects, *, threshold, min_distance):
    """The markers as find_peaks made them before: peak_local_max's maxima, a flat maximum as one marker."""
    peaks = peak_local_max(objects, min_distance=min_distance, threshold_abs=threshold, exclude_border=False)
    flat_maxima = label(objects == ndi.maximum_filter(objects, size=3, mode="nearest"), connectivity=2)
    return label(np.isin(flat_maxima, flat_maxima[tuple(peaks.T)]), connectivity=2)


def gaussian_blobs(shape, count, *, sigma, seed):
    """Object probabilities: ``count`` Gaussians of peak 0.3-1.2 at random positions, clipped to 1 (saturated)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.indices(shape)
    objects = np.zeros(shape)
    for (r, c), peak in zip(rng.uniform(0, shape, size=(count, 2)), rng.uniform(0.3, 1.2, count)):
        objects = np.maximum(objects, peak * np.exp(-((rows - r) ** 2 + (c - cols) ** 2) / (2 * sigma**2)))
    return np.clip(objects, 0.0, 1.0)


@settings(max_examples=60, deadline=None)
@given(
    height=st.integers(5, 60),
    width=st.integers(5, 60),
    levels=st.integers(2, 6),
    min_distance=st.integers(1, 5),
    threshold=st.sampled_from([0.0, 0.2, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_markers_equal_peak_local_max_on_maps_full_of_ties(height, width, levels, min_distance, threshold, seed):
    # A few grey levels make plateaus and equal maxima at every distance, where the spacing step matters.
    objects = np.random.default_rng(seed).integers(0, levels, size=(height, width)) / (levels - 1)
    expected = peak_local_max_markers(objects, threshold=threshold, min_distance=min_distance)
    np.testing.assert_array_equal(_maxima_markers(objects, threshold=threshold, min_distance=min_distance), expected)


@pytest.mark.parametrize("min_distance", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1])
def test_markers_equal_peak_local_max_on_saturated_and_quantised_blobs(min_distance, seed):
    objects = gaussian_blobs((120, 90), 60, sigma=2.0, seed=seed)
    for quantised in (objects, np.round(objects * 20) / 20):  # float maxima, then ties between neighbours
        expected = peak_local_max_markers(quantised, threshold=0.5, min_distance=min_distance)
        assert expected.max() > 10
        np.testing.assert_array_equal(_maxima_markers(quantised, threshold=0.5, min_distance=min_distance), expected)


def test_a_constant_map_has_no_maxima():
    assert _maxima_markers(np.full((20, 20), 0.9), threshold=0.5, min_distance=2).max() == 0


def test_peak_probabilities_are_the_maxima_of_the_object_map():
    objects = gaussian_blobs((80, 80), 20, sigma=2.0, seed=3)
    found = find_peaks(np.stack([1 - objects, objects], axis=-1), threshold=0.5, min_distance=2)
    markers = _maxima_markers(objects, threshold=0.5, min_distance=2)
    expected = ndi.maximum(objects, markers, np.arange(1, markers.max() + 1))
    np.testing.assert_array_equal(found.probabilities, expected)


@pytest.mark.parametrize("min_distance", [0, 1.5, -2])
def test_a_min_distance_below_one_pixel_is_named(min_distance):
    with pytest.raises(ValueError, match="min_distance must be an integer >= 1"):
        find_peaks(np.zeros((10, 10, 2)), threshold=0.5, min_distance=min_distance)
