"""Gold analysis of position files: read predict's CSVs, write columns, pairs, outline, summary and figures.

Input: a results table (:func:`atomsight.detections.read_table`), one column per row, as
``atomsight predict`` writes it (for a movie, one table per frame: ``movie_frame0000.csv``,
...). Columns used: ``x_A``, ``y_A`` (position [Å], x along the image's first axis),
optionally ``class`` (a height class such as ``column-3`` gives the column's atoms) and
``probability``. Other columns are ignored.

Written for ``<name>.csv`` into the output folder (:data:`OUTPUT_SUFFIXES`):

* ``<name>_columns.csv``: ``column`` (row of the input, from 0), ``x_A``, ``y_A``, ``class``,
  ``height`` (atoms; empty without height classes), ``probability``, ``nearest_A`` (distance
  to the nearest column [Å]), and the input's ``p_<class>`` columns (each height's probability).
* ``<name>_pairs.csv``: ``i``, ``j``, ``distance_A``: column pairs closer than the cutoff.
* ``<name>_outline.csv``: ``ring``, ``x_A``, ``y_A``: corners of the outline of the region
  the columns cover (:func:`atomsight.analysis.gold.covered_outline`), ring by ring, in order.
* ``<name>_summary.json``: counts per class, the particle's atoms (the sum of the columns'
  heights, and the expected number with its standard deviation from the height probabilities,
  :func:`atomsight.analysis.gold.atom_count`), mean probability, nearest-neighbour and pair
  distances against the column distances of the zone axis (<110> or <111>), the outline's area [nm²] and length [nm],
  and those of the convex hull.
* ``<name>_columns.png`` (columns coloured by height or class, and by probability, with the
  outline and a scale bar) and ``<name>_spacings.png`` (histogram of the pair distances
  with the zone axis' column distances of gold); for height classes also ``<name>_heights.png``
  (the histogram of the columns' heights, with the expected number of columns of each height
  from the probabilities).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ..core.scale_bar import add_scale_bar
from ..detections import DetectionTable, check_distinct, read_table
from ..detections.table import CLASS_PREFIX
from ..io.atomic import atomic_files, write_csv_rows
from .gold import GOLD_LATTICE_CONSTANT, GoldAnalysis, analyze_gold, atom_count, column_distances, column_heights

OUTPUT_SUFFIXES = ("_columns.csv", "_pairs.csv", "_outline.csv", "_summary.json", "_columns.png", "_spacings.png")
"""Files written per input CSV, after its stem."""

HEIGHTS_SUFFIX = "_heights.png"
"""The height histogram, written when the classes are column heights."""

PEAK_TOLERANCE = 0.2
"""Half-width of the window around each reference column distance in which pairs are counted [Å];
the two nearest distances (2.50 and 2.88 Å) are 0.39 Å apart."""


def analyze_gold_file(
    path: str | Path, *, out: str | Path, cutoff: float = 3.2, lattice_constant: float = GOLD_LATTICE_CONSTANT,
    zone: str = "110",
) -> list[Path]:
    """Analyse one position CSV of a gold particle and write :data:`OUTPUT_SUFFIXES` into ``out``.

    Parameters
    ----------
    path : str or pathlib.Path
        A CSV of column positions, e.g. one written by ``atomsight predict``.
    out : str or pathlib.Path
        Folder of the results; created if needed. The files of ``path`` replace those of an
        earlier analysis together or not at all (:func:`atomsight.io.atomic.atomic_files`).
    cutoff : float
        Largest distance of a listed column pair [Å] (:func:`atomsight.analysis.gold.analyze_gold`).
    lattice_constant : float
        Cubic lattice constant of the reference distances [Å].
    zone : {"110", "111"}
        Zone axis of the reference distances (:func:`atomsight.analysis.gold.column_distances`).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    path, out = Path(path), Path(out)
    columns = read_table(path)
    check_distinct(columns)
    if not len(columns):
        raise ValueError(f"{path}: no columns (expected one row per atomic column with x_A, y_A)")
    analysis = analyze_gold(columns.xy, classes=columns.classes, cutoff=cutoff)
    stem = path.stem
    targets = [out / f"{stem}{suffix}" for suffix in OUTPUT_SUFFIXES]
    if analysis.heights is not None:
        targets.append(out / f"{stem}{HEIGHTS_SUFFIX}")
    summary = summarize(analysis, columns, cutoff=cutoff, lattice_constant=lattice_constant, zone=zone)
    columns_csv, pairs_csv, outline_csv, summary_file, *figures = targets
    # the files replace those of an earlier analysis together, the summary last
    with atomic_files([columns_csv, pairs_csv, outline_csv, *figures, summary_file]) as (
        columns_tmp, pairs_tmp, outline_tmp, *figure_tmps, summary_tmp
    ):
        _write_columns(columns_tmp, analysis, columns)
        write_csv_rows(pairs_tmp, ["i", "j", "distance_A"],
                       [[int(i), int(j), f"{d:.4f}"] for (i, j), d in zip(analysis.pairs, analysis.distances)])
        write_csv_rows(outline_tmp, ["ring", "x_A", "y_A"],
                       [[k, f"{x:.4f}", f"{y:.4f}"] for k, ring in enumerate(analysis.outline) for x, y in ring])
        plot_columns(figure_tmps[0], analysis, columns, title=stem)
        plot_spacings(figure_tmps[1], analysis, cutoff=cutoff, lattice_constant=lattice_constant, zone=zone,
                      title=stem)
        if analysis.heights is not None:
            plot_heights(figure_tmps[2], analysis.heights, columns.class_probabilities, title=stem)
        summary_tmp.write_text(json.dumps({"source": str(path), **summary}, indent=2) + "\n")
    if analysis.heights is None:  # an earlier analysis' histogram would belong to none of these files
        (out / f"{stem}{HEIGHTS_SUFFIX}").unlink(missing_ok=True)
    return targets


def summarize(
    analysis: GoldAnalysis, columns: DetectionTable, *, cutoff: float, lattice_constant: float, zone: str = "110"
) -> dict[str, Any]:
    """Return the summary of a gold analysis as a JSON-ready dict (units in the keys)."""
    references = column_distances(lattice_constant, zone)
    estimate = atom_count(columns.class_probabilities) if columns.class_probabilities else None
    near = {
        name: analysis.distances[np.abs(analysis.distances - d) <= PEAK_TOLERANCE] for name, d in references.items()
    }
    return {
        "columns": len(analysis.positions),
        "classes": dict(Counter(columns.classes)) if columns.classes is not None else None,
        "mean_height_atoms": _number(analysis.heights.mean()) if analysis.heights is not None else None,
        "atoms": int(analysis.heights.sum()) if analysis.heights is not None else None,
        "atoms_expected": None if estimate is None else round(estimate[0], 2),
        "atoms_std": None if estimate is None else round(estimate[1], 2),
        "height_histogram": (None if analysis.heights is None else
                             {str(h): int(n) for h, n in zip(*np.unique(analysis.heights, return_counts=True))}),
        "probability_mean": _number(columns.probability.mean()) if columns.probability is not None else None,
        "nearest_A": {"mean": _number(np.nanmean(analysis.nearest)) if len(analysis.nearest) > 1 else None,
                      "std": _number(np.std(analysis.nearest, ddof=1)) if len(analysis.nearest) > 2 else None,
                      "median": _number(np.median(analysis.nearest)) if len(analysis.nearest) > 1 else None},
        "pairs": {
            name: {"reference_A": round(references[name], 4), "count": len(d),
                   "mean_A": _number(d.mean()) if len(d) else None}
            for name, d in near.items()
        },
        "outline": {"rings": len(analysis.outline), "corners": sum(map(len, analysis.outline)),
                    "area_nm2": analysis.area, "perimeter_nm": analysis.perimeter},
        "convex_hull": {"area_nm2": analysis.hull_area, "perimeter_nm": analysis.hull_perimeter},
        "parameters": {"cutoff_A": cutoff, "lattice_constant_A": lattice_constant, "zone": zone,
                       "window_A": PEAK_TOLERANCE},
    }


def plot_columns(path: Path, analysis: GoldAnalysis, columns: DetectionTable, *, title: str) -> None:
    """Write two maps of the columns (x down, y right, scale bar): by height or class, and by probability."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), constrained_layout=True)
    xy = analysis.positions
    if analysis.heights is not None:
        levels = np.arange(analysis.heights.min(), analysis.heights.max() + 2) - 0.5
        points = axes[0].scatter(xy[:, 1], xy[:, 0], c=analysis.heights, cmap="viridis", s=30,
                                 norm=matplotlib.colors.BoundaryNorm(levels, 256))
        fig.colorbar(points, ax=axes[0], shrink=0.8, label="column height [atoms]",
                     ticks=np.arange(analysis.heights.min(), analysis.heights.max() + 1))
    else:
        names = sorted(set(columns.classes)) if columns.classes is not None else ["column"]
        found = columns.classes if columns.classes is not None else ["column"] * len(xy)
        for k, name in enumerate(names):
            chosen = np.array([c == name for c in found])
            axes[0].scatter(xy[chosen, 1], xy[chosen, 0], s=30, color=plt.get_cmap("tab10")(k), label=name)
        axes[0].legend(fontsize=8, loc="upper right")
    axes[0].set_title(f"{title}: {len(xy)} columns")
    if columns.probability is not None:
        points = axes[1].scatter(xy[:, 1], xy[:, 0], c=columns.probability, cmap="magma", vmin=0, vmax=1, s=30)
        fig.colorbar(points, ax=axes[1], shrink=0.8, label="detection probability")
    else:
        axes[1].scatter(xy[:, 1], xy[:, 0], s=30, color="0.4")
    axes[1].set_title(f"outline {analysis.area:.2f} nm² (convex hull {analysis.hull_area:.2f}),"
                      f" perimeter {analysis.perimeter:.2f} nm")
    for ax in axes:
        _decorate(ax, analysis)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def plot_spacings(
    path: Path, analysis: GoldAnalysis, *, cutoff: float, lattice_constant: float, zone: str, title: str
) -> None:
    """Write a histogram of the column pair distances [Å] with the zone axis' column distances."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8), constrained_layout=True)
    ax.hist(analysis.distances, bins=np.arange(0, cutoff + 0.05, 0.05).tolist(), color="0.55",
            label=f"{len(analysis.distances)} pairs closer than {cutoff:g} Å")
    for (name, distance), style in zip(column_distances(lattice_constant, zone).items(), ("--", ":", "-.")):
        if distance <= cutoff:
            ax.axvline(distance, color="k", linestyle=style, label=f"Au <{zone}> {name} = {distance:.2f} Å")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_xlabel("column distance [Å]")
    ax.set_ylabel("column pairs")
    ax.set_title(title)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def _decorate(ax: plt.Axes, analysis: GoldAnalysis) -> None:
    """Draw the outline, set equal axes with x [Å] down and y [Å] to the right, and add a 1 nm scale bar."""
    for ring in analysis.outline:
        closed = np.vstack([ring, ring[:1]])
        ax.plot(closed[:, 1], closed[:, 0], color="tab:red", linewidth=1.2)
    ax.set_aspect("equal")
    if not ax.yaxis_inverted():
        ax.invert_yaxis()
    ax.set_xlabel("y [Å]")
    ax.set_ylabel("x [Å]")
    add_scale_bar(ax, float(np.ptp(analysis.positions[:, 1])) + 2.0 if len(analysis.positions) else 10.0,
                  location="lower right", color="black")


def plot_heights(
    path: Path, heights: np.ndarray, class_probabilities: dict[str, np.ndarray] | None, *, title: str
) -> None:
    """Write the histogram of the columns' heights, with the expected count of each height from the probabilities."""
    fig, ax = plt.subplots(figsize=(5, 3.6), constrained_layout=True)
    values, counts = np.unique(heights, return_counts=True)
    ax.bar(values, counts, color="0.6", label=f"{len(heights)} columns, {int(heights.sum())} atoms")
    names = list(class_probabilities or {})
    class_heights = column_heights(names)
    if class_probabilities and class_heights is not None:
        p = np.stack([class_probabilities[name] for name in names], axis=-1)
        p = p / np.maximum(p.sum(axis=-1, keepdims=True), 1e-12)
        estimate = atom_count(class_probabilities)
        label = "expected from the probabilities" + ("" if estimate is None else
                                                     f": {estimate[0]:.1f} ± {estimate[1]:.1f} atoms")
        ax.plot(class_heights, p.sum(axis=0), "o", color="tab:red", label=label)
    ax.set_xlabel("column height [atoms]")
    ax.set_ylabel("columns")
    ax.set_xticks(np.arange(1, max(int(heights.max()), 1) + 1))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def _write_columns(path: Path, analysis: GoldAnalysis, columns: DetectionTable) -> None:
    """Write the columns CSV."""
    n = len(analysis.positions)
    classes = columns.classes if columns.classes is not None else [""] * n
    heights = [str(h) for h in analysis.heights] if analysis.heights is not None else [""] * n
    probability = [f"{p:.4f}" for p in columns.probability] if columns.probability is not None else [""] * n
    per_class = columns.class_probabilities or {}
    write_csv_rows(path, ["column", "x_A", "y_A", "class", "height", "probability", "nearest_A",
                          *(f"{CLASS_PREFIX}{name}" for name in per_class)], [
        [k, f"{x:.4f}", f"{y:.4f}", classes[k], heights[k], probability[k], f"{analysis.nearest[k]:.4f}",
         *(f"{p[k]:.4f}" for p in per_class.values())]
        for k, (x, y) in enumerate(analysis.positions)
    ])


def _number(value: float) -> float | None:
    """Return a float for JSON, None for NaN."""
    return None if not np.isfinite(value) else float(value)
