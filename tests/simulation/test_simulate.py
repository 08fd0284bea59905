import abtem
import numpy as np
import pytest
from abtem import orthogonalize_cell
from abtem.parametrizations import LobatoParametrization
from ase import Atoms
from ase.build import graphene

from atomsight.device import gpu_available
from atomsight.simulation.simulate import exit_wave, potential, simulate_exit_waves, storage_gpts

DEVICES = ["cpu", pytest.param("gpu", marks=pytest.mark.skipif(not gpu_available(),
                                                                 reason="needs CuPy and a CUDA GPU"))]

SIMULATION = {
    "potential_sampling": 0.05,
    "storage_sampling": 0.1,
    "slice_thickness": 1.0,
    "projection": "infinite",
    "parametrization": "lobato",
    "thermal": {"rms_displacement": {"C": 0.043}},
}


def sheet(shift: float = 0.0) -> Atoms:
    """A small orthogonal graphene sheet (about 9.8 x 8.5 Å) in a 2 Å thick cell."""
    atoms = orthogonalize_cell(graphene(a=2.46, vacuum=1.0)) * (4, 2, 1)
    atoms.cell[2, 2] = 2.0
    atoms.positions[:, 2] = 1.0
    atoms.positions[:, 0] += shift
    atoms.wrap()
    return atoms


def test_storage_grid_holds_whole_pixels():
    assert storage_gpts((43.2, 43.2), 0.1) == (432, 432)
    assert storage_gpts((12.0, 9.84), 0.12) == (100, 82)


@pytest.mark.parametrize("device", DEVICES)
def test_vacuum_exit_wave_is_the_unit_plane_wave(device):
    empty = Atoms(cell=(6.0, 6.0, 2.0), pbc=True)
    waves = simulate_exit_waves([empty], energy=80e3, simulation=SIMULATION, device=device, progress=False)
    np.testing.assert_allclose(waves.array, 1.0, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_image_from_stored_wave_matches_image_from_full_wave(device):
    atoms = sheet()
    lobato = LobatoParametrization(sigmas={"C": 0.043})  # abTEM's own smearing, not atomsight's
    reference = abtem.Potential(atoms, sampling=0.05, slice_thickness=1.0, projection="infinite",
                                parametrization=lobato)
    full = abtem.PlaneWave(energy=80e3).multislice(reference).compute()  # the CPU reference
    stored = exit_wave(atoms, energy=80e3, simulation=SIMULATION, device=device).compute().to_cpu()
    assert stored.sampling == pytest.approx((0.1, 0.1), rel=0.02)
    # An 80 mrad aperture (1.9 Å^-1 at 80 kV) keeps the image's band (3.8 Å^-1) below the
    # storage grid's Nyquist frequency (5 Å^-1), so both images are sampled exactly.
    ctf = abtem.CTF(energy=80e3, semiangle_cutoff=80, defocus=-60.0, Cs=-15e4, astigmatism=20.0, astigmatism_angle=0.4)
    image_full = full.apply_ctf(ctf).intensity().interpolate(gpts=stored.gpts, method="fft").array
    image_stored = stored.apply_ctf(ctf).intensity().array
    error = np.abs(image_stored - image_full).max() / image_full.mean()
    assert error < 1e-4, error  # float32 FFT round-off is ~1e-6; a lost band would give >1e-2


def test_result_does_not_depend_on_the_number_of_threads():
    structures = [sheet(0.0), sheet(0.7), sheet(1.3)]
    one = simulate_exit_waves(structures, energy=80e3, simulation=SIMULATION, threads=1, progress=False)
    two = simulate_exit_waves(structures, energy=80e3, simulation=SIMULATION, threads=2, progress=False)
    np.testing.assert_array_equal(one.array, two.array)
    assert not np.allclose(one.array[0], one.array[1])


def test_structure_axis_records_the_split_indices():
    waves = simulate_exit_waves([sheet(), sheet(0.5)], energy=80e3, simulation=SIMULATION, indices=[40, 41],
                                progress=False)
    assert waves.shape[0] == 2 and waves.array.dtype == np.complex64
    axis = waves.ensemble_axes_metadata[0]
    assert axis.label == "structure" and tuple(axis.values) == (40, 41)


def test_structures_with_different_cells_are_rejected():
    other = sheet()
    other.cell[0, 0] += 1.0
    with pytest.raises(ValueError, match="share a lateral cell"):
        simulate_exit_waves([sheet(), other], energy=80e3, simulation=SIMULATION, progress=False)


def with_displacements(**rms_displacement: float) -> dict:
    """The test settings with these rms displacements per element [Å]."""
    return {**SIMULATION, "thermal": {"rms_displacement": rms_displacement}}


def reflections(array: np.ndarray, extent: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the 2D spectrum of a periodic image, the mask of its reflections and k^2 [1/Å^2].

    A reflection is a nonzero frequency whose amplitude exceeds ``floor`` times the
    zero-frequency one; with a commensurate cell every reflection falls on one pixel.
    """
    spectrum = np.fft.fft2(array)
    kx, ky = (np.fft.fftfreq(n, length / n) for n, length in zip(array.shape, extent))
    k2 = kx[:, None] ** 2 + ky[None] ** 2
    mask = (np.abs(spectrum) > floor * np.abs(spectrum[0, 0])) & (k2 > 0)
    return spectrum, mask, k2


def projected_potential(atoms: Atoms, simulation: dict) -> np.ndarray:
    """The potential of ``atoms`` as atomsight builds it, summed over slices [eV Å/e]."""
    return potential(atoms, simulation=simulation, device="cpu").build(lazy=False).project().array


def test_thermal_smearing_damps_each_reflection_of_the_potential_by_the_debye_waller_factor():
    atoms, u = sheet(), 0.15  # a large u, so the damping is large: down to 0.31 at 1.63 1/Å
    extent = atoms.cell.lengths()[:2]
    blurred = projected_potential(atoms, with_displacements(C=u))
    assert blurred.dtype == np.float32  # as static potentials are: double precision would cost 10 %
    static, mask, k2 = reflections(projected_potential(atoms, with_displacements(C=0.0)), extent, 0.05)
    smeared, _, _ = reflections(blurred, extent, 0.05)
    assert mask.sum() >= 30  # the 6 first-order graphene reflections and their harmonics up to 1.6 1/Å
    debye_waller = np.exp(-2 * np.pi**2 * u**2 * k2[mask])
    assert debye_waller.min() < 0.35
    # Both are float32 sums of the same atoms; the ratio is exact up to float32 round-off (~1e-6).
    np.testing.assert_allclose(smeared[mask] / static[mask], debye_waller, rtol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_exit_wave_reflections_carry_the_debye_waller_factor(device):
    """Weak-phase check: psi = exp(i sigma V) ~ 1 + i sigma V, so a reflection of psi scales like V's."""
    atoms, u = sheet(), 0.15
    extent = atoms.cell.lengths()[:2]
    waves = [exit_wave(atoms, energy=80e3, simulation=with_displacements(C=c), device=device).compute().to_cpu().array
             for c in (0.0, u)]
    static, mask, k2 = reflections(waves[0], extent, 0.002)
    smeared, _, _ = reflections(waves[1], extent, 0.002)
    assert mask.sum() >= 30
    # Propagation multiplies each reflection by a unit phase, so magnitudes compare. The
    # weak-phase approximation is good to second order in the phase (<= 0.25 rad here):
    # the terms -(sigma V)^2 / 2 make the ratio deviate from exp(-2 pi^2 u^2 g^2) by 0.4 %
    # at most (measured); an undamped wave would miss it by up to 69 % (factor 0.31).
    ratio = np.abs(smeared[mask]) / np.abs(static[mask])
    np.testing.assert_allclose(ratio, np.exp(-2 * np.pi**2 * u**2 * k2[mask]), rtol=0.01)


def test_smeared_potential_is_the_mean_of_abtem_frozen_phonons():
    atoms, u, configurations = sheet(), 0.1, 400
    extent = atoms.cell.lengths()[:2]
    phonons = abtem.FrozenPhonons(atoms, num_configs=configurations, sigmas={"C": u}, directions="xy", seed=7)
    frozen = abtem.Potential(phonons, sampling=0.05, slice_thickness=1.0, parametrization="lobato")
    mean = frozen.build(lazy=False).array.sum(axis=1).mean(axis=0)
    smeared, mask, k2 = reflections(projected_potential(atoms, with_displacements(C=u)), extent, 0.05)
    averaged, _, _ = reflections(mean, extent, 0.05)
    # Each reflection of the mean is a sum over 32 atoms x 400 configurations of unit phasors
    # with mean D = exp(-2 pi^2 u^2 g^2) (>= 0.68 here) and variance 1 - D^2; with half the
    # atoms in phase (graphene's (1,0) structure factor) its relative error is at most
    # sqrt(0.54 x 32 / 400) / (16 x 0.68) = 1.9 % (1 sigma; measured: 2.8 % at most, 0.9 %
    # median); 5 sigma allowed. The static potential is off by up to 48 % (median 16 %).
    np.testing.assert_allclose(averaged[mask], smeared[mask], rtol=0.1, atol=0)
    error = np.abs(averaged[mask] - smeared[mask]) / np.abs(smeared[mask])
    assert np.median(error) < 0.03, np.median(error)


def test_each_element_is_smeared_by_its_own_displacement():
    atoms = sheet()
    atoms.symbols[:4] = "Au"  # a few heavy atoms in the sheet
    mixed = projected_potential(atoms, with_displacements(C=0.15, Au=0.0))
    carbon = projected_potential(atoms[atoms.numbers == 6], with_displacements(C=0.15))
    gold = projected_potential(atoms[atoms.numbers == 79], with_displacements(Au=0.0))
    # Potentials of independent atoms add, so the mixed sheet is its smeared carbon plus its static gold.
    np.testing.assert_allclose(mixed, carbon + gold, rtol=0, atol=1e-4 * np.abs(mixed).max())
    assert not np.allclose(mixed, projected_potential(atoms, with_displacements(C=0.15, Au=0.15)), atol=1e-2)


def test_an_element_without_a_displacement_is_rejected():
    gold = sheet()
    gold.symbols[0] = "Au"
    with pytest.raises(ValueError, match=r"rms_displacement has no value for \['Au'\]"):
        exit_wave(gold, energy=80e3, simulation=SIMULATION, device="cpu")


def test_smearing_with_the_finite_projection_is_rejected():
    finite = {**SIMULATION, "projection": "finite"}
    with pytest.raises(ValueError, match="needs projection: infinite"):
        exit_wave(sheet(), energy=80e3, simulation=finite, device="cpu")
    exit_wave(sheet(), energy=80e3, simulation={**finite, "thermal": {"rms_displacement": {"C": 0.0}}}, device="cpu")
