"""The random ADF-STEM microscope: object-response spectra and label spectra in, noisy normalised images out.

The STEM counterpart of :class:`atomsight.microscope.Microscope`, with the same inputs
(band-limited spectra of a structure's stored array, here its ADF response: the fraction
of the beam's electrons that reach the annular detector for a point-like probe at r, at
the same frequencies as the exit-wave spectra) and the same batched TensorFlow ops, so it
runs in a ``tf.data`` map on the CPU or inside a training step on a GPU. The chain, per
image: the response's spectrum times the probe intensity's transfer (aberrations and
semi-angle) and the source's Gaussian (probe) -> evaluated at the probe positions of a
faulty, rotated scan (scan, gridding) -> support background, electron counts and the
detector chain (counts) -> local normalisation -> a random symmetry of the square, the
same one for the labels, which are evaluated at the same probe positions.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from ..geometry import symmetric_batch
from ..normalize import local_normalize
from .counts import detector_signal, support_background
from .gridding import Gridding
from .params import StemSettings, draw, fixed_parameters
from .probe import ProbeTransfer
from .scan import scan_positions

__all__ = ["StemMicroscope", "StemSettings", "draw", "fixed_parameters"]


def _seeds(params: dict[str, tf.Tensor]) -> tf.Tensor:
    """Each image's seeds (B, 3, 2) of its line jitter, its background and its detector noise."""
    return tf.map_fn(lambda seed: tf.random.split(seed, 3), params["noise_seed"])


class StemMicroscope:
    """ADF-STEM images and labels of a batch of object responses under a batch of drawn microscopes.

    Parameters
    ----------
    settings : StemSettings
        The system's STEM microscope.
    wave_frequencies : tuple of numpy.ndarray
        Spatial frequencies (kx, ky) [1/Å] of the band-limited object-response spectra.
    label_frequencies : tuple of numpy.ndarray
        Spatial frequencies (kx, ky) [1/Å] of the band-limited label spectra.
    extent : tuple of float
        Periodic extent (x, y) of the responses [Å].
    """

    def __init__(
        self,
        settings: StemSettings,
        *,
        wave_frequencies: tuple[np.ndarray, np.ndarray],
        label_frequencies: tuple[np.ndarray, np.ndarray],
        extent: tuple[float, float],
    ) -> None:
        self.settings = settings
        self.probe = ProbeTransfer(wave_frequencies, extent, settings.wavelength)
        self.gridding = Gridding(wave_frequencies, extent)
        self.label_gridding = Gridding(label_frequencies, extent)
        smallest = settings.sampling * (1 - settings.scale_jitter)
        self.background_pad = int(np.ceil(4 * settings.bounds("background_length")[1] / math.sqrt(2) / smallest)) + 1

    def _positions(self, params: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        """The probe positions (x, y), each (B, M * M) [Å], with each line's jitter drawn from the noise seed."""
        size = self.settings.image_size
        seeds = _seeds(params)[:, 0]
        normal = tf.map_fn(lambda seed: tf.random.stateless_normal((size,), seed), seeds,
                           fn_output_signature=tf.float32)
        return scan_positions(params, params["jitter"][:, None] * normal, size)

    def intensities(self, spectra: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """Noise-free ADF intensities (B, 1, M, M) of response spectra (B, Kx, Ky) [fraction of the beam].

        The structure's response convolved with the probe intensity and the source, at the
        scan's probe positions; no background.
        """
        size = self.settings.image_size
        blurred = spectra[:, None] * self.probe(params)[:, None]
        images = self.gridding(blurred, *self._positions(params))
        return tf.reshape(images, (-1, 1, size, size))

    def images(self, spectra: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """Training images (B, M, M, 1) of response spectra (B, Kx, Ky), before the symmetry transform."""
        return self._record(self.intensities(spectra, params), params)

    def _record(self, images: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """Noise-free intensities (B, 1, M, M) to recorded, normalised images (B, M, M, 1)."""
        settings = self.settings
        seeds = _seeds(params)
        images = images + support_background(
            params["background"], params["background_variation"], params["background_length"] / params["sampling"],
            seeds[:, 1], settings.image_size, self.background_pad,
        )
        if settings.ranges["dose"] is not None:
            per_pixel = tf.reshape(params["dose"] * params["sampling"] ** 2, (-1, 1, 1, 1))
            images = detector_signal(tf.maximum(images, 0.0) * per_pixel, params, seeds[:, 2])
        images = tf.transpose(images, (0, 2, 3, 1))
        if settings.normalization_sigma is not None:
            images = local_normalize(images, settings.normalization_sigma / settings.sampling)
        return images

    def labels(self, label_spectra: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """Label maps (B, M, M, 1 + C) at the scan's probe positions: background first, then the classes.

        The stored label maps seen through the same faulty scan as the image, so a label
        lies where its atom appears; normalised as in :meth:`atomsight.microscope.Microscope.labels`.
        """
        size = self.settings.image_size
        maps = self.label_gridding(label_spectra, *self._positions(params))
        maps = tf.reshape(maps, (tf.shape(maps)[0], -1, size, size))
        maps = tf.clip_by_value(tf.transpose(maps, (0, 2, 3, 1)), 0.0, 1.0)
        total = tf.reduce_sum(maps, axis=-1, keepdims=True)
        maps = maps / tf.maximum(total, 1.0)
        background = tf.clip_by_value(1.0 - total, 0.0, 1.0)
        return tf.concat([background, maps], axis=-1)

    def weighted(
        self, spectra: tf.Tensor, label_spectra: tf.Tensor, params: dict[str, tf.Tensor], *, full_weight_contrast: float
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Return (images, labels, weights): :meth:`__call__` plus a loss weight per pixel.

        As :meth:`atomsight.microscope.Microscope.weighted`: an image's weight is
        min(1, c / ``full_weight_contrast``), c the noise-free intensity's standard
        deviation over its mean, the same for every pixel, (B, M, M).
        """
        intensities = self.intensities(spectra, params)
        contrast = tf.math.reduce_std(intensities, axis=(1, 2, 3)) / tf.reduce_mean(intensities, axis=(1, 2, 3))
        weight = tf.minimum(contrast / full_weight_contrast, 1.0)
        return symmetric_batch(params, self._record(intensities, params), self.labels(label_spectra, params), weight)

    def __call__(
        self, spectra: tf.Tensor, label_spectra: tf.Tensor, params: dict[str, tf.Tensor]
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Return (images, labels) of a batch, with each element's symmetry transform applied to both."""
        return symmetric_batch(params, self.images(spectra, params), self.labels(label_spectra, params))
