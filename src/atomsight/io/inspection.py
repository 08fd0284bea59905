"""What a user looks at first: a text summary of a shard store and a PNG of its exit waves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from .atomic import atomic_path
from .store import WAVES, open_shard, read_ground_truth, shard_attrs


def _disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def summarize_store(path: str | Path) -> str:
    """Return a human-readable summary of a shard store.

    Parameters
    ----------
    path : str or pathlib.Path
        The store.

    Returns
    -------
    str
        Several lines: origin, grid, classes, objects per structure, size on disk.
    """
    path = Path(path)
    root = open_shard(path)
    attrs = shard_attrs(root)
    waves = root[WAVES]
    offsets = root["offsets"][:]
    counts = np.diff(offsets)
    heights = root["heights"][:]
    classes = root["classes"][:]
    names = attrs["class_names"]
    per_class = ", ".join(f"{name}: {int((classes == k).sum())}" for k, name in enumerate(names))
    raw = waves.nbytes + root["labels"].nbytes
    disk = _disk_bytes(path)
    index = root["index"][:]
    lines = [
        f"store        {path}",
        f"system       {attrs['system']} ({attrs['split']} split, shard {attrs['shard']}, seed {attrs['seed']})",
        f"structures   {waves.shape[0]} (indices {index.min()}..{index.max()})",
        f"grid         {waves.shape[1]} x {waves.shape[2]} pixels at {attrs['sampling'][0]:.4f} x "
        f"{attrs['sampling'][1]:.4f} Å/pixel, extent {attrs['extent'][0]:.2f} x {attrs['extent'][1]:.2f} Å",
        f"energy       {attrs['energy'] / 1e3:g} keV",
        f"classes      background + {names} (Gaussians, sigma {attrs['label_sigma']} Å)",
        f"objects      {counts.min()}..{counts.max()} per structure (mean {counts.mean():.1f}); {per_class}",
        f"heights      {heights.min()}..{heights.max()} atoms per column",
        f"size         {disk / 1e6:.1f} MB on disk ({raw / max(disk, 1):.1f}x compression), chunks {waves.chunks}",
        f"made by      {', '.join(f'{k} {v}' for k, v in attrs['versions'].items())}; config {attrs['config_hash']}",
    ]
    return "\n".join(lines)


def plot_store(path: str | Path, out: str | Path, *, count: int = 4) -> Path:
    """Write a PNG of a few exit waves (amplitude and phase) with the ground truth on top.

    Parameters
    ----------
    path : str or pathlib.Path
        The store.
    out : str or pathlib.Path
        The PNG file to write.
    count : int
        How many structures to show (the first ones of the store).

    Returns
    -------
    pathlib.Path
        The written PNG.
    """
    root = open_shard(path)
    attrs = shard_attrs(root)
    waves = root[WAVES]
    count = max(1, min(count, waves.shape[0]))
    extent = (0, attrs["extent"][0], 0, attrs["extent"][1])
    names = attrs["class_names"]
    colours = plt.get_cmap("tab10" if len(names) <= 10 else "viridis")
    fig, axes = plt.subplots(2, count, figsize=(3.6 * count, 7.2), squeeze=False, constrained_layout=True)
    index = root["index"][:]
    for j in range(count):
        wave = waves[j]
        truth = read_ground_truth(root, j)
        for row, (values, title, cmap) in enumerate(
            [(np.abs(wave), "amplitude", "gray"), (np.angle(wave), "phase [rad] + ground truth", "gray")]
        ):
            ax = axes[row, j]
            low, high = np.percentile(values, [0.5, 99.5])  # robust limits: a few sharp peaks would wash out the rest
            image = ax.imshow(values.T, origin="lower", extent=extent, cmap=cmap, vmin=low, vmax=high)
            fig.colorbar(image, ax=ax, shrink=0.7)
            for k, name in enumerate(names):
                if row == 1:
                    chosen = truth.classes == k
                    ax.scatter(*truth.positions[chosen].T, s=9, facecolors="none", edgecolors=[colours(k)],
                               linewidths=0.6, label=name)
            ax.set_title(f"structure {int(index[j])}: {title}", fontsize=9)
            ax.set_xlabel("x [Å]")
            ax.set_ylabel("y [Å]")
    axes[1, 0].legend(fontsize=7, loc="upper right", markerscale=2)
    fig.suptitle(f"{attrs['system']} / {attrs['split']} / shard {attrs['shard']}: exit waves and ground truth")
    out = Path(out)
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return out
