"""Release a trained network as a shipped model: ``src/atomsight/models/<name>/``, network and card.

A release holds the network without its optimiser state (a quarter of a training
checkpoint's size) and a card (:mod:`atomsight.export.card`) that also says what a user
needs to trust the model: the whole training configuration and its hash, how far training
got, the training data, its evaluations, the licence and the SHA-256 of the network file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras

from ..io.atomic import atomic_path
from ..models.card import WEIGHTS
from ..network.model import load_model, receptive_field
from ..network.train import build_network, finished_epochs
from .card import build_card, release_fields, write_card

MAX_BYTES = 25 * 2**20
"""Largest network file a release may ship [bytes]."""


def bare_network(system: Mapping[str, Any], model_path: str | Path) -> keras.Model:
    """Return a trained network without optimiser or compile state: the system's network with the trained weights.

    ``model_path`` is a finished run's ``.keras`` file, or the ``.weights.h5``
    checkpoint of a run still training (``backup/latest.weights.h5`` of
    :func:`atomsight.network.train.train`). The weights keep the configured dtype policy
    (e.g. ``mixed_bfloat16``), so the network computes exactly what the trained one did.
    """
    network = build_network(system)
    if str(model_path).endswith(".weights.h5"):
        network.load_weights(model_path)
    else:
        network.set_weights(load_model(model_path).get_weights())
    return network


def release(
    system: Mapping[str, Any],
    *,
    name: str,
    system_name: str | None = None,
    model_path: str | Path,
    history_path: str | Path,
    metrics_path: str | Path,
    out: str | Path,
    total_steps: int | None = None,
    grid_path: str | Path | None = None,
) -> Path:
    """Write a shipped model folder: the network without optimiser state and its card, atomically.

    Parameters
    ----------
    system : mapping
        The validated configuration section the network was trained with.
    name : str
        The model's name (what ``atomsight predict --model`` takes).
    system_name : str, optional
        The configuration's name of the system (the card's ``system``: ``gold_counting`` for the
        model named ``gold-counting``); default: ``name``.
    model_path : str or pathlib.Path
        The trained network: a finished run's ``model.keras`` or a running one's
        ``backup/latest.weights.h5`` (see :func:`bare_network`).
    history_path : str or pathlib.Path
        The run's ``history.csv`` (its epochs tell how many steps the network trained).
    metrics_path : str or pathlib.Path
        ``metrics.json`` of :func:`atomsight.evaluation.evaluate.evaluate` on the test split.
    out : str or pathlib.Path
        The model folder, e.g. ``src/atomsight/models/graphene``.
    total_steps : int, optional
        Steps the run is configured for, when it is released before it finished (the card
        then says it is still training); default: the configuration's epochs x steps.
    grid_path : str or pathlib.Path, optional
        Summary JSON of an evaluation over a grid of microscope conditions, copied into the card.

    Returns
    -------
    pathlib.Path
        The model folder.

    Raises
    ------
    ValueError
        If the network file exceeds :data:`MAX_BYTES`.
    """
    out = Path(out)
    training = system["training"]
    steps = finished_epochs(history_path) * training["steps_per_epoch"]
    planned = total_steps or training["epochs"] * training["steps_per_epoch"]
    network = bare_network(system, model_path)
    card = build_card(system, name=name, system_name=system_name or name,
                      metrics=json.loads(Path(metrics_path).read_text()), receptive_field=receptive_field(network))
    card.update(release_fields(system, steps=steps, planned=planned))
    if grid_path is not None:
        card["evaluation"]["grid"] = json.loads(Path(grid_path).read_text())
    with atomic_path(out) as tmp:
        tmp.mkdir()
        weights = tmp / WEIGHTS
        network.save(weights)
        size = weights.stat().st_size
        if size > MAX_BYTES:
            raise ValueError(f"{model_path}: the network takes {size / 2**20:.1f} MB without its optimiser, more than"
                             f" the {MAX_BYTES / 2**20:.0f} MB a shipped model may; train a smaller network")
        write_card(tmp, card)
    return out
