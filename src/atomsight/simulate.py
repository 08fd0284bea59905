"""Exit waves by multislice with abTEM, band-limited to the storage sampling.

Each structure is simulated once at the fine ``potential_sampling`` and its exit wave
is Fourier-cropped (abTEM's ``Waves.downsample``) to the coarser ``storage_sampling``,
so stores stay small and later per-step FFTs stay cheap. Exit waves are normalised
so that vacuum has |psi|^2 = 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import abtem
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


def _compute_on_host(wave: abtem.Waves) -> np.ndarray:
    """Compute one lazy wave in this thread and return it as a NumPy array."""
    return wave.compute(scheduler="synchronous", progress_bar=False).to_cpu().array


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

    Structures are simulated concurrently in ``threads`` threads (abTEM's FFTs and
    numba kernels release the GIL), each one start to finish in its own thread.

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
    indices : sequence of int, optional
        Split-wide index of each structure, recorded on the structure axis;
        ``0..n-1`` by default.
    progress : bool
        Show a progress bar.

    Returns
    -------
    abtem.Waves
        Computed (NumPy) exit waves with a leading "structure" ensemble axis, on the
        storage grid.
    """
    if not structures:
        raise ValueError("no structures to simulate")
    cells = {tuple(np.round(atoms.cell.lengths()[:2], 6)) for atoms in structures}
    if len(cells) != 1:
        raise ValueError(f"structures of one shard must share a lateral cell, got cells {sorted(cells)}")
    indices = list(range(len(structures))) if indices is None else list(indices)
    if len(indices) != len(structures):
        raise ValueError(f"got {len(indices)} indices for {len(structures)} structures")
    waves = [exit_wave(atoms, energy=energy, simulation=simulation, device=device) for atoms in structures]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        arrays = list(
            tqdm(pool.map(_compute_on_host, waves), total=len(waves), desc="exit waves", unit="wave", disable=not progress)
        )
    template = waves[0]
    return abtem.Waves(
        np.stack(arrays).astype(np.complex64, copy=False),
        energy=energy,
        sampling=template.sampling,
        ensemble_axes_metadata=[OrdinalAxis(label="structure", values=tuple(int(i) for i in indices))],
        metadata=dict(template.metadata),
    )
