"""From the network's probability maps to positions and classes of atoms (paper section 2.5).

A probability map has shape (H, W, K) and dimensions (row, col, channel): channel 0 is
the background, channels 1..K-1 the object classes, so the 0-based object class ``c``
is channel ``c + 1``. Positions are in pixels, as float (row, col), in the array-index
convention: pixel ``[i, j]`` has its centre at ``(i, j)``.

Two methods, chosen by :func:`detect` from the :class:`atomsight.detections.DetectionSettings`:

* :func:`find_peaks` for one object class (paper Fig. 6): maxima of the object
  probability ``1 - background`` above a threshold.
* :func:`segment` for several classes (paper section 2.5): a watershed of the background
  map seeded by its minima that are deeper than ``h`` and at least a label width apart,
  each segment classified by its summed class probabilities (eq. 7) and discarded when it
  is mostly background (eq. 8).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree
from skimage.measure import label
from skimage.morphology import local_minima, reconstruction
from skimage.segmentation import watershed

from ..detections import Detections, DetectionSettings

SEED_SMOOTHING = 0.25
"""Width of the Gaussian that smooths the background map before its minima are sought,
as a fraction of the label width sigma (see :func:`segment`)."""


def detect(probabilities: np.ndarray, settings: DetectionSettings, *, sampling: float) -> Detections:
    """Find and classify the objects in a probability map.

    Parameters
    ----------
    probabilities : numpy.ndarray
        Probability map, shape (H, W, K) with K >= 2, channel 0 the background.
    settings : DetectionSettings
        The post-processing settings (:class:`atomsight.detections.DetectionSettings`):
        "peaks" uses :func:`find_peaks`, "watershed" :func:`segment`, and "auto" uses
        "peaks" when there is one object class (K == 2) and "watershed" otherwise.
    sampling : float
        Pixel size of the map [Å/pixel], which turns the label width into pixels.

    Returns
    -------
    Detections
        The objects found.

    Raises
    ------
    ValueError
        If the map is invalid (see :func:`find_peaks`).
    """
    probabilities = _validated(probabilities)
    method = settings.method
    if method == "auto":
        method = "peaks" if probabilities.shape[-1] == 2 else "watershed"
    if method == "peaks":
        return find_peaks(probabilities, threshold=settings.threshold, min_distance=settings.min_distance)
    return segment(probabilities, epsilon=settings.epsilon, t=settings.t, h=settings.h,
                   sigma=settings.label_sigma_pixels(sampling))


def find_peaks(probabilities: np.ndarray, *, threshold: float, min_distance: int) -> Detections:
    """Find objects as maxima of the object probability ``1 - background``.

    Maxima above ``threshold`` (0.5 in paper Fig. 6d) and more than ``min_distance``
    apart are kept; a flat maximum (e.g. probabilities saturated at 1) counts once.
    Each maximum's region is its basin in a watershed of the object probability,
    limited to the pixels above ``threshold``, so touching objects are split along the
    ridge between them (:func:`_basins`: the pixels whose steepest ascent ends in it). The
    position is the centre of mass of the region weighted by
    ``(p - threshold)**2``, with ``p`` the object probability: the weight and its slope
    vanish at the region's edge, so pixels entering or leaving the region as an object
    moves by a fraction of a pixel change the result smoothly (at most 0.005 px error for
    a Gaussian of sigma >= 2 px, against about 0.15 px for weights ``p``).

    Parameters
    ----------
    probabilities : numpy.ndarray
        Probability map, shape (H, W, K) with K >= 2, channel 0 the background.
    threshold : float
        Minimum object probability of a maximum, exclusive.
    min_distance : int
        Of two maxima at most this many pixels apart (Chebyshev distance), only the
        higher is kept [pixels], as by ``skimage.feature.peak_local_max`` (equal ones
        closer than this count once); at least 1.

    Returns
    -------
    Detections
        One detection per maximum, in raster order of the maxima. The class probabilities
        are the class channels summed over the region and normalised (eq. 7); the
        probability is the object probability at the maximum times the class
        probability of the assigned class, i.e. the peak value when K == 2.

    Raises
    ------
    ValueError
        If the map is not 3-D, has fewer than 2 channels, or has non-finite values, or if
        ``min_distance`` is not an integer of at least 1.
    """
    probabilities = _validated(probabilities)
    objects = 1.0 - probabilities[..., 0]
    markers = _maxima_markers(objects, threshold=threshold, min_distance=min_distance)
    regions = _basins(objects, markers, mask=objects > threshold)
    ids = np.arange(1, markers.max() + 1)
    weights = np.clip(objects - threshold, 0.0, None) ** 2
    if probabilities.shape[-1] == 2:  # one class: every detection is of it (the sums would give exactly 1)
        class_probabilities = np.ones((len(ids), 1))
    else:
        class_probabilities = _normalised(_channel_sums(probabilities, regions, ids)[:, 1:])
    classes = class_probabilities.argmax(axis=1)
    peaks = _peak_values(objects, markers, len(ids))
    return Detections(
        positions=_centres_of_mass(weights, regions, ids),
        classes=classes,
        probabilities=peaks * _chosen(class_probabilities, classes),
        class_probabilities=class_probabilities,
    )


def segment(probabilities: np.ndarray, *, epsilon: float, t: float, h: float, sigma: float | None) -> Detections:
    """Find and classify objects by a watershed of the background map (paper section 2.5).

    The seeds are the minima of the background map below ``epsilon`` (paper section 2.5)
    that are deeper than ``h``, found in the map smoothed by a Gaussian of width
    ``SEED_SMOOTHING * sigma``: the regional minima of its h-minima transform, each a flat
    region that holds one basin's pixels up to ``h`` above its bottom. The paper seeds
    every minimum, so a noisy map gives one seed per noise dip (over 1000 segments for 25
    columns with noise of standard deviation 0.03 per pixel). The seeds grow by a watershed of the
    unsmoothed background map (Meyer's flooding, as in the paper) over the pixels where
    the background is below ``epsilon``: the hard upper limit that keeps long tails out
    of segments. For segment n, with the sums over its pixels ``s_k = sum_ij P_ijk``,
    the class probabilities are ``s_k / sum_{k>0} s_k`` for k > 0 (eq. 7), and the
    segment is discarded when ``sum_{k>0} s_k < t * s_0`` (eq. 8). The position is the
    centre of mass of the segment weighted by the object probability ``1 - background``.

    Why these defaults: smoothing by sigma / 4 divides uncorrelated pixel noise by
    ``2 sqrt(pi) sigma / 4`` (by 9 for sigma = 10 px) and widens a label Gaussian by 3 %.
    The shallowest ridge the labels make is between columns of different classes (their
    Gaussians add) 2.5 sigma apart, as gold <110> columns 2.5 Å apart at sigma = 1 Å:
    0.084 above the minima, 0.080 after smoothing. Noise of 0.05 per pixel in each class
    channel leaves dips of about 0.01 after smoothing, and ``h = 0.04``, halfway, fills
    them and keeps those ridges. Same-class neighbours combine by their maximum and leave
    deeper ridges (0.38 at 2.5 sigma). Columns of different classes closer than 2 sigma
    give one minimum in the labels themselves, and thus one segment.

    Segments reach out to the background ``epsilon``, so eq. 8 compares an object's core
    with its long tail: for an isolated Gaussian of peak 1 the ratio is
    ``(1 - d) / (ln(1 / d) - (1 - d)) = 0.23`` with ``d = 1 - epsilon``, whatever its
    width, and ``t = 0.5`` keeps only objects whose segments are bounded by neighbours,
    as for the paper's nanoparticle columns; use a smaller ``t`` for isolated objects.
    For close neighbours the centre of mass is pulled by the cut at the ridge and the
    neighbour's tail (up to 0.2 px for Gaussians of sigma 1.5 px 5 px apart; up to about
    0.2 sigma at 2.5 sigma apart).

    Parameters
    ----------
    probabilities : numpy.ndarray
        Probability map, shape (H, W, K) with K >= 2, channel 0 the background.
    epsilon : float
        Upper limit of the background in a segment, exclusive (0.995 in the paper).
    t : float
        Minimum ratio of a segment's summed object probability to its summed background
        probability (eq. 8; values near 0.5 are recommended in the paper).
    h : float
        Least depth of a minimum of the smoothed background that seeds a segment: its
        rise from the minimum to the lowest pass towards a deeper one. 0 with ``sigma``
        None seeds every minimum, as in the paper.
    sigma : float or None
        Width of the label Gaussians [pixels], which sets the smoothing before the
        minima are sought; None: no smoothing.

    Returns
    -------
    Detections
        One detection per kept segment, in raster order of the seeds. The class is the
        most probable one and the probability its class probability.

    Raises
    ------
    ValueError
        If the map is not 3-D, has fewer than 2 channels, or has non-finite values, or if
        ``h`` is negative or ``sigma`` not positive.
    """
    probabilities = _validated(probabilities)
    background = probabilities[..., 0]
    seeds = _minima_seeds(background, epsilon=epsilon, h=h, sigma=sigma)
    regions = watershed(background, seeds, mask=background < epsilon)
    ids = np.arange(1, seeds.max() + 1)
    sums = _channel_sums(probabilities, regions, ids)
    kept = sums[:, 1:].sum(axis=1) >= t * sums[:, 0]
    class_probabilities = _normalised(sums[kept, 1:])
    classes = class_probabilities.argmax(axis=1)
    return Detections(
        positions=_centres_of_mass(1.0 - background, regions, ids[kept]),
        classes=classes,
        probabilities=_chosen(class_probabilities, classes),
        class_probabilities=class_probabilities,
    )


def _minima_seeds(background: np.ndarray, *, epsilon: float, h: float, sigma: float | None) -> np.ndarray:
    """Label image of the seeds of :func:`segment`, numbered 1.. in raster order."""
    if h < 0:
        raise ValueError(f"the seed depth h must be >= 0, got {h}")
    if sigma is not None and sigma <= 0:
        raise ValueError(f"the label width sigma must be a positive number of pixels, got {sigma}")
    smooth = background if sigma is None else ndi.gaussian_filter(background, SEED_SMOOTHING * sigma, mode="nearest")
    # h-minima transform: minima shallower than h are filled, deeper ones become plateaus h above their bottom
    filled = reconstruction(smooth + h, smooth, method="erosion") if h > 0 else smooth
    basins = label(local_minima(filled, connectivity=2), connectivity=2)
    ids = np.arange(1, basins.max() + 1)
    bottoms = np.asarray(ndi.minimum(background, basins, ids), dtype=np.float64).reshape(-1)
    return label(np.isin(basins, ids[bottoms < epsilon]), connectivity=2)


def _validated(probabilities: np.ndarray) -> np.ndarray:
    """Return the map as float64 after checking its shape and values."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 3:
        raise ValueError(f"probability map must be 3-D (H, W, K), got {probabilities.ndim}-D shape"
                         f" {probabilities.shape}")
    if probabilities.shape[-1] < 2:
        raise ValueError(
            "probability map needs K >= 2 channels (background and at least one class), got"
            f" K = {probabilities.shape[-1]}"
        )
    if not np.isfinite(probabilities).all():
        raise ValueError(f"probability map has {np.count_nonzero(~np.isfinite(probabilities))} non-finite values")
    return probabilities


def _maxima_markers(objects: np.ndarray, *, threshold: float, min_distance: int) -> np.ndarray:
    """Label image of the maxima that ``skimage.feature.peak_local_max`` chooses, a flat maximum as one marker.

    Two 8-neighbours that are both maxima of their 3x3 neighbourhoods have equal values,
    so the connected components of the 3x3 maxima are the flat maxima, numbered here in
    raster order of their first pixel. A flat maximum is a marker when it holds one of
    the maxima that ``peak_local_max(objects, min_distance=min_distance,
    threshold_abs=threshold, exclude_border=False)`` returns, computed without its slow
    step: the candidates are the pixels above ``threshold`` equal to the maximum of their
    ``2 min_distance + 1`` square (none if every pixel is, as for a constant map), and
    peak_local_max then drops, in order of decreasing value (ties in raster order), each
    candidate closer than ``min_distance`` (Chebyshev) to one kept before it. Two such
    candidates lie in each other's square, so they have equal values; for
    ``min_distance <= 2`` they are 8-neighbours, hence in the same flat maximum, and the
    dropping changes no marker. Larger distances go through :func:`_spaced`.
    """
    if int(min_distance) != min_distance or min_distance < 1:
        raise ValueError(f"min_distance must be an integer >= 1 pixel, got {min_distance!r}")
    window_maxima = objects == ndi.maximum_filter(objects, size=2 * min_distance + 1, mode="nearest")
    if window_maxima.all():
        return np.zeros(objects.shape, dtype=np.int32)
    candidates = window_maxima & (objects > threshold)
    if min_distance > 2:
        candidates = _spaced(candidates, objects, min_distance)
    flat_maxima, count = ndi.label(objects == ndi.maximum_filter(objects, size=3, mode="nearest"),
                                   structure=np.ones((3, 3), dtype=bool))
    chosen = np.zeros(count + 1, dtype=bool)
    chosen[flat_maxima[candidates]] = True
    chosen[0] = False
    renumbered = np.where(chosen, np.cumsum(chosen), 0).astype(np.int32)
    return renumbered[flat_maxima]


def _spaced(candidates: np.ndarray, objects: np.ndarray, min_distance: int) -> np.ndarray:
    """The candidates that peak_local_max's spacing step keeps (see :func:`_maxima_markers`).

    Only candidates with another within ``min_distance - 1`` pixels can be dropped or drop
    one, so the greedy pass visits those alone, in peak_local_max's order.
    """
    side = 2 * min_distance - 1
    neighbours = ndi.correlate(candidates.astype(np.int32), np.ones((side, side), dtype=np.int32), mode="constant")
    crowded = np.argwhere(candidates & (neighbours > 1))
    order = np.argsort(-objects[tuple(crowded.T)], kind="stable")
    crowded = crowded[order]
    close = cKDTree(crowded).query_ball_point(crowded, r=min_distance - 1, p=np.inf)
    dropped = np.zeros(len(crowded), dtype=bool)
    for index, others in enumerate(close):
        if not dropped[index]:
            dropped[[other for other in others if other != index]] = True
    kept = candidates.copy()
    kept[tuple(crowded[dropped].T)] = False
    return kept


def _basins(objects: np.ndarray, markers: np.ndarray, *, mask: np.ndarray) -> np.ndarray:
    """The region of each marker: the pixels of ``mask`` whose steepest ascent ends in it.

    Each pixel points to its highest 8-neighbour where that is higher than itself (on ties
    the first in raster order of the 3 x 3 neighbourhood), and the pointers are followed to
    their ends by pointer jumping: the "drop of water" definition of a watershed, in a
    handful of vectorised passes. The flooding of ``skimage.segmentation.watershed`` gives
    the same regions above the saddle between two maxima and may differ below it, where the
    centre-of-mass weights ``(p - threshold)**2`` are small: on the shipped graphene
    model's 2048 x 2048 map of 23000 atoms, 99 % of the positions agree within 0.02 pixel,
    and it takes half the time (BENCHMARKS.md). A pixel whose ascent ends elsewhere than in
    a marker (on a flat shoulder, or at a maximum dropped for ``min_distance``) is given by
    a watershed flooding it from the regions around it.
    """
    height, width = objects.shape
    values = np.where(mask, objects, -np.inf)
    padded = np.pad(values, 1, constant_values=-np.inf)
    pixel = np.arange(objects.size, dtype=np.int64).reshape(objects.shape)
    padded_pixel = np.pad(pixel, 1)
    parent, highest = pixel.copy(), values.copy()
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr or dc:
                window = (slice(1 + dr, 1 + dr + height), slice(1 + dc, 1 + dc + width))
                higher = padded[window] > highest
                np.copyto(highest, padded[window], where=higher)
                np.copyto(parent, padded_pixel[window], where=higher)
    parents = parent.ravel()
    while True:
        grandparent = parents[parents]
        if np.array_equal(grandparent, parents):
            break
        parents = grandparent
    regions = np.where(mask, markers.ravel()[parents].reshape(objects.shape), 0).astype(markers.dtype)
    stuck = mask & (regions == 0)
    if stuck.any():
        around = mask & ndi.binary_dilation(stuck, structure=np.ones((3, 3), dtype=bool))
        flooded = watershed(-objects, np.where(around & ~stuck, regions, 0), mask=around)
        regions[stuck] = flooded[stuck]
    return regions


def _peak_values(objects: np.ndarray, markers: np.ndarray, count: int) -> np.ndarray:
    """Value of ``objects`` at each of ``count`` markers, flat maxima whose pixels share one value."""
    values = np.zeros(count, dtype=np.float64)
    inside = markers > 0
    values[markers[inside] - 1] = objects[inside]
    return values


def _channel_sums(probabilities: np.ndarray, regions: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Sum of every channel over every region, shape (len(ids), K)."""
    sums = [ndi.sum_labels(probabilities[..., k], regions, ids) for k in range(probabilities.shape[-1])]
    return np.asarray(sums, dtype=np.float64).T


def _centres_of_mass(weights: np.ndarray, regions: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Weighted centres of mass (row, col) of the regions [pixels], shape (len(ids), 2)."""
    return np.asarray(ndi.center_of_mass(weights, regions, ids), dtype=np.float64).reshape(-1, 2)


def _normalised(sums: np.ndarray) -> np.ndarray:
    """Rows divided by their sums."""
    return sums / sums.sum(axis=1, keepdims=True)


def _chosen(class_probabilities: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Probability of each row's chosen class."""
    return np.take_along_axis(class_probabilities, classes[:, None], axis=1)[:, 0]
