"""Stage one's second half: one shard store of exit waves and ground truth from a split's structures."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from ..config import config_hash
from .labels import assign_classes, class_names, gaussian_label_maps
from .simulate import iter_exit_waves, shard_template
from .splits import shard_indices
from ..io.store import GroundTruth, ShardWriter
from ..structures.build import read_structures
from ..structures.columns import column_ground_truth

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
    template = shard_template(structures, energy=energy, simulation=simulation, indices=indices)
    names = class_names(labels)
    truths = [ground_truth_of(atoms, labels) for atoms in structures]
    render = partial(
        gaussian_label_maps, n_classes=len(names), gpts=template.gpts, sampling=template.sampling, sigma=labels["sigma"]
    )
    attrs = {
        "system": name,
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
        store_path, template=template, n_classes=len(names)
    ) as writer:
        maps = label_thread.map(lambda truth: render(truth.positions, truth.classes), truths)
        waves = iter_exit_waves(
            structures, energy=energy, simulation=simulation, device=device, threads=threads, progress=progress
        )
        for j, (wave, label_maps) in enumerate(zip(waves, maps, strict=True)):
            writer.write(j, wave, label_maps)
        return writer.close(ground_truth=truths, indices=indices, attrs=attrs)
