"""Exit waves by multislice with abTEM, band-limited to the storage sampling.

Each structure is simulated once at the fine ``potential_sampling`` and its exit wave
is Fourier-cropped (abTEM's ``Waves.downsample``) to the coarser ``storage_sampling``,
so stores stay small and later per-step FFTs stay cheap. Exit waves are normalised
so that vacuum has |psi|^2 = 1.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import abtem
import dask.array as da
import numpy as np
from abtem.core.axes import OrdinalAxis
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
    return tuple(max(1, int(round(length / storage_sampling))) for length in cell[:2])


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
        thickness [Å], projection, parametrisation).
    device : {"cpu", "gpu"}
        Array device of abTEM.

    Returns
    -------
    abtem.Waves
        Lazy exit wave on the storage grid.
    """
    potential = abtem.Potential(
        atoms,
        sampling=simulation["potential_sampling"],
        slice_thickness=simulation["slice_thickness"],
        projection=simulation["projection"],
        parametrization=simulation["parametrization"],
        device=device,
    )
    wave = abtem.PlaneWave(energy=energy, device=device).multislice(potential, lazy=True)
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
    with abtem.config.set({"fftw.planning_effort": "FFTW_ESTIMATE"}), ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
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
