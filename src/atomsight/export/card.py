"""The one writer of model cards: what a user (and ``atomsight predict``) needs to apply a model and to trust it.

A card (``model.json``, read back by :func:`atomsight.models.card.read_card`) holds the
model's name, system and imaging mode, its classes, the sampling [Å/pixel], energy [eV],
input channels, size multiple and receptive field [pixels] of the network, the local
normalisation window, the detection settings (:class:`atomsight.detections.DetectionSettings`),
the microscope conditions it was trained for (``intended_conditions``: C10 with its sign,
the only place a card states it), the configuration hash and atomsight version, the
evaluation on the test split, and the SHA-256 and size of every file of its folder. A
shipped model's card also records how far training got, the whole training configuration,
the training data and the licence (:func:`release_fields`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import config_hash
from ..core.defocus import CONVENTION, c10_from_defocus, c10_range
from ..detections import DetectionSettings
from ..evaluation.metrics import SCORES
from ..models.card import CARD, CARD_VERSION, file_sha256
from ..simulation.labels import class_names

LICENCE = "MIT (the atomsight licence); trained only on simulations made by atomsight"


def intended_conditions(system: Mapping[str, Any]) -> dict[str, Any]:
    """The microscope conditions a model was trained for, with units and sign conventions named."""
    microscope = system["microscope"]
    return {
        "c10_A": c10_range(microscope["defocus"]),
        "c10_offsets_A": [c10_from_defocus(float(d)) for d in microscope["defocus_offsets"]],
        "cs_A": microscope["Cs"],
        "c5_A": microscope["C5"],
        "astigmatism_A": microscope["astigmatism"],
        "focal_spread_A": microscope["focal_spread"],
        "blur_A": microscope["blur"],
        "dose_e_per_A2": microscope["dose"],
        "detector_mtf": microscope["mtf"],
        "sampling_jitter": microscope["scale_jitter"],
        "conventions": f"{CONVENTION}. Image i of a focal series was taken at C10 = c10_offsets_A[i] + one shared"
                       " value from c10_A. Aberrations in Å (1 µm = 1e4 Å, 1 mm = 1e7 Å); dose per image.",
    }


def evaluation_summary(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The card's summary of an evaluation's ``metrics.json``: the scores per dose with their intervals."""
    return {
        "test_structures": metrics["structures"],
        "confidence": metrics["confidence"],
        "doses": [{key: entry[key] for key in ("dose", *SCORES, *(f"{score}_ci" for score in SCORES))}
                  for entry in metrics["doses"]],
    }


def build_card(
    system: Mapping[str, Any], *, name: str, system_name: str, metrics: Mapping[str, Any], receptive_field: int,
) -> dict[str, Any]:
    """Return the card of a system's trained network (without ``files``, which :func:`write_card` adds).

    Parameters
    ----------
    system : mapping
        The system's validated configuration section.
    name : str
        The model's name (what ``atomsight predict --model`` takes for a shipped model).
    system_name : str
        The configuration's name of the system (``gold_counting`` for the model named ``gold-counting``).
    metrics : mapping
        The evaluation's ``metrics.json`` (:func:`atomsight.evaluation.evaluate.evaluate`).
    receptive_field : int
        Radius of the network's receptive field [pixels at the model's sampling], for the tiling.

    Returns
    -------
    dict
        The card.
    """
    microscope = system["microscope"]
    sigma = microscope["normalization_sigma"]
    return {
        "card_version": CARD_VERSION,
        "name": name,
        "system": system_name,
        "modality": system["modality"],
        "classes": ["background", *class_names(system["labels"])],
        "label_classes": system["labels"]["classes"],
        "sampling": microscope["sampling"],
        "energy": system["energy"],
        "input_channels": len(microscope["defocus_offsets"]),
        "size_multiple": 2 ** (system["training"]["depth"] - 1),
        "receptive_field": int(receptive_field),
        "normalization_sigma": sigma,
        "normalization_sigma_pixels": None if sigma is None else sigma / microscope["sampling"],
        "detection": DetectionSettings.from_config(system).to_card(),
        "intended_conditions": intended_conditions(system),
        "config_hash": config_hash(system),
        "atomsight_version": __version__,
        "evaluation": evaluation_summary(metrics),
    }


def release_fields(system: Mapping[str, Any], *, steps: int, planned: int) -> dict[str, Any]:
    """The fields a shipped model's card adds: status, training, data and licence.

    Parameters
    ----------
    system : mapping
        The validated configuration section the network was trained with.
    steps : int
        Training steps the network has had.
    planned : int
        Steps the run is configured for.
    """
    training = system["training"]
    return {
        "status": "final" if steps >= planned else f"in training: {steps} of {planned} steps",
        "training": {"steps": steps, "planned_steps": planned, "images": steps * training["batch_size"],
                     "configuration": system, "config_hash": config_hash(system)},
        "data": {"generator": system["structures"]["generator"], "parameters": system["structures"]["parameters"],
                 "splits": system["splits"], "seed": system["seed"], "simulation": system["simulation"]},
        "licence": LICENCE,
    }


def write_card(folder: str | Path, card: Mapping[str, Any]) -> Path:
    """Write ``card`` into a model folder with the SHA-256 and size of every other file in it; return its path.

    The folder is one being assembled under a temporary name (see
    :func:`atomsight.io.atomic.atomic_path`), so the card is written with the files it lists.
    """
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != CARD)
    listed = {p.relative_to(folder).as_posix(): {"sha256": file_sha256(p), "bytes": p.stat().st_size} for p in files}
    path = folder / CARD
    path.write_text(json.dumps({**card, "files": listed}, indent=2).replace("NaN", "null"))
    return path
