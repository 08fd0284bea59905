"""Checks of a model's inputs before anything is computed, without TensorFlow: ``predict`` and ``track`` run them first.

Each input file is checked against the model's card: it exists and has a readable format,
its pixel size is known (the file's calibration or ``--sampling``) and within the factor the
model serves (:func:`atomsight.io.images.check_sampling`), its image, resampled to the model's
sampling, is not too large to predict (:func:`atomsight.io.images.resampled_shape`, judged from
the file's header), and its metadata does not say it is an image of another kind than the
model's (a STEM or diffraction file for an HRTEM model,
:func:`atomsight.io.microscope_files.acquisition_of`). A file that fails is reported with the
reason and skipped; the others go on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io.formats import format_of, read_microscope_file
from ..io.images import check_sampling, frame_shape, image_files, resampled_shape
from ..io.microscope_files import resolve_sampling

MODALITY_NAMES = {"hrtem": "HRTEM images (a parallel beam and the objective lens' phase contrast)"}
"""What each imaging mode's model was trained on, in words for a refusal."""


@dataclass(frozen=True)
class Refusal:
    """An input that failed a check: the file (or argument) and why, in a sentence that names it."""

    path: Path
    reason: str


def check_inputs(
    card: Mapping[str, Any], paths: Sequence[str | Path], *, sampling: float | None
) -> tuple[list[Path], list[Refusal]]:
    """Check every input of a run of a model, before it is loaded.

    Parameters
    ----------
    card : mapping
        The model's card (:func:`atomsight.models.card.read_card`).
    paths : sequence of path
        Files or folders of them (:func:`atomsight.io.images.image_files`), as given.
    sampling : float, optional
        The ``--sampling`` override [Å/pixel].

    Returns
    -------
    tuple of (list of pathlib.Path, list of Refusal)
        The files that passed, in order, and the refusals.
    """
    passed, refused = [], []
    for given in paths:
        try:
            files = image_files([given])
        except (FileNotFoundError, ValueError) as error:
            refused.append(Refusal(Path(given), _sentence(error)))
            continue
        for path in files:
            try:
                check_image(card, path, sampling=sampling)
            except (FileNotFoundError, ValueError, OSError) as error:
                refused.append(Refusal(path, _sentence(error)))
            else:
                passed.append(path)
    return passed, refused


def check_image(card: Mapping[str, Any], path: Path, *, sampling: float | None) -> float:
    """Check one image file against a model's card; return the pixel size to use [Å/pixel].

    Raises
    ------
    ValueError
        If the format is not readable, the pixel size is unknown or too far from the card's,
        the image resampled to the card's sampling would exceed
        :data:`atomsight.io.images.MAX_RESAMPLED_PIXELS`, or the file's metadata says it is a
        STEM or diffraction image and the model is of another imaging mode; the message names
        the file.
    FileNotFoundError
        If the file does not exist.
    """
    image_format = format_of(path)
    microscope = read_microscope_file(path) if image_format.calibrated else None
    modality = card.get("modality", "hrtem")
    acquisition = None if microscope is None else microscope.acquisition
    if acquisition is not None and modality == "hrtem":
        raise ValueError(
            f"{path}: its metadata says it is a {acquisition} image, but the model {card.get('name', '')!r} was trained"
            f" on {MODALITY_NAMES[modality]}, whose contrast is unlike it: its detections there would mean nothing"
        )
    pixel = resolve_sampling(path, None if microscope is None else microscope.sampling, sampling)
    check_sampling(path, pixel, card["sampling"])
    resampled_shape(frame_shape(path), pixel, card["sampling"], path=path)
    return pixel


def _sentence(error: BaseException) -> str:
    """The message of an error, as the refusal's reason."""
    return str(error).strip("'\"")
