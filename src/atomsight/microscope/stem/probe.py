"""The STEM probe: its intensity's transfer from the aberrations and the convergence semi-angle.

In incoherent ADF imaging the image is the object's ADF response convolved with the
probe intensity |P|^2 and with the effective source (a Gaussian): in Fourier space the
response's spectrum times T(k) = FT[|P|^2](k) / FT[|P|^2](0) times exp(-2 pi^2 s^2 k^2).
The probe is built where abTEM builds it, in Fourier space on the periodic cell's
frequencies m / L: a hard aperture at the semi-angle times exp(-i chi); one inverse FFT
gives the periodic probe, whose intensity's FFT is T at the same frequencies. T reaches
twice the aperture's frequency, so a grid of at least 2 n + 2 points per axis (n the
largest kept index) holds it without wrap-around.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from ...core.defocus import c10_from_defocus
from ..optics import aberration_phase

ABERRATIONS = {"C12": "astigmatism", "C21": "coma", "C23": "trefoil", "C30": "Cs", "C50": "C5"}
"""The drawn parameter of each aberration besides C10 (which is abTEM's ``defocus``, sign flipped)."""

ANGLES = {"phi12": "astigmatism_angle", "phi21": "coma_angle", "phi23": "trefoil_angle"}
"""The drawn angle [rad] of each non-round aberration."""


def probe_grid(frequencies: tuple[np.ndarray, np.ndarray]) -> tuple[int, int]:
    """Return the FFT size per axis on which the probe intensity's transfer is computed.

    The smallest even size above ``2 n + 1`` for kept indices ``-n..n``: T(m) with
    |m| <= n then receives no wrapped-around term, since T vanishes beyond 2 n_aperture <= n.
    """
    return tuple(2 * ((len(k) - 1) // 2) + 2 for k in frequencies)  # type: ignore[return-value]


def _fft_frequencies(size: int, length: float) -> tf.Tensor:
    """Frequencies [1/Å] of an FFT axis of ``size`` points over ``length`` [Å], numpy.fft.fftfreq's order."""
    index = np.arange(size)
    return tf.constant(np.where(index < (size + 1) // 2, index, index - size) / length, tf.float32)


class ProbeTransfer:
    """The transfer T(k) of the probe intensities of a batch of drawn probes, at the object's frequencies.

    Parameters
    ----------
    frequencies : tuple of numpy.ndarray
        The object spectra's frequencies (kx, ky) [1/Å], ``(-n..n) / L`` increasing.
    extent : tuple of float
        The periodic cell (x, y) [Å].
    wavelength : float
        Electron wavelength [Å].
    """

    def __init__(self, frequencies: tuple[np.ndarray, np.ndarray], extent: tuple[float, float],
                 wavelength: float) -> None:
        self.wavelength = wavelength
        self.sizes = probe_grid(frequencies)
        self.qx, self.qy = (_fft_frequencies(n, length) for n, length in zip(self.sizes, extent))
        self.rows = [tf.constant(np.round(np.asarray(k) * length).astype(int) % n, tf.int32)
                     for k, length, n in zip(frequencies, extent, self.sizes)]
        self.kx, self.ky = (tf.constant(k, tf.float32) for k in frequencies)

    def waves(self, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """Return the probes in Fourier space, complex64 (B, Nx, Ny): aperture x exp(-i chi)."""
        qx, qy = self.qx[:, None], self.qy[None, :]
        k2 = qx**2 + qy**2
        alpha2 = self.wavelength**2 * k2
        phi = tf.math.atan2(tf.broadcast_to(qy, tf.shape(k2)), tf.broadcast_to(qx, tf.shape(k2)))
        column = lambda value: tf.reshape(value, (-1, 1, 1))  # noqa: E731  (B,) -> (B, 1, 1)
        coefficients = {"C10": c10_from_defocus(column(params["defocus"]))}
        coefficients.update({symbol: column(params[name]) for symbol, name in {**ABERRATIONS, **ANGLES}.items()})
        phase = aberration_phase(alpha2, phi, self.wavelength, coefficients)
        cutoff = column(params["semiangle"]) * 1e-3
        aperture = tf.cast(alpha2 <= cutoff**2, tf.float32)
        return tf.complex(aperture * tf.cos(phase), -aperture * tf.sin(phase))

    def intensities(self, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """Return the periodic probe intensities (B, Nx, Ny) on the cell's grid, summing to 1."""
        probes = tf.signal.ifft2d(self.waves(params))
        intensity = tf.math.real(probes) ** 2 + tf.math.imag(probes) ** 2
        return intensity / tf.reduce_sum(intensity, axis=(1, 2), keepdims=True)

    def __call__(self, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """Return T(k) / T(0) at the object's frequencies times the source envelope, complex64 (B, Kx, Ky)."""
        transfer = tf.signal.fft2d(tf.complex(self.intensities(params), 0.0))
        transfer = tf.gather(tf.gather(transfer, self.rows[0], axis=1), self.rows[1], axis=2)
        return transfer * tf.complex(source_envelope(self.kx, self.ky, params["source_size"]), 0.0)


def source_envelope(kx: tf.Tensor, ky: tf.Tensor, source_size: tf.Tensor) -> tf.Tensor:
    """Return exp(-2 pi^2 s^2 k^2), the transform of a Gaussian source of standard deviation ``s`` (B,) [Å].

    The demagnified electron source, as seen at the specimen, blurs the probe intensity
    by this Gaussian (FWHM = 2.355 s); float32 (B, Kx, Ky).
    """
    k2 = kx[:, None] ** 2 + ky[None, :] ** 2
    return tf.exp(-2 * math.pi**2 * tf.reshape(source_size, (-1, 1, 1)) ** 2 * k2)
