"""Plots of a grid evaluation (:mod:`atomsight.evaluation.grid`): heat maps per cell, curves against dose.

Every function takes the results as written to ``grid.json`` and writes one PNG (the caller writes the
grid's files together, :func:`atomsight.io.atomic.atomic_files`).
Heat maps have Cs [µm] across and C10 [Å] down (:mod:`atomsight.core.defocus`); cells whose
noise-free contrast is below the summaries' threshold are hatched.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from ..core.defocus import OVERFOCUS, format_c10

LABELS = {"f1": "F1", "rmse": "position RMSE [Å]", "precision": "precision", "recall": "recall"}
"""Axis and colour-bar labels of the scores."""


def _array(values: Any) -> np.ndarray:
    """Nested lists of scores (null for undefined) as a float array, nan where undefined."""
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)


def _axes_labels(ax: plt.Axes, results: Mapping[str, Any], *, left: bool) -> None:
    """Tick labels of a heat map: Cs [µm] across, C10 down."""
    ax.set_xticks(range(len(results["Cs_A"])), [f"{c / 1e4:g}" for c in results["Cs_A"]])
    ax.set_xlabel("Cs [µm]")
    ax.set_yticks(range(len(results["C10_A"])), [format_c10(c) for c in results["C10_A"]] if left else [])
    if left:
        ax.set_ylabel(f"C10 [Å] ({OVERFOCUS})")


def _heat_map(ax: plt.Axes, values: np.ndarray, low_contrast: np.ndarray, *, vmin: float, vmax: float, cmap: str,
              digits: int) -> AxesImage:
    """Draw one heat map with its values written in the cells and low-contrast cells hatched."""
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    for (a, b), value in np.ndenumerate(values):
        text = "–" if np.isnan(value) else f"{value:.{digits}f}"
        shade = image.cmap(image.norm(value)) if not np.isnan(value) else (1, 1, 1, 1)
        ax.text(b, a, text, ha="center", va="center", fontsize=7,
                color="black" if np.mean(shade[:3]) > 0.5 else "white")
        if low_contrast[a, b]:
            ax.add_patch(Rectangle((b - 0.5, a - 0.5), 1, 1, fill=False, hatch="///", edgecolor="grey", linewidth=0))
    return image


def _panel_size(results: Mapping[str, Any]) -> tuple[float, float]:
    """Width and height of one heat map [inches], room for its cells' numbers and its axis labels."""
    return max(2.4, 0.9 * len(results["Cs_A"]) + 0.5), max(2.0, 0.5 * len(results["C10_A"]) + 0.9)


def _save(fig: plt.Figure, out: str | Path) -> Path:
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return Path(out)


def plot_grid_scores(results: Mapping[str, Any], key: str, out: str | Path) -> Path:
    """Heat maps of one score per cell: a row per method (model, baseline), a column per dose.

    Parameters
    ----------
    results : mapping
        The grid evaluation's results (grid.json).
    key : {"f1", "precision", "recall", "rmse"}
        The score.
    out : str or pathlib.Path
        The PNG to write.

    Returns
    -------
    pathlib.Path
        The written PNG.
    """
    methods = list(results["per_cell"])
    doses = results["doses"]
    low_contrast = _array(results["contrast"]) < results["contrast_threshold"]
    maps = {m: [_array(values) for values in results["per_cell"][m][key]] for m in methods}
    if key == "rmse":
        finite = [v for m in methods for values in maps[m] for v in values[np.isfinite(values)]]
        limits, cmap, digits = (0.0, max(finite, default=results["radius"])), "magma_r", 3
    else:
        limits, cmap, digits = (0.0, 1.0), "viridis", 2
    width, height = _panel_size(results)
    fig, axes = plt.subplots(len(methods), len(doses), figsize=(width * len(doses) + 3.0, height * len(methods) + 0.8),
                             squeeze=False, constrained_layout=True)
    for row, method in enumerate(methods):
        for column, dose in enumerate(doses):
            ax = axes[row, column]
            image = _heat_map(ax, maps[method][column], low_contrast, vmin=limits[0], vmax=limits[1], cmap=cmap,
                              digits=digits)
            ax.set_title(f"{method}, {dose:g} e/Å²", fontsize=9)
            _axes_labels(ax, results, left=column == 0)
    fig.colorbar(image, ax=axes, label=LABELS[key], shrink=0.8)
    fig.suptitle(f"{LABELS[key]} per cell, {results['images_per_cell']} test images each\nhatched: noise-free"
                 f" contrast below {results['contrast_threshold']:.1%}", fontsize=10)
    return _save(fig, out)


def plot_contrast(results: Mapping[str, Any], out: str | Path) -> Path:
    """Heat map of every cell's noise-free contrast [%], cells below the summaries' threshold hatched."""
    contrast = 100 * _array(results["contrast"])
    width, height = _panel_size(results)
    fig, ax = plt.subplots(figsize=(width + 3.0, height + 0.5), constrained_layout=True)
    image = _heat_map(ax, contrast, contrast < 100 * results["contrast_threshold"], vmin=0.0,
                      vmax=max(float(np.nanmax(contrast)), 1e-6), cmap="cividis", digits=1)
    _axes_labels(ax, results, left=True)
    fig.colorbar(image, ax=ax, label="contrast [%]")
    ax.set_title(f"noise-free contrast std / mean [%]\nhatched: below {results['contrast_threshold']:.1%}", fontsize=9)
    return _save(fig, out)


def plot_scores_vs_dose(results: Mapping[str, Any], out: str | Path) -> Path:
    """F1 (left) and RMSE (right) against dose for every method, pooled over the cells of enough contrast.

    Error bars are the bootstrap intervals over the test structures; the dashed lines are
    the F1 of the worst such cell.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    entries = [e for e in results["summary"] if e["model"] is not None]
    doses = np.array([e["dose"] for e in entries])
    for method, colour in zip(results["per_cell"], ("tab:blue", "tab:orange")):
        for ax, key in ((left, "f1"), (right, "rmse")):
            values = np.array([np.nan if e[method][key] is None else e[method][key] for e in entries], dtype=float)
            low, high = np.array([[np.nan if v is None else v for v in e[method][f"{key}_ci"]] for e in entries],
                                 dtype=float).reshape(-1, 2).T
            ax.errorbar(doses, values, np.clip([values - low, high - values], 0, None), fmt="o-", capsize=3,
                        color=colour, label=method)
        left.plot(doses, [e[method]["min_cell_f1"] for e in entries], "x--", color=colour,
                  label=f"{method}, worst cell")
    left.set_ylim(0, 1.02)
    for ax, key in ((left, "f1"), (right, "rmse")):
        ax.set_xlim(min(results["doses"]) / 1.5, max(results["doses"]) * 1.5)
        ax.set_xscale("log")
        ax.set_xlabel("dose [e/Å²]")
        ax.set_ylabel(LABELS[key])
        ax.grid(alpha=0.3)
    left.legend(fontsize=8)
    cells = entries[0]["cells"] if entries else 0
    total = results["summary"][0]["cells_total"]
    fig.suptitle(f"{cells} of {total} cells with noise-free contrast >= {results['contrast_threshold']:.1%},"
                 f" {results['structures']} test structures, {results['confidence']:.0%} bootstrap intervals")
    return _save(fig, out)
