import numpy as np
import pytest

from atomsight.microscope import local_normalize


def local_stats(image, window):
    """Means and deviations over square windows of ``window`` pixels, away from the edges."""
    n = image.shape[0] // window
    blocks = image[: n * window, : n * window].reshape(n, window, n, window).swapaxes(1, 2)[1:-1, 1:-1]
    return blocks.mean(axis=(2, 3)), blocks.std(axis=(2, 3))


def test_normalised_images_have_local_mean_zero_and_deviation_one():
    rng = np.random.default_rng(0)
    size = 256
    x, y = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    # Illumination and contrast that vary across the image, as in an experiment.
    image = 50 + 30 * x + (1 + 4 * y) * rng.normal(size=(size, size))
    out = local_normalize(image[None, :, :, None].astype(np.float32), sigma=20.0).numpy()[0, :, :, 0]
    means, deviations = local_stats(out, 32)
    # Windows of 32 x 32 independent pixels: the mean is known to ~0.03, the deviation to ~0.02.
    assert np.abs(means).max() < 0.2
    assert np.abs(deviations - 1).max() < 0.2
    raw_means, raw_deviations = local_stats(image, 32)
    assert raw_deviations.max() / raw_deviations.min() > 2  # the input really varied


def test_focal_series_share_one_normalisation():
    rng = np.random.default_rng(1)
    series = np.stack([10 + rng.normal(size=(128, 128)), 10 + 3 * rng.normal(size=(128, 128))], -1)[None]
    out = local_normalize(series.astype(np.float32), sigma=16.0).numpy()[0]
    # A common denominator keeps the relative contrast of the channels (1 : 3).
    assert out[..., 1].std() / out[..., 0].std() == pytest.approx(3.0, rel=0.1)
    assert np.sqrt((out**2).mean()) == pytest.approx(1.0, rel=0.1)


def test_a_constant_image_normalises_to_zero():
    out = local_normalize(np.full((1, 64, 48, 1), 7.0, np.float32), sigma=10.0).numpy()
    np.testing.assert_allclose(out, 0.0, atol=1e-3)
