"""Local normalisation of images (paper eqs. 2-3): subtract a local mean, divide by a local deviation.

Both use a Gaussian window much wider than an atom. The window is applied to images
area-averaged by a factor of about sigma / 8 and the result interpolated back, which is
exact to well below a percent for such smooth fields and costs almost nothing.
"""

from __future__ import annotations

import math

import tensorflow as tf

from .detector import fourier_filter

EPSILON = 1e-6
"""Added to the local variance, so that a constant image normalises to zeros."""


def _local_mean(images: tf.Tensor, sigma: float) -> tf.Tensor:
    """Gaussian-weighted local mean (window sigma [pixels]) of NHWC images, averaged over channels."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]  # dynamic: any image size
    pool = max(1, int(sigma // 8))
    mean = tf.reduce_mean(images, axis=-1, keepdims=True)
    small = tf.image.resize(mean, ((height + pool - 1) // pool, (width + pool - 1) // pool), method="area")
    small_sigma = sigma / pool
    filtered = fourier_filter(
        tf.transpose(small, (0, 3, 1, 2)),
        lambda q: tf.exp(-2 * math.pi**2 * small_sigma**2 * q**2),
        pad=math.ceil(3 * small_sigma),
    )
    local = tf.image.resize(tf.transpose(filtered, (0, 2, 3, 1)), (height, width), method="bilinear")
    return tf.ensure_shape(local, mean.shape)


def local_normalize(images: tf.Tensor, sigma: float) -> tf.Tensor:
    """Normalise images by their local mean and standard deviation (eqs. 2-3).

    G = I - <w * I>_channels and H = G / sqrt(<w * G^2>_channels), with w a normalised
    Gaussian window and <>_channels the mean over the channels of a focal series.

    Parameters
    ----------
    images : tf.Tensor
        float32 images, NHWC (B, H, W, F); any size.
    sigma : float
        Standard deviation of the window [pixels].

    Returns
    -------
    tf.Tensor
        The normalised images, same shape: local mean ~0 and local deviation ~1.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    centred = images - _local_mean(images, sigma)
    return centred / tf.sqrt(_local_mean(centred**2, sigma) + EPSILON)
