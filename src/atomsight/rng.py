"""Seeded random streams: every random draw in atomsight is a pure function of its seeds."""

from __future__ import annotations

import numpy as np

SPLIT_CODES: dict[str, int] = {"train": 0, "validation": 1, "test": 2}
"""Integer code of each data split, mixed into the seed so splits never share a stream.

``train`` keeps the stream it always had. ``validation`` has code 1, the stream of the
former single held-out split (then called ``test``), which served training-time
validation and the tuning of the small configuration; ``test`` has a fresh stream, so
the final evaluation is on structures that no tuning has seen.
"""


def split_code(split: str) -> int:
    """Return the integer code of a data split.

    Parameters
    ----------
    split : str
        Name of the split, one of ``SPLIT_CODES``.

    Returns
    -------
    int
        The split's code.

    Raises
    ------
    ValueError
        If ``split`` is not a known split name.
    """
    try:
        return SPLIT_CODES[split]
    except KeyError:
        raise ValueError(
            f"unknown split {split!r}; expected one of {sorted(SPLIT_CODES)}"
        ) from None


def structure_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Return the random generator of one structure.

    Structure ``index`` of a split is a pure function of ``(seed, split, index)``,
    so shards can be generated in parallel and in any order with identical results.

    Parameters
    ----------
    seed : int
        The material system's seed (non-negative).
    split : str
        Data split, one of ``SPLIT_CODES``.
    index : int
        Index of the structure within the split (non-negative).

    Returns
    -------
    numpy.random.Generator
        A PCG64 generator seeded from ``SeedSequence([seed, split_code, index])``.
    """
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be non-negative, got seed={seed}, index={index}")
    return np.random.default_rng(np.random.SeedSequence([seed, split_code(split), index]))
