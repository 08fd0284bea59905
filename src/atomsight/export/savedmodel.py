"""Export a trained model for users: a SavedModel that takes raw images, the ``.keras`` file and a model card.

``results/models/<system>/`` holds::

    saved_model/   TensorFlow SavedModel with three endpoints on float32 (batch, H, W, channels):
                   serve (raw images -> class probabilities; normalises itself),
                   normalize (raw -> locally normalised) and probabilities (normalised -> probabilities)
    model.keras    the Keras model (input: normalised images)
    model.json     the model card (:mod:`atomsight.export.card`), with the SHA-256 of every file above

Reading it back: :func:`atomsight.network.exported.load_exported`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from ..io.atomic import atomic_path
from ..microscope.normalize import local_normalize
from ..models.card import SAVED_MODEL, WEIGHTS
from ..network.model import load_model, receptive_field
from .card import build_card, write_card


def export(
    system: Mapping[str, Any], *, name: str, model_path: str | Path, metrics_path: str | Path, out: str | Path
) -> Path:
    """Write the SavedModel, the ``.keras`` file and the model card into ``out``, atomically.

    Parameters
    ----------
    system : mapping
        The system's validated configuration section.
    name : str
        The system's name.
    model_path : str or pathlib.Path
        The trained ``.keras`` model.
    metrics_path : str or pathlib.Path
        The evaluation's ``metrics.json``.
    out : str or pathlib.Path
        The model folder, e.g. ``results/models/graphene``.

    Returns
    -------
    pathlib.Path
        The model folder.
    """
    out = Path(out)
    model = load_model(model_path)
    card = build_card(system, name=name, system_name=name, metrics=json.loads(Path(metrics_path).read_text()),
                      receptive_field=receptive_field(model))
    sigma = card["normalization_sigma_pixels"]
    normalize = (lambda images: local_normalize(images, sigma)) if sigma else tf.identity
    spec = [tf.TensorSpec((None, None, None, card["input_channels"]), tf.float32, name="images")]

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", lambda images: model(normalize(images), training=False), input_signature=spec)
    archive.add_endpoint("normalize", normalize if sigma else (lambda images: images), input_signature=spec)
    archive.add_endpoint("probabilities", lambda images: model(images, training=False), input_signature=spec)

    with atomic_path(out) as tmp:
        tmp.mkdir()
        archive.write_out(str(tmp / SAVED_MODEL), verbose=False)
        shutil.copy(model_path, tmp / WEIGHTS)
        write_card(tmp, card)
    return out
