"""Gold particles over a movie: one row per frame of what :mod:`atomsight.analysis.gold_files` found in each.

``atomsight predict`` names the positions of frame ``k`` of movie ``<movie>`` ``<movie>_frame<kkkk>.csv``;
once each frame has been analysed (its ``_summary.json`` written), the frames of each movie are
gathered into

* ``<movie>_gold_frames.csv``: ``frame``, ``columns``, ``atoms`` (empty without height
  classes), ``mean_height_atoms``, ``probability_mean``, ``nearest_mean_A``,
  ``outline_area_nm2``, ``outline_perimeter_nm``, ``hull_area_nm2``;
* ``<movie>_gold_frames.png``: columns (and atoms), outline and hull area, and the mean
  nearest-column distance against the frame number, with the nearest column distance of gold along the zone axis.

Frames that could not be analysed are missing from both, so the frame numbers show the gaps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ..io.atomic import atomic_files, write_csv_rows
from .gold import GOLD_LATTICE_CONSTANT, column_distances

MOVIE_FRAME = re.compile(r"^(?P<movie>.+)_frame(?P<frame>\d+)$")
"""Stem of the positions of one frame of a movie, as ``atomsight predict`` names them."""

COLUMNS = ("frame", "columns", "atoms", "mean_height_atoms", "probability_mean", "nearest_mean_A",
           "outline_area_nm2", "outline_perimeter_nm", "hull_area_nm2")
"""Columns of ``<movie>_gold_frames.csv``."""


def movie_frames(paths: Sequence[str | Path]) -> dict[str, list[tuple[int, str]]]:
    """Group position files by movie: ``{movie: [(frame, stem), ...]}`` sorted by frame, for stems ``<movie>_frame<k>``.

    Parameters
    ----------
    paths : sequence of str or pathlib.Path
        Position CSVs; those not named as a movie's frame are left out.
    """
    movies: dict[str, list[tuple[int, str]]] = {}
    for path in map(Path, paths):
        match = MOVIE_FRAME.match(path.stem)
        if match:
            movies.setdefault(match["movie"], []).append((int(match["frame"]), path.stem))
    return {movie: sorted(frames) for movie, frames in movies.items()}


def write_movie_summaries(paths: Sequence[str | Path], *, out: str | Path,
                          lattice_constant: float = GOLD_LATTICE_CONSTANT, zone: str = "110") -> list[Path]:
    """Write the per-frame table and plot of every movie among ``paths`` whose frames were analysed into ``out``.

    Parameters
    ----------
    paths : sequence of str or pathlib.Path
        The position CSVs given to the gold analysis; each movie frame's summary is read
        from ``out/<stem>_summary.json``, and a frame without one (its analysis failed) is
        left out.
    out : str or pathlib.Path
        Folder of the per-frame results and of the movie files.
    lattice_constant : float
        Cubic lattice constant of the reference distance in the plot [Å].

    Returns
    -------
    list of pathlib.Path
        The files written, two per movie with at least one analysed frame.
    """
    out = Path(out)
    written = []
    for movie, frames in movie_frames(paths).items():
        rows = [(frame, json.loads(summary.read_text())) for frame, stem in frames
                if (summary := out / f"{stem}_summary.json").is_file()]
        if not rows:
            continue
        table, figure = out / f"{movie}_gold_frames.csv", out / f"{movie}_gold_frames.png"
        with atomic_files([figure, table]) as (figure_tmp, table_tmp):  # replaced together, the table last
            plot_movie(figure_tmp, rows, title=movie, lattice_constant=lattice_constant, zone=zone)
            write_csv_rows(table_tmp, COLUMNS, [_row(frame, summary) for frame, summary in rows])
        written += [table, figure]
    return written


def _row(frame: int, summary: dict[str, Any]) -> list[Any]:
    """One row of the movie table from a frame's summary; missing values empty."""
    values = [frame, summary["columns"], summary["atoms"], summary["mean_height_atoms"], summary["probability_mean"],
              summary["nearest_A"]["mean"], summary["outline"]["area_nm2"], summary["outline"]["perimeter_nm"],
              summary["convex_hull"]["area_nm2"]]
    return ["" if v is None else (f"{v:.4f}" if isinstance(v, float) else v) for v in values]


def plot_movie(
    path: Path, rows: list[tuple[int, dict[str, Any]]], *, title: str, lattice_constant: float, zone: str = "110"
) -> None:
    """Plot columns (and atoms), outline and hull area, and mean nearest-column distance against the frame."""
    frame = [f for f, _ in rows]
    fig, axes = plt.subplots(3, 1, figsize=(6.5, 7), sharex=True, constrained_layout=True)
    axes[0].plot(frame, [s["columns"] for _, s in rows], "o-", ms=3, label="columns")
    if all(s["atoms"] is not None for _, s in rows):
        axes[0].plot(frame, [s["atoms"] for _, s in rows], "s-", ms=3, label="atoms")
    axes[0].set_ylabel("count")
    axes[1].plot(frame, [s["outline"]["area_nm2"] for _, s in rows], "o-", ms=3, label="outline")
    axes[1].plot(frame, [s["convex_hull"]["area_nm2"] for _, s in rows], "--", color="0.5", label="convex hull")
    axes[1].set_ylabel("projected area [nm²]")
    nearest = [(f, s["nearest_A"]["mean"]) for f, s in rows if s["nearest_A"]["mean"] is not None]
    axes[2].plot([f for f, _ in nearest], [d for _, d in nearest], "o-", ms=3, label="mean nearest column")
    name, reference = next(iter(column_distances(lattice_constant, zone).items()))
    axes[2].axhline(reference, color="k", linestyle=":", label=f"Au <{zone}> {name} = {reference:.3f} Å")
    axes[2].set_ylabel("distance [Å]")
    axes[2].set_xlabel("frame")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title(f"{title}: {len(rows)} frames")
    fig.savefig(path, dpi=130)
    plt.close(fig)
