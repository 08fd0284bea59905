"""Post-processing on synthetic probability maps of Gaussian blobs with known positions and classes."""

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

from atomsight.detections import DetectionSettings, DetectionSettingsError
from atomsight.network import postprocess
from atomsight.network.postprocess import detect, find_peaks, segment

SHAPE = (48, 64)
PEAKS = {"threshold": 0.5, "min_distance": 2}
"""The paper's peak finding (Fig. 6d: maxima above 0.5)."""
WATERSHED = {"epsilon": 0.995, "t": 0.5, "h": 0.04, "sigma": None}
"""The paper's watershed (section 2.5: epsilon 0.995, t about 0.5), seeding minima deeper than 0.04, no smoothing."""


def peaks(maps, **options):
    return find_peaks(maps, **{**PEAKS, **options})


def watershed(maps, **options):
    return segment(maps, **{**WATERSHED, **options})


def settings(**options):
    return DetectionSettings(**{"method": "auto", "threshold": 0.5, "min_distance": 2, "epsilon": 0.995, "t": 0.5,
                                "h": 0.04, "label_sigma": 1.0, **options})


def blob_maps(centres, classes, *, n_classes=1, sigma=2.0, amplitudes=None, shape=SHAPE):
    """Probability map (H, W, n_classes + 1) of Gaussians [pixels].

    Gaussians of one class combine by their maximum, as in the ground-truth label maps;
    where the class channels sum to more than 1 they are scaled down to sum to 1, as a
    softmax would, and the background is the rest.
    """
    amplitudes = np.ones(len(centres)) if amplitudes is None else amplitudes
    i, j = np.indices(shape)
    maps = np.zeros((*shape, n_classes + 1))
    for (ci, cj), c, a in zip(centres, classes, amplitudes, strict=True):
        maps[..., c + 1] = np.maximum(maps[..., c + 1], a * np.exp(-((i - ci) ** 2 + (j - cj) ** 2) / (2 * sigma**2)))
    maps[..., 1:] /= np.maximum(maps[..., 1:].sum(axis=-1, keepdims=True), 1.0)
    maps[..., 0] = 1.0 - maps[..., 1:].sum(axis=-1)
    return maps


def sorted_by_row(detections):
    order = np.argsort(detections.positions[:, 0])
    return detections.positions[order], detections.classes[order]


# find_peaks


@pytest.mark.parametrize("sigma", [2.0, 3.0, 4.0])
def test_peaks_at_subpixel_positions(sigma):
    centres = np.array([[12.3, 14.71], [33.62, 45.18]])
    maps = blob_maps(centres, [0, 0], sigma=sigma)
    found = peaks(maps)
    positions, classes = sorted_by_row(found)
    # (p - threshold)^2 weights: at most 0.005 px discretisation error for sigma >= 2 px
    np.testing.assert_allclose(positions, centres, atol=0.01)
    assert classes.tolist() == [0, 0]
    np.testing.assert_allclose(np.sort(found.probabilities), np.sort(maps[[12, 34], [15, 45], 1]))  # sampled peaks
    np.testing.assert_array_equal(found.class_probabilities, 1.0)


def test_peak_below_threshold_is_ignored():
    found = peaks(blob_maps([[15.4, 20.2], [30.5, 44.8]], [0, 0], amplitudes=[1.0, 0.3]))
    assert len(found) == 1
    np.testing.assert_allclose(found.positions, [[15.4, 20.2]], atol=0.02)


def test_blobs_six_pixels_apart_are_two():
    centres = np.array([[24.2, 28.4], [24.2, 34.4]])
    maps = blob_maps(centres, [0, 0], sigma=3.0)
    assert (maps[24, 28:35, 0] < 0.5).all()  # one region above the threshold: the watershed must split it
    found = peaks(maps)
    # cutting each region at the ridge between them: below 0.02 px over sub-pixel offsets and directions
    np.testing.assert_allclose(found.positions[np.argsort(found.positions[:, 1])], centres, atol=0.05)


def test_saturated_flat_peak_counts_once():
    maps = blob_maps([[20.5, 30.5]], [0], amplitudes=[1.5], sigma=3.0)  # a disc of probability exactly 1
    assert np.count_nonzero(maps[..., 1] == 1.0) > 4
    found = peaks(maps, min_distance=1)
    assert len(found) == 1
    np.testing.assert_allclose(found.positions, [[20.5, 30.5]], atol=1e-9)  # symmetric weights about the centre
    assert found.probabilities[0] == 1.0


def test_peaks_with_several_classes_take_the_class_of_the_region():
    maps = blob_maps([[14.0, 16.0], [34.0, 48.0]], [2, 0], n_classes=3)
    _, classes = sorted_by_row(peaks(maps))
    assert classes.tolist() == [2, 0]


def test_empty_map_gives_no_detections():
    found = peaks(blob_maps([], []))
    assert len(found) == 0
    assert found.positions.shape == (0, 2) and found.class_probabilities.shape == (0, 1)


def basin_case(seed, *, noise=0.01):
    """A map of touching Gaussian blobs (sigma 3 px) with noise, its markers and mask at 0.3."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(4, 60, size=(40, 2)) * [SHAPE[0] / 64, 1]
    objects = 1.0 - blob_maps(centres, [0] * len(centres), sigma=3.0)[..., 0]
    objects += rng.normal(0, noise, objects.shape)
    markers = postprocess._maxima_markers(objects, threshold=0.3, min_distance=2)
    return objects, markers, objects > 0.3


@pytest.mark.parametrize("seed", range(5))
def test_basins_agree_with_a_flooding_watershed_above_the_saddles(seed):
    from skimage.segmentation import watershed

    objects, markers, mask = basin_case(seed, noise=0.0)
    regions = postprocess._basins(objects, markers, mask=mask)
    flooded = watershed(-objects, markers, mask=mask)
    assert np.array_equal(regions > 0, flooded > 0)  # the same pixels are given to some marker
    # Above the highest pixel on its region's border, a pixel's connected upper level set lies in
    # that region and holds its maximum alone: there both definitions must agree exactly
    border = np.zeros(flooded.shape, dtype=bool)
    for axis in (0, 1):
        for shift in (1, -1):
            other = np.roll(flooded, shift, axis=axis)
            border |= (other != flooded) & (other > 0) & (flooded > 0)
    saddle = np.zeros(markers.max() + 1)
    np.maximum.at(saddle, flooded[border], objects[border])
    high = (flooded > 0) & (objects > saddle[flooded])
    assert high.sum() > 0.2 * mask.sum() and np.array_equal(regions[high], flooded[high])
    assert (regions == flooded).mean() > 0.97


@pytest.mark.parametrize("seed", range(3))
def test_basins_of_a_noisy_map_are_nearly_those_of_the_flooding(seed):
    from skimage.segmentation import watershed

    objects, markers, mask = basin_case(seed, noise=0.02)
    regions = postprocess._basins(objects, markers, mask=mask)
    flooded = watershed(-objects, markers, mask=mask)
    assert np.array_equal(regions > 0, flooded > 0)
    assert (regions == flooded).mean() > 0.95


def test_basins_give_a_dropped_maximum_to_its_neighbours():
    objects, _, mask = basin_case(0)
    markers = postprocess._maxima_markers(objects, threshold=0.3, min_distance=2)
    dropped = markers.copy()
    dropped[dropped == 1] = 0  # as if min_distance had dropped maximum 1: its basin has no marker
    regions = postprocess._basins(objects, dropped, mask=mask)
    components, _ = ndimage.label(mask)
    marked = np.unique(components[dropped > 0])
    assert (regions[np.isin(components, marked[marked > 0])] > 0).all()  # every pixel joined a neighbour
    assert 1 not in regions


def test_basins_give_a_flat_shoulder_to_the_peak_above_it():
    i, j = np.indices(SHAPE)
    objects = np.exp(-((i - 24.0) ** 2 + (j - 20.0) ** 2) / (2 * 4.0**2))
    objects[30:32, 17:24] = np.maximum(objects[30:32, 17:24], 0.35)  # a shelf 6-7 px below the peak
    # its middle row is a flat maximum of the 3 x 3 neighbourhood but not of min_distance's 5 x 5 one,
    # so it is no marker and its pixels climb nowhere: they are flooded from the peak's region
    shelf = objects[31, 18:23]
    assert (shelf == 0.35).all() and (ndimage.maximum_filter(objects, size=3)[31, 18:23] == 0.35).all()
    markers = postprocess._maxima_markers(objects, threshold=0.3, min_distance=2)
    regions = postprocess._basins(objects, markers, mask=objects > 0.3)
    assert markers.max() == 1 and (regions[objects > 0.3] == 1).all()


# segment (paper section 2.5)


def test_touching_segments_of_different_classes_are_split():
    centres = np.array([[24.3, 29.6], [24.3, 34.6]])
    maps = blob_maps(centres, [0, 2], n_classes=3, sigma=1.5, amplitudes=[0.95, 0.95])
    assert (maps[24, 29:36, 0] < 0.995).all()  # one region below epsilon: the seeds must split it
    found = watershed(maps, t=0.1)  # isolated Gaussians fail t = 0.5, see test_isolated_gaussian_ratio
    order = np.argsort(found.positions[:, 1])
    assert found.classes[order].tolist() == [0, 2]
    # segments cut at the ridge and weighted by 1 - background, which holds the neighbour's tail:
    # up to 0.18 px over sub-pixel offsets and directions at this separation (3.3 sigma)
    np.testing.assert_allclose(found.positions[order], centres, atol=0.3)
    np.testing.assert_allclose(found.class_probabilities.sum(axis=1), 1.0)
    np.testing.assert_allclose(found.probabilities, found.class_probabilities.max(axis=1))
    assert (found.probabilities > 0.9).all()


def test_isolated_gaussian_at_subpixel_position():
    found = watershed(blob_maps([[20.37, 30.81]], [1], n_classes=2), t=0.1)
    assert found.classes.tolist() == [1]
    np.testing.assert_allclose(found.positions, [[20.37, 30.81]], atol=0.02)


def test_eq8_discards_exactly_below_t():
    maps = blob_maps([[22.0, 30.0]], [0], amplitudes=[0.4])
    segment_pixels = maps[..., 0] < 0.995  # one isolated blob: its segment is the whole mask
    ratio = maps[segment_pixels, 1].sum() / maps[segment_pixels, 0].sum()
    assert len(watershed(maps, t=0.99 * ratio)) == 1
    assert len(watershed(maps, t=1.01 * ratio)) == 0


def test_isolated_gaussian_ratio():
    """Eq. 8 for a unit Gaussian cut at background epsilon: (1 - d) / (ln(1 / d) - (1 - d)), d = 1 - epsilon."""
    maps = blob_maps([[24.0, 32.0]], [0], sigma=3.0)
    segment_pixels = maps[..., 0] < 0.995
    ratio = maps[segment_pixels, 1].sum() / maps[segment_pixels, 0].sum()
    assert ratio == pytest.approx(0.995 / (np.log(200) - 0.995), rel=0.03)  # 0.231: below t = 0.5
    assert len(watershed(maps)) == 0


def test_weak_blob_is_discarded_beside_a_strong_one():
    maps = blob_maps([[14.0, 16.0], [34.0, 48.0]], [0, 1], n_classes=2, amplitudes=[1.0, 0.1])
    found = watershed(maps, t=0.1)  # ratios 0.23 and 0.03
    assert found.classes.tolist() == [0]
    np.testing.assert_allclose(found.positions, [[14.0, 16.0]], atol=0.02)


@pytest.mark.parametrize(("shelf", "included"), [(0.995, False), (0.9949, True)])
def test_epsilon_caps_segments(shelf, included):
    maps = blob_maps([[24.0, 20.0]], [0])
    rows, cols = slice(14, 35), slice(26, 40)  # the blob's tail reaches 0.011 at column 26
    maps[rows, cols, 0] = np.minimum(maps[rows, cols, 0], shelf)
    maps[..., 1] = 1.0 - maps[..., 0]
    (position,) = watershed(maps, t=0.0).positions
    if included:
        assert position[1] - 20.0 > 0.3  # the shelf joins the segment and pulls its centre of mass
    else:
        np.testing.assert_allclose(position, [24.0, 20.0], atol=0.02)


# segment: seeds on noisy maps (issue 9, point 6)

GOLD_A = 4.08  # lattice constant of gold [Å]
SAMPLING = 0.1  # [Å/pixel]
SIGMA = 10.0  # label width: 1 Å as in the paper [pixels]


def gold_110_columns(cells=(3, 3)):
    """Column positions [pixels] of gold in <110>: a centred rectangular lattice a x a/sqrt(2).

    Nearest columns are 2.50 Å apart (the centred ones), then 2.88 Å; 3 sigma of margin.
    """
    a, b = GOLD_A, GOLD_A / np.sqrt(2)
    corners = [(i * a, j * b) for i in range(cells[0] + 1) for j in range(cells[1] + 1)]
    centred = [((i + 0.5) * a, (j + 0.5) * b) for i in range(cells[0]) for j in range(cells[1])]
    classes = np.r_[np.zeros(len(corners), int), np.ones(len(centred), int)]
    return (np.array(corners + centred) + 3.0) / SAMPLING, classes


def with_noise(maps, noise, seed):
    """Gaussian noise of standard deviation ``noise`` on the class channels, clipped to [0, 1], background the rest."""
    noisy = maps.copy()
    gaussian = np.random.default_rng(seed).standard_normal(maps[..., 1:].shape)
    noisy[..., 1:] = np.clip(maps[..., 1:] + noise * gaussian, 0, 1)
    noisy[..., 1:] /= np.maximum(noisy[..., 1:].sum(axis=-1, keepdims=True), 1.0)
    noisy[..., 0] = 1.0 - noisy[..., 1:].sum(axis=-1)
    return noisy


@pytest.mark.parametrize("noise", [0.03, 0.05])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("classes", ["one", "alternating"])
def test_noisy_gold_columns_give_one_segment_each(noise, seed, classes):
    centres, sublattice = gold_110_columns()
    labels = np.zeros_like(sublattice) if classes == "one" else sublattice  # alternating: every nearest pair differs
    shape = tuple(int(np.ceil(centres[:, k].max() + 3 * SIGMA)) for k in (0, 1))
    maps = with_noise(blob_maps(centres, labels, n_classes=2, sigma=SIGMA, shape=shape), noise, seed)
    found = watershed(maps, t=0.1, sigma=SIGMA)
    assert len(found) == len(centres) == 25
    distance, nearest = cKDTree(centres).query(found.positions)
    assert sorted(nearest) == list(range(len(centres)))  # one detection per column
    assert (found.classes == labels[nearest]).all()
    # The segments of the particle's outer columns reach out to background epsilon on one
    # side only, which pulls their centres of mass outwards by 2.8 px without noise; noise
    # pixels below epsilon add up to 1 px (measured up to 3.8 px at noise 0.05). The bound
    # is the evaluation's matching radius, 0.5 Å, so every column is matched.
    assert distance.max() < 0.5 / SAMPLING


def test_paper_seeds_over_segment_a_noisy_map():
    """With h = 0 and no smoothing every noise dip seeds a segment, as in the paper."""
    centres, sublattice = gold_110_columns()
    shape = tuple(int(np.ceil(centres[:, k].max() + 3 * SIGMA)) for k in (0, 1))
    maps = with_noise(blob_maps(centres, np.zeros_like(sublattice), sigma=SIGMA, shape=shape), 0.03, 0)
    assert len(watershed(maps, t=0.1, h=0.0)) > 4 * len(centres)


# detect


@pytest.mark.parametrize(("n_classes", "chosen"), [(1, "find_peaks"), (2, "segment"), (4, "segment")])
def test_auto_chooses_peaks_for_one_class(monkeypatch, n_classes, chosen):
    for name in ("find_peaks", "segment"):
        monkeypatch.setattr(postprocess, name, lambda probabilities, _name=name, **kwargs: (_name, kwargs))
    options = {
        "find_peaks": {"threshold": 0.6, "min_distance": 2},
        "segment": {"epsilon": 0.995, "t": 0.3, "h": 0.04, "sigma": 8.0},  # label width 0.96 Å at 0.12 Å/pixel
    }
    # Each method gets its own options only, the label width in pixels of the map.
    maps = blob_maps([[20.0, 20.0]], [0], n_classes=n_classes)
    assert detect(maps, settings(threshold=0.6, t=0.3, label_sigma=0.96), sampling=0.12) == (chosen, options[chosen])


def test_explicit_method_overrides_auto():
    maps = blob_maps([[20.2, 30.7]], [0], sigma=3.0)
    by_peaks = detect(maps, settings(method="peaks"), sampling=0.1)
    by_watershed = detect(maps, settings(method="watershed", t=0.1), sampling=0.1)
    np.testing.assert_allclose(by_peaks.positions, by_watershed.positions, atol=0.02)


@pytest.mark.parametrize(
    ("maps", "message"),
    [
        (np.zeros((8, 8)), "3-D"),
        (np.zeros((2, 8, 8, 2)), "3-D"),
        (np.zeros((8, 8, 1)), "K >= 2"),
        (np.where(np.eye(8)[..., None] > 0, np.nan, 0.5) * np.ones((8, 8, 2)), "16 non-finite"),
    ],
)
def test_invalid_maps_are_named(maps, message):
    for function in (lambda m: detect(m, settings(), sampling=0.1), peaks, watershed):
        with pytest.raises(ValueError, match=message):
            function(maps)


@pytest.mark.parametrize(("options", "message"), [({"h": -0.1}, "seed depth h must be >= 0, got -0.1"),
                                                  ({"sigma": 0.0}, "label width sigma must be a positive")])
def test_invalid_seed_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        watershed(blob_maps([[20.0, 20.0]], [0], n_classes=2), **options)


def test_unknown_method_is_named():
    with pytest.raises(DetectionSettingsError, match="'blobs'"):
        settings(method="blobs")
