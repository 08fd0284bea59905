"""Generate a split's structures from a system's configuration and read/write them as extxyz."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import ase.io
from ase import Atoms
from tqdm.auto import tqdm

from ..io.atomic import atomic_path
from ..rng import structure_rng
from .graphene import graphene_like
from .nanoparticle import fcc_nanoparticle

GENERATORS: dict[str, Callable[..., Atoms]] = {
    "graphene": graphene_like,
    "fcc_nanoparticle": fcc_nanoparticle,
}


def generate_structure(system: Mapping[str, Any], split: str, index: int) -> Atoms:
    """Return structure ``index`` of a split: a pure function of (seed, split, index).

    Parameters
    ----------
    system : mapping
        A system's validated configuration section.
    split : {"train", "validation", "test"}
        The data split.
    index : int
        Index of the structure within the split.

    Returns
    -------
    ase.Atoms
        The structure; ``info`` records its split and index.
    """
    spec = system["structures"]
    generator = GENERATORS[spec["generator"]]
    rng = structure_rng(system["seed"], split, index)
    atoms = generator(rng, cell=tuple(system["cell"]), **spec["parameters"])
    atoms.info.update(split=split, index=index)
    return atoms


def generate_split(
    system: Mapping[str, Any],
    split: str,
    *,
    indices: Sequence[int] | None = None,
    processes: int = 1,
    progress: bool = True,
) -> list[Atoms]:
    """Generate the structures of a split, in index order, in parallel processes.

    Parameters
    ----------
    system : mapping
        A system's validated configuration section.
    split : {"train", "validation", "test"}
        The data split.
    indices : sequence of int, optional
        Which structures; all ``system["splits"][split]`` by default.
    processes : int
        Worker processes; the result does not depend on it.
    progress : bool
        Show a progress bar.

    Returns
    -------
    list of ase.Atoms
        The structures.
    """
    if indices is None:
        indices = range(system["splits"][split])
    make = partial(generate_structure, system, split)
    bar = partial(tqdm, total=len(indices), desc=f"structures ({split})", unit="structure", disable=not progress)
    if processes <= 1:
        return list(bar(map(make, indices)))
    with ProcessPoolExecutor(max_workers=processes) as pool:
        return list(bar(pool.map(make, indices, chunksize=8)))


def write_structures(structures: Sequence[Atoms], path: str | Path) -> Path:
    """Write structures to an extended XYZ file atomically (temporary file, then rename).

    Parameters
    ----------
    structures : sequence of ase.Atoms
        The structures, with their per-atom arrays (e.g. ``column``) and ``info``.
    path : str or pathlib.Path
        The output ``.extxyz`` file.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        ase.io.write(tmp, list(structures), format="extxyz")
    return path


def read_structures(path: str | Path, indices: Sequence[int] | None = None) -> list[Atoms]:
    """Read structures from an extended XYZ file written by :func:`write_structures`.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.extxyz`` file.
    indices : sequence of int, optional
        Positions of the structures to read (all by default).

    Returns
    -------
    list of ase.Atoms
        The structures.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If an index is beyond the file's structures.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such structure file")
    structures: list[Atoms] = list(ase.io.read(path, index=":", format="extxyz"))
    if indices is None:
        return structures
    beyond = [i for i in indices if not 0 <= i < len(structures)]
    if beyond:
        raise ValueError(f"{path}: holds {len(structures)} structures, cannot read indices {beyond}")
    return [structures[i] for i in indices]
