"""Drift blur, Poisson dose noise and the detector MTF against analytic formulas and statistics."""

import numpy as np
import pytest
import tensorflow as tf

from atomsight.microscope.detector import apply_mtf, gaussian_blur, mtf, poisson_counts


def batch(image: np.ndarray) -> tf.Tensor:
    return tf.constant(image[None, None], tf.float32)


@pytest.mark.parametrize("q, c1, c2, c3", [(0.0, 0.05, 0.5, 2.5), (0.25, 0.1, 0.4, 2.0), (0.5, 0.0, 0.6, 3.0), (0.37, 0.08, 0.45, 2.2)])
def test_mtf_is_equation_5(q, c1, c2, c3):
    expected = (1 - c1) / (1 + (q / (2 * c2 * 0.5)) ** c3) + c1
    assert float(mtf(tf.constant(q), c1, c2, c3)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("cycles", [3, 17, 40, 63])
def test_filtering_a_cosine_scales_it_by_the_mtf(cycles):
    # A cosine of an integer number of cycles is periodic in the image, so without
    # padding the filter is exact: out = MTF(q) * cos.
    size = 128
    q = cycles / size
    x = np.arange(size)[:, None] * np.ones((1, size))
    image = np.cos(2 * np.pi * q * x)
    c1, c2, c3 = 0.07, 0.45, 2.6
    out = apply_mtf(batch(image), tf.constant([c1]), tf.constant([c2]), tf.constant([c3]), pad=0).numpy()[0, 0]
    expected = (1 - c1) / (1 + (q / (2 * c2 * 0.5)) ** c3) + c1
    np.testing.assert_allclose(out, expected * image, atol=1e-5)


def test_noise_after_the_mtf_has_the_mtf_squared_as_power_spectrum():
    size, dose = 256, 400.0
    counts = poisson_counts(tf.fill([4, 1, size, size], dose), tf.constant([[1, 2], [3, 4], [5, 6], [7, 8]], tf.int64))
    c = (tf.constant([0.05] * 4), tf.constant([0.5] * 4), tf.constant([2.5] * 4))
    noise = apply_mtf(counts - dose, *c, pad=0).numpy()[:, 0]
    power = (np.abs(np.fft.fft2(noise)) ** 2).mean(axis=0) / (size * size * dose)  # white noise: 1 everywhere
    q = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij"))
    for low, high in [(0.05, 0.1), (0.2, 0.25), (0.3, 0.35), (0.45, 0.5)]:
        ring = (q >= low) & (q < high)
        expected = (((1 - 0.05) / (1 + (q[ring] / 0.5) ** 2.5) + 0.05) ** 2).mean()
        # Each ring averages thousands of exponential variates: ~2% standard error.
        assert power[ring].mean() == pytest.approx(expected, rel=0.1)


def test_poisson_counts_have_the_mean_and_variance_of_the_dose():
    intensity = np.where(np.arange(200)[:, None] < 100, 0.6, 1.3) * np.ones((1, 200))
    dose, area = 250.0, 0.12**2
    expected = intensity * dose * area * 100  # 100 images' worth, to keep the mean above a few counts
    counts = poisson_counts(tf.constant(np.broadcast_to(expected, (2, 1, 200, 200)), tf.float32),
                            tf.constant([[5, 1], [5, 2]], tf.int64)).numpy()
    for rows, level in [(slice(0, 100), 0.6), (slice(100, 200), 1.3)]:
        sample = counts[:, 0, rows].ravel()
        mean = level * dose * area * 100
        # 40000 samples: the mean is known to 0.5 %, the variance to ~0.7 % (1 sigma).
        assert sample.mean() == pytest.approx(mean, rel=0.02)
        assert sample.var() == pytest.approx(mean, rel=0.04)
    assert not np.array_equal(counts[0], counts[1])  # each image has its own seed


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
    np.testing.assert_allclose(blurred, np.outer(*[np.exp(-(x**2) / (2 * 2.5**2)) / np.sqrt(2 * np.pi * 2.5**2)] * 2), atol=1e-5)
