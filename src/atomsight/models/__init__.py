"""The trained models that ship inside the package, and how a model is named on the command line.

Each shipped model is a folder here, ``<name>/``, with ``model.keras`` (the network, without
its optimiser state) and ``model.json`` (its card, :mod:`atomsight.models.card`: what it
finds, at which sampling and energy, the microscope conditions it was trained for, its
training configuration and progress, its evaluation and licence, and the SHA-256 of each of
its files). A model given on the command line is either a shipped name (``graphene``) or
the path of a model folder (one that ``snakemake results/models/<system>`` wrote, or a copy
of a shipped one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .card import CARD, WEIGHTS, CardError, read_card, verify_files

SHIPPED = Path(__file__).resolve().parent
"""The folder of the shipped models."""


class ModelNotFoundError(FileNotFoundError):
    """A model name that is neither a shipped model nor a model folder."""


def shipped_models() -> dict[str, dict[str, Any]]:
    """Return the card of every shipped model, by name (sorted)."""
    return {folder.name: read_card(folder) for folder in sorted(SHIPPED.iterdir()) if (folder / CARD).is_file()}


def resolve_model(model: str | Path) -> Path:
    """Return the folder of a model given by a shipped name or a path.

    Parameters
    ----------
    model : str or pathlib.Path
        A shipped model's name (see :func:`shipped_models`) or the path of a model folder.
        An existing path wins over a shipped name.

    Returns
    -------
    pathlib.Path
        The model folder (it holds ``model.json``).

    Raises
    ------
    ModelNotFoundError
        If ``model`` is neither an existing model folder nor a shipped name; the message
        lists the shipped names.
    """
    path = Path(model)
    if path.exists():
        if not (path / CARD).is_file():
            raise ModelNotFoundError(f"{path}: not a model folder (no {CARD}); expected a shipped model name or the"
                                     " output of snakemake results/models/<system>")
        return path
    folder = SHIPPED / str(model)
    if str(model) == path.name and (folder / CARD).is_file():
        return folder
    names = ", ".join(shipped_models()) or "none"
    raise ModelNotFoundError(f"model {str(model)!r}: no such model folder and no shipped model of that name"
                             f" (shipped: {names}; `atomsight models` lists them with their cards)")


def verify_model(folder: str | Path) -> dict[str, Any]:
    """Read a model folder's card and check that its ``model.keras`` is the one the card describes.

    Raises
    ------
    atomsight.models.card.CardError
        If the card is malformed, or the network file is not listed in it or differs from
        it (e.g. it was replaced or truncated); the message names the file.
    """
    card = read_card(folder)
    verify_files(folder, card, [WEIGHTS])
    return card


__all__ = ["CARD", "SHIPPED", "WEIGHTS", "CardError", "ModelNotFoundError", "read_card", "resolve_model",
           "shipped_models", "verify_model"]
