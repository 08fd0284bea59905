"""Band-limited Fourier spectra of stored exit waves and label maps, the input of the microscope.

Only frequencies that can reach an image are kept (see
:meth:`atomsight.microscope.MicroscopeSettings.band_limit`), in increasing order
``k = (-n..n) / L``, normalised as ``fft2(a) / (Nx Ny)`` so that evaluating the
series at the grid points gives the array back.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

LABEL_FLOOR = 1e-4
"""Label spectra are cut where exp(-2 pi^2 (sigma / 2)^2 k^2), the spectrum of a Gaussian of half the
label width sigma, falls below this (see :func:`label_band_limit`)."""


def label_band_limit(sigma: float) -> float:
    """Return the frequency [1/Å] beyond which label maps of Gaussians of width ``sigma`` [Å] are cut.

    It is where a Gaussian of width ``sigma / 2`` keeps LABEL_FLOOR of its spectrum (1.37/Å
    for sigma = 1 Å): twice the limit of one label Gaussian, because neighbours combined by
    their maximum meet in kinks whose spectrum falls much more slowly. Cut at the single
    Gaussian's limit, random graphene's label maxima moved by up to 0.09 Å from the atoms;
    at this limit by up to 0.025 Å, which is what maps rendered without a cut give
    (``tests/network/test_predict.py``, the round trip).
    """
    return 2 * math.sqrt(-math.log(LABEL_FLOOR) / (2 * math.pi**2)) / sigma


def band_frequencies(gpts: tuple[int, int], extent: tuple[float, float], k_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the kept frequencies (kx, ky) [1/Å] of a grid: |k| <= k_max along each axis, below Nyquist."""
    frequencies = []
    for n, length in zip(gpts, extent):
        half = min(int(math.floor(k_max * length + 1e-9)), (n - 1) // 2)
        frequencies.append(np.arange(-half, half + 1) / length)
    return frequencies[0], frequencies[1]


def band_limited_spectra(
    arrays: np.ndarray, extent: tuple[float, float], k_max: float
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Return the band-limited spectra of arrays sampled on a periodic grid.

    Parameters
    ----------
    arrays : numpy.ndarray
        Real or complex arrays (..., Nx, Ny), e.g. exit waves or label maps.
    extent : tuple of float
        Periodic extent (x, y) of the grid [Å].
    k_max : float
        Largest frequency kept along each axis [1/Å].

    Returns
    -------
    spectra : numpy.ndarray
        complex64 (..., Kx, Ky) coefficients, ``fft2(arrays) / (Nx Ny)`` at the kept
        frequencies.
    frequencies : tuple of numpy.ndarray
        The frequencies (kx, ky) [1/Å] in increasing order.
    """
    nx, ny = arrays.shape[-2:]
    kx, ky = band_frequencies((nx, ny), extent, k_max)
    spectra = scipy.fft.fft2(arrays, axes=(-2, -1), workers=-1) / (nx * ny)
    rows = np.round(kx * extent[0]).astype(int) % nx
    cols = np.round(ky * extent[1]).astype(int) % ny
    return spectra[..., rows[:, None], cols[None, :]].astype(np.complex64), (kx, ky)
