"""The scale bar of every image plot: a round length near a fifth of the field, in Å or nm."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar


def scale_bar_length(width: float) -> float:
    """Return the largest 1, 2 or 5 times a power of ten not above a fifth of ``width`` [Å]."""
    target = width / 5
    power = 10.0 ** np.floor(np.log10(target))
    return float(max(m * power for m in (1, 2, 5) if m * power <= target))


def add_scale_bar(ax: plt.Axes, width: float, *, location: str = "lower left", color: str = "white",
                  frameon: bool = False) -> float:
    """Draw a scale bar on axes in Å for a field ``width`` [Å] wide; return its length [Å].

    Labelled in nm from 10 Å up, else in Å; its thickness is 1/200 of the field.
    """
    length = scale_bar_length(width)
    label = f"{length / 10:g} nm" if length >= 10 else f"{length:g} Å"
    ax.add_artist(AnchoredSizeBar(ax.transData, length, label, location, pad=0.5, color=color, frameon=frameon,
                                  size_vertical=width / 200))
    return length
