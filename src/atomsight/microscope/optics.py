"""Coherent image formation: the CTF with temporal envelope on a band-limited exit-wave spectrum,
evaluated on any (scaled, shifted) image grid by a matrix DFT.

Spectra are kept only inside the band that can reach an image (``k <= k_max``), with
the frequencies in increasing order, ``kx = (-n..n) / Lx``. An image pixel grid
``x_m = shift + m * sampling`` then costs two small matrix products instead of a full
inverse FFT, handles per-image scale jitter and sub-pixel translation exactly, and
runs batched on a CPU or a GPU.
"""

from __future__ import annotations

import math

import tensorflow as tf

from ..core.defocus import c10_from_defocus


def aberration_phase(alpha2: tf.Tensor, phi: tf.Tensor, wavelength: float, c: dict[str, tf.Tensor]) -> tf.Tensor:
    """Return the aberration phase chi [rad] in abTEM's polar convention, the one formula for every mode.

    chi = 2 pi / lambda * (alpha^2 / 2 * (C10 + C12 cos(2 (phi - phi12)))
    + alpha^3 / 3 * (C21 cos(phi - phi21) + C23 cos(3 (phi - phi23))) + alpha^4 / 4 * C30
    + alpha^6 / 6 * C50) (``abtem.transfer.Aberrations``), with C10 > 0 overfocus
    (:mod:`atomsight.core.defocus`).

    Parameters
    ----------
    alpha2 : tf.Tensor
        Squared scattering angle (lambda |k|)^2 [rad^2].
    phi : tf.Tensor
        Azimuth atan2(ky, kx) [rad], the shape of ``alpha2``.
    wavelength : float
        Electron wavelength [Å].
    c : dict of tf.Tensor
        Coefficients broadcastable against ``alpha2``: ``C10``, ``C12``, ``C30``, ``C50`` [Å] and
        ``phi12`` [rad] always; ``C21``, ``C23`` [Å] with ``phi21``, ``phi23`` [rad] when present.

    Returns
    -------
    tf.Tensor
        float32 phase, the broadcast shape.
    """
    phase = alpha2 / 2 * (c["C10"] + c["C12"] * tf.cos(2 * (phi - c["phi12"])))
    if "C21" in c:
        alpha3 = alpha2 * tf.sqrt(alpha2)
        phase += alpha3 / 3 * (c["C21"] * tf.cos(phi - c["phi21"]) + c["C23"] * tf.cos(3 * (phi - c["phi23"])))
    phase += alpha2**2 / 4 * c["C30"] + alpha2**3 / 6 * c["C50"]
    return 2 * math.pi / wavelength * phase


def chi(
    kx: tf.Tensor, ky: tf.Tensor, params: dict[str, tf.Tensor], wavelength: float, defocus_offsets: tf.Tensor
) -> tf.Tensor:
    """Return the objective lens' aberration phase chi(k) [rad] for every image and channel.

    :func:`aberration_phase` with C10 from abTEM's defocus plus each channel's offset
    (:func:`atomsight.core.defocus.c10_from_defocus`), C12 and its angle, C30 and C50.

    Parameters
    ----------
    kx, ky : tf.Tensor
        Spatial frequencies along x and y [1/Å], shapes (Kx,) and (Ky,).
    params : dict of tf.Tensor
        Batched parameters (see :func:`atomsight.microscope.params.draw`), each (B,).
    wavelength : float
        Electron wavelength [Å].
    defocus_offsets : tf.Tensor
        Defocus offset of each channel [Å], shape (F,).

    Returns
    -------
    tf.Tensor
        float32 phase of shape (B, F, Kx, Ky).
    """
    alpha2 = wavelength**2 * (kx[:, None] ** 2 + ky[None, :] ** 2)
    phi = tf.math.atan2(tf.broadcast_to(ky[None, :], tf.shape(alpha2)), tf.broadcast_to(kx[:, None], tf.shape(alpha2)))
    column = lambda value: tf.reshape(value, (-1, 1, 1, 1))  # noqa: E731  (B,) -> (B, 1, 1, 1)
    c10 = c10_from_defocus(column(params["defocus"]) + tf.reshape(defocus_offsets, (1, -1, 1, 1)))
    coefficients = {"C10": c10, "C12": column(params["astigmatism"]), "phi12": column(params["astigmatism_angle"]),
                    "C30": column(params["Cs"]), "C50": column(params["C5"])}
    return aberration_phase(alpha2, phi, wavelength, coefficients)


def transfer_function(
    kx: tf.Tensor,
    ky: tf.Tensor,
    params: dict[str, tf.Tensor],
    *,
    wavelength: float,
    defocus_offsets: tf.Tensor,
    k_max: float,
) -> tf.Tensor:
    """Return the objective lens' transfer function exp(-i chi) * E_t * aperture.

    E_t = exp(-(pi lambda focal_spread k^2 / 2)^2) is the quasi-coherent temporal
    envelope (abTEM's ``TemporalEnvelope``, 1/e focal spread); the aperture is a hard
    disk at ``k_max`` (which includes any objective aperture).

    Returns
    -------
    tf.Tensor
        complex64 of shape (B, F, Kx, Ky).
    """
    phase = chi(kx, ky, params, wavelength, defocus_offsets)
    k2 = kx[:, None] ** 2 + ky[None, :] ** 2
    spread = tf.reshape(params["focal_spread"], (-1, 1, 1, 1))
    envelope = tf.exp(-((math.pi * wavelength * spread * k2 / 2) ** 2)) * tf.cast(k2 <= k_max**2, tf.float32)
    return tf.complex(envelope * tf.cos(phase), -envelope * tf.sin(phase))


def dft_matrix(k: tf.Tensor, x: tf.Tensor, period: tf.Tensor) -> tf.Tensor:
    """Return exp(2 pi i k x) for positions ``x`` (B, M) [Å] and frequencies ``k`` (K,) [1/Å].

    Positions are first reduced modulo ``period`` (B,) [Å], the wave's periodic extent,
    which keeps the float32 phase accurate; ``k * period`` is an integer, so the
    result is unchanged.
    """
    x = tf.math.floormod(x, period[:, None])
    phase = 2 * math.pi * x[:, :, None] * k[None, None, :]
    return tf.complex(tf.cos(phase), tf.sin(phase))


def evaluate(spectra: tf.Tensor, ex: tf.Tensor, ey: tf.Tensor) -> tf.Tensor:
    """Evaluate band-limited fields at grid points: ``ex @ spectra @ ey^T`` for every image.

    Parameters
    ----------
    spectra : tf.Tensor
        complex64 (B, C, Kx, Ky): Fourier coefficients, normalised as ``fft2(a) / (Nx Ny)``.
    ex, ey : tf.Tensor
        complex64 (B, M, Kx) and (B, M, Ky) from :func:`dft_matrix`.

    Returns
    -------
    tf.Tensor
        complex64 (B, C, M, M).
    """
    rows = tf.linalg.matmul(ex[:, None], spectra)
    return tf.linalg.matmul(rows, ey[:, None], adjoint_b=False, transpose_b=True)


def intensities(
    spectra: tf.Tensor,
    transfer: tf.Tensor,
    ex: tf.Tensor,
    ey: tf.Tensor,
) -> tf.Tensor:
    """Return the image intensities |psi|^2 of exit-wave spectra under a transfer function.

    Parameters
    ----------
    spectra : tf.Tensor
        complex64 (B, Kx, Ky) band-limited exit-wave spectra.
    transfer : tf.Tensor
        complex64 (B, F, Kx, Ky) from :func:`transfer_function`.
    ex, ey : tf.Tensor
        Image-grid DFT matrices (see :func:`dft_matrix`).

    Returns
    -------
    tf.Tensor
        float32 (B, F, M, M); 1 in vacuum.
    """
    waves = evaluate(spectra[:, None] * transfer, ex, ey)
    return tf.math.real(waves) ** 2 + tf.math.imag(waves) ** 2
