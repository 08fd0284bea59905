"""A classical column counter, the baseline a counting network is compared with: features per column, LDA.

What a user without a network could build from a focal series: for each column (at its true
position, so the baseline is spared the detection and only its counting is scored), in each
image of the series, the mean intensity of the column's cell (the pixels nearer to it than
to any other column, within :data:`CELL_RADIUS`) and its peak value (the image smoothed by
:data:`SMOOTHING` at the column's pixel), both relative to the image's mean; then a linear
discriminant analysis (Gaussian classes with one shared covariance) fitted, per dose, on
images of the training split and applied to the test images. Heights are those of the
label classes, 1 to ``max_height``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.spatial import cKDTree

CELL_RADIUS = 1.2
"""Distance from its column below which a pixel may lie in the column's cell [Å]: half the 2.5 Å between
Au <110> columns."""

SMOOTHING = 0.3
"""Standard deviation of the Gaussian before a column's peak value is read [Å]."""

RIDGE = 1e-6
"""Added to the diagonal of the shared covariance, relative to its mean variance: features that do not vary."""


def column_features(image: np.ndarray, columns: np.ndarray, *, sampling: float) -> np.ndarray:
    """Return each column's features in each image of a series: its cell's mean intensity and its peak value.

    Parameters
    ----------
    image : numpy.ndarray
        A focal series (H, W, C).
    columns : numpy.ndarray
        Column positions [pixels, (row, col)], shape (n, 2).
    sampling : float
        Pixel size [Å/pixel].

    Returns
    -------
    numpy.ndarray
        float64 (n, 2 C): per image, the cell mean and the peak value, each divided by the
        image's mean; nan for a column whose cell has no pixel inside the image.
    """
    image = np.asarray(image, np.float64)
    columns = np.asarray(columns, np.float64).reshape(-1, 2)
    height, width, channels = image.shape
    features = np.full((len(columns), 2 * channels), np.nan)
    if not len(columns):
        return features
    rows, cols = np.mgrid[0:height, 0:width]
    pixels = np.stack([rows.ravel(), cols.ravel()], axis=-1)
    distance, owner = cKDTree(columns).query(pixels, distance_upper_bound=CELL_RADIUS / sampling)
    inside = np.isfinite(distance)
    counts = np.bincount(owner[inside], minlength=len(columns))
    nearest = np.clip(np.rint(columns).astype(np.int64), 0, [height - 1, width - 1])
    for c in range(channels):
        frame = image[..., c] / image[..., c].mean()
        sums = np.bincount(owner[inside], weights=frame.ravel()[inside], minlength=len(columns))
        with np.errstate(invalid="ignore", divide="ignore"):
            features[:, 2 * c] = np.where(counts > 0, sums / counts, np.nan)
        smooth = gaussian_filter(frame, SMOOTHING / sampling)
        features[:, 2 * c + 1] = smooth[nearest[:, 0], nearest[:, 1]]
    return features


@dataclass(frozen=True)
class LinearDiscriminant:
    """Gaussian classes with one shared covariance, fitted by :func:`fit_discriminant`.

    Attributes
    ----------
    heights : numpy.ndarray
        The heights the classes stand for [atoms], shape (k,).
    means : numpy.ndarray
        Class means of the features, shape (k, d).
    precision : numpy.ndarray
        Inverse of the shared covariance, shape (d, d).
    log_priors : numpy.ndarray
        Log of each class's share of the training columns, shape (k,).
    """

    heights: np.ndarray
    means: np.ndarray
    precision: np.ndarray
    log_priors: np.ndarray

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Return the most probable height of each row of ``features`` (n, d) [atoms]."""
        projected = features @ self.precision @ self.means.T
        offsets = -0.5 * np.einsum("kd,de,ke->k", self.means, self.precision, self.means) + self.log_priors
        return self.heights[np.argmax(projected + offsets, axis=1)]


def fit_discriminant(features: np.ndarray, heights: np.ndarray) -> LinearDiscriminant:
    """Fit a linear discriminant to columns' features (n, d) and true heights (n,); rows with nan are left out.

    Raises
    ------
    ValueError
        If fewer than two heights occur among the usable columns.
    """
    usable = np.all(np.isfinite(features), axis=1)
    features, heights = features[usable], np.asarray(heights)[usable]
    classes, counts = np.unique(heights, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"a counting baseline needs columns of at least 2 heights, got {classes.tolist()}")
    means = np.stack([features[heights == h].mean(axis=0) for h in classes])
    centred = features - means[np.searchsorted(classes, heights)]
    covariance = centred.T @ centred / max(len(features) - len(classes), 1)
    covariance += RIDGE * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    return LinearDiscriminant(heights=classes, means=means, precision=np.linalg.inv(covariance),
                              log_priors=np.log(counts / counts.sum()))


def count_with_baseline(
    model: LinearDiscriminant, images: Sequence[np.ndarray], columns: Sequence[np.ndarray], *,
    samplings: Sequence[float],
) -> list[np.ndarray]:
    """Return the baseline's heights of the columns of each image (nan-featured columns get the commonest height)."""
    counted = []
    commonest = model.heights[np.argmax(model.log_priors)]
    for image, where, sampling in zip(images, columns, samplings):
        features = column_features(image, where, sampling=sampling)
        usable = np.all(np.isfinite(features), axis=1)
        heights = np.full(len(where), commonest, np.int64)
        if usable.any():
            heights[usable] = model.predict(features[usable])
        counted.append(heights)
    return counted
