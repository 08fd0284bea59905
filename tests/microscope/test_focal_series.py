"""The focal series' defocus sign, settled by the physics of negative-Cs imaging of gold columns.

The paper (Madsen et al. 2018) gives defocus in PyQSTEM's convention, a20 = +C10; the
configuration uses abTEM's, defocus = -C10. With negative Cs, columns are bright, sharp
intensity maxima near overfocus C10 = +sqrt(4/3 |Cs| lambda) (negative-Cs imaging, NCSI).
Images here come from abTEM's own CTF, and from our microscope for the configured series.
"""

import abtem
import numpy as np
import pytest
import tensorflow as tf
from abtem.core.energy import energy2wavelength
from ase.build import fcc110
from scipy import ndimage

from atomsight.microscope import fixed_parameters, stack_parameters

ENERGY = 300e3
FOCAL_SPREAD = 30.0  # Å, the middle of Table 1's range
MICROMETRE = 1e4  # Å
NCSI = 0.9
"""An image is NCSI-like when at least this fraction of the columns are bright maxima. Measured: 1.0 at
C10 = +40..+110 Å for Cs = -10..-32 µm, at most 0.76 (13 of 17 columns, C10 = -190 Å) elsewhere in the series."""


@pytest.fixture(scope="module")
def particle():
    """Exit wave (abTEM, 300 kV, 0.05 Å) of a 10 Å wide Au particle in <110>, 3 atoms per column, and its columns."""
    slab = fcc110("Au", size=(6, 4, 6), a=4.08, orthogonal=True, periodic=True)
    centre = slab.cell.lengths()[:2] / 2
    atoms = slab[np.linalg.norm(slab.positions[:, :2] - centre, axis=1) < 5.0]
    atoms.set_cell([16.0, 16.0, slab.cell.lengths()[2] + 4.0])
    atoms.center()
    potential = abtem.Potential(atoms, sampling=0.05, slice_thickness=1.0, projection="infinite",
                                parametrization="lobato")
    wave = abtem.PlaneWave(energy=ENERGY).multislice(potential).compute()
    columns = np.unique(np.round(atoms.positions[:, :2], 2), axis=0)
    assert len(columns) == 17
    return wave, columns


def bright_columns(image: np.ndarray, columns: np.ndarray, sampling: float) -> float:
    """Fraction of columns with a local intensity maximum (over a 1 Å window) within 0.4 Å of them."""
    maxima = ndimage.maximum_filter(image, size=round(1.0 / sampling)) == image
    r = round(0.4 / sampling)
    pixels = np.round(columns / sampling).astype(int)
    return float(np.mean([maxima[i - r:i + r + 1, j - r:j + r + 1].any() for i, j in pixels]))


def abtem_series(wave: abtem.Waves, defoci: list[float], cs: float) -> list[np.ndarray]:
    """Images of abTEM's CTF (its defocus = -C10) at each defocus [Å]."""
    ctf = lambda defocus: abtem.CTF(energy=ENERGY, defocus=defocus, Cs=cs, focal_spread=FOCAL_SPREAD)  # noqa: E731
    return [wave.apply_ctf(ctf(defocus)).intensity().array for defocus in defoci]


@pytest.mark.parametrize("cs_um", [-28.0, -32.0])
@pytest.mark.parametrize("paper_defocus", [80.0, 100.0])
def test_the_papers_defocus_is_c10(particle, cs_um, paper_defocus):
    # The authors' training code pairs Cs = -28..-32 µm with defocus +80..+100 Å: the NCSI
    # optimum C10 = +sqrt(4/3 |Cs| lambda) = 85.6..91.6 Å lies inside that range.
    optimum = np.sqrt(4 / 3 * abs(cs_um) * MICROMETRE * energy2wavelength(ENERGY))
    assert 80 < optimum < 100
    wave, columns = particle
    as_c10, as_abtem_defocus = abtem_series(wave, [-paper_defocus, paper_defocus], cs_um * MICROMETRE)
    # Read as C10 every column is a bright maximum; read as abTEM's defocus (C10 = -80..-100 Å) none is.
    assert bright_columns(as_c10, columns, wave.sampling[0]) == 1.0
    assert bright_columns(as_abtem_defocus, columns, wave.sampling[0]) == 0.0


@pytest.mark.parametrize("cs_um", [-10.0, -15.0, -20.0])
def test_the_configured_focal_series_holds_the_ncsi_image_for_every_shift(
    particle, repo_config, make_microscope, cs_um
):
    # Section 4.3: Cs = -10..-20 µm; the series' C10 = -170, -40, +90 Å plus a shared -20..20 Å.
    # Its last image (C10 = +70..+110 Å) shows every column bright; the others are not NCSI-like.
    wave, columns = particle
    settings = repo_config["systems"]["gold_counting"]["microscope"]
    offsets = settings["defocus_offsets"]
    # Our images at 0.1 Å/pixel, the finest that the stores' sampling allows.
    microscope, spectra, _ = make_microscope(wave, defocus_offsets=offsets, sampling=0.1, image_size=160)
    for shift in (settings["defocus"][0], 0.0, settings["defocus"][1]):
        params = stack_parameters([fixed_parameters(microscope.settings, defocus=shift, Cs=cs_um * MICROMETRE,
                                                    focal_spread=FOCAL_SPREAD, sampling=0.1)])
        ours = microscope.intensities(tf.constant(spectra), params).numpy()[0]
        theirs = abtem_series(wave, [shift + offset for offset in offsets], cs_um * MICROMETRE)
        for images, sampling in ((theirs, wave.sampling[0]), (ours, 0.1)):
            fractions = [bright_columns(image, columns, sampling) for image in images]
            assert fractions[-1] == 1.0 and max(fractions[:-1]) < NCSI, (shift, sampling, fractions)


@pytest.mark.parametrize("cs_um", [-10.0, -15.0, -20.0])
def test_the_mirrored_focal_series_can_miss_the_ncsi_image(particle, repo_config, cs_um):
    # The paper's offsets fed as abTEM defocus (C10 = +170, +40, -90 Å), shifted by +20 Å:
    # C10 = +150, +20, -110 Å, none of them NCSI-like (measured: at most 4 of 17 columns bright).
    wave, columns = particle
    mirrored = [-offset for offset in repo_config["systems"]["gold_counting"]["microscope"]["defocus_offsets"]]
    images = abtem_series(wave, [20.0 + offset for offset in mirrored], cs_um * MICROMETRE)
    assert max(bright_columns(image, columns, wave.sampling[0]) for image in images) < NCSI
