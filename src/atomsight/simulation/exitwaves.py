"""Stage one's second half: one shard store of simulated images' sources and ground truth from a split's structures.

What is stored for each structure depends on the system's imaging mode
(:mod:`atomsight.simulation.modalities`): for HRTEM, its plane-wave exit wave.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from ..config import config_hash
from ..io.store import GroundTruth, ShardWriter
from ..structures.build import read_structures
from ..structures.columns import column_ground_truth
from .labels import assign_classes, class_names, gaussian_label_maps
from .modalities import simulator
from .splits import shard_indices

log = logging.getLogger(__name__)


def ground_truth_of(atoms, labels: Mapping[str, Any]) -> GroundTruth:
    """Return the atoms or columns of a structure with their classes.

    Parameters
    ----------
    atoms : ase.Atoms
        A structure; a per-atom ``column`` array groups atoms into columns.
    labels : mapping
        The system's validated ``labels`` section.

    Returns
    -------
    GroundTruth
        Column positions [Å], heights and classes.
    """
    positions, heights = column_ground_truth(atoms)
    return GroundTruth(positions=positions, heights=heights, classes=assign_classes(heights, labels))


def build_shard(
    system: Mapping[str, Any],
    *,
    name: str,
    split: str,
    shard: int,
    structures_path: str | Path,
    store_path: str | Path,
    device: str,
    threads: int = 1,
    progress: bool = True,
) -> Path:
    """Simulate one shard of a split and write its store.

    Parameters
    ----------
    system : mapping
        The system's validated configuration section.
    name : str
        The system's name.
    split : {"train", "validation", "test"}
        The data split.
    shard : int
        Index of the shard within the split.
    structures_path : str or pathlib.Path
        The split's ``.extxyz`` structures.
    store_path : str or pathlib.Path
        The shard store to write.
    device : {"cpu", "gpu"}
        Resolved array device.
    threads : int
        Structures simulated at once.
    progress : bool
        Show progress bars.

    Returns
    -------
    pathlib.Path
        The written store.
    """
    indices = list(shard_indices(system["splits"][split], system["shard_size"], shard))
    structures = read_structures(structures_path, indices)
    energy, simulation, labels = system["energy"], system["simulation"], system["labels"]
    log.info("%s/%s shard %d: simulating %d structures on %s", name, split, shard, len(indices), device)
    mode = simulator(system)
    template = mode.template(structures, energy=energy, simulation=simulation, indices=indices)
    names = class_names(labels)
    assert template.gpts is not None and template.sampling is not None  # a simulated wave has its grid
    truths = [ground_truth_of(atoms, labels) for atoms in structures]
    render = partial(
        gaussian_label_maps, n_classes=len(names), gpts=template.gpts, sampling=template.sampling, sigma=labels["sigma"]
    )
    attrs = {
        "system": name,
        "modality": system["modality"],
        "split": split,
        "shard": shard,
        "seed": system["seed"],
        "class_names": names,
        "label_sigma": labels["sigma"],
        "config_hash": config_hash(system),
        "device": device,
        "simulation": dict(simulation),
    }
    # Label maps render in their own thread and each exit wave is stored as soon as it
    # is done, so both overlap the multislice of the next structures.
    with ThreadPoolExecutor(max_workers=1) as label_thread, ShardWriter(
        store_path, template=template, n_classes=len(names), description=mode.description
    ) as writer:
        maps = label_thread.map(lambda truth: render(truth.positions, truth.classes), truths)
        waves = mode.responses(
            structures, energy=energy, simulation=simulation, device=device, threads=threads, progress=progress
        )
        for j, (wave, label_maps) in enumerate(zip(waves, maps, strict=True)):
            writer.write(j, wave, label_maps)
        return writer.close(ground_truth=truths, indices=indices, attrs=attrs)
