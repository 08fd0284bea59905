"""Drift blur, the dose step (Poisson counts of dose x pixel area) and the detector MTF (eq. 5).

The references are numbers worked out by hand from eq. 5 and from the dose, and the
statistics of Poisson variates, never the formulas of the code.
"""

import numpy as np
import pytest
import tensorflow as tf

from atomsight.microscope import Microscope, MicroscopeSettings, fixed_parameters, stack_parameters
from atomsight.microscope.detector import apply_mtf, gaussian_blur, mtf, poisson_counts
from atomsight.microscope.spectra import band_limited_spectra

# Eq. 5, MTF(q) = (1 - c1) / (1 + (q / (2 c2 q_N))^c3) + c1 with q_N = 0.5 cycles/pixel, by hand:
# c1 = 0.1, c2 = 0.5, c3 = 2.5: 2 c2 q_N = 0.5, so MTF(0) = 1, MTF(q_N) = 0.9 / 2 + 0.1 = 0.55 and
# MTF(q_N / 2) = 0.9 / (1 + 0.5^2.5) + 0.1 = 0.9 / 1.1767767 + 0.1 = 0.8648010.
# c1 = 0, c2 = 0.25, c3 = 2: 2 c2 q_N = 0.25, so MTF(0.25) = 1 / 2 and MTF(0.5) = 1 / (1 + 2^2) = 0.2.
HAND_MTF = [
    ((0.1, 0.5, 2.5), 0.0, 1.0),
    ((0.1, 0.5, 2.5), 0.25, 0.8648010),
    ((0.1, 0.5, 2.5), 0.5, 0.55),
    ((0.0, 0.25, 2.0), 0.25, 0.5),
    ((0.0, 0.25, 2.0), 0.5, 0.2),
]


def batch(image: np.ndarray) -> tf.Tensor:
    return tf.constant(image[None, None], tf.float32)


def one(*values):
    return [tf.constant([value], tf.float32) for value in values]


@pytest.mark.parametrize(("c", "q", "expected"), HAND_MTF)
def test_mtf_at_hand_computed_points(c, q, expected):
    assert float(mtf(tf.constant(q), *c)) == pytest.approx(expected, rel=1e-6)  # float32: a few ulp


@pytest.mark.parametrize(("c", "q", "expected"), [entry for entry in HAND_MTF if entry[1] > 0])
def test_filtering_a_cosine_scales_it_by_the_mtf(c, q, expected):
    # A cosine of q * 128 = 32 or 64 whole cycles is periodic in the image, so without
    # padding the filter is exact: out = MTF(q) cos (at q_N the cosine is +-1 by pixel).
    size = 128
    image = np.cos(2 * np.pi * q * np.arange(size))[:, None] * np.ones((1, size))
    out = apply_mtf(batch(image), *one(*c), pad=0).numpy()[0, 0]
    np.testing.assert_allclose(out, expected * image, atol=1e-5)


def test_noise_after_the_mtf_has_the_mtf_squared_as_power_spectrum():
    size, level = 256, 400.0
    images = 8
    seeds = tf.constant([[k, 2] for k in range(images)], tf.int64)
    counts = poisson_counts(tf.fill([images, 1, size, size], level), seeds)
    noise = apply_mtf(counts - level, *(tf.constant([c] * images) for c in (0.1, 0.5, 2.5)), pad=0).numpy()[:, 0]
    power = (np.abs(np.fft.fft2(noise)) ** 2).mean(axis=0) / (size * size * level)  # white Poisson noise: 1
    q = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij"))
    # About the hand-computed points, MTF^2 = 1, 0.8648^2 = 0.7479, 0.55^2 = 0.3025: below
    # q = 0.04 the MTF is above 0.998, and across a ring 0.01 wide it changes by < 1 %.
    # Each region averages over 2500 exponential variates (standard error < 2 %); 8 % is
    # over 4 standard errors.
    for region, expected in [((0.0, 0.04), 1.0), ((0.245, 0.255), 0.7479), ((0.495, 0.505), 0.3025)]:
        ring = (q > region[0]) & (q < region[1])
        assert ring.sum() * images >= 2500
        assert power[ring].mean() == pytest.approx(expected, rel=0.08)


def test_poisson_counts_have_the_mean_and_variance_of_the_expected_counts():
    expected = np.where(np.arange(200)[:, None] < 100, 8.64, 18.72) * np.ones((1, 200))
    counts = poisson_counts(tf.constant(np.broadcast_to(expected, (2, 1, 200, 200)), tf.float32),
                            tf.constant([[5, 1], [5, 2]], tf.int64)).numpy()
    for rows, mean in [(slice(0, 100), 8.64), (slice(100, 200), 18.72)]:
        sample = counts[:, 0, rows].ravel()
        # 40000 samples: standard errors of 0.2 % (mean) and 0.8 % (variance) at 8.64 counts.
        assert sample.mean() == pytest.approx(mean, rel=0.01)
        assert sample.var() == pytest.approx(mean, rel=0.04)
    assert not np.array_equal(counts[0], counts[1])  # each image has its own seed


def test_flat_image_counts_dose_times_pixel_area_electrons(config_of):
    """1000 e/Å^2 on pixels of 0.12 Å: 1000 x 0.12^2 = 14.4 electrons per pixel, Poisson distributed."""
    size, sampling, extent = 128, 0.12, 128 * 0.12
    config = config_of(sampling=sampling, image_size=size, scale_jitter=0.0, blur=[0.0, 0.0], dose=[10.0, 1.0e4],
                       mtf=None, normalization_sigma=None, augment=False)
    settings = MicroscopeSettings.from_config(config, 80e3)
    vacuum = np.ones((1, size, size), np.complex64)  # a plane exit wave: intensity 1 everywhere
    spectra, frequencies = band_limited_spectra(vacuum, (extent, extent), settings.band_limit())
    microscope = Microscope(settings, wave_frequencies=frequencies, label_frequencies=frequencies,
                            extent=(extent, extent))
    params = []
    for k in range(4):
        p = fixed_parameters(settings, dose=1000.0)
        p["noise_seed"] = tf.constant([k, 3], tf.int64)
        params.append(p)
    images = microscope.images(tf.constant(np.repeat(spectra, 4, axis=0)), stack_parameters(params)).numpy()
    counts = images * 14.4
    # The images are counts / 14.4: whole numbers of electrons (float32 rounding < 1e-4 at ~40 counts).
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-4)
    # 65536 pixels: standard errors 0.015 (mean) and 0.081 (variance, sqrt((m + 2 m^2) / n)); 5 of them.
    assert counts.mean() == pytest.approx(14.4, abs=0.075)
    assert counts.var() == pytest.approx(14.4, abs=0.41)


def test_poisson_noise_of_an_image_does_not_depend_on_its_batch():
    expected = tf.fill([1, 1, 32, 32], 20.0)
    seed = tf.constant([[9, 9]], tf.int64)
    alone = poisson_counts(expected, seed)
    together = poisson_counts(tf.concat([tf.fill([1, 1, 32, 32], 5.0), expected], 0), tf.concat([[[1, 1]], seed], 0))
    np.testing.assert_array_equal(alone[0], together[1])


def test_gaussian_blur_spreads_a_point_to_the_requested_width():
    image = np.zeros((64, 64))
    image[32, 32] = 1.0
    blurred = gaussian_blur(batch(image), tf.constant([2.5]), pad=16).numpy()[0, 0]
    x = np.arange(64) - 32
    assert blurred.sum() == pytest.approx(1.0, rel=1e-4)
    assert np.sqrt((blurred.sum(axis=1) * x**2).sum()) == pytest.approx(2.5, rel=1e-3)
    gaussian = np.exp(-(x**2) / (2 * 2.5**2)) / np.sqrt(2 * np.pi * 2.5**2)
    np.testing.assert_allclose(blurred, np.outer(*[gaussian] * 2), atol=1e-5)

