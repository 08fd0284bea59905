"""Column counting scored as the paper's Fig. 12: miscounts against dose, by tilt, and the confusion of heights.

A counting model's matched columns (true and detected number of atoms) are pooled per dose
and split by the tilt of their particle's zone axis away from the beam (``tilt_deg`` of each
structure, :func:`atomsight.structures.nanoparticle.random_nanoparticle`). The paper
compares untilted particles with particles tilted by up to 3 degrees; particles drawn with
a uniform tilt are never exactly untilted, so the nearest group here is the one below
:data:`TILT_EDGES_DEG`'s first inner edge (0-1 degree).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from .metrics import HEIGHT_ERRORS, count_errors

TILT_EDGES_DEG = (0.0, 1.0, 2.0, 90.0)
"""Edges of the tilt groups [degrees]: 0-1, 1-2 and 2 or more (the paper's particles go to 3)."""


def tilt_group(tilt_deg: float) -> str:
    """Return the name of the tilt group of a particle tilted by ``tilt_deg`` degrees, e.g. ``"0-1"``."""
    for low, high in zip(TILT_EDGES_DEG[:-1], TILT_EDGES_DEG[1:]):
        if low <= tilt_deg < high:
            return f"{low:g}-{high:g}" if high < TILT_EDGES_DEG[-1] else f">={low:g}"
    raise ValueError(f"tilt {tilt_deg} degrees lies outside [{TILT_EDGES_DEG[0]}, {TILT_EDGES_DEG[-1]})")


def confusion_matrix(true_heights: np.ndarray, detected_heights: np.ndarray, *, max_height: int) -> list[list[int]]:
    """Count matched columns by true (rows) and detected (columns) height, 1..``max_height`` atoms.

    Parameters
    ----------
    true_heights, detected_heights : numpy.ndarray
        Atoms of each matched column, integers in [1, max_height], shape (m,).
    max_height : int
        The largest height class.

    Returns
    -------
    list of list of int
        ``matrix[t - 1][d - 1]``: columns of ``t`` atoms counted as ``d``.
    """
    true_heights, detected_heights = np.asarray(true_heights, np.int64), np.asarray(detected_heights, np.int64)
    outside = (true_heights < 1) | (true_heights > max_height) | (detected_heights < 1)
    outside |= detected_heights > max_height
    if outside.any():
        raise ValueError(f"heights must lie in [1, {max_height}], got {true_heights[outside][:3].tolist()} true and"
                         f" {detected_heights[outside][:3].tolist()} detected")
    matrix = np.zeros((max_height, max_height), np.int64)
    np.add.at(matrix, (true_heights - 1, detected_heights - 1), 1)
    return matrix.tolist()


def counting_scores(
    true_heights: Sequence[np.ndarray], detected_heights: Sequence[np.ndarray], tilts: Sequence[float] | None,
    *, max_height: int,
) -> dict[str, Any]:
    """Score the matched columns of a dose's images: miscounts overall and by tilt group, and the confusion matrix.

    Parameters
    ----------
    true_heights, detected_heights : sequence of numpy.ndarray
        Per image, the atoms of its matched columns (true, detected).
    tilts : sequence of float or None
        Per image, the tilt of its particle [degrees]; None when unknown (no groups).
    max_height : int
        The largest height class.

    Returns
    -------
    dict
        ``count_errors`` (:func:`atomsight.evaluation.metrics.count_errors`), ``columns``,
        ``count_errors_by_tilt`` (per :func:`tilt_group`: its ``columns``, ``particles_images``
        and fractions) and ``confusion`` (:func:`confusion_matrix`).
    """
    true_all, found_all = np.concatenate(true_heights), np.concatenate(detected_heights)
    scores: dict[str, Any] = {"count_errors": count_errors(true_all, found_all), "columns": int(true_all.size),
                              "confusion": confusion_matrix(true_all, found_all, max_height=max_height)}
    if tilts is not None:
        groups: dict[str, list[int]] = {}
        for k, tilt in enumerate(tilts):
            groups.setdefault(tilt_group(tilt), []).append(k)
        scores["count_errors_by_tilt"] = {
            name: {"images": len(members), "columns": int(sum(true_heights[k].size for k in members)),
                   **count_errors(np.concatenate([true_heights[k] for k in members]),
                                  np.concatenate([detected_heights[k] for k in members]))}
            for name, members in sorted(groups.items())
        }
    return scores


def plot_counting(results: Mapping[str, Any], out: str | Path, *, images_per_series: int) -> Path:
    """Plot the fractions of columns counted exactly and off by 1, 2, 3+ against the series' total dose (Fig. 12).

    One panel per tilt group (all particles when the tilts are unknown).
    """
    doses = np.array([d["dose"] for d in results["doses"]]) * images_per_series
    first = results["doses"][0]
    groups = list(first.get("count_errors_by_tilt", {})) or ["all"]
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.6), squeeze=False, sharey=True,
                             constrained_layout=True)
    for ax, group in zip(axes[0], groups):
        for key in HEIGHT_ERRORS:
            values = [(d["count_errors_by_tilt"][group] if group != "all" else d["count_errors"])[key]
                      for d in results["doses"]]
            ax.semilogx(doses, values, "o-", label="exact" if key == "0" else f"off by {key}")
        if "baseline_count_errors" in first:
            ax.semilogx(doses, [d["baseline_count_errors"]["0"] for d in results["doses"]], "k--",
                        label="exact, classical counter (all tilts)")
        columns = (first["count_errors_by_tilt"][group] if group != "all" else first)["columns"]
        ax.set_title(f"tilt {group}°: {columns} columns" if group != "all" else f"{columns} columns", fontsize=9)
        ax.set_xlabel("total dose of the series [e/Å²]")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("fraction of matched columns")
    axes[0, 0].legend(fontsize=7)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return Path(out)


def plot_confusion(matrix: Sequence[Sequence[int]], out: str | Path, *, dose: float) -> Path:
    """Plot the confusion matrix of heights (rows normalised, counts written in each cell)."""
    counts = np.asarray(matrix, np.float64)
    shown = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = len(counts)
    fig, ax = plt.subplots(figsize=(1.2 + 0.45 * size, 1.0 + 0.45 * size), constrained_layout=True)
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1, origin="upper")
    for (t, d), n in np.ndenumerate(counts):
        if n:
            ax.text(d, t, f"{int(n)}", ha="center", va="center", fontsize=6,
                    color="white" if shown[t, d] > 0.5 else "black")
    ticks = np.arange(size)
    ax.set_xticks(ticks, [str(h + 1) for h in ticks])
    ax.set_yticks(ticks, [str(h + 1) for h in ticks])
    ax.set_xlabel("counted atoms")
    ax.set_ylabel("true atoms")
    ax.set_title(f"columns at {dose:g} e/Å² (series total)", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the row")
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return Path(out)
