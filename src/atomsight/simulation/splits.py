"""How a split's structures are divided into shards (one Zarr store each)."""

from __future__ import annotations

import math

SPLITS: tuple[str, ...] = ("train", "validation", "test")
"""The data splits, each from its own random stream (:func:`atomsight.rng.structure_rng`).

``train`` makes the training images; ``validation`` the fixed images scored after every
epoch, and the split to watch while tuning a configuration; ``test`` only the final
evaluation (:func:`atomsight.evaluation.evaluate.evaluate`), so its numbers are not tuned on.
"""


def shard_count(count: int, shard_size: int) -> int:
    """Return the number of shards that hold ``count`` structures.

    Parameters
    ----------
    count : int
        Structures in the split.
    shard_size : int
        Structures per shard.

    Returns
    -------
    int
        ``ceil(count / shard_size)``.
    """
    if count < 1 or shard_size < 1:
        raise ValueError(f"count and shard_size must be positive, got count={count}, shard_size={shard_size}")
    return math.ceil(count / shard_size)


def shard_indices(count: int, shard_size: int, shard: int) -> range:
    """Return the split-wide indices of the structures in one shard.

    Parameters
    ----------
    count : int
        Structures in the split.
    shard_size : int
        Structures per shard.
    shard : int
        Index of the shard, ``0 <= shard < shard_count(count, shard_size)``.

    Returns
    -------
    range
        The structure indices of the shard, in order.
    """
    n = shard_count(count, shard_size)
    if not 0 <= shard < n:
        raise ValueError(f"shard {shard} does not exist: a split of {count} in shards of {shard_size} has {n}")
    return range(shard * shard_size, min((shard + 1) * shard_size, count))


def shard_name(shard: int) -> str:
    """Return the file name of a shard store, e.g. ``shard-003.zarr``."""
    return f"shard-{shard:03d}.zarr"
