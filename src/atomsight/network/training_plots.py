"""Training curves as a PNG next to their CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ..io.atomic import atomic_path


def plot_curves(history: str | Path, out: str | Path) -> Path:
    """Plot the loss and accuracy per epoch (training and validation) of a Keras ``CSVLogger`` file.

    Parameters
    ----------
    history : str or pathlib.Path
        The CSV written during training.
    out : str or pathlib.Path
        The PNG to write (atomically, :func:`atomsight.io.atomic.atomic_path`).

    Returns
    -------
    pathlib.Path
        The written PNG.
    """
    with open(history, newline="") as stream:
        rows = list(csv.DictReader(stream))
    epochs = [int(row["epoch"]) + 1 for row in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for ax, metric, label in [(axes[0], "loss", "loss"), (axes[1], "categorical_accuracy", "pixel accuracy")]:
        for prefix, style in [("", "-"), ("val_", "--")]:
            if f"{prefix}{metric}" in rows[0]:
                ax.plot(epochs, [float(row[f"{prefix}{metric}"]) for row in rows], style,
                        label="validation" if prefix else "training")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.legend()
    axes[0].set_yscale("log")
    fig.suptitle(f"training curves ({Path(history).parent.name})")
    out = Path(out)
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return out
