"""Image formation checked against abTEM's own CTF and intensity."""

import abtem
import numpy as np
import tensorflow as tf

from atomsight.microscope import fixed_parameters, stack_parameters

ABERRATIONS = dict(defocus=-60.0, Cs=-15e4, C5=2e7, astigmatism=30.0, astigmatism_angle=0.7, focal_spread=30.0)


def abtem_image(wave, **aberrations):
    return wave.apply_ctf(abtem.CTF(energy=wave.energy, **aberrations)).intensity().array


def our_image(microscope, spectra, **params):
    batch = stack_parameters([fixed_parameters(microscope.settings, **params)])
    return microscope.intensities(tf.constant(spectra), batch).numpy()[0]


def test_intensity_equals_abtem_apply_ctf_intensity(sheet_wave, make_microscope):
    microscope, spectra, _ = make_microscope(sheet_wave)
    ours = our_image(microscope, spectra, **ABERRATIONS)[0]
    reference = abtem_image(sheet_wave, **ABERRATIONS)
    assert reference.std() > 0.01  # a real phase-contrast image, not a flat one
    # float32 round-off is ~1e-6; the band is cut where the envelope is below 1e-4.
    assert np.abs(ours - reference).max() / reference.mean() < 1e-3


def test_a_wrong_astigmatism_angle_or_defocus_sign_is_detected(sheet_wave, make_microscope):
    microscope, spectra, _ = make_microscope(sheet_wave)
    ours = our_image(microscope, spectra, **ABERRATIONS)[0]
    for wrong in (dict(ABERRATIONS, astigmatism_angle=0.7 + np.pi / 2), dict(ABERRATIONS, defocus=60.0)):
        assert np.abs(ours - abtem_image(sheet_wave, **wrong)).max() / ours.mean() > 0.02


def test_focal_series_channels_are_abtem_images_at_offset_defocus(sheet_wave, make_microscope):
    offsets = [-170.0, -40.0, 90.0]
    microscope, spectra, _ = make_microscope(sheet_wave, defocus_offsets=offsets)
    ours = our_image(microscope, spectra, **dict(ABERRATIONS, defocus=12.0))
    assert ours.shape[0] == 3
    for channel, offset in zip(ours, offsets):
        reference = abtem_image(sheet_wave, **dict(ABERRATIONS, defocus=12.0 + offset))
        assert np.abs(channel - reference).max() / reference.mean() < 1e-3


def test_vacuum_images_are_one(make_microscope):
    empty = abtem.Waves(np.ones((64, 64), np.complex64), energy=80e3, sampling=0.1)
    microscope, spectra, _ = make_microscope(empty)
    np.testing.assert_allclose(our_image(microscope, spectra, **ABERRATIONS), 1.0, atol=1e-5)


def test_a_whole_pixel_shift_rolls_the_image(sheet_wave, make_microscope):
    microscope, spectra, _ = make_microscope(sheet_wave)
    step = sheet_wave.sampling[0]
    still = our_image(microscope, spectra, **ABERRATIONS)[0]
    moved = our_image(microscope, spectra, shift_x=7 * step, shift_y=-3 * step, **ABERRATIONS)[0]
    np.testing.assert_allclose(moved, np.roll(still, (-7, 3), axis=(0, 1)), atol=2e-5)


def test_coarser_sampling_samples_the_same_image(sheet_wave, make_microscope):
    # Twice the pixel size on half the pixels: every second pixel of the fine image. A 45 mrad
    # aperture (1.08 Å^-1) gives both the same band, sampled without aliasing at 0.2 Å/pixel.
    n = sheet_wave.gpts[0] // 2
    fine_microscope, fine_spectra, _ = make_microscope(sheet_wave, aperture=45.0)
    coarse_microscope, coarse_spectra, _ = make_microscope(
        sheet_wave, aperture=45.0, sampling=2 * sheet_wave.sampling[0], image_size=n - n % 8
    )
    fine = our_image(fine_microscope, fine_spectra, **ABERRATIONS)[0]
    coarse = our_image(coarse_microscope, coarse_spectra, sampling=2 * sheet_wave.sampling[0], **ABERRATIONS)[0]
    m = coarse.shape[0]
    np.testing.assert_allclose(coarse, fine[: 2 * m : 2, : 2 * m : 2], atol=2e-5)
