"""The results table: what was found in one image, as a CSV and its JSON sidecar; one writer, one reader.

``<name>.csv`` holds one detection per row (:data:`COLUMNS`): its position in Å (``x_A``,
``y_A``; x along the image's first axis, as everywhere in atomsight) and in pixels of the
image (``row``, ``col``; ``x_A = row * sampling``), its ``class`` and ``probability``;
for a model of several classes the probability of each class given that there is an object
(``p_<class>``, eq. 7 of the paper; they sum to 1); with test-time augmentation the spread of
its position (:data:`SPREAD_COLUMNS`). ``<name>.json`` beside it says how the table was
made: the model (name, folder, SHA-256 of its network file), the detection settings, the
image (file, frame, shape, pixel size and where it came from) and the atomsight version.

:func:`read_table` reads a table back; it also reads tables written by hand or by other
programs, which need only ``x_A`` and ``y_A``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io.atomic import write_csv_rows, write_json

COLUMNS = ("x_A", "y_A", "row", "col", "class", "probability")
"""Columns of every table atomsight writes."""

SPREAD_COLUMNS = ("sigma_x_A", "sigma_y_A", "n_augment")
"""Columns added by test-time augmentation: the standard deviation [Å] of the detection's position along x and y
over the predictions that found it (empty where fewer than 2 did) and how many did."""

CLASS_PREFIX = "p_"
"""Prefix of the per-class probability columns, ``p_<class>``."""

POSITION_COLUMNS = ("x_A", "y_A")
"""The columns a table must have to be read."""


@dataclass(frozen=True)
class Detections:
    """Atoms or columns found in one probability map.

    Attributes
    ----------
    positions : numpy.ndarray
        Centres [pixels of the map], float64, shape (n, 2), dimensions (detection, (row, col)).
    classes : numpy.ndarray
        0-based object class (background excluded) of each detection, int64, shape (n,).
    probabilities : numpy.ndarray
        Probability of the assigned class, float64, shape (n,).
    class_probabilities : numpy.ndarray
        Probability of each object class given that there is an object, float64,
        shape (n, K - 1); rows sum to 1 (eq. 7 of the paper).
    """

    positions: np.ndarray
    classes: np.ndarray
    probabilities: np.ndarray
    class_probabilities: np.ndarray

    def __len__(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class Spread:
    """Spread of each detection's position over the predictions of test-time augmentation.

    Attributes
    ----------
    sigma : numpy.ndarray
        Standard deviation of the matched positions along (row, col) [pixels], shape (n, 2);
        NaN where fewer than 2 predictions found the detection.
    count : numpy.ndarray
        How many predictions found the detection, int64, shape (n,).
    """

    sigma: np.ndarray
    count: np.ndarray


@dataclass(frozen=True)
class DetectionTable:
    """A results table as read back (:func:`read_table`).

    Attributes
    ----------
    path : pathlib.Path
        The CSV file.
    xy : numpy.ndarray
        Positions (x, y) [Å], shape (n, 2).
    pixels : numpy.ndarray or None
        Positions (row, col) [pixels of the image], shape (n, 2), when the table has them.
    classes : list of str or None
        Class name of each detection, when the table has a ``class`` column.
    probability : numpy.ndarray or None
        Probability of each detection, shape (n,).
    class_probabilities : dict of str to numpy.ndarray or None
        Per class name, each detection's probability of that class, when the table has ``p_<class>`` columns.
    sigma : numpy.ndarray or None
        Position standard deviations along x and y [Å], shape (n, 2) (NaN where unknown).
    count : numpy.ndarray or None
        ``n_augment`` of each detection.
    metadata : dict or None
        The sidecar (:func:`sidecar_path`), when there is one.
    """

    path: Path
    xy: np.ndarray
    pixels: np.ndarray | None
    classes: list[str] | None
    probability: np.ndarray | None
    class_probabilities: dict[str, np.ndarray] | None
    sigma: np.ndarray | None
    count: np.ndarray | None
    metadata: dict[str, Any] | None

    def __len__(self) -> int:
        return len(self.xy)


def sidecar_path(path: str | Path) -> Path:
    """Return the sidecar of a table: ``<name>.json`` beside ``<name>.csv``."""
    return Path(path).with_suffix(".json")


def table_header(classes: Sequence[str], *, spread: bool) -> list[str]:
    """Return the header of a table of a model with object ``classes`` (background excluded)."""
    per_class = [f"{CLASS_PREFIX}{name}" for name in classes] if len(classes) > 1 else []
    return [*COLUMNS, *per_class, *(SPREAD_COLUMNS if spread else ())]


def table_rows(
    pixels: np.ndarray, detections: Detections, *, sampling: float, classes: Sequence[str],
    spread: Spread | None = None,
) -> list[list[Any]]:
    """Return the rows of a table, in the order of :func:`table_header`.

    Parameters
    ----------
    pixels : numpy.ndarray
        Positions (row, col) [pixels of the image], shape (n, 2); row is along x.
    detections : Detections
        The detections, for their classes and probabilities.
    sampling : float
        The image's pixel size [Å/pixel]: x_A = row * sampling, y_A = col * sampling.
    classes : sequence of str
        Object class names (background excluded).
    spread : Spread, optional
        The detections' spread under augmentation [pixels of the image] (sigma written in Å).
    """
    several = len(classes) > 1
    rows = []
    for k, ((row, col), c, p) in enumerate(zip(pixels, detections.classes, detections.probabilities)):
        values: list[Any] = [f"{row * sampling:.4f}", f"{col * sampling:.4f}", f"{row:.3f}", f"{col:.3f}",
                             classes[int(c)], f"{p:.4f}"]
        if several:
            values += [f"{q:.4f}" for q in detections.class_probabilities[k]]
        if spread is not None:
            sx, sy = spread.sigma[k] * sampling
            values += [_number(sx), _number(sy), int(spread.count[k])]
        rows.append(values)
    return rows


def write_table(
    path: str | Path, *, pixels: np.ndarray, detections: Detections, sampling: float, classes: Sequence[str],
    metadata: Mapping[str, Any], spread: Spread | None = None, sidecar_file: str | Path | None = None,
) -> list[Path]:
    """Write a results table and its sidecar, each atomically (a temporary name, then a rename).

    Parameters
    ----------
    path : str or pathlib.Path
        The CSV file, ``<name>.csv``; the sidecar is ``<name>.json`` (:func:`sidecar_path`).
    pixels, detections, sampling, classes, spread
        As for :func:`table_rows`.
    metadata : mapping
        The sidecar (:func:`sidecar`).
    sidecar_file : str or pathlib.Path, optional
        Where to write the sidecar instead of :func:`sidecar_path` (a temporary of
        :func:`atomsight.io.atomic.atomic_files`).

    Returns
    -------
    list of pathlib.Path
        The CSV and the sidecar.
    """
    path = Path(path)
    write_csv_rows(path, table_header(classes, spread=spread is not None),
                   table_rows(pixels, detections, sampling=sampling, classes=classes, spread=spread))
    sidecar_file = Path(sidecar_file) if sidecar_file is not None else sidecar_path(path)
    write_json(sidecar_file, {**metadata, "detections": len(pixels)})
    return [path, sidecar_file]


def sidecar(*, model: Mapping[str, Any], settings: Mapping[str, Any], image: Mapping[str, Any],
            version: str) -> dict[str, Any]:
    """Return the sidecar of a table: how it was made.

    Parameters
    ----------
    model : mapping
        ``name``, ``folder`` and ``sha256`` (of the network file that ran) of the model.
    settings : mapping
        The detection settings (:meth:`atomsight.detections.DetectionSettings.to_card`).
    image : mapping
        ``source`` (the file), ``frame`` (or None), ``shape`` [pixels], ``sampling_A`` [Å/pixel] and
        ``sampling_source`` (where the pixel size came from).
    version : str
        The atomsight version.
    """
    return {
        "table_version": 1,
        "columns": {"x_A, y_A": "position [Å], x along the image's first axis",
                    "row, col": "position [pixels of the image], x_A = row * sampling_A",
                    "class, probability": "the most probable class and its probability",
                    f"{CLASS_PREFIX}<class>": "probability of each class given that there is an object (eq. 7)",
                    ", ".join(SPREAD_COLUMNS): "spread [Å] and count of the position over test-time augmentation"},
        "model": dict(model), "detection": dict(settings), "image": dict(image), "atomsight_version": version,
    }


def read_table(path: str | Path) -> DetectionTable:
    """Read a results table (and its sidecar, when there is one).

    Parameters
    ----------
    path : str or pathlib.Path
        A CSV with a header row: ``x_A`` and ``y_A`` [Å] are required; ``row``, ``col``,
        ``class``, ``probability``, ``p_<class>`` and, both or neither, ``sigma_x_A`` and
        ``sigma_y_A`` [Å] (with ``n_augment``) are read when present; other columns are ignored.

    Returns
    -------
    DetectionTable
        The table.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        Naming the file (and row and column), if ``x_A`` or ``y_A`` is missing, only one of
        the sigma columns is there, a value is not a finite number (sigma may be empty or
        NaN: unknown), a sigma is negative, or the sidecar is not JSON. A table without rows
        (nothing was found) is read as an empty table.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"positions file not found: {path}")
    with open(path, newline="") as stream:
        reader = csv.DictReader(stream)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    missing = [c for c in POSITION_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path}: expected columns {', '.join(POSITION_COLUMNS)} [Å], missing {', '.join(missing)}")
    has_sigma = [c in header for c in SPREAD_COLUMNS[:2]]
    if any(has_sigma) and not all(has_sigma):
        raise ValueError(f"{path}: expected both {' and '.join(SPREAD_COLUMNS[:2])} [Å] or neither")
    sigma = _columns(path, rows, SPREAD_COLUMNS[:2], unknown=True) if all(has_sigma) else None
    if sigma is not None and not (np.isnan(sigma) | (sigma >= 0)).all():
        raise ValueError(f"{path}: {' and '.join(SPREAD_COLUMNS[:2])} must be >= 0 [Å] or empty (unknown)")
    per_class = [c for c in header if c.startswith(CLASS_PREFIX)]
    return DetectionTable(
        path=path,
        xy=_columns(path, rows, POSITION_COLUMNS),
        pixels=_columns(path, rows, ("row", "col")) if {"row", "col"} <= set(header) else None,
        classes=[row["class"] for row in rows] if "class" in header else None,
        probability=_columns(path, rows, ("probability",))[:, 0] if "probability" in header else None,
        class_probabilities={c[len(CLASS_PREFIX):]: _columns(path, rows, (c,))[:, 0] for c in per_class} or None,
        sigma=sigma,
        count=_columns(path, rows, ("n_augment",))[:, 0].astype(np.int64) if "n_augment" in header else None,
        metadata=_read_sidecar(path),
    )


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    """Return a table's sidecar, None if it has none."""
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        data = json.loads(side.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{side}: the sidecar of {path.name} is not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{side}: the sidecar of {path.name} is not a JSON object")
    return data


def _columns(path: Path, rows: list[dict[str, str]], names: Sequence[str], *, unknown: bool = False) -> np.ndarray:
    """Return the named columns as floats, shape (n, len(names)); a bad value raises naming file, row and column.

    With ``unknown``, an empty cell or NaN reads as NaN; otherwise every value must be a finite number.
    """
    values = np.empty((len(rows), len(names)))
    for r, row in enumerate(rows):
        for c, name in enumerate(names):
            text = row.get(name)
            try:
                values[r, c] = float("nan") if unknown and text in ("", None) else float(text)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ValueError(f"{path}: row {r + 1}, column {name}: expected a number, got {text!r}") from None
            if not unknown and not np.isfinite(values[r, c]):
                raise ValueError(f"{path}: row {r + 1}, column {name}: expected a finite number, got {text!r}")
    return values


def _number(value: float) -> str:
    """A spread for the CSV: 4 decimals, empty when unknown (NaN)."""
    return "" if not np.isfinite(value) else f"{value:.4f}"


DUPLICATE_DISTANCE = 0.05
"""Two rows of a table closer than this are one object found twice [Å]: atoms and columns lie 1 Å apart or more."""


def check_distinct(table: DetectionTable, *, min_distance: float = DUPLICATE_DISTANCE) -> None:
    """Refuse a table that holds one position twice (e.g. two tables concatenated), naming the file and the rows.

    Raises
    ------
    ValueError
        If two rows lie closer than ``min_distance`` [Å]; the message gives how many pairs and the first.
    """
    from scipy.spatial import cKDTree

    pairs = sorted(cKDTree(table.xy).query_pairs(min_distance)) if len(table.xy) > 1 else []
    if pairs:
        i, j = pairs[0]
        raise ValueError(
            f"{table.path}: rows {i} and {j} (counting from 0) lie {np.linalg.norm(table.xy[i] - table.xy[j]):.3f} Å"
            f" apart, {len(pairs)} pair(s) closer than {min_distance:g} Å: each atom or column is expected once"
            " (was a table written twice into one file?)"
        )

