"""What happens after the lens: drift blur, finite dose (Poisson counts) and the detector MTF (eq. 5).

Images are batched as (B, F, H, W): B images of F channels. Filters work in Fourier
space on reflect-padded images, so nothing wraps around the image edges.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import tensorflow as tf


def _frequencies(height: tf.Tensor, width: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Return the spatial frequencies [cycles/pixel] along both axes of an rfft2d grid, (H, 1) and (1, W // 2 + 1)."""
    height, width = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    index = tf.range(height)
    qx = tf.where(index < tf.math.floor((height + 1) / 2), index, index - height) / height  # numpy.fft.fftfreq order
    qy = tf.range(tf.math.floor(width / 2) + 1) / width
    return qx[:, None], qy[None, :]


def fourier_filter(images: tf.Tensor, transfer: Callable[[tf.Tensor], tf.Tensor], pad: int) -> tf.Tensor:
    """Multiply the spectrum of every image by ``transfer(q)``, q the frequency [cycles/pixel].

    Parameters
    ----------
    images : tf.Tensor
        float32 (B, F, H, W).
    transfer : callable
        Maps the radial frequency q, shape (H', W' // 2 + 1), to a real transfer
        function broadcastable to (B, F, H', W' // 2 + 1).
    pad : int
        Reflect padding on each side [pixels], clipped to what the image allows.

    Returns
    -------
    tf.Tensor
        The filtered images, float32 (B, F, H, W).
    """
    height, width = tf.shape(images)[-2], tf.shape(images)[-1]  # dynamic: any image size
    pad_h, pad_w = tf.minimum(pad, height - 1), tf.minimum(pad, width - 1)
    padded = tf.pad(images, [[0, 0], [0, 0], [pad_h, pad_h], [pad_w, pad_w]], mode="REFLECT")
    size = tf.stack([height + 2 * pad_h, width + 2 * pad_w])
    qx, qy = _frequencies(size[0], size[1])
    spectrum = tf.signal.rfft2d(padded) * tf.cast(transfer(tf.sqrt(qx**2 + qy**2)), tf.complex64)
    filtered = tf.signal.irfft2d(spectrum, fft_length=size)
    return tf.ensure_shape(filtered[:, :, pad_h : pad_h + height, pad_w : pad_w + width], images.shape)


def gaussian_blur(images: tf.Tensor, sigma: tf.Tensor, pad: int) -> tf.Tensor:
    """Blur every image with a Gaussian of its own standard deviation ``sigma`` (B,) [pixels]."""
    sigma = tf.reshape(sigma, (-1, 1, 1, 1))
    return fourier_filter(images, lambda q: tf.exp(-2 * math.pi**2 * sigma**2 * q**2), pad)


def mtf(q: tf.Tensor, c1: tf.Tensor, c2: tf.Tensor, c3: tf.Tensor) -> tf.Tensor:
    """The detector MTF of eq. 5, MTF(q) = (1 - c1) / (1 + (q / (2 c2 q_N))^c3) + c1.

    Parameters
    ----------
    q : tf.Tensor
        Spatial frequency [cycles/pixel]; the Nyquist frequency q_N is 0.5.
    c1, c2, c3 : tf.Tensor
        MTF parameters, broadcastable against ``q``.

    Returns
    -------
    tf.Tensor
        The MTF, 1 at q = 0.
    """
    nyquist = 0.5
    return (1 - c1) / (1 + (q / (2 * c2 * nyquist)) ** c3) + c1


def apply_mtf(images: tf.Tensor, c1: tf.Tensor, c2: tf.Tensor, c3: tf.Tensor, pad: int = 16) -> tf.Tensor:
    """Filter every image (B, F, H, W) by its detector's MTF (parameters of shape (B,))."""
    shape = (-1, 1, 1, 1)
    c1, c2, c3 = (tf.reshape(c, shape) for c in (c1, c2, c3))
    return fourier_filter(images, lambda q: mtf(q, c1, c2, c3), pad)


def poisson_counts(expected: tf.Tensor, seeds: tf.Tensor) -> tf.Tensor:
    """Draw electron counts: Poisson variates with the expected counts of every pixel.

    Each image draws from its own stateless seed, so its noise does not depend on the
    batch it travels in.

    Parameters
    ----------
    expected : tf.Tensor
        Expected counts per pixel (dose x pixel area x intensity), float32 (B, F, H, W).
    seeds : tf.Tensor
        int64 seeds, shape (B, 2).

    Returns
    -------
    tf.Tensor
        float32 counts, shape (B, F, H, W).
    """
    return tf.map_fn(
        lambda args: tf.random.stateless_poisson(tf.shape(args[0]), seed=args[1], lam=args[0], dtype=tf.float32),
        (expected, seeds),
        fn_output_signature=tf.float32,
    )
