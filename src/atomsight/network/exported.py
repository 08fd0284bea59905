"""Read an exported model folder (written by :func:`atomsight.export.savedmodel.export`).

Kept apart from the export, which needs the configuration, the label classes (numba)
and the microscope (abTEM), so that applying a model imports TensorFlow and nothing
of the training side.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tensorflow as tf

from ..models import CARD


def load_exported(folder: str | Path) -> tuple[Any, dict[str, Any]]:
    """Load an exported model folder: the SavedModel (with its three endpoints) and its card.

    Parameters
    ----------
    folder : str or pathlib.Path
        The folder, e.g. ``results/models/graphene``.

    Returns
    -------
    saved : object
        The SavedModel, with endpoints ``serve``, ``normalize`` and ``probabilities``.
    card : dict
        The model card (``model.json``).

    Raises
    ------
    FileNotFoundError
        If the folder lacks the SavedModel or the card.
    """
    folder = Path(folder)
    for part in ("saved_model", CARD):
        if not (folder / part).exists():
            raise FileNotFoundError(f"{folder}: not an exported atomsight model (no {part}); expected the output of"
                                    " snakemake results/models/<system>")
    return tf.saved_model.load(str(folder / "saved_model")), json.loads((folder / CARD).read_text())
