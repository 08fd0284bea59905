"""A classical atom finder, the baseline the network is compared with: smoothing, local maxima, centre of mass.

It is what a user without a network would do with an HRTEM image: turn the image so the
atoms are bright (its polarity: atoms are "bright" maxima or "dark" minima of the image),
smooth it with a Gaussian, take the local maxima that stand at least a threshold above the
image's mean and lie at least a minimum distance apart (``skimage.feature.peak_local_max``),
and refine each maximum to the centre of mass of the smoothed image in a disc around it.
Positions are in pixels, (row, col) as array indices, like the network's detections
(:mod:`atomsight.network.postprocess`).

Its settings are chosen by :func:`fit_baseline` on images whose truth is known (in the
evaluation, images of training structures), never on the images it is scored on.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.feature import peak_local_max

from .metrics import Scores, aggregate

POLARITIES = {"bright": 1.0, "dark": -1.0}
"""Sign that turns the atoms of an image of each polarity into maxima."""


@dataclass(frozen=True)
class BaselineParameters:
    """Settings of the classical finder.

    Attributes
    ----------
    polarity : {"bright", "dark"}
        Whether the atoms are maxima ("bright") or minima ("dark") of the image.
    smoothing : float
        Standard deviation of the Gaussian that smooths the image [Å].
    min_distance : float
        Of two maxima closer than this (Chebyshev distance in pixels, rounded), only the
        higher is kept [Å].
    threshold : float
        Least height of a maximum above the smoothed image's mean, in standard
        deviations of the smoothed image (exclusive).
    refine_radius : float
        Radius of the disc around a maximum in which its centre of mass is taken [Å];
        0 keeps the maximum's pixel.
    channel : int
        Which image of a focal series is searched.
    """

    polarity: str
    smoothing: float
    min_distance: float
    threshold: float
    refine_radius: float
    channel: int = 0

    def __post_init__(self) -> None:
        if self.polarity not in POLARITIES:
            raise ValueError(f"baseline polarity {self.polarity!r}: expected one of {sorted(POLARITIES)}")


@dataclass(frozen=True)
class BaselineSearch:
    """The candidate settings that :func:`fit_baseline` chooses from.

    Attributes
    ----------
    smoothing : tuple of float
        Gaussian standard deviations [Å].
    min_distance : tuple of float
        Minimum distances of maxima [Å].
    threshold : tuple of float
        Thresholds [standard deviations of the smoothed image above its mean].
    refine_radius : tuple of float
        Radii of the centre-of-mass disc [Å], tried once the others are chosen.
    channels : tuple of int
        Images of a focal series.
    polarities : tuple of str
        Polarities (keys of :data:`POLARITIES`).
    """

    smoothing: tuple[float, ...]
    min_distance: tuple[float, ...]
    threshold: tuple[float, ...]
    refine_radius: tuple[float, ...]
    channels: tuple[int, ...] = (0,)
    polarities: tuple[str, ...] = tuple(POLARITIES)

    @classmethod
    def from_config(cls, section: Mapping[str, Any], *, channels: int) -> BaselineSearch:
        """Build the search from a validated ``evaluation.grid.baseline`` section, over ``channels`` images."""
        return cls(smoothing=tuple(section["smoothing"]), min_distance=tuple(section["min_distance"]),
                   threshold=tuple(section["threshold"]), refine_radius=tuple(section["refine_radius"]),
                   channels=tuple(range(channels)))


def find_atoms(image: np.ndarray, parameters: BaselineParameters, *, sampling: float) -> np.ndarray:
    """Find the atoms of one image with the classical finder.

    Parameters
    ----------
    image : numpy.ndarray
        The image, shape (H, W, F) with F images of a focal series.
    parameters : BaselineParameters
        The finder's settings.
    sampling : float
        Pixel size of the image [Å/pixel].

    Returns
    -------
    numpy.ndarray
        Positions of the atoms found [pixels], float64, shape (n, 2), (row, col).
    """
    signed = _signed(image, parameters, sampling)
    peaks, heights = _maxima(signed, _pixels(parameters.min_distance, sampling), floor=parameters.threshold)
    return _refined(signed, peaks[heights > parameters.threshold], parameters.refine_radius / sampling)


def fit_baseline(
    images: Sequence[np.ndarray],
    samplings: Sequence[float],
    score: Callable[[int, np.ndarray], Scores],
    search: BaselineSearch,
) -> tuple[BaselineParameters, Scores]:
    """Choose the finder's settings on images whose atoms are known.

    First every combination of polarity, channel, smoothing, min distance and threshold
    is tried on the maxima's pixels; the combination whose scores, pooled over the images
    (:func:`atomsight.evaluation.metrics.aggregate`), have the highest F1 wins. Then, with
    those maxima, the refinement radius of the lowest pooled RMSE is chosen. Ties go to
    the first candidate in the order of ``search``'s fields.

    Parameters
    ----------
    images : sequence of numpy.ndarray
        The fitting images, each (H, W, F).
    samplings : sequence of float
        Pixel size of each image [Å/pixel].
    score : callable
        ``score(i, positions)`` scores detections [pixels, (row, col)] in image ``i``
        against its truth.
    search : BaselineSearch
        The candidate settings.

    Returns
    -------
    parameters : BaselineParameters
        The chosen settings.
    scores : Scores
        Their pooled scores on the fitting images.

    Raises
    ------
    ValueError
        If there are no images, or their number differs from that of ``samplings``.
    """
    if not images or len(images) != len(samplings):
        raise ValueError(f"fit_baseline needs one sampling per image and at least one image; got {len(images)}"
                         f" images and {len(samplings)} samplings")
    best: tuple[float, dict[str, Any]] | None = None
    floor = min(search.threshold)
    for channel, smoothing in itertools.product(search.channels, search.smoothing):
        standard = [_standardised(image[..., channel], smoothing / s) for image, s in zip(images, samplings)]
        for polarity, min_distance in itertools.product(search.polarities, search.min_distance):
            # Maxima above the lowest threshold once; a higher threshold only drops the lowest of them, and
            # a maximum suppressed by a higher neighbour stays suppressed (peak_local_max keeps maxima in
            # decreasing order of height), so filtering by height gives peak_local_max's result at each.
            maxima = [_maxima(POLARITIES[polarity] * z, _pixels(min_distance, s), floor=floor)
                      for z, s in zip(standard, samplings)]
            for threshold in search.threshold:
                f1 = aggregate([score(i, peaks[heights > threshold].astype(np.float64))
                                for i, (peaks, heights) in enumerate(maxima)]).f1
                if best is None or f1 > best[0]:
                    best = (f1, {"polarity": polarity, "smoothing": smoothing, "min_distance": min_distance,
                                 "threshold": threshold, "channel": channel})
    assert best is not None  # the search grid is never empty
    unrefined = BaselineParameters(**best[1], refine_radius=0.0)
    signed, peaks = [], []
    for image, sampling in zip(images, samplings):
        signed.append(_signed(image, unrefined, sampling))
        found, heights = _maxima(signed[-1], _pixels(unrefined.min_distance, sampling), floor=unrefined.threshold)
        peaks.append(found[heights > unrefined.threshold])
    fits = []
    for radius in search.refine_radius:
        positions = [_refined(z, p, radius / s) for z, p, s in zip(signed, peaks, samplings)]
        total = aggregate([score(i, x) for i, x in enumerate(positions)])
        fits.append((replace(unrefined, refine_radius=radius), total))
    return min(fits, key=lambda fit: (np.isnan(fit[1].rmse), fit[1].rmse))  # no matched pair (nan RMSE) last


def _pixels(length: float, sampling: float) -> int:
    """A length [Å] in whole pixels, at least 1."""
    return max(1, int(round(length / sampling)))


def _standardised(image: np.ndarray, sigma: float) -> np.ndarray:
    """The image smoothed by a Gaussian of ``sigma`` pixels, minus its mean, over its standard deviation."""
    smooth = gaussian_filter(np.asarray(image, dtype=np.float64), sigma, mode="nearest")
    spread = smooth.std()
    return (smooth - smooth.mean()) / (spread if spread > 0 else 1.0)


def _signed(image: np.ndarray, parameters: BaselineParameters, sampling: float) -> np.ndarray:
    """The searched channel of an image, standardised and turned so that the atoms are maxima."""
    standard = _standardised(image[..., parameters.channel], parameters.smoothing / sampling)
    return POLARITIES[parameters.polarity] * standard


def _maxima(image: np.ndarray, min_distance: int, *, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Maxima of ``peak_local_max`` above ``floor`` [pixels, int64 (n, 2)], and their heights."""
    peaks = peak_local_max(image, min_distance=min_distance, threshold_abs=floor, exclude_border=False)
    return peaks, image[tuple(peaks.T)]


def _refined(image: np.ndarray, peaks: np.ndarray, radius: float) -> np.ndarray:
    """Centres of mass [pixels, float64 (n, 2)] of the image in a disc of ``radius`` pixels around each peak.

    The weights are the image minus its least value in the disc, so they are positive and
    fall to zero towards the disc's edge; a radius below one pixel keeps the peaks.
    """
    reach = int(np.floor(radius))
    if reach < 1:
        return peaks.astype(np.float64)
    steps = np.arange(-reach, reach + 1)
    offsets = np.array([(di, dj) for di in steps for dj in steps if di * di + dj * dj <= radius * radius])
    padded = np.pad(image, reach, mode="edge")
    index = peaks[:, None, :] + offsets[None, :, :] + reach
    weights = padded[index[..., 0], index[..., 1]]
    weights = weights - weights.min(axis=1, keepdims=True)
    total = weights.sum(axis=1, keepdims=True)
    return peaks + (weights[..., None] * offsets[None]).sum(axis=1) / np.where(total > 0, total, 1.0)
