"""Gridding (the non-uniform FFT) against the direct sum over every frequency."""

import numpy as np
import tensorflow as tf

from atomsight.microscope.spectra import band_limited_spectra
from atomsight.microscope.stem.gridding import Gridding, kernel_transform


def test_gridding_equals_the_direct_sum_at_any_position():
    rng = np.random.default_rng(0)
    extent = (43.2, 40.0)
    # White noise: every kept coefficient at full strength up to 2.5/Å (300 kV, 25 mrad), the hardest case.
    spectra, frequencies = band_limited_spectra(rng.normal(size=(2, 1, 432, 400)), extent, 2.54)
    x = rng.uniform(-50, 90, (2, 400)).astype(np.float32)  # outside the cell too: reduced modulo it
    y = rng.uniform(0, 40, (2, 400)).astype(np.float32)
    ours = Gridding(frequencies, extent)(tf.constant(spectra), tf.constant(x), tf.constant(y)).numpy()
    ex, ey = (np.exp(2j * np.pi * p.astype(np.float64)[..., None] * k) for p, k in zip((x, y), frequencies))
    direct = np.einsum("bpi,bcij,bpj->bcp", ex, spectra.astype(np.complex128), ey).real
    # The kernel aliases 5e-6 of a coefficient; float32 positions (5e-6 Å at 90 Å) times the field's
    # slope (2 pi 2.5/Å) give 3e-5 of its largest value (measured 2.8e-5).
    assert np.abs(ours - direct).max() / np.abs(direct).max() < 1e-4


def test_kernel_transform_is_the_kernels_fourier_transform():
    t = np.linspace(-3, 3, 6001)  # the kernel's support, TAPS = 6 grid points
    kernel = np.i0(13.855100346124816 * np.sqrt(np.maximum(1 - (t / 3) ** 2, 0)))
    for nu in (0.0, 0.1, 0.25):
        numeric = np.trapezoid(kernel * np.cos(2 * np.pi * nu * t), t)
        assert abs(numeric / kernel_transform(nu) - 1) < 1e-6  # trapezoid error of 1e-3 steps
