"""Export a trained model for users: a SavedModel that takes raw images, the ``.keras`` file and a model card.

``results/models/<system>/`` holds::

    saved_model/   TensorFlow SavedModel with three endpoints on float32 (batch, H, W, channels):
                   serve (raw images -> class probabilities; normalises itself),
                   normalize (raw -> locally normalised) and probabilities (normalised -> probabilities)
    model.keras    the Keras model (input: normalised images)
    model.json     the model card: system, classes, training sampling [Å/pixel], energy [eV],
                   input channels, the defocus range and offsets [Å] in abTEM's convention
                   (defocus = -C10) and as C10, normalisation window, configuration hash and
                   evaluation summary (test structures, scores per dose with their intervals),
                   and the network's receptive field [pixels] (so that predicting needs no ``.keras``)

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

from .. import __version__
from ..io.atomic import atomic_path
from ..config import config_hash
from ..simulation.labels import class_names
from ..evaluation.metrics import SCORES
from ..microscope import local_normalize
from .exported import CARD
from .model import load_model, receptive_field

DEFOCUS_CONVENTION = (
    "defocus_* are abTEM's defocus = -C10 [Å] (positive: underfocus); c10_* are C10 [Å] (positive: overfocus). "
    "Channel i was imaged at C10 = c10_offsets[i] + one shared value drawn from c10_range."
)


def _c10(defocus: float) -> float:
    """Return C10 [Å] of abTEM's ``defocus`` [Å] (0.0 - defocus, so a zero is not written as -0.0)."""
    return 0.0 - defocus


def model_card(system: Mapping[str, Any], *, name: str, evaluation: Mapping[str, Any]) -> dict[str, Any]:
    """Return the model card of a system's trained model.

    Parameters
    ----------
    system : mapping
        The system's validated configuration section.
    name : str
        The system's name.
    evaluation : mapping
        The metrics written by :func:`atomsight.evaluation.evaluate.evaluate`.

    Returns
    -------
    dict
        What a user (and ``atomsight predict``) needs to apply the model.
    """
    microscope = system["microscope"]
    sigma = microscope["normalization_sigma"]
    return {
        "system": name,
        "classes": ["background", *class_names(system["labels"])],
        "label_classes": system["labels"]["classes"],
        "sampling": microscope["sampling"],
        "energy": system["energy"],
        "input_channels": len(microscope["defocus_offsets"]),
        "defocus_convention": DEFOCUS_CONVENTION,
        "defocus_range": microscope["defocus"],
        "defocus_offsets": microscope["defocus_offsets"],
        "c10_range": sorted(_c10(d) for d in microscope["defocus"]),
        "c10_offsets": [_c10(d) for d in microscope["defocus_offsets"]],
        "normalization_sigma": sigma,
        "normalization_sigma_pixels": None if sigma is None else sigma / microscope["sampling"],
        "size_multiple": 2 ** (system["training"]["depth"] - 1),
        "postprocess": {
            **{key: system["evaluation"][key] for key in ("threshold", "epsilon", "t", "h")},
            "sigma": system["labels"]["sigma"] / microscope["sampling"],  # label width at the model's sampling [pixels]
        },
        "config_hash": config_hash(system),
        "atomsight_version": __version__,
        "evaluation": {
            "test_structures": evaluation["structures"],
            "confidence": evaluation["confidence"],
            "doses": [
                {key: entry[key] for key in ("dose", *SCORES, *(f"{score}_ci" for score in SCORES))}
                for entry in evaluation["doses"]
            ],
        },
    }


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
    card = model_card(system, name=name, evaluation=json.loads(Path(metrics_path).read_text()))
    card["receptive_field"] = receptive_field(model)  # radius [pixels at the model's sampling], for the tiling
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
        archive.write_out(str(tmp / "saved_model"), verbose=False)
        shutil.copy(model_path, tmp / "model.keras")
        (tmp / CARD).write_text(json.dumps(card, indent=2).replace("NaN", "null"))
    return out
