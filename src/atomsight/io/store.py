"""Zarr shard stores of exit waves and their ground truth.

One store holds the structures of one shard of one split. Layout (all arrays
indexed [x, y] like abTEM's, one structure per chunk)::

    shard-000.zarr/
      array0      complex64 (structure, x, y)         exit waves; abTEM's name and metadata,
                                                      so abtem.from_zarr(store) returns Waves
      labels      float32   (structure, class, x, y)  Gaussian label maps, amplitude 1
      index       int64     (structure,)              split-wide structure index
      offsets     int64     (structure + 1,)          ragged table: rows offsets[s]:offsets[s+1]
      positions   float32   (object, xy)              atom/column positions [Å]
      heights     int16     (object,)                 atoms in each column (1 for single atoms)
      classes     int16     (object,)                 class index, 0-based, background excluded

Root attribute ``atomsight`` records sampling, extent, energy, class names, seeds,
the configuration hash and package versions. Stores are written under a temporary
name, structure by structure, and renamed when complete, so a killed job never leaves a store that looks
complete.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import abtem
import numpy as np
import zarr

from .atomic import replace, temporary_name

WAVES = "array0"
RAGGED = ("positions", "heights", "classes")
REQUIRED = (WAVES, "labels", "index", "offsets", *RAGGED)
ATTRS_KEY = "atomsight"
FORMAT_VERSION = 1
COMPRESSORS = {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "bitshuffle"}}
"""Fast compression: zstd saves 3% more space on exit waves at twice the time (BENCHMARKS.md)."""
VERSIONED_PACKAGES = ("atomsight", "abtem", "ase", "numpy", "zarr")


class StoreError(ValueError):
    """A store that is missing, incomplete or does not match what was expected."""


@dataclass(frozen=True)
class GroundTruth:
    """The atoms or columns of one structure.

    Attributes
    ----------
    positions : numpy.ndarray
        (x, y) of each atom or column [Å], shape (n, 2).
    heights : numpy.ndarray
        Atoms in each column, shape (n,).
    classes : numpy.ndarray
        Class index (0-based, background excluded), shape (n,).
    """

    positions: np.ndarray
    heights: np.ndarray
    classes: np.ndarray


def package_versions() -> dict[str, str]:
    """Return the versions of the packages that determine a store's contents."""
    return {name: importlib_metadata.version(name) for name in VERSIONED_PACKAGES}


def _encode_tuples(value: Any) -> Any:
    """Encode tuples and NumPy scalars for JSON the way abTEM's metadata expects."""
    if isinstance(value, tuple):
        return {"_type": "tuple", "_value": [_encode_tuples(v) for v in value]}
    if isinstance(value, list):
        return [_encode_tuples(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode_tuples(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _abtem_metadata(waves: abtem.Waves) -> dict[str, Any]:
    """Return abTEM's canonical Zarr metadata of ``waves`` (what ``Waves.to_zarr`` writes)."""
    metadata = waves._metadata_to_dict()
    metadata["kwargs"] = waves._pack_kwargs(waves._copy_kwargs(exclude=("array",)))
    return _encode_tuples(metadata)


class ShardWriter:
    """Write a shard store structure by structure; the store appears only when complete.

    Arrays go to a temporary store beside ``path``; :meth:`close` adds the ragged
    ground-truth table and the attributes, then renames it to ``path``. Leaving the
    ``with`` block through an exception (or a killed job) leaves no store at ``path``.

    Parameters
    ----------
    path : str or pathlib.Path
        The store, e.g. ``results/exitwaves/graphene/train/shard-000.zarr``.
    template : abtem.Waves
        Exit waves (lazy is fine, nothing is computed) with one leading structure axis,
        shape (s, nx, ny): the grid, energy and abTEM metadata of the store.
    n_classes : int
        Number of label maps per structure.
    description : str
        What the stored array of each structure is (the imaging mode's,
        :data:`atomsight.simulation.modalities.SIMULATORS`).
    """

    def __init__(self, path: str | Path, *, template: abtem.Waves, n_classes: int, description: str) -> None:
        self.path = Path(path)
        self.template = template
        self.tmp = temporary_name(self.path)
        shutil.rmtree(self.tmp, ignore_errors=True)
        n, nx, ny = template.shape
        self.root = zarr.open_group(self.tmp, mode="w")
        self.waves = self.root.create_array(
            WAVES, shape=(n, nx, ny), dtype=np.complex64, chunks=(1, nx, ny), fill_value=0,
            dimension_names=("structure", "x", "y"), compressors=COMPRESSORS,
            attributes={"description": description},
        )
        self.labels = self.root.create_array(
            "labels", shape=(n, n_classes, nx, ny), dtype=np.float32, chunks=(1, n_classes, nx, ny),
            fill_value=0, dimension_names=("structure", "class", "x", "y"), compressors=COMPRESSORS,
            attributes={"description": "Gaussian label maps of the non-background classes"},
        )
        self.written = np.zeros(n, bool)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, structure: int, wave: np.ndarray, labels: np.ndarray) -> None:
        """Write the exit wave (nx, ny) and label maps (n_classes, nx, ny) of one structure."""
        if wave.shape != self.waves.shape[1:] or labels.shape != self.labels.shape[1:]:
            raise StoreError(
                f"{self.path}: structure {structure} has an exit wave of shape {wave.shape} and labels of shape"
                f" {labels.shape}; expected {self.waves.shape[1:]} and {self.labels.shape[1:]}"
            )
        self.waves[structure] = wave
        self.labels[structure] = labels
        self.written[structure] = True

    def close(self, *, ground_truth: Sequence[GroundTruth], indices: Sequence[int], attrs: Mapping[str, Any]) -> Path:
        """Add the ground truth and attributes, then move the complete store to its path.

        Parameters
        ----------
        ground_truth : sequence of GroundTruth
            The atoms or columns of each structure.
        indices : sequence of int
            Split-wide index of each structure.
        attrs : mapping
            Descriptive attributes (system, split, class names, seeds, ...), stored
            under the root attribute ``atomsight`` together with sampling, extent,
            energy and package versions.

        Returns
        -------
        pathlib.Path
            The path of the completed store.
        """
        n = len(self.written)
        if not self.written.all():
            raise StoreError(f"{self.path}: structures {np.flatnonzero(~self.written).tolist()} were never written")
        if len(ground_truth) != n or len(indices) != n:
            raise StoreError(f"{self.path}: got ground truth of {len(ground_truth)} and {len(indices)} indices for {n}"
                             " structures")
        _write_ground_truth(self.root, ground_truth, indices)
        waves = self.template
        self.root.attrs["metadata0"] = _abtem_metadata(waves)
        self.root.attrs[ATTRS_KEY] = {
            "format_version": FORMAT_VERSION,
            "sampling": [float(s) for s in waves.sampling],
            "extent": [float(e) for e in waves.extent],
            "gpts": [int(g) for g in waves.gpts],
            "energy": float(waves.energy),
            "versions": package_versions(),
            **attrs,
        }
        replace(self.tmp, self.path)
        return self.path


def _write_ground_truth(root: zarr.Group, ground_truth: Sequence[GroundTruth], indices: Sequence[int]) -> None:
    """Write the ragged ground-truth table and the structure indices into an open group."""
    counts = [len(truth.positions) for truth in ground_truth]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    table: dict[str, np.ndarray] = {
        "positions": np.concatenate([t.positions for t in ground_truth]).astype(np.float32).reshape(-1, 2),
        "heights": np.concatenate([t.heights for t in ground_truth]).astype(np.int16),
        "classes": np.concatenate([t.classes for t in ground_truth]).astype(np.int16),
    }
    root.create_array("index", data=np.asarray(indices, np.int64), dimension_names=("structure",))
    root.create_array("offsets", data=offsets, dimension_names=("structure_edge",))
    for name, values in table.items():
        dims = ("object", "xy") if values.ndim == 2 else ("object",)
        root.create_array(name, data=values, dimension_names=dims, compressors=COMPRESSORS)
    root["positions"].attrs["units"] = "Å"


def open_shard(path: str | Path) -> zarr.Group:
    """Open a shard store read-only and check that it is complete.

    Parameters
    ----------
    path : str or pathlib.Path
        The store.

    Returns
    -------
    zarr.Group
        The store's root group.

    Raises
    ------
    StoreError
        If the store does not exist or lacks an array or its attributes.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path}: no such store")
    try:
        root = zarr.open_group(path, mode="r")
    except (zarr.errors.GroupNotFoundError, FileNotFoundError, ValueError) as error:
        raise StoreError(f"{path}: not a Zarr group ({error})") from error
    missing = [name for name in REQUIRED if name not in root]
    if missing:
        raise StoreError(f"{path}: store lacks the arrays {missing}; expected {list(REQUIRED)}")
    if ATTRS_KEY not in root.attrs:
        raise StoreError(f"{path}: store lacks the root attribute {ATTRS_KEY!r}")
    return root


def shard_attrs(root: zarr.Group) -> dict[str, Any]:
    """Return the ``atomsight`` attributes of an open store."""
    return dict(root.attrs[ATTRS_KEY])


def read_ground_truth(root: zarr.Group, structure: int) -> GroundTruth:
    """Return the atoms or columns of one structure of an open store.

    Parameters
    ----------
    root : zarr.Group
        An open store (see :func:`open_shard`).
    structure : int
        Position of the structure within the store.

    Returns
    -------
    GroundTruth
        Its positions [Å], heights and classes.
    """
    start, stop = (int(v) for v in root["offsets"][structure : structure + 2])
    return GroundTruth(*(root[name][start:stop] for name in RAGGED))
