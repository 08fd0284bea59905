import abtem
import numpy as np
import pytest
from abtem import orthogonalize_cell
from ase import Atoms
from ase.build import graphene

from atomsight.device import gpu_available
from atomsight.simulate import exit_wave, simulate_exit_waves, storage_gpts

DEVICES = ["cpu", pytest.param("gpu", marks=pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA GPU"))]

SIMULATION = {
    "potential_sampling": 0.05,
    "storage_sampling": 0.1,
    "slice_thickness": 1.0,
    "projection": "infinite",
    "parametrization": "lobato",
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
    potential = abtem.Potential(atoms, sampling=0.05, slice_thickness=1.0, projection="infinite", parametrization="lobato")
    full = abtem.PlaneWave(energy=80e3).multislice(potential).compute()  # the CPU reference
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
    waves = simulate_exit_waves([sheet(), sheet(0.5)], energy=80e3, simulation=SIMULATION, indices=[40, 41], progress=False)
    assert waves.shape[0] == 2 and waves.array.dtype == np.complex64
    axis = waves.ensemble_axes_metadata[0]
    assert axis.label == "structure" and tuple(axis.values) == (40, 41)


def test_structures_with_different_cells_are_rejected():
    other = sheet()
    other.cell[0, 0] += 1.0
    with pytest.raises(ValueError, match="share a lateral cell"):
        simulate_exit_waves([sheet(), other], energy=80e3, simulation=SIMULATION, progress=False)
