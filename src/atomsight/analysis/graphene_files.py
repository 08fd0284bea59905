"""Graphene analysis of position files: read predict's CSVs, write bonds, atoms, summary and figures.

Input: a CSV with a header and one atom per row, as ``atomsight predict`` writes it. Columns
used: ``x_A``, ``y_A`` (position [Å], x along the image's first axis), optionally
``probability`` (copied to the atoms CSV) and, optionally and together, ``sigma_x_A``,
``sigma_y_A`` (:data:`SIGMA_COLUMNS`: standard deviations of the position along x and y
[Å], e.g. the spread of a detection under test-time augmentation or over an ensemble;
NaN where unknown), from which the bond lengths get error bars (NaN for a bond with an
atom of unknown sigma). Other columns are ignored.

Written for ``<name>.csv`` into the output folder:

* ``<name>_bonds.csv``: ``i``, ``j`` (atom rows of the input, from 0), ``length_A``,
  ``length_error_A`` (standard error [Å], NaN without position uncertainties).
* ``<name>_atoms.csv``: ``atom``, ``x_A``, ``y_A``, ``probability`` (if given), ``bonds``,
  ``rings`` (sizes of the rings around the atom, e.g. ``5-6-7``, ``open`` for each open
  face it borders: a hole or the outside), ``eps_xx``, ``eps_yy``, ``eps_xy``,
  ``eps_planar`` (strain, dimensionless; NaN unless threefold in three hexagons).
* ``<name>_summary.json``: counts, bond-length mean and standard deviation, ring counts,
  mean strain and the parameters used.
* ``<name>_bond_lengths.png``, ``<name>_rings.png``, ``<name>_strain.png``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io.atomic import atomic_path
from .graphene import BOND_LENGTH, GrapheneAnalysis, analyze_graphene
from .graphene_plots import plot_bond_lengths, plot_rings, plot_strain

POSITION_COLUMNS = ("x_A", "y_A")
"""Required columns of an input CSV: position [Å]."""

SIGMA_COLUMNS = ("sigma_x_A", "sigma_y_A")
"""Optional columns of an input CSV, both or neither: position standard deviations [Å]."""

OUTPUT_SUFFIXES = ("_bonds.csv", "_atoms.csv", "_summary.json", "_bond_lengths.png", "_rings.png", "_strain.png")
"""Files written per input CSV, after its stem."""


@dataclass(frozen=True)
class Positions:
    """Atoms read from a CSV.

    Attributes
    ----------
    xy : numpy.ndarray
        Positions (x, y) [Å], shape (n, 2).
    probability : numpy.ndarray or None
        Detection probabilities, shape (n,).
    sigma : numpy.ndarray or None
        Position standard deviations along x and y [Å], shape (n, 2).
    """

    xy: np.ndarray
    probability: np.ndarray | None
    sigma: np.ndarray | None


def read_positions(path: str | Path) -> Positions:
    """Read atom positions from a CSV (columns: see the module docstring).

    Raises
    ------
    ValueError
        Naming the file, if a required column is missing, only one of :data:`SIGMA_COLUMNS`
        is there, a value is not a number, a sigma is negative, or there are no atoms.
    """
    path = Path(path)
    with open(path, newline="") as stream:
        reader = csv.DictReader(stream)
        header = reader.fieldnames or []
        rows = list(reader)
    missing = [c for c in POSITION_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path}: expected columns {', '.join(POSITION_COLUMNS)} [Å], missing {', '.join(missing)}")
    has_sigma = [c in header for c in SIGMA_COLUMNS]
    if any(has_sigma) and not all(has_sigma):
        raise ValueError(f"{path}: expected both {' and '.join(SIGMA_COLUMNS)} [Å] or neither")
    if not rows:
        raise ValueError(f"{path}: no atoms (expected one row per atom with {', '.join(POSITION_COLUMNS)})")
    sigma = _column(path, rows, SIGMA_COLUMNS) if all(has_sigma) else None
    if sigma is not None and not (np.isnan(sigma) | (sigma >= 0)).all():
        raise ValueError(f"{path}: {' and '.join(SIGMA_COLUMNS)} must be >= 0 [Å] or NaN (unknown)")
    return Positions(
        xy=_column(path, rows, POSITION_COLUMNS),
        probability=_column(path, rows, ("probability",))[:, 0] if "probability" in header else None,
        sigma=sigma,
    )


def analyze_graphene_file(
    path: str | Path, *, out: str | Path, cutoff: float = 1.8, bond_length: float = BOND_LENGTH, max_ring: int = 9
) -> list[Path]:
    """Analyse one position CSV and write its results (:data:`OUTPUT_SUFFIXES`) into ``out``.

    Parameters
    ----------
    path : str or pathlib.Path
        A CSV of positions, e.g. one written by ``atomsight predict``.
    out : str or pathlib.Path
        Folder of the results; created if needed.
    cutoff, bond_length, max_ring
        As for :func:`atomsight.analysis.graphene.analyze_graphene` ([Å], [Å], [atoms]).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    path, out = Path(path), Path(out)
    positions = read_positions(path)
    analysis = analyze_graphene(positions.xy, sigma=positions.sigma, cutoff=cutoff, bond_length=bond_length,
                                max_ring=max_ring)
    stem = path.stem
    targets = [out / f"{stem}{suffix}" for suffix in OUTPUT_SUFFIXES]
    out.mkdir(parents=True, exist_ok=True)
    _write_bonds(targets[0], analysis)
    _write_atoms(targets[1], analysis, positions.probability)
    summary = summarize(analysis, parameters={"cutoff_A": cutoff, "bond_length_A": bond_length, "max_ring": max_ring})
    with atomic_path(targets[2]) as tmp:
        tmp.write_text(json.dumps({"source": str(path), **summary}, indent=2) + "\n")
    for target, plot in zip(targets[3:], (plot_bond_lengths, plot_rings, plot_strain)):
        with atomic_path(target, suffix=".png") as tmp:
            plot(tmp, analysis, title=stem)
    return targets


def summarize(analysis: GrapheneAnalysis, *, parameters: dict[str, Any]) -> dict[str, Any]:
    """Return the numbers of an analysis as a JSON-ready dict (lengths in Å, strain dimensionless)."""
    lengths, planar = analysis.lengths, analysis.planar_strain
    known = np.isfinite(planar)
    sizes = np.bincount(analysis.ring_sizes, minlength=9)
    return {
        "atoms": len(analysis.positions),
        "bonds": {
            "count": len(lengths),
            "length_mean_A": _number(lengths.mean() if len(lengths) else np.nan),
            "length_std_A": _number(lengths.std(ddof=1) if len(lengths) > 1 else np.nan),
            "length_error_median_A": None if analysis.length_errors is None
            or not np.isfinite(analysis.length_errors).any() else _number(np.nanmedian(analysis.length_errors)),
        },
        "rings": {"5": int(sizes[5]), "6": int(sizes[6]), "7": int(sizes[7]), "8": int(sizes[8]),
                  "other": int(sizes.sum() - sizes[5:9].sum())},
        "strain": {
            "atoms": int(known.sum()),
            **{f"mean_{name}": _number(analysis.strain[known, k].mean() if known.any() else np.nan)
               for k, name in enumerate(("xx", "yy", "xy"))},
            "mean_planar": _number(planar[known].mean() if known.any() else np.nan),
            "std_planar": _number(planar[known].std(ddof=1) if known.sum() > 1 else np.nan),
        },
        "parameters": parameters,
    }


def _column(path: Path, rows: list[dict[str, str]], names: Sequence[str]) -> np.ndarray:
    """Return the named columns as floats, shape (n, len(names)); a bad value raises naming file, row and column."""
    values = np.empty((len(rows), len(names)))
    for r, row in enumerate(rows):
        for c, name in enumerate(names):
            try:
                values[r, c] = float(row[name])
            except (TypeError, ValueError):
                raise ValueError(f"{path}: row {r + 1}, column {name}: expected a number, got {row[name]!r}") from None
    return values


def _number(value: float) -> float | None:
    """Return a float for JSON, None for NaN."""
    return None if not np.isfinite(value) else float(value)


def _write_bonds(path: Path, analysis: GrapheneAnalysis) -> None:
    """Write the bonds CSV atomically."""
    errors = np.full(len(analysis.lengths), np.nan) if analysis.length_errors is None else analysis.length_errors
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["i", "j", "length_A", "length_error_A"])
        for (i, j), length, error in zip(analysis.bonds, analysis.lengths, errors):
            writer.writerow([int(i), int(j), f"{length:.4f}", f"{error:.4f}"])


def _write_atoms(path: Path, analysis: GrapheneAnalysis, probability: np.ndarray | None) -> None:
    """Write the atoms CSV (position, bonds, rings, strain) atomically."""
    degree = np.bincount(analysis.bonds.ravel(), minlength=len(analysis.positions))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["atom", "x_A", "y_A", *(["probability"] if probability is not None else []), "bonds", "rings",
                         "eps_xx", "eps_yy", "eps_xy", "eps_planar"])
        for n, ((x, y), rings, strain, planar) in enumerate(
            zip(analysis.positions, analysis.atom_rings, analysis.strain, analysis.planar_strain)
        ):
            faces = "-".join(str(k) if k else "open" for k in rings)
            writer.writerow([n, f"{x:.4f}", f"{y:.4f}", *([f"{probability[n]:.4f}"] if probability is not None else []),
                             int(degree[n]), faces, *(f"{v:.6f}" for v in strain), f"{planar:.6f}"])
