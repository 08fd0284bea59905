"""Model cards: the names of a model folder's files, reading and checking a card, and showing it to a person.

A model folder holds its network and ``model.json``, its card. The card is written by one
writer, :func:`atomsight.export.card.build_card` (for an exported and for a shipped model
alike), and read here: :func:`read_card` checks the fields every reader relies on,
:func:`verify_files` that each file the card lists is the one it describes, and
:func:`describe_card` says in a few lines what a model finds, where and how well.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.defocus import OVERFOCUS, format_c10, format_c10_span

CARD = "model.json"
"""The card's file name in a model folder."""

WEIGHTS = "model.keras"
"""The Keras network's file name in a model folder."""

SAVED_MODEL = "saved_model"
"""The TensorFlow SavedModel's folder name in an exported model folder."""

CARD_VERSION = 2
"""Version of the card's layout; version 2 keeps C10 once (``intended_conditions``) and the ``detection`` settings."""

REQUIRED: dict[str, type | tuple[type, ...]] = {
    "classes": list, "sampling": (int, float), "energy": (int, float), "input_channels": int,
    "size_multiple": int, "receptive_field": int, "detection": dict, "intended_conditions": dict,
}
"""Fields every card has, with their types; :func:`read_card` refuses a card without them."""


class CardError(ValueError):
    """A card that is missing, malformed or does not describe its folder's files; the message names the file."""


def file_sha256(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(folder: str | Path) -> dict[str, Any]:
    """Read and check the card of a model folder.

    Raises
    ------
    CardError
        Naming the card, if it cannot be read, is not a JSON object, lacks a field of
        :data:`REQUIRED` or has one of the wrong type, holds a sampling or energy that is
        not a positive finite number, or a non-finite normalisation or detection setting.
    """
    path = Path(folder) / CARD
    try:
        card = json.loads(path.read_text())
    except FileNotFoundError:
        raise CardError(f"{path}: no model card") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CardError(f"{path}: cannot read the model card ({error})") from None
    except json.JSONDecodeError as error:
        raise CardError(f"{path}: the model card is not valid JSON ({error})") from None
    if not isinstance(card, dict):
        raise CardError(f"{path}: the model card is a JSON {type(card).__name__}, expected an object")
    for key, kind in REQUIRED.items():
        if key not in card:
            raise CardError(f"{path}: the model card lacks {key!r} (expected {', '.join(REQUIRED)}); re-export or"
                            " re-release the model with this atomsight")
        if isinstance(card[key], bool) or not isinstance(card[key], kind):
            raise CardError(f"{path}: {key} is {card[key]!r}, expected a {getattr(kind, '__name__', 'number')}")
    for key in ("sampling", "energy"):
        if not (math.isfinite(card[key]) and card[key] > 0):
            raise CardError(f"{path}: {key} is {card[key]!r}, expected a positive finite number")
    for key in ("normalization_sigma_pixels", *(f"detection.{k}" for k in card["detection"])):
        section, _, name = key.rpartition(".")
        value = (card[section] if section else card).get(name)
        if isinstance(value, float) and not math.isfinite(value):
            raise CardError(f"{path}: {key} is {value!r}, expected a finite number")
    if card["input_channels"] < 1 or len(card["classes"]) < 2:
        raise CardError(f"{path}: expected at least 1 input channel and 2 classes (background first), got"
                        f" {card['input_channels']} and {card['classes']}")
    return card


def verify_files(folder: str | Path, card: Mapping[str, Any], names: list[str]) -> None:
    """Check that each of ``names`` (paths in the folder) is a file the card lists with its SHA-256.

    Raises
    ------
    CardError
        If the card lists no such file, or the file's SHA-256 differs (it was replaced or
        truncated); the message names both.
    """
    folder = Path(folder)
    files = card.get("files") or {}
    for name in names:
        recorded = (files.get(name) or {}).get("sha256")
        if recorded is None:
            raise CardError(f"{folder / name}: not listed with its SHA-256 in {folder / CARD}, so it cannot be"
                            " verified; re-export or re-release the model")
        actual = file_sha256(folder / name)
        if actual != recorded:
            raise CardError(f"{folder / name}: SHA-256 {actual} differs from {recorded} in {folder / CARD}; the file"
                            " is not the one the card describes (reinstall the package or re-release the model)")


def series_frames(card: Mapping[str, Any]) -> list[str]:
    """Say, for each image a model takes, the C10 it expects: ``"image 1 of 3: C10 = -170 Å"``.

    For a focal series the card's ``intended_conditions`` hold one C10 per image
    (``c10_offsets_A``), each shifted by one value shared by the series, drawn from ``c10_A``;
    the line of the first image says so.
    """
    conditions = card.get("intended_conditions", {})
    count = int(card["input_channels"])
    offsets = conditions.get("c10_offsets_A")
    if offsets is None or len(offsets) != count:
        return [f"image {k + 1} of {count}: C10 not on the model's card" for k in range(count)]
    shared = conditions.get("c10_A")
    lines = [f"image {k + 1} of {count}: {format_c10(offset)}" for k, offset in enumerate(offsets)]
    if shared is not None:
        lines[0] += f" (each image plus one shift the series shares, {format_c10_span(*shared)}; {OVERFOCUS})"
    return lines


def role(name: str, card: Mapping[str, Any]) -> str:
    """Say whether a model is its material's default (``--model graphene``) or what it is specialised for.

    The default model of a material is the one named after its system; every other model is
    specialised, and its name says for what (``gold-counting``).
    """
    if name == card.get("system"):
        return f"the default for {name}"
    if card.get("label_classes") == "heights":
        return f"specialised: atoms per column from a focal series of {card['input_channels']} images"
    return f"specialised ({card.get('system', '?')} under the conditions below)"


def describe_card(name: str, card: Mapping[str, Any]) -> str:
    """A few lines on a model card: its role, what it finds, where, under which conditions, how well."""
    conditions = card.get("intended_conditions", {})

    def span(key: str, scale: float, unit: str, sign: str = "") -> str:
        value = conditions.get(key)
        return "?" if value is None else f"{value[0] / scale:{sign}g} to {value[1] / scale:{sign}g} {unit}"

    c10 = conditions.get("c10_A")
    offsets = conditions.get("c10_offsets_A") or [0.0]
    focus = "?" if c10 is None else format_c10_span(*c10)
    if len(offsets) > 1:
        focus += " added to each image's C10 below"
    lines = [
        f"{name} ({role(name, card)}): {', '.join(card['classes'][1:])} at {card['energy'] / 1e3:g} kV,"
        f" {card['sampling']} Å/pixel,"
        f" {card['input_channels']} input channel(s); {card.get('status', 'final')}",
        f"  trained for {focus} ({OVERFOCUS}),"
        f" Cs {span('cs_A', 1e4, 'µm', '+')}, C5 {span('c5_A', 1e7, 'mm')},"
        f" astigmatism {span('astigmatism_A', 1, 'Å')},"
        f" dose {span('dose_e_per_A2', 1, 'e/Å²')}; detection threshold {card['detection'].get('threshold', '?')}",
    ]
    if len(offsets) > 1:
        lines += [f"  {line}" for line in series_frames(card)]
    evaluation = card.get("evaluation", {})
    if evaluation.get("doses"):
        lines.append("  on held-out test structures, microscopes drawn over those conditions:")
    for entry in evaluation.get("doses", []):
        lines.append(f"    F1 {entry['f1']:.3f} [{entry['f1_ci'][0]:.3f}, {entry['f1_ci'][1]:.3f}],"
                     f" RMSE {entry['rmse']:.3f} Å at {entry['dose']:g} e/Å²")
    grid = evaluation.get("grid") or {}
    if grid.get("summary"):
        cells = f"{len(grid['C10_A'])} x {len(grid['Cs_A'])}"
        scores = ", ".join(f"{entry['model']['f1']:.2f} ({entry['baseline']['f1']:.2f}) at {entry['dose']:g}"
                           for entry in grid["summary"])
        lines.append(f"  over a grid of {cells} (C10, Cs) cells with contrast, F1 (classical peak finder):"
                     f" {scores} e/Å²")
    lines.append(f"  licence: {card.get('licence', 'see the package')}")
    return "\n".join(lines)
