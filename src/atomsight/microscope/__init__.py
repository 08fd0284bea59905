"""The random microscope: exit-wave spectra and label spectra in, noisy normalised images and labels out.

Every operation is a batched TensorFlow op, so the same :class:`Microscope` runs in a
``tf.data`` map on the CPU or inside a training step on a GPU. The chain, per image:
CTF with temporal envelope (optics) -> intensity on a randomly scaled, shifted pixel
grid -> drift blur -> Poisson counts at a random dose -> detector MTF -> local
normalisation -> a random symmetry of the square, the same one for the labels.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .detector import apply_mtf, gaussian_blur, poisson_counts
from .geometry import pixel_positions, symmetric_batch
from .normalize import local_normalize
from .optics import dft_matrix, evaluate, intensities, transfer_function
from .params import MicroscopeSettings, draw, fixed_parameters, stack_parameters

__all__ = ["Microscope", "MicroscopeSettings", "draw", "fixed_parameters", "local_normalize", "stack_parameters"]


class Microscope:
    """Images and labels of a batch of exit waves under a batch of drawn microscopes.

    Parameters
    ----------
    settings : MicroscopeSettings
        The system's microscope.
    wave_frequencies : tuple of numpy.ndarray
        Spatial frequencies (kx, ky) [1/Å] of the band-limited exit-wave spectra.
    label_frequencies : tuple of numpy.ndarray
        Spatial frequencies (kx, ky) [1/Å] of the band-limited label spectra.
    extent : tuple of float
        Periodic extent (x, y) of the exit waves [Å].
    """

    def __init__(
        self,
        settings: MicroscopeSettings,
        *,
        wave_frequencies: tuple[np.ndarray, np.ndarray],
        label_frequencies: tuple[np.ndarray, np.ndarray],
        extent: tuple[float, float],
    ) -> None:
        self.settings = settings
        self.kx, self.ky = (tf.constant(k, tf.float32) for k in wave_frequencies)
        self.label_kx, self.label_ky = (tf.constant(k, tf.float32) for k in label_frequencies)
        self.extent = tf.constant(extent, tf.float32)
        self.defocus_offsets = tf.constant(settings.defocus_offsets, tf.float32)
        self.k_max = settings.band_limit()
        smallest = settings.sampling * (1 - settings.scale_jitter)
        self.blur_pad = int(np.ceil(4 * settings.bounds("blur")[1] / smallest)) + 1

    def _grid(self, params: dict[str, tf.Tensor], kx: tf.Tensor, ky: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """DFT matrices from the frequencies to every image's pixel grid."""
        size = self.settings.image_size
        batch = tf.shape(params["sampling"])[0]
        x = pixel_positions(params["shift_x"], params["sampling"], size)
        y = pixel_positions(params["shift_y"], params["sampling"], size)
        return (
            dft_matrix(kx, x, tf.fill([batch], self.extent[0])),
            dft_matrix(ky, y, tf.fill([batch], self.extent[1])),
        )

    def intensities(self, spectra: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """Noise-free image intensities (B, F, M, M) of exit-wave spectra (B, Kx, Ky); 1 in vacuum."""
        transfer = transfer_function(
            self.kx, self.ky, params, wavelength=self.settings.wavelength,
            defocus_offsets=self.defocus_offsets, k_max=self.k_max,
        )
        return intensities(spectra, transfer, *self._grid(params, self.kx, self.ky))

    def images(self, spectra: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """Training images (B, M, M, F) of exit-wave spectra (B, Kx, Ky), before the symmetry transform."""
        return self._record(self.intensities(spectra, params), params)

    def _record(self, images: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """Noise-free intensities (B, F, M, M) to recorded, normalised images (B, M, M, F)."""
        settings = self.settings
        if settings.bounds("blur")[1] > 0:
            images = gaussian_blur(images, params["blur"] / params["sampling"], pad=self.blur_pad)
        if settings.ranges["dose"] is not None:
            per_pixel = tf.reshape(params["dose"] * params["sampling"] ** 2, (-1, 1, 1, 1))
            images = poisson_counts(tf.maximum(images, 0.0) * per_pixel, params["noise_seed"]) / per_pixel
        if settings.mtf:
            images = apply_mtf(images, params["mtf_c1"], params["mtf_c2"], params["mtf_c3"])
        images = tf.transpose(images, (0, 2, 3, 1))
        if settings.normalization_sigma is not None:
            images = local_normalize(images, settings.normalization_sigma / settings.sampling)
        return images

    def labels(self, label_spectra: tf.Tensor, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """Label maps (B, M, M, 1 + C) on the images' pixel grids: background first, then the classes.

        The stored label maps go through the same pixel grid (scale and translation)
        as the images; the background is 1 minus the sum of the classes, clipped to
        [0, 1]. Where Gaussians of different classes overlap so that the classes sum
        to more than 1 (neighbouring columns of different heights), the classes are
        scaled to sum to 1, so every pixel is a probability distribution.
        """
        maps = tf.math.real(evaluate(label_spectra, *self._grid(params, self.label_kx, self.label_ky)))
        maps = tf.clip_by_value(tf.transpose(maps, (0, 2, 3, 1)), 0.0, 1.0)
        total = tf.reduce_sum(maps, axis=-1, keepdims=True)
        maps = maps / tf.maximum(total, 1.0)
        background = tf.clip_by_value(1.0 - total, 0.0, 1.0)
        return tf.concat([background, maps], axis=-1)

    def weighted(
        self, spectra: tf.Tensor, label_spectra: tf.Tensor, params: dict[str, tf.Tensor], *, full_weight_contrast: float
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Return (images, labels, weights) of a batch: :meth:`__call__` plus a loss weight per pixel.

        An image's weight is min(1, c / ``full_weight_contrast``), where c is its
        noise-free contrast (standard deviation over mean of the intensity, averaged
        over a focal series' images): images whose atoms the optics made invisible
        weigh little, so they do not pull the network towards answering "background"
        everywhere. Weights are (B, M, M), the same for every pixel of an image.
        """
        intensities = self.intensities(spectra, params)
        contrast = tf.reduce_mean(
            tf.math.reduce_std(intensities, axis=(2, 3)) / tf.reduce_mean(intensities, axis=(2, 3)), axis=1
        )
        weight = tf.minimum(contrast / full_weight_contrast, 1.0)
        return symmetric_batch(params, self._record(intensities, params), self.labels(label_spectra, params), weight)

    def __call__(
        self, spectra: tf.Tensor, label_spectra: tf.Tensor, params: dict[str, tf.Tensor]
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Return (images, labels) of a batch, with each element's symmetry transform applied to both."""
        return symmetric_batch(params, self.images(spectra, params), self.labels(label_spectra, params))
