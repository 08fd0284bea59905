"""The STEM probe intensity and its transfer, checked against abTEM's own probe."""

import abtem
import numpy as np
import pytest
import tensorflow as tf

from atomsight.config import validate_section
from atomsight.microscope.spectra import band_frequencies
from atomsight.microscope.stem import StemSettings, fixed_parameters
from atomsight.microscope.stem.probe import ProbeTransfer

EXTENT = (25.6, 25.6)
SETS = [  # (energy [eV], semi-angle [mrad], atomsight parameters, abTEM's aberrations)
    (60e3, 30.0, dict(defocus=40.0), dict(C10=-40.0)),
    (200e3, 25.0, dict(defocus=-30.0, astigmatism=15.0, astigmatism_angle=0.4, coma=400.0, coma_angle=1.1,
                       trefoil=300.0, trefoil_angle=-0.6),
     dict(C10=30.0, C12=15.0, phi12=0.4, C21=400.0, phi21=1.1, C23=300.0, phi23=-0.6)),
    (300e3, 22.0, dict(defocus=20.0, Cs=-1.5e4, C5=4e7), dict(C10=-20.0, C30=-1.5e4, C50=4e7)),
]


def transfer_of(energy, semiangle, params):
    settings = StemSettings.from_config(validate_section("stem_microscope", {"semiangle": [semiangle, semiangle]}),
                                        energy)
    frequencies = band_frequencies((512, 512), EXTENT, settings.band_limit())
    probe = ProbeTransfer(frequencies, EXTENT, settings.wavelength)
    # Every aberration not named is 0 (fixed_parameters takes the low ends of the ranges otherwise).
    zero = dict(Cs=0.0, C5=0.0, astigmatism=0.0, coma=0.0, trefoil=0.0)
    batch = {k: v[None] for k, v in fixed_parameters(settings, semiangle=semiangle, source_size=0.0,
                                                     **{**zero, **params}).items()}
    return probe, batch


@pytest.mark.parametrize("energy, semiangle, params, aberrations", SETS)
def test_probe_intensity_equals_abtem_probe(energy, semiangle, params, aberrations):
    probe, batch = transfer_of(energy, semiangle, params)
    ours = probe.intensities(batch).numpy()[0]
    # abTEM's probe on the same periodic grid, hard-edged like ours, at the origin.
    reference = abtem.Probe(semiangle_cutoff=semiangle, energy=energy, extent=EXTENT, gpts=probe.sizes, soft=False,
                            aberrations=aberrations).build(scan=(0.0, 0.0)).intensity().compute().array
    reference = reference / reference.sum()
    assert ours.shape == reference.shape
    # The same grid and formula in float32: measured 1e-7 to 3e-7 of the peak, float32 round-off of two
    # FFTs; a sign error in an aberration or its angle moves >5 % of the peak (the test below).
    assert np.abs(ours - reference).max() / reference.max() < 1e-5


def test_a_wrong_coma_angle_or_defocus_sign_is_detected():
    energy, semiangle, params, aberrations = SETS[1]
    probe, batch = transfer_of(energy, semiangle, params)
    ours = probe.intensities(batch).numpy()[0]
    for wrong in (dict(aberrations, phi21=1.1 + np.pi), dict(aberrations, C10=-30.0)):
        reference = abtem.Probe(semiangle_cutoff=semiangle, energy=energy, extent=EXTENT, gpts=probe.sizes,
                                soft=False, aberrations=wrong).build(scan=(0.0, 0.0)).intensity().compute().array
        assert np.abs(ours - reference / reference.sum()).max() / ours.max() > 0.05


def test_transfer_is_one_at_zero_and_vanishes_beyond_twice_the_aperture():
    energy, semiangle, params, _ = SETS[0]
    probe, batch = transfer_of(energy, semiangle, params)
    transfer = np.abs(probe(batch).numpy()[0])
    kx, ky = (k.numpy() for k in (probe.kx, probe.ky))
    k = np.hypot(kx[:, None], ky[None, :])
    assert transfer[k == 0] == pytest.approx(1.0, abs=1e-6)
    # The aperture's autocorrelation is zero beyond 2 alpha / lambda (float32 round-off ~1e-7).
    assert transfer[k > 2 * semiangle * 1e-3 / probe.wavelength * 1.001].max() < 1e-5
    assert transfer[k < 0.5 * semiangle * 1e-3 / probe.wavelength].min() > 0.01


def test_source_envelope_is_the_gaussians_transform():
    energy, semiangle, params, _ = SETS[0]
    probe, batch = transfer_of(energy, semiangle, params)
    sharp = probe(batch).numpy()[0]
    batch["source_size"] = tf.constant([0.3])
    blurred = probe(batch).numpy()[0]
    k2 = probe.kx.numpy()[:, None] ** 2 + probe.ky.numpy()[None, :] ** 2
    np.testing.assert_allclose(blurred, sharp * np.exp(-2 * np.pi**2 * 0.09 * k2), atol=1e-6)
