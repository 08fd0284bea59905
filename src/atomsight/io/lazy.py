"""One split's shard stores as one lazy array, for looking at intermediate results.

A split of exit waves is stored as several shard stores
(``results/exitwaves/<system>/<split>/shard-NNN.zarr``). :func:`open_split` joins them
along the structure axis into one dask array, and :func:`split_dataarray` wraps that in
an xarray DataArray with coordinates in Å; nothing is read until it is computed::

    from atomsight.io.lazy import split_dataarray

    waves = split_dataarray("results/exitwaves/graphene/train")     # (structure, x, y)
    intensity = abs(waves.sel(structure=7)) ** 2                     # still lazy
    intensity.sel(x=slice(0, 20), y=slice(0, 20)).plot()             # reads one chunk
    labels = split_dataarray("results/exitwaves/graphene/train", "labels")
    labels.sel(class_name="atom").max("structure").compute()
"""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr
import zarr

from .store import WAVES, StoreError, open_shard, shard_attrs

ARRAYS = {WAVES: ("structure", "x", "y"), "labels": ("structure", "class_name", "x", "y")}
"""Arrays that :func:`open_split` joins, with their dimension names."""


def _open_shards(folder: str | Path) -> list[tuple[Path, zarr.Group]]:
    """Open a split's shard stores in shard order, checking that none is missing.

    Raises
    ------
    StoreError
        If the folder holds no shard store, or the shards' structure indices are not
        0, 1, 2, ... without gaps (a shard is missing or from another run).
    """
    folder = Path(folder)
    stores = sorted(folder.glob("shard-[0-9][0-9][0-9].zarr"))
    if not stores:
        raise StoreError(f"{folder}: no shard stores (shard-NNN.zarr) here; expected a folder such as "
                         "results/exitwaves/<system>/<split>")
    shards, expected = [], 0
    for store in stores:
        root = open_shard(store)
        index = root["index"][:]
        if index.size and not np.array_equal(index, np.arange(expected, expected + index.size)):
            raise StoreError(f"{store}: holds structures {index.min()}-{index.max()}, expected them to start at "
                             f"{expected}; is a shard before it missing?")
        expected += index.size
        shards.append((store, root))
    return shards


def _join(shards: list[tuple[Path, zarr.Group]], array: str) -> da.Array:
    """Join one array of open shards along the structure axis, checking shapes and dtypes."""
    if array not in ARRAYS:
        raise ValueError(f"array must be one of {sorted(ARRAYS)}, got {array!r}")
    parts = [da.from_zarr(root[array]) for _, root in shards]
    for (store, _), part in zip(shards[1:], parts[1:]):
        if part.shape[1:] != parts[0].shape[1:] or part.dtype != parts[0].dtype:
            raise StoreError(f"{store}: {array} is {part.dtype} {part.shape[1:]} per structure, but "
                             f"{shards[0][0].name} has {parts[0].dtype} {parts[0].shape[1:]}")
    return da.concatenate(parts, axis=0)


def open_split(folder: str | Path, array: str = WAVES) -> da.Array:
    """Return one array of every shard store of a split, joined along the structure axis.

    Parameters
    ----------
    folder : str or pathlib.Path
        The split's folder, e.g. ``results/exitwaves/graphene/train``.
    array : {"array0", "labels"}
        The exit waves (complex64, (structure, x, y)) or the label maps (float32,
        (structure, class, x, y)).

    Returns
    -------
    dask.array.Array
        Lazy, one chunk per structure, as stored; element ``s`` is the split's
        structure ``s``.

    Raises
    ------
    ValueError
        If ``array`` is not one of :data:`ARRAYS`.
    StoreError
        If the folder holds no shard store, a shard is missing (the structure indices
        are not 0, 1, 2, ... without gaps), or the shards' arrays differ in shape or dtype.
    """
    return _join(_open_shards(folder), array)


def split_dataarray(folder: str | Path, array: str = WAVES) -> xr.DataArray:
    """Return :func:`open_split` as an xarray DataArray with coordinates in Å.

    Parameters
    ----------
    folder : str or pathlib.Path
        The split's folder, e.g. ``results/exitwaves/graphene/train``.
    array : {"array0", "labels"}
        The exit waves or the label maps.

    Returns
    -------
    xarray.DataArray
        Lazy (dask-backed). Dimensions ``structure`` (the split-wide index), ``x`` and
        ``y`` (pixel positions in Å, ``x = i * sampling``), and for labels
        ``class_name``. Attributes: the first store's ``atomsight`` attributes
        (sampling, energy, seed, ...) and ``units``.
    """
    shards = _open_shards(folder)
    data = _join(shards, array)
    attrs = shard_attrs(shards[0][1])
    sampling = attrs["sampling"]
    coords = {
        "structure": np.arange(data.shape[0]),
        "x": ("x", np.arange(data.shape[-2]) * sampling[0], {"units": "Å"}),
        "y": ("y", np.arange(data.shape[-1]) * sampling[1], {"units": "Å"}),
    }
    if array == "labels":
        coords["class_name"] = list(attrs["class_names"])
    units = "exit wave, |ψ|² = 1 in vacuum" if array == WAVES else "label probability"
    name = "exit_wave" if array == WAVES else "labels"
    return xr.DataArray(data, dims=ARRAYS[array], coords=coords, name=name, attrs={**attrs, "units": units})
