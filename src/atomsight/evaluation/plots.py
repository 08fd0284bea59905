"""Plots of an evaluation: F1 and position error against dose, detection overlays."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def _values_and_errors(results: Mapping[str, Any], key: str) -> tuple[np.ndarray, np.ndarray]:
    """A score at every dose and its error bars (2, doses) below and above it; nan where undefined (null)."""
    values = np.array([np.nan if d[key] is None else d[key] for d in results["doses"]], dtype=float)
    intervals = np.array([[np.nan if v is None else v for v in d[f"{key}_ci"]] for d in results["doses"]], dtype=float)
    low, high = intervals.T
    return values, np.clip([values - low, high - values], 0.0, None)


def plot_f1(results: Mapping[str, Any], out: str | Path) -> Path:
    """Plot precision, recall and F1 (left) and the position RMSE (right) against dose.

    Error bars are the confidence intervals of ``metrics.json`` (``<score>_ci``), a
    bootstrap over the test structures.
    """
    doses = [d["dose"] for d in results["doses"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for key in ("precision", "recall", "f1"):
        left.errorbar(doses, *_values_and_errors(results, key), fmt="o-", capsize=3, label=key)
    left.set_ylim(0, 1.02)
    left.set_ylabel("score")
    left.legend()
    right.errorbar(doses, *_values_and_errors(results, "rmse"), fmt="o-", capsize=3)
    right.set_ylabel("position RMSE [Å]")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel("dose [e/Å²]")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{results['structures']} test structures, matches within {results['radius']} Å, "
                 f"{results['confidence']:.0%} bootstrap intervals")
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return Path(out)


def plot_overlays(
    overlays: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], out: str | Path, *, dose: float
) -> Path:
    """Show test images with the true positions (circles) and the detections (crosses)."""
    count = max(1, len(overlays))
    fig, axes = plt.subplots(1, count, figsize=(3.6 * count, 3.8), squeeze=False, constrained_layout=True)
    for ax, (image, truth, found) in zip(axes[0], overlays):
        ax.imshow(image[:, :, 0].T, origin="lower", cmap="gray")
        ax.scatter(*truth.T, s=30, facecolors="none", edgecolors="tab:green", linewidths=0.8, label="true")
        ax.scatter(*found.T, s=12, marker="x", color="tab:red", linewidths=0.8, label="detected")
        ax.axis("off")
    axes[0, 0].legend(loc="upper right", fontsize=7)
    fig.suptitle(f"held-out images at {dose:g} e/Å²")
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return Path(out)
