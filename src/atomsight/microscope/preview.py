"""What the network will see: a PNG grid of training images with their labels and drawn microscopes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from skimage.feature import peak_local_max

from ..core.defocus import c10_from_defocus, format_c10
from ..io.atomic import atomic_path
from ..io.store import open_shard, shard_attrs
from . import draw, stack_parameters
from .data import SpectraSource


def microscope_title(params: dict[str, np.ndarray], i: int, *, defocus_offset: float = 0.0) -> str:
    """Return the title of image ``i``: its drawn microscope, the defocus as C10.

    Parameters
    ----------
    params : dict of numpy.ndarray
        Drawn parameters of a batch (see :func:`atomsight.microscope.draw`).
    i : int
        The image.
    defocus_offset : float
        Defocus offset of the channel shown [Å] (abTEM's convention), added to the drawn defocus.

    Returns
    -------
    str
        Four lines.
    """
    dose = f"{params['dose'][i]:.3g} e/Å²" if params["dose"][i] > 0 else "no noise"
    c10 = c10_from_defocus(params["defocus"][i] + defocus_offset)
    return (
        f"{format_c10(c10)}\n"
        f"Cs {params['Cs'][i] / 1e4:.1f} µm, C5 {params['C5'][i] / 1e7:.1f} mm, A1 {params['astigmatism'][i]:.0f} Å\n"
        f"spread {params['focal_spread'][i]:.0f} Å, blur {params['blur'][i]:.2f} Å\n"
        f"{dose}, {params['sampling'][i]:.3f} Å/px, sym {params['dihedral'][i]}"
    )


def plot_training_images(
    stores: Sequence[str | Path], system: dict, *, name: str, out: str | Path, count: int = 8, seed: int = 0
) -> Path:
    """Write a PNG grid of ``count`` training images from ``stores`` with label maxima and drawn parameters.

    Parameters
    ----------
    stores : sequence of path
        Shard stores of the system's train split.
    system : dict
        The system's validated configuration section.
    name : str
        The system's name, for the title.
    out : str or pathlib.Path
        The PNG to write.
    count : int
        Images to show.
    seed : int
        Seed of the microscopes drawn.

    Returns
    -------
    pathlib.Path
        The written PNG.
    """
    source = SpectraSource(stores, system)
    microscope = source.microscope()
    extent = tf.constant(source.grid.extent, tf.float32)
    params = stack_parameters([draw(tf.constant([seed, e], tf.int64), source.settings, extent) for e in range(count)])
    waves, labels = zip(*(source.read(e % len(source)) for e in range(count)))
    images, maps = microscope(tf.constant(np.stack(waves)), tf.constant(np.stack(labels)), params)
    images, maps = images.numpy(), maps.numpy()
    class_names = shard_attrs(open_shard(stores[0]))["class_names"]
    values = {k: v.numpy() for k, v in params.items()}

    columns = min(count, 4)
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 4.0 * rows), squeeze=False, constrained_layout=True)
    colours = plt.get_cmap("tab10")
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= count:
            continue
        low, high = np.percentile(images[i, :, :, 0], [0.5, 99.5])
        ax.imshow(images[i, :, :, 0].T, origin="lower", cmap="gray", vmin=low, vmax=high)
        for k in range(1, maps.shape[-1]):
            peaks = peak_local_max(maps[i, :, :, k], min_distance=2, threshold_abs=0.5)
            ax.scatter(peaks[:, 0], peaks[:, 1], s=4, color=colours(k - 1), linewidths=0,
                       label=class_names[k - 1] if i == 0 else None)
        ax.set_title(microscope_title(values, i, defocus_offset=source.settings.defocus_offsets[0]), fontsize=7)
    channels = f" (channel 1 of {images.shape[-1]})" if images.shape[-1] > 1 else ""
    fig.legend(loc="lower center", ncols=len(class_names), markerscale=3, fontsize=8)
    fig.suptitle(f"{name}: training images{channels}, label maxima as dots")
    out = Path(out)
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return out
