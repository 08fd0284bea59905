"""Exit waves by multislice with abTEM, band-limited to the storage sampling.

Each structure is simulated once at the fine ``potential_sampling`` and its exit wave
is Fourier-cropped (abTEM's ``Waves.downsample``) to the coarser ``storage_sampling``,
so stores stay small and later per-step FFTs stay cheap. Exit waves are normalised
so that vacuum has |psi|^2 = 1.

Thermal vibrations are included by blurring the atomic potentials (paper section 2.3):
each element's projected potential is convolved with a Gaussian of its rms displacement
u per direction, i.e. its scattering factor is multiplied by the Debye-Waller factor
exp(-2 pi^2 u^2 k^2). The factor is applied where abTEM builds the potential in Fourier
space, once per element and structure, so a smeared potential costs what a static one
does; it equals the mean potential of frozen phonons with these displacements.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import abtem
import dask.array as da
import numpy as np
from abtem.core.axes import OrdinalAxis
from abtem.core.backend import get_array_module
from abtem.integrals import ScatteringFactorProjectionIntegrals
from abtem.parametrizations import Parametrization
from ase import Atoms
from tqdm.auto import tqdm


def storage_gpts(cell: Sequence[float], storage_sampling: float) -> tuple[int, int]:
    """Return the grid of the stored exit waves.

    The sampling is adjusted so that the cell holds a whole number of pixels.

    Parameters
    ----------
    cell : sequence of float
        Lateral cell size (x, y) [Å].
    storage_sampling : float
        Requested storage sampling [Å/pixel].

    Returns
    -------
    tuple of int
        Grid points (nx, ny).
    """
    nx, ny = (max(1, int(round(length / storage_sampling))) for length in cell[:2])
    return nx, ny


class SmearedProjectionIntegrals(ScatteringFactorProjectionIntegrals):
    """abTEM's infinite projection with each element's scattering factor thermally smeared.

    The projected scattering factor f(k) of an element with rms displacement u per
    direction [Å] becomes f(k) exp(-2 pi^2 u^2 k^2): its potential is convolved with a
    Gaussian of standard deviation u along x and y. The factor is separable and is
    applied in place as two 1D factors, in the scattering factor's own precision and on
    its device, once per element, grid and structure.

    Parameters
    ----------
    parametrization : str or abtem.parametrizations.Parametrization
        Parametrisation of the atomic potentials ("lobato", "kirkland", "peng").
    rms_displacement : mapping of str to float, optional
        rms displacement per direction of each element [Å]; elements not named are static.
    """

    def __init__(
        self, parametrization: str | Parametrization = "lobato", rms_displacement: Mapping[str, float] | None = None
    ):
        super().__init__(parametrization)
        self._rms_displacement = dict(rms_displacement or {})

    @property
    def rms_displacement(self) -> dict[str, float]:
        """rms displacement per direction of each element [Å]."""
        return self._rms_displacement

    def _calculate_scattering_factor(
        self, symbol: str, gpts: tuple[int, int], sampling: tuple[float, float], device: str = "cpu"
    ) -> Any:
        factor = super()._calculate_scattering_factor(symbol, gpts, sampling, device)
        u = self._rms_displacement.get(symbol, 0.0)
        if u > 0:
            xp = get_array_module(device)
            kx, ky = (np.fft.fftfreq(n, d) for n, d in zip(gpts, sampling))
            factor *= xp.asarray(np.exp(-2 * np.pi**2 * u**2 * kx**2)[:, None], dtype=factor.dtype)
            factor *= xp.asarray(np.exp(-2 * np.pi**2 * u**2 * ky**2)[None, :], dtype=factor.dtype)
        return factor


def thermal_integrals(simulation: Mapping[str, Any], symbols: Iterable[str]) -> SmearedProjectionIntegrals | None:
    """Return the projection integrals with each element's thermal smearing.

    Parameters
    ----------
    simulation : mapping
        The system's validated ``simulation`` section; ``thermal.rms_displacement``
        maps chemical symbols to rms displacements per direction [Å].
    symbols : iterable of str
        Chemical symbols of the atoms to simulate; each needs an entry.

    Returns
    -------
    SmearedProjectionIntegrals or None
        The smeared infinite projection, or None (abTEM's own integrals) for the
        finite projection, which has no smearing.

    Raises
    ------
    ValueError
        If an element has no displacement, or displacements are set with the finite
        projection.
    """
    displacements = simulation["thermal"]["rms_displacement"]
    missing = sorted(set(symbols) - set(displacements))
    if missing:
        raise ValueError(
            f"simulation.thermal.rms_displacement has no value for {missing}; give each element's"
            f" rms displacement [Å] (0 for none), got {dict(displacements)}"
        )
    if simulation["projection"] == "infinite":
        return SmearedProjectionIntegrals(simulation["parametrization"], displacements)
    if any(u > 0 for u in displacements.values()):
        raise ValueError(
            f"simulation.thermal.rms_displacement {dict(displacements)} needs projection: infinite, got"
            f" {simulation['projection']!r} (only the infinite projection is smeared)"
        )
    return None


def potential(atoms: Atoms, *, simulation: Mapping[str, Any], device: str) -> abtem.Potential:
    """Return the lazy, thermally smeared potential of one structure.

    Parameters
    ----------
    atoms : ase.Atoms
        The structure, with an orthogonal cell; the beam runs along z.
    simulation : mapping
        The system's validated ``simulation`` section.
    device : {"cpu", "gpu"}
        Array device of abTEM.

    Returns
    -------
    abtem.Potential
        The potential at ``potential_sampling`` [Å/pixel], in slices of
        ``slice_thickness`` [Å].
    """
    return abtem.Potential(
        atoms,
        sampling=simulation["potential_sampling"],
        slice_thickness=simulation["slice_thickness"],
        projection=simulation["projection"],
        parametrization=simulation["parametrization"],
        integrator=thermal_integrals(simulation, atoms.get_chemical_symbols()),
        device=device,
    )


def exit_wave(atoms: Atoms, *, energy: float, simulation: Mapping[str, Any], device: str) -> abtem.Waves:
    """Return the lazy, band-limited exit wave of one structure.

    Parameters
    ----------
    atoms : ase.Atoms
        The structure, with an orthogonal cell; the beam runs along z.
    energy : float
        Electron energy [eV].
    simulation : mapping
        The system's validated ``simulation`` section (samplings [Å], slice
        thickness [Å], projection, parametrisation, thermal smearing).
    device : {"cpu", "gpu"}
        Array device of abTEM.

    Returns
    -------
    abtem.Waves
        Lazy exit wave on the storage grid.
    """
    slices = potential(atoms, simulation=simulation, device=device)
    wave = abtem.PlaneWave(energy=energy, device=device).multislice(slices, lazy=True)
    gpts = storage_gpts(atoms.cell.lengths(), simulation["storage_sampling"])
    return wave.downsample(gpts=gpts)


def _simulate_on_host(atoms: Atoms, *, energy: float, simulation: Mapping[str, Any], device: str) -> np.ndarray:
    """Build and compute one exit wave in this thread; return it as a complex64 NumPy array."""
    wave = exit_wave(atoms, energy=energy, simulation=simulation, device=device)
    return wave.compute(scheduler="synchronous", progress_bar=False).to_cpu().array.astype(np.complex64, copy=False)


def _check_shard(structures: Sequence[Atoms], indices: Sequence[int] | None) -> list[int]:
    """Check that structures share a lateral cell; return their indices (0..n-1 by default)."""
    if not structures:
        raise ValueError("no structures to simulate")
    cells = {tuple(np.round(atoms.cell.lengths()[:2], 6)) for atoms in structures}
    if len(cells) != 1:
        raise ValueError(f"structures of one shard must share a lateral cell, got cells {sorted(cells)}")
    indices = list(range(len(structures))) if indices is None else [int(i) for i in indices]
    if len(indices) != len(structures):
        raise ValueError(f"got {len(indices)} indices for {len(structures)} structures")
    return indices


def with_structure_axis(array: np.ndarray | da.Array, template: abtem.Waves, indices: Sequence[int]) -> abtem.Waves:
    """Wrap exit waves of shape (s, nx, ny) as abTEM Waves with a "structure" axis.

    Parameters
    ----------
    array : numpy.ndarray or dask.array.Array
        The exit waves, one per structure.
    template : abtem.Waves
        One structure's (lazy) exit wave: energy, sampling and metadata.
    indices : sequence of int
        Split-wide index of each structure, the coordinates of the axis.

    Returns
    -------
    abtem.Waves
        The waves with their leading ensemble axis.
    """
    return abtem.Waves(
        array,
        energy=template.energy,
        sampling=template.sampling,
        ensemble_axes_metadata=[OrdinalAxis(label="structure", values=tuple(indices))],
        metadata=dict(template.metadata),
    )


def shard_template(
    structures: Sequence[Atoms], *, energy: float, simulation: Mapping[str, Any], indices: Sequence[int] | None = None
) -> abtem.Waves:
    """Return lazy, never-computed Waves with the grid and metadata of a shard's exit waves.

    Parameters are those of :func:`simulate_exit_waves`.
    """
    indices = _check_shard(structures, indices)
    first = exit_wave(structures[0], energy=energy, simulation=simulation, device="cpu")
    assert first.gpts is not None  # an exit wave has its grid
    zeros = da.zeros((len(indices), *first.gpts), dtype=np.complex64, chunks=(1, *first.gpts))
    return with_structure_axis(zeros, first, indices)


def iter_exit_waves(
    structures: Sequence[Atoms],
    *,
    energy: float,
    simulation: Mapping[str, Any],
    device: str = "cpu",
    threads: int = 1,
    progress: bool = True,
) -> Iterator[np.ndarray]:
    """Simulate exit waves concurrently and yield them in order, as they are done.

    Structures are simulated in ``threads`` threads (abTEM's FFTs and numba kernels
    release the GIL), each one start to finish in its own thread, so the caller can
    store one wave while the next ones are computed. FFTW plans are chosen by rule
    (``FFTW_ESTIMATE``), not by timing, so the waves do not depend on the machine's load.

    Parameters
    ----------
    structures : sequence of ase.Atoms
        Structures with identical lateral cells.
    energy : float
        Electron energy [eV].
    simulation : mapping
        The system's validated ``simulation`` section.
    device : {"cpu", "gpu"}
        Array device of abTEM (already resolved, see :func:`atomsight.device.resolve_device`).
    threads : int
        Structures simulated at once.
    progress : bool
        Show a progress bar.

    Yields
    ------
    numpy.ndarray
        complex64 exit wave (nx, ny) on the storage grid, one per structure.
    """
    _check_shard(structures, None)
    simulate = partial(_simulate_on_host, energy=energy, simulation=simulation, device=device)
    # FFTW_MEASURE times candidate algorithms and may pick another one on a busier machine,
    # which changes the last bits of the result; FFTW_ESTIMATE picks by rule, so exit waves
    # are reproducible bit for bit, at the same speed here (BENCHMARKS.md).
    with (abtem.config.set({"fftw.planning_effort": "FFTW_ESTIMATE"}),
          ThreadPoolExecutor(max_workers=max(1, threads)) as pool):
        results = pool.map(simulate, structures)
        yield from tqdm(results, total=len(structures), desc="exit waves", unit="wave", disable=not progress)


def simulate_exit_waves(
    structures: Sequence[Atoms],
    *,
    energy: float,
    simulation: Mapping[str, Any],
    device: str = "cpu",
    threads: int = 1,
    indices: Sequence[int] | None = None,
    progress: bool = True,
) -> abtem.Waves:
    """Simulate the exit waves of several structures that share one cell.

    Parameters
    ----------
    structures, energy, simulation, device, threads, progress
        As for :func:`iter_exit_waves`.
    indices : sequence of int, optional
        Split-wide index of each structure, recorded on the structure axis;
        ``0..n-1`` by default.

    Returns
    -------
    abtem.Waves
        Computed (NumPy) exit waves with a leading "structure" ensemble axis, on the
        storage grid.
    """
    indices = _check_shard(structures, indices)
    arrays = list(iter_exit_waves(structures, energy=energy, simulation=simulation, device=device,
                                  threads=threads, progress=progress))
    template = exit_wave(structures[0], energy=energy, simulation=simulation, device="cpu")
    return with_structure_axis(np.stack(arrays), template, indices)
