"""The trained models that ship inside the package, and how a model is named on the command line.

Each shipped model is a folder here, ``<name>/``, with ``model.keras`` (the network, without
its optimiser state) and ``model.json`` (its card, :mod:`atomsight.models.card`: what it
finds, at which sampling and energy, the microscope conditions it was trained for, its
training configuration and progress, its evaluation and licence, and the SHA-256 of each of
its files). A model given on the command line is either a shipped name (``graphene``) or
the path of a model folder (one that ``snakemake results/models/<system>`` wrote, or a copy
of a shipped one). It is a path only when written as one (:func:`written_as_path`), so a
folder named ``graphene`` in the working directory never stands in for the shipped model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .card import CARD, SAVED_MODEL, WEIGHTS, CardError, read_card, verify_files

SHIPPED = Path(__file__).resolve().parent
"""The folder of the shipped models."""


class ModelNotFoundError(FileNotFoundError):
    """A model name that is neither a shipped model nor a model folder."""


def shipped_models() -> dict[str, dict[str, Any]]:
    """Return the card of every shipped model, by name (sorted)."""
    return {folder.name: read_card(folder) for folder in sorted(SHIPPED.iterdir()) if (folder / CARD).is_file()}


def written_as_path(model: str | Path) -> bool:
    """Whether a model argument is a path: a :class:`pathlib.Path`, or a string with a separator or leading . or ~."""
    if isinstance(model, Path):
        return True
    separators = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    return any(s in model for s in separators) or model.startswith((".", "~"))


def resolve_model(model: str | Path) -> Path:
    """Return the folder of a model given by a shipped name or a path.

    Parameters
    ----------
    model : str or pathlib.Path
        A shipped model's name (see :func:`shipped_models`), or the path of a model folder
        written as a path (:func:`written_as_path`: ``./graphene``, ``results/models/gold``).

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
    if written_as_path(model):
        path = Path(model).expanduser()
        if not path.exists():
            raise ModelNotFoundError(f"{path}: no such model folder")
        if not (path / CARD).is_file():
            raise ModelNotFoundError(f"{path}: not a model folder (no {CARD}); expected a shipped model name or the"
                                     " output of snakemake results/models/<system>")
        return path
    folder = SHIPPED / model
    if (folder / CARD).is_file():
        return folder
    names = ", ".join(shipped_models()) or "none"
    hint = f"; for the folder {model}/ here, write ./{model}" if (Path(model) / CARD).is_file() else ""
    raise ModelNotFoundError(f"model {model!r}: no shipped model of that name (shipped: {names}; `atomsight models`"
                             f" lists them with their cards){hint}")


def verify_model(folder: str | Path, *, saved_model: bool = False) -> dict[str, Any]:
    """Read a model folder's card and check that the files to be loaded are the ones the card describes.

    Parameters
    ----------
    folder : str or pathlib.Path
        The model folder.
    saved_model : bool
        Check every file of its ``saved_model/`` (to be loaded) instead of its ``model.keras``.

    Raises
    ------
    atomsight.models.card.CardError
        If the card is malformed, or a file to be loaded is not listed in it or differs from
        it (e.g. it was replaced or truncated); the message names the file.
    """
    folder = Path(folder)
    card = read_card(folder)
    if saved_model:
        names = sorted(p.relative_to(folder).as_posix() for p in (folder / SAVED_MODEL).rglob("*") if p.is_file())
        verify_files(folder, card, names)
    else:
        verify_files(folder, card, [WEIGHTS])
    return card


__all__ = ["CARD", "SAVED_MODEL", "SHIPPED", "WEIGHTS", "CardError", "ModelNotFoundError", "read_card",
           "resolve_model", "shipped_models", "verify_model", "written_as_path"]
