"""The whole chain: labels follow the image through scale, shift and symmetry; parameters are drawn as configured."""

import numpy as np
import pytest
import tensorflow as tf
from ase import Atoms
from scipy import stats

from atomsight.microscope import MicroscopeSettings, draw, fixed_parameters, stack_parameters
from atomsight.simulation.labels import gaussian_label_maps
from atomsight.simulation.simulate import exit_wave

ATOM = (3.1, 7.9)  # an asymmetric place, so every symmetry moves it somewhere else


@pytest.fixture(scope="module")
def single_atom(make_microscope):
    simulation = {"potential_sampling": 0.05, "storage_sampling": 0.1, "slice_thickness": 2.0,
                  "projection": "infinite", "parametrization": "lobato", "thermal": {"rms_displacement": {"Au": 0.0}}}
    atoms = Atoms("Au", positions=[[*ATOM, 1.0]], cell=[12.8, 12.8, 2.0], pbc=True)
    wave = exit_wave(atoms, energy=300e3, simulation=simulation, device="cpu").compute()
    labels = gaussian_label_maps(np.array([ATOM]), np.array([0]), n_classes=1, gpts=wave.gpts,
                                 sampling=wave.sampling, sigma=1.0)
    return make_microscope(wave, labels, sampling=0.112, image_size=96)


def peak(array):
    return np.array(np.unravel_index(np.argmax(array), array.shape))


@pytest.mark.parametrize("transform", range(8))
def test_label_peak_stays_on_the_atom_under_every_symmetry_scale_and_shift(single_atom, transform):
    microscope, spectra, label_spectra = single_atom
    params = stack_parameters([fixed_parameters(microscope.settings, defocus=-20.0, Cs=-15e4, focal_spread=20.0,
                                                sampling=0.112, shift_x=0.75, shift_y=-1.3, dihedral=transform)])
    images, labels = microscope(tf.constant(spectra), tf.constant(label_spectra), params)
    image, label = images.numpy()[0, :, :, 0], labels.numpy()[0, :, :, 1]
    atom_pixel = peak(np.abs(image - 1))
    assert np.linalg.norm(atom_pixel - peak(label)) <= 1.0  # within a pixel (0.11 Å)
    expected = (np.array(ATOM) - (0.75, -1.3)) / 0.112  # where the atom lies before the symmetry
    untransformed = peak(microscope.labels(tf.constant(label_spectra), params).numpy()[0, :, :, 1])
    assert np.linalg.norm(untransformed - expected) <= 1.0
    if transform:
        assert np.linalg.norm(peak(label) - untransformed) > 5


def test_labels_are_probabilities_with_background_first(single_atom):
    microscope, _, label_spectra = single_atom
    params = stack_parameters([fixed_parameters(microscope.settings, sampling=0.112)])
    labels = microscope.labels(tf.constant(label_spectra), params).numpy()[0]
    assert labels.min() >= 0 and labels.max() <= 1
    np.testing.assert_allclose(labels.sum(-1), 1.0, atol=1e-5)
    assert labels[..., 1].max() == pytest.approx(1.0, abs=0.02)  # the Gaussian's amplitude
    assert labels[..., 0].min() == pytest.approx(0.0, abs=0.02)


def test_parameters_fall_in_their_ranges_and_dose_is_log_uniform(config_of):
    settings = MicroscopeSettings.from_config(config_of(), 80e3)
    draws = stack_parameters([draw(tf.constant([7, i], tf.int64), settings, tf.constant([43.2, 43.2]))
                              for i in range(2000)])
    for name in ("defocus", "Cs", "C5", "astigmatism", "focal_spread", "blur", "mtf_c1", "mtf_c2", "mtf_c3"):
        low, high = settings.ranges[name]
        values = draws[name].numpy()
        assert values.min() >= low and values.max() <= high
        # Uniform: the mean of 2000 draws lies within 4 standard errors of the centre, and their
        # distribution passes a Kolmogorov-Smirnov test against uniform(low, high) at the 0.1 % level.
        assert abs(values.mean() - (low + high) / 2) < 4 * (high - low) / np.sqrt(12 * 2000)
        assert stats.kstest(values, stats.uniform(low, high - low).cdf).pvalue > 1e-3, name
    log_dose = np.log10(draws["dose"].numpy())
    assert abs(log_dose.mean() - 2.5) < 4 * 3 / np.sqrt(12 * 2000)  # log-uniform on 10^1 .. 10^4
    sampling = draws["sampling"].numpy()
    assert sampling.min() >= 0.12 * 0.9 - 1e-6 and sampling.max() <= 0.12 * 1.1 + 1e-6
    assert sorted(np.unique(draws["dihedral"].numpy())) == list(range(8))


def test_the_same_seed_draws_the_same_microscope(config_of):
    settings = MicroscopeSettings.from_config(config_of(), 80e3)
    a, b, c = (draw(tf.constant(seed, tf.int64), settings, tf.constant([10.0, 10.0]))
               for seed in ([1, 5], [1, 5], [1, 6]))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["defocus"], c["defocus"])


def test_band_limit_follows_envelope_aperture_and_sampling(config_of):
    settings = MicroscopeSettings.from_config(config_of(), 80e3)
    # exp(-(pi lambda 20 k^2 / 2)^2) = 1e-4 at 80 kV (lambda = 0.04176 Å)
    assert settings.band_limit() == pytest.approx(np.sqrt(2 * np.sqrt(np.log(1e4)) / (np.pi * 0.041757 * 20)), rel=1e-3)
    apertured = MicroscopeSettings.from_config(config_of(aperture=20.0), 80e3)
    assert apertured.band_limit() == pytest.approx(20e-3 / 0.041757, rel=1e-3)
    coarse = MicroscopeSettings.from_config(config_of(sampling=0.3, image_size=128, focal_spread=[0.0, 1.0]), 80e3)
    assert coarse.band_limit() == pytest.approx(1 / (4 * 0.33))


def test_drift_blur_damps_the_spectrum_by_its_width_in_angstrom_at_the_drawn_sampling(sheet_wave, make_microscope):
    # One period of the 17.6 Å sheet on 160 pixels of 0.11 Å (nominal 0.115 Å, jitter 0.1): the
    # image is periodic, so the blur's transfer exp(-2 pi^2 sigma^2 k^2), k in 1/Å, applies to
    # its FFT exactly, away from the reflect-padded edges.
    microscope, spectra, _ = make_microscope(sheet_wave, sampling=0.115, scale_jitter=0.1, image_size=160,
                                             blur=[0.0, 0.4])
    images = [
        microscope.images(tf.constant(spectra), stack_parameters([fixed_parameters(
            microscope.settings, defocus=-60.0, Cs=-15e4, focal_spread=20.0, sampling=0.11, blur=sigma,
        )])).numpy()[0, :, :, 0]
        for sigma in (0.0, 0.4)
    ]
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(160, 0.11), np.fft.fftfreq(160, 0.11), indexing="ij"))
    expected = np.fft.ifft2(np.fft.fft2(images[0]) * np.exp(-2 * np.pi**2 * 0.4**2 * k**2)).real
    inner = slice(16, -16)  # 4 sigma = 1.6 Å = 15 pixels from the edges
    sharp_contrast = images[0][inner, inner].std()
    blurred_contrast = images[1][inner, inner].std()
    assert blurred_contrast < 0.6 * sharp_contrast  # measured 0.47: strong enough to tell widths apart
    # Measured: 2e-5 of the contrast (float32); blurring by 0.4 / 0.115 pixels (the nominal sampling)
    # instead differs by 0.14 of it.
    assert np.abs(images[1] - expected)[inner, inner].max() < 0.01 * sharp_contrast


def test_a_curriculum_starts_at_its_ranges_and_widens_linearly_to_the_full_ones(config_of):
    settings = MicroscopeSettings.from_config(config_of(), 80e3, {"steps": 10, "start": {"defocus": [-80.0, -60.0],
                                                                                          "dose": [1e3, 1e4]}})
    extent = tf.constant([43.2, 43.2])

    def drawn(progress, name):
        values = [draw(tf.constant([3, i], tf.int64), settings, extent, tf.constant(progress))[name]
                  for i in range(400)]
        return np.array(values)

    start, middle, end = (drawn(p, "defocus") for p in (0.0, 0.5, 1.0))
    assert start.min() >= -80.0 and start.max() <= -60.0
    # Halfway, the range is [-140, 70]: halfway between [-80, -60] and the full [-200, 200].
    assert middle.min() >= -140.0 and middle.max() <= 70.0 and middle.min() < -130.0 and middle.max() > 60.0
    assert end.min() < -190.0 and end.max() > 190.0
    log_dose = np.log10(drawn(0.5, "dose"))  # from [3, 4] towards [1, 4] in log10: [2, 4] halfway
    assert log_dose.min() >= 2.0 - 1e-5 and log_dose.max() <= 4.0 + 1e-5 and log_dose.min() < 2.1
    # Parameters outside the curriculum keep their full range from the start.
    cs = drawn(0.0, "Cs")
    assert cs.min() < -1.8e5 and cs.max() > 1.8e5


def test_contrast_weights_grow_with_the_noise_free_contrast_up_to_one(sheet_wave, make_microscope):
    microscope, spectra, label_spectra = make_microscope(sheet_wave, image_size=128)
    settings = microscope.settings
    # Near the negative-Cs optimum graphene's contrast is several percent; at Cs = C10 = 0 a pure
    # phase object has almost none (its contrast comes from the band limit alone).
    params = stack_parameters([fixed_parameters(settings, defocus=-80.0, Cs=-1.2e5, focal_spread=20.0),
                               fixed_parameters(settings, defocus=0.0, Cs=0.0, C5=0.0, focal_spread=20.0)])
    batch = tf.concat([spectra, spectra], axis=0), tf.concat([label_spectra, label_spectra], axis=0)
    intensities = microscope.intensities(batch[0], params).numpy()
    contrast = intensities.std(axis=(2, 3)).mean(1) / intensities.mean(axis=(2, 3)).mean(1)
    assert contrast[0] > 0.03 and contrast[1] < 0.01
    images, labels, weights = microscope.weighted(*batch, params, full_weight_contrast=0.02)
    np.testing.assert_allclose(weights.numpy()[:, 0, 0], np.minimum(contrast / 0.02, 1.0), rtol=1e-4)
    assert weights.shape == (2, 128, 128) and np.ptp(weights.numpy(), axis=(1, 2)).max() == 0
    unweighted = microscope(*batch, params)
    np.testing.assert_array_equal(images, unweighted[0])
    np.testing.assert_array_equal(labels, unweighted[1])
