"""The ADF detector's signal: a support background, electron counts, the scintillator-photomultiplier chain.

The noise-free image is the fraction of the beam's electrons that reach the annulus at
each probe position. Beside the structure's own response, the support and contamination
add a slowly varying background b(r) = b0 (1 + v g(r)), g a unit-variance Gaussian random
field of correlation length l. At a dose D [e/Å^2] and sampling d [Å/pixel] the probe
brings D d^2 electrons to each pixel, so n ~ Poisson(D d^2 I) of them reach the detector.
Each gives a pulse of mean height g (the gain, [detector units per electron]) whose heights
spread by a relative standard deviation s (scintillator and photomultiplier statistics);
for n pulses this adds a normal term of variance g^2 s^2 n. The amplifier adds read noise
of standard deviation r [detector units]. So the signal has mean g D d^2 I and variance
g^2 (1 + s^2) D d^2 I + r^2.
"""

from __future__ import annotations

import math

import tensorflow as tf

from ..detector import gaussian_blur, poisson_counts


def support_background(
    level: tf.Tensor, variation: tf.Tensor, length: tf.Tensor, seeds: tf.Tensor, size: int, pad: int
) -> tf.Tensor:
    """Return backgrounds b0 (1 + v g) of a batch, (B, 1, M, M) [fraction of the beam].

    Parameters
    ----------
    level, variation, length : tf.Tensor
        b0 [fraction of the beam], v and the correlation length l [pixels], each (B,).
    seeds : tf.Tensor
        int64 (B, 2) stateless seeds.
    size : int
        Side M of the images [pixels].
    pad : int
        Reflect padding of the smoothing [pixels].
    """
    white = tf.map_fn(lambda seed: tf.random.stateless_normal((1, size, size), seed), seeds,
                      fn_output_signature=tf.float32)
    # A normalised Gaussian of standard deviation sigma = l / sqrt(2) turns unit white noise into a field of
    # correlation exp(-r^2 / (2 l^2)) and variance 1 / (4 pi sigma^2) (for sigma >> 1 pixel), rescaled to 1.
    sigma = length / math.sqrt(2)
    field = gaussian_blur(white, sigma, pad) * tf.reshape(tf.sqrt(4 * math.pi) * sigma, (-1, 1, 1, 1))
    column = lambda value: tf.reshape(value, (-1, 1, 1, 1))  # noqa: E731
    return column(level) * (1 + column(variation) * field)


def detector_signal(expected: tf.Tensor, params: dict[str, tf.Tensor], seeds: tf.Tensor) -> tf.Tensor:
    """Return the detector's signal [detector units] for expected electron counts (B, 1, M, M) per pixel.

    Poisson counts n, then g n + g s sqrt(n) z1 + r z2 with z1, z2 standard normal
    (``gain`` g, ``gain_spread`` s and ``read_noise`` r of ``params``, each (B,)).
    """
    count_seeds, pulse_seeds, read_seeds = _split(seeds)
    counts = poisson_counts(expected, count_seeds)
    normal = lambda seed: tf.map_fn(  # noqa: E731
        lambda s: tf.random.stateless_normal(tf.shape(expected)[1:], s), seed, fn_output_signature=tf.float32)
    column = lambda value: tf.reshape(value, (-1, 1, 1, 1))  # noqa: E731
    gain = column(params["gain"])
    pulses = gain * counts + gain * column(params["gain_spread"]) * tf.sqrt(counts) * normal(pulse_seeds)
    return pulses + column(params["read_noise"]) * normal(read_seeds)


def _split(seeds: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Three independent (B, 2) seeds from (B, 2) seeds."""
    split = tf.map_fn(lambda seed: tf.random.split(seed, 3), seeds, fn_output_signature=tf.int64)  # (B, 3, 2)
    return split[:, 0], split[:, 1], split[:, 2]
