"""Graphene analysis of position files: read predict's CSVs, write bonds, atoms, summary and figures.

Input: a results table (:func:`atomsight.detections.read_table`), one atom per row, as
``atomsight predict`` writes it. Columns used: ``x_A``, ``y_A`` (position [Å], x along the
image's first axis), optionally ``probability`` (copied to the atoms CSV) and, optionally
and together, ``sigma_x_A``, ``sigma_y_A`` (standard deviations of the position along x and
y [Å], e.g. the spread of a detection under test-time augmentation or over an ensemble;
empty or NaN where unknown), from which the bond lengths get error bars (NaN for a bond
with an atom of unknown sigma). Other columns are ignored.

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

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..detections import check_distinct, read_table
from ..io.atomic import atomic_files, write_csv_rows
from .graphene import BOND_LENGTH, GrapheneAnalysis, analyze_graphene
from .graphene_plots import plot_bond_lengths, plot_rings, plot_strain

OUTPUT_SUFFIXES = ("_bonds.csv", "_atoms.csv", "_summary.json", "_bond_lengths.png", "_rings.png", "_strain.png")
"""Files written per input CSV, after its stem."""


def analyze_graphene_file(
    path: str | Path, *, out: str | Path, cutoff: float = 1.8, bond_length: float = BOND_LENGTH, max_ring: int = 9
) -> list[Path]:
    """Analyse one position CSV and write its results (:data:`OUTPUT_SUFFIXES`) into ``out``.

    Parameters
    ----------
    path : str or pathlib.Path
        A CSV of positions, e.g. one written by ``atomsight predict``.
    out : str or pathlib.Path
        Folder of the results; created if needed. The files of ``path`` replace those of an
        earlier analysis together or not at all (:func:`atomsight.io.atomic.atomic_files`).
    cutoff, bond_length, max_ring
        As for :func:`atomsight.analysis.graphene.analyze_graphene` ([Å], [Å], [atoms]).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    path, out = Path(path), Path(out)
    positions = read_table(path)
    check_distinct(positions)
    if not len(positions):
        raise ValueError(f"{path}: no atoms (expected one row per atom with x_A, y_A)")
    analysis = analyze_graphene(positions.xy, sigma=positions.sigma, cutoff=cutoff, bond_length=bond_length,
                                max_ring=max_ring)
    stem = path.stem
    targets = [out / f"{stem}{suffix}" for suffix in OUTPUT_SUFFIXES]
    summary = summarize(analysis, parameters={"cutoff_A": cutoff, "bond_length_A": bond_length, "max_ring": max_ring})
    bonds, atoms, summary_file, *figures = targets
    # the six files replace those of an earlier analysis together, the summary last
    with atomic_files([bonds, atoms, *figures, summary_file]) as (bonds_tmp, atoms_tmp, *figure_tmps, summary_tmp):
        _write_bonds(bonds_tmp, analysis)
        _write_atoms(atoms_tmp, analysis, positions.probability)
        for tmp, plot in zip(figure_tmps, (plot_bond_lengths, plot_rings, plot_strain)):
            plot(tmp, analysis, title=stem)
        summary_tmp.write_text(json.dumps({"source": str(path), **summary}, indent=2) + "\n")
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


def _number(value: float) -> float | None:
    """Return a float for JSON, None for NaN."""
    return None if not np.isfinite(value) else float(value)


def _write_bonds(path: Path, analysis: GrapheneAnalysis) -> None:
    """Write the bonds CSV."""
    errors = np.full(len(analysis.lengths), np.nan) if analysis.length_errors is None else analysis.length_errors
    write_csv_rows(path, ["i", "j", "length_A", "length_error_A"],
                   [[int(i), int(j), f"{length:.4f}", f"{error:.4f}"]
                    for (i, j), length, error in zip(analysis.bonds, analysis.lengths, errors)])


def _write_atoms(path: Path, analysis: GrapheneAnalysis, probability: np.ndarray | None) -> None:
    """Write the atoms CSV (position, bonds, rings, strain)."""
    degree = np.bincount(analysis.bonds.ravel(), minlength=len(analysis.positions))
    header = ["atom", "x_A", "y_A", *(["probability"] if probability is not None else []), "bonds", "rings",
              "eps_xx", "eps_yy", "eps_xy", "eps_planar"]
    rows = []
    for n, ((x, y), rings, strain, planar) in enumerate(
        zip(analysis.positions, analysis.atom_rings, analysis.strain, analysis.planar_strain)
    ):
        faces = "-".join(str(k) if k else "open" for k in rings)
        rows.append([n, f"{x:.4f}", f"{y:.4f}", *([f"{probability[n]:.4f}"] if probability is not None else []),
                     int(degree[n]), faces, *(f"{v:.6f}" for v in strain), f"{planar:.6f}"])
    write_csv_rows(path, header, rows)
