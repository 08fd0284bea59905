"""Band-limited periodic fields evaluated at arbitrary points: the scan positions of a STEM image.

A scan's positions are not a product grid (scan rotation, per-row drift, jitter and
flyback), so the two matrix products of the HRTEM grid (:func:`atomsight.microscope.optics.evaluate`)
do not apply, and the direct sum over every frequency for every position costs
M^2 Kx Ky: 1.5 s for a batch of 8 images of 128^2 from 219^2 coefficients (300 kV, 25 mrad,
a 43.2 Å cell) on the 2 development cores, against 0.14 s here.
This is the type-2 non-uniform FFT by gridding instead (Dutt and Rokhlin 1993; Beatty,
Nishimura and Pauly, IEEE Trans. Med. Imaging 24 (2005) 799): the coefficients, divided by
the Fourier transform of a Kaiser-Bessel kernel, are transformed by one inverse FFT onto a
grid oversampled :data:`OVERSAMPLING` times, and each point sums the grid values of its
:data:`TAPS` x :data:`TAPS` neighbours weighted by the kernel. The kernel's aliasing is
5e-6 of a coefficient for these constants, below what float32 positions allow: a position
of 90 Å is known to 5e-6 Å, which for a field with all its power at 2.5/Å is 3e-5 of its
largest value (measured against the direct sum in ``tests/microscope/test_stem_gridding.py``).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

OVERSAMPLING = 2.0
"""Grid points per kept frequency along each axis (the NUFFT's sigma)."""

TAPS = 6
"""Kernel width [grid points]: the neighbours of a position along each axis."""

BETA = math.pi * math.sqrt((TAPS / OVERSAMPLING) ** 2 * (OVERSAMPLING - 0.5) ** 2 - 0.8)
"""Kaiser-Bessel shape (Beatty et al.'s choice for OVERSAMPLING and TAPS): 13.9."""


def grid_size(frequencies: int) -> int:
    """Return the even FFT size (at least OVERSAMPLING x ``frequencies``) of an axis of ``frequencies`` coefficients."""
    return 2 * math.ceil(OVERSAMPLING * frequencies / 2)


def kernel_transform(nu: np.ndarray) -> np.ndarray:
    """Return the Fourier transform of the Kaiser-Bessel kernel at ``nu`` [cycles per grid point].

    The kernel I0(beta sqrt(1 - (2 t / W)^2)) on |t| <= W / 2 (W = TAPS) has the transform
    W sinh(sqrt(beta^2 - (pi W nu)^2)) / sqrt(beta^2 - (pi W nu)^2); only |nu| <= 1 / (2 sigma) is used,
    where the root is real.
    """
    root = np.sqrt(BETA**2 - (math.pi * TAPS * np.asarray(nu, np.float64)) ** 2)
    return TAPS * np.sinh(root) / root


def _kernel(t: tf.Tensor) -> tf.Tensor:
    """The Kaiser-Bessel kernel at offsets ``t`` [grid points], 0 beyond TAPS / 2."""
    inside = tf.maximum(1.0 - (2.0 * t / TAPS) ** 2, 0.0)
    return tf.where(tf.abs(t) <= TAPS / 2, tf.math.bessel_i0(BETA * tf.sqrt(inside)), 0.0)


class Gridding:
    """Evaluate band-limited periodic fields of one set of frequencies at any positions.

    Parameters
    ----------
    frequencies : tuple of numpy.ndarray
        The frequencies (kx, ky) [1/Å] of the coefficients, ``(-n..n) / L`` in increasing order.
    extent : tuple of float
        The period (x, y) of the fields [Å].
    """

    def __init__(self, frequencies: tuple[np.ndarray, np.ndarray], extent: tuple[float, float]) -> None:
        self.sizes = tuple(grid_size(len(k)) for k in frequencies)
        self.extent = tf.constant(extent, tf.float32)
        corrections, rows = [], []
        for k, length, size in zip(frequencies, extent, self.sizes):
            index = np.round(np.asarray(k) * length).astype(int)
            corrections.append(1 / kernel_transform(index / size))
            rows.append(index % size)
        self.correction = tf.constant(np.outer(*corrections), tf.complex64)
        self.rows = [tf.constant(r, tf.int32) for r in rows]

    def _grid(self, spectra: tf.Tensor) -> tf.Tensor:
        """Corrected coefficients (B, C, Kx, Ky) on the oversampled grid, transformed: real (B, Nx * Ny, C)."""
        nx, ny = self.sizes
        batch, channels = tf.shape(spectra)[0], tf.shape(spectra)[1]
        corrected = tf.transpose(spectra * self.correction, (2, 3, 0, 1))  # (Kx, Ky, B, C)
        placed = tf.scatter_nd(
            tf.stack(tf.meshgrid(self.rows[0], self.rows[1], indexing="ij"), axis=-1), corrected,
            tf.stack([nx, ny, batch, channels]),
        )
        values = tf.signal.ifft2d(tf.transpose(placed, (2, 3, 0, 1))) * (nx * ny)
        # The fields are real (Hermitian coefficients), so only the real part is interpolated.
        return tf.reshape(tf.transpose(tf.math.real(values), (0, 2, 3, 1)), (batch, nx * ny, channels))

    def _taps(self, positions: tf.Tensor, axis: int) -> tuple[tf.Tensor, tf.Tensor]:
        """Grid indices and kernel weights (B, P, TAPS) of positions (B, P) [Å] along one axis."""
        size = self.sizes[axis]
        t = tf.math.floormod(positions, self.extent[axis]) / self.extent[axis] * size
        first = tf.math.floor(t) - (TAPS // 2 - 1)
        index = first[..., None] + tf.range(TAPS, dtype=tf.float32)
        return tf.math.floormod(tf.cast(index, tf.int32), size), _kernel(t[..., None] - index)

    def __call__(self, spectra: tf.Tensor, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        """Return the real fields sum_k c_k exp(2 pi i k . r) at positions r = (x, y).

        Parameters
        ----------
        spectra : tf.Tensor
            complex64 (B, C, Kx, Ky) Hermitian coefficients, normalised as ``fft2(a) / (Nx Ny)``.
        x, y : tf.Tensor
            float32 positions (B, P) [Å], any values (reduced modulo the period).

        Returns
        -------
        tf.Tensor
            float32 (B, C, P).
        """
        grid = self._grid(spectra)
        (ix, wx), (iy, wy) = self._taps(x, 0), self._taps(y, 1)
        index = ix[..., :, None] * self.sizes[1] + iy[..., None, :]  # (B, P, TAPS, TAPS)
        batch, points = tf.shape(x)[0], tf.shape(x)[1]
        values = tf.gather(grid, tf.reshape(index, (batch, -1)), batch_dims=1)  # (B, P * TAPS^2, C)
        values = tf.reshape(values, (batch, points, TAPS, TAPS, -1))
        fields = tf.einsum("bpijc,bpi,bpj->bcp", values, wx, wy)
        return tf.ensure_shape(fields, [spectra.shape[0], spectra.shape[1], x.shape[1]])
