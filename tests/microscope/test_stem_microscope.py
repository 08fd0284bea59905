"""The STEM chain: a point object gives the probe back, the scan's faults move lines as imposed,
the detector noise has the documented mean and variance, and the same seed gives the same image."""

import abtem
import numpy as np
import pytest
import tensorflow as tf

from atomsight.config import validate_section
from atomsight.microscope.spectra import band_frequencies, label_band_limit
from atomsight.microscope.stem import StemMicroscope, StemSettings, draw, fixed_parameters
from atomsight.microscope.stem.scan import scan_positions

EXTENT = (25.6, 25.6)
ENERGY = 60e3
POINT = (6.1, 6.7)  # the delta object
QUIET = dict(Cs=0.0, C5=0.0, astigmatism=0.0, coma=0.0, trefoil=0.0, drift=0.0, jitter=0.0, flyback=0.0,
             slow_scan=0.0, background=0.0, source_size=0.0, rotation=0.0, semiangle=30.0)


def stem(**overrides):
    section = validate_section("stem_microscope", {"semiangle": [30.0, 30.0], "normalization_sigma": None,
                                                   "augment": False, "dose": None, **overrides})
    settings = StemSettings.from_config(section, ENERGY)
    frequencies = band_frequencies((256, 256), EXTENT, settings.band_limit())
    labels = band_frequencies((256, 256), EXTENT, label_band_limit(1.0))
    return StemMicroscope(settings, wave_frequencies=frequencies, label_frequencies=labels, extent=EXTENT)


def point_spectrum(microscope, point=POINT):
    """The band-limited spectrum of a delta at ``point`` [Å] in the periodic cell: exp(-2 pi i k r0) / area."""
    kx, ky = (k.numpy() for k in (microscope.probe.kx, microscope.probe.ky))
    phase = np.exp(-2j * np.pi * (kx[:, None] * point[0] + ky[None, :] * point[1]))
    return tf.constant(phase[None] / (EXTENT[0] * EXTENT[1]), tf.complex64)


def batch(microscope, **values):
    return {k: v[None] for k, v in fixed_parameters(microscope.settings, **{**QUIET, **values}).items()}


@pytest.mark.parametrize("source_size", [0.0, 0.3])
def test_a_point_object_gives_abtems_probe_intensity_blurred_by_the_source(source_size):
    microscope = stem(image_size=128, sampling=0.1, scale_jitter=0.0)
    params = batch(microscope, defocus=40.0, sampling=0.1, source_size=source_size)
    image = microscope.intensities(point_spectrum(microscope), params).numpy()[0, 0]
    # abTEM's probe (C10 = -40 Å) on a 0.1 Å grid of the cell, as a density [1/Å^2], blurred by the
    # source's Gaussian, then moved to the point.
    probe = abtem.Probe(semiangle_cutoff=30.0, energy=ENERGY, extent=EXTENT, gpts=256, soft=False,
                        aberrations={"C10": -40.0}).build(scan=(0.0, 0.0)).intensity().compute().array
    density = np.asarray(probe) / np.sum(probe) / 0.01
    k2 = np.add.outer(np.fft.fftfreq(256, 0.1) ** 2, np.fft.fftfreq(256, 0.1) ** 2)
    density = np.fft.ifft2(np.fft.fft2(density) * np.exp(-2 * np.pi**2 * source_size**2 * k2)).real
    expected = np.roll(density, (61, 67), axis=(0, 1))[:128, :128]
    # Measured 3e-6 of the peak (float32); the gridding's own error is 3e-5 of the largest value at most.
    assert np.abs(image - expected).max() / expected.max() < 1e-4


def row_centres(image, sampling):
    """Centre of mass along each line [Å], weighted by a Gaussian (0.5 Å) re-centred on it until it settles.

    For a profile symmetric about its centre (a round probe's, on any line) this converges to the
    centre exactly; a smooth window keeps the cut tails from jumping with the pixel of the peak.
    """
    y = np.arange(image.shape[1]) * sampling
    centres = []
    for row in image:
        centre = y[np.argmax(row)]
        for _ in range(50):
            weight = row * np.exp(-((y - centre) ** 2) / (2 * 0.5**2))
            centre = np.sum(weight * y) / np.sum(weight)
        centres.append(centre)
    return np.array(centres)


def test_one_lines_jitter_moves_that_line_alone_by_the_amount_imposed():
    microscope = stem(image_size=128, sampling=0.1, scale_jitter=0.0)
    params = batch(microscope, sampling=0.1, defocus=0.0)
    spectrum = point_spectrum(microscope)[:, None] * microscope.probe(params)[:, None]
    jitter = np.zeros((1, 128), np.float32)
    jitter[0, 61] = 0.3
    lines = slice(58, 65)  # the lines through the point (x = 6.1 Å)
    images = [microscope.gridding(spectrum, *scan_positions(params, tf.constant(j), 128)).numpy().reshape(128, 128)
              for j in (np.zeros_like(jitter), jitter)]
    moved = row_centres(images[1][lines], 0.1) - row_centres(images[0][lines], 0.1)
    # The probe sits 0.3 Å further along line 61, so the point appears 0.3 Å earlier there; 1e-3 Å
    # is the sampled, windowed centre's error (the float32 positions are good to 1e-6 Å).
    np.testing.assert_allclose(moved, [0, 0, 0, -0.3, 0, 0, 0], atol=1e-3)


def test_drift_along_the_lines_shears_the_image_by_the_drift_at_each_lines_time():
    microscope = stem(image_size=128, sampling=0.1, scale_jitter=0.0, drift=[0.0, 1.0])
    still, drifting = (
        microscope.intensities(point_spectrum(microscope), batch(microscope, sampling=0.1, drift=d,
                                                                 drift_angle=np.pi / 2)).numpy()[0, 0]
        for d in (0.0, 1.0)
    )
    lines = np.arange(58, 65)
    moved = row_centres(drifting[lines], 0.1) - row_centres(still[lines], 0.1)
    # At line s the probe has drifted by 1 Å x (s M + p) / M^2 along the line, so the point appears that
    # much earlier; p ~ 67 (the point's pixel) adds 1 Å x 67 / 128^2 = 0.004 Å; the line's own stretch,
    # 1 / 128^2 per pixel, moves the centre by < 1e-4 Å.
    expected = -1.0 * (lines * 128 + 67) / 128**2
    np.testing.assert_allclose(moved, expected, atol=1e-3)


def test_rotation_turns_the_scan_about_the_frames_centre():
    microscope = stem(image_size=16, sampling=0.1, scale_jitter=0.0)
    params = batch(microscope, sampling=0.1, rotation=np.pi / 2, shift_x=1.0, shift_y=2.0)
    x, y = (p.numpy().reshape(16, 16) for p in scan_positions(params, tf.zeros((1, 16)), 16))
    # A quarter turn: lines run along -x, successive lines along +y, about the centre (1.75, 2.75) Å.
    np.testing.assert_allclose(x[0], 1.0 + 0.75 - (0.1 * np.arange(16) - 0.75), atol=1e-5)
    np.testing.assert_allclose(y[:, 0], 2.0 + 0.1 * np.arange(16), atol=1e-5)


def test_detector_signal_has_the_documented_mean_and_variance():
    microscope = stem(image_size=128, sampling=0.1, scale_jitter=0.0, dose=[1e4, 1e4])
    level = 0.05  # a flat response: 5 % of the beam reaches the detector
    kx, ky = (k.numpy() for k in (microscope.probe.kx, microscope.probe.ky))
    flat = np.where(np.add.outer(kx**2, ky**2) == 0, level, 0).astype(np.complex64)
    gain, spread, read = 20.0, 0.5, 15.0
    values = []
    for seed in range(4):
        params = batch(microscope, sampling=0.1, dose=1e4, gain=gain, gain_spread=spread, read_noise=read)
        params["noise_seed"] = tf.constant([[seed, 3]], tf.int64)
        values.append(microscope.images(tf.constant(flat[None]), params).numpy().ravel())
    values = np.concatenate(values)
    n = level * 1e4 * 0.1**2  # 5 electrons per pixel on average
    mean, variance = gain * n, gain**2 * (1 + spread**2) * n + read**2
    count = values.size  # 65536 pixels
    # Standard errors: sqrt(var / N) for the mean; for the variance sqrt((mu4 - var^2) / N), with
    # mu4 <= 3 var^2 + var * (gain^2 (1 + s^2))^2 (Poisson's excess kurtosis 1/n), below 2 var / sqrt(N) here.
    assert abs(values.mean() - mean) < 5 * np.sqrt(variance / count)
    assert abs(values.var() - variance) < 5 * 2 * variance / np.sqrt(count)


def test_the_same_seed_gives_the_same_image_in_a_dataset_map_and_a_tf_function():
    microscope = stem(image_size=64, sampling=0.12, dose=[1e3, 1e5], normalization_sigma=4.0, augment=True,
                      background=[0.0, 0.01])
    spectrum = point_spectrum(microscope)[0] + 0.01
    labels = tf.zeros((1, *[len(k) for k in band_frequencies((256, 256), EXTENT, label_band_limit(1.0))]),
                      tf.complex64)
    extent = tf.constant(EXTENT)

    def element(index):
        return spectrum, labels, draw(tf.stack([tf.constant(5, tf.int64), index]), microscope.settings, extent)

    dataset = tf.data.Dataset.range(4).map(element).batch(2).map(microscope)
    mapped = [images.numpy() for images, _ in dataset]
    first = next(iter(tf.data.Dataset.range(4).map(element).batch(2)))
    eager, traced = microscope(*first), tf.function(microscope)(*first)
    np.testing.assert_allclose(mapped[0], eager[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(mapped[0], traced[0].numpy(), atol=1e-5)
    again = [images.numpy() for images, _ in dataset]
    np.testing.assert_array_equal(mapped[1], again[1])
    assert np.abs(mapped[0][0] - mapped[0][1]).max() > 0.1  # different elements, different microscopes
    assert mapped[0].shape == (2, 64, 64, 1) and np.isfinite(mapped[0]).all()


def test_parameters_fall_in_their_ranges_and_the_field_of_view_is_checked():
    microscope = stem()
    settings = microscope.settings
    draws = [draw(tf.constant([7, i], tf.int64), settings, tf.constant(EXTENT)) for i in range(200)]
    for name in ("defocus", "coma", "source_size", "drift", "jitter", "gain"):
        values = np.array([d[name].numpy() for d in draws])
        low, high = settings.bounds(name)
        assert values.min() >= low - 1e-6 and values.max() <= high + 1e-6 and np.ptp(values) > 0.5 * (high - low)
    rotation = np.array([d["rotation"].numpy() for d in draws])
    assert rotation.min() >= 0 and rotation.max() <= 2 * np.pi
    # 192 x 0.132 Å x sqrt(2) + the faults' reach (drift 1, flyback 0.3, 2 x (0.1 + 4 x 0.1)) Å.
    assert settings.largest_field_of_view == pytest.approx(192 * 0.132 * np.sqrt(2) + 2.3, rel=1e-5)
