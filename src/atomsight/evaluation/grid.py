"""Evaluation over a grid of microscope conditions, against a classical baseline, in one run.

Every cell of the grid is a (C10, Cs) pair (``evaluation.grid``, whose ``defocus`` is
abTEM's, :mod:`atomsight.core.defocus`; outputs give C10). Image k of every cell shows test structure k (modulo the
split's size) under the microscope drawn from the seed (``evaluation.seed``, k), with its
defocus and Cs set to the cell's: the other parameters (C5, astigmatism, focal spread,
blur, MTF, pixel size, field of view) are the same in every cell, so cells differ by the
optics alone. The cell's noise-free contrast, the standard deviation over the mean of the
intensity before blur, noise and detector (averaged over a focal series and over the
cell's images), tells how visible the atoms are at all. Each cell is imaged at every dose
(the same noise seed at every dose), and on these same images

* the model: its probability maps through :func:`atomsight.network.postprocess.detect`, and
* the classical baseline (:mod:`atomsight.evaluation.baseline`): Gaussian smoothing,
  ``skimage.feature.peak_local_max`` and centre-of-mass refinement, with its polarity and
  settings chosen per cell and dose on ``fit_images`` images of training structures at
  that cell and dose (:func:`atomsight.evaluation.baseline.fit_baseline`). A user knows
  whether the atoms of their images are bright or dark and tunes the smoothing and
  threshold on images like theirs; choosing on training images at the very same
  condition is the most such tuning could achieve without looking at the test images,
  so the comparison is generous to the baseline,

are scored as :mod:`atomsight.evaluation.evaluate` scores the model (matches within
``evaluation.radius``, nothing within ``evaluation.margin`` of the edge counted). Written
to the output folder: ``grid.csv`` (a row per cell, dose and method), ``grid.json`` (the
grid, the contrast and scores of every cell, and per dose the scores pooled over the
cells whose contrast is at least ``contrast_threshold``, with bootstrap intervals over
the test structures), and the heat maps and curves of :mod:`atomsight.evaluation.grid_plots`, all
replacing those of an earlier run together or not at all (:func:`atomsight.io.atomic.atomic_files`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from ..core.defocus import CONVENTION, c10_from_defocus, format_c10
from ..core.matching import match
from ..detections import DetectionSettings
from ..io.atomic import atomic_files, write_csv_rows, write_json
from ..io.store import read_ground_truth
from ..microscope import MicroscopeSettings, draw, stack_parameters
from ..microscope.data import SpectraSource
from ..network.model import load_model
from ..network.postprocess import detect
from .baseline import BaselineParameters, BaselineSearch, find_atoms, fit_baseline
from .evaluate import Predictor, inside_margin, network_predictor, scores_with_intervals, visible_positions
from .grid_plots import plot_contrast, plot_grid_scores, plot_scores_vs_dose
from .metrics import Scores, aggregate, scores_of

log = logging.getLogger(__name__)

METHODS = ("model", "baseline")
"""The finders scored in every cell, in the order of the outputs."""

CELL_SCORES = ("f1", "precision", "recall", "rmse")
"""Scores of every cell in grid.json's ``per_cell`` (the RMSE in Å)."""

COLUMNS = (
    "method", "C10_A", "Cs_A", "Cs_um", "contrast", "dose", "images", "f1", "precision", "recall",
    "rmse_A", "true_positives", "false_positives", "false_negatives", "polarity", "smoothing_A", "min_distance_A",
    "threshold_sd", "refine_radius_A", "channel", "fit_f1", "fit_rmse_A",
)
"""Columns of grid.csv. ``C10_A`` is the cell's C10 [Å] (with a focal series the shift added to every offset's
C10); ``contrast`` the cell's noise-free contrast; the last nine the
baseline's chosen settings and its F1 and RMSE on its fitting images (empty for the model)."""

CONVENTIONS = {
    "C10_A": f"{CONVENTION}; with a focal series, the shift added to the C10 of every image of the series",
    "Cs_A": "third-order spherical aberration C30 [Å] (1 µm = 1e4 Å)",
    "dose": "electron dose per image [e/Å^2]",
    "contrast": "noise-free contrast: std / mean of the image intensity before blur, noise and detector, averaged"
                " over a focal series and the cell's images",
    "per_cell": "scores indexed [dose][C10][Cs]",
}
"""How grid.json's quantities are defined, written into it."""


def grid_values(spec: int | Sequence[float], span: Sequence[float]) -> list[float]:
    """Return the values of one axis of the grid.

    Parameters
    ----------
    spec : int or sequence of float
        The values themselves, or how many, evenly spaced over ``span`` with both ends
        (one value: the middle of ``span``).
    span : sequence of float
        (low, high) of the parameter in the system's microscope.

    Returns
    -------
    list of float
        The values.
    """
    if isinstance(spec, int):
        low, high = span
        return [float(v) for v in (np.linspace(low, high, spec) if spec > 1 else [(low + high) / 2])]
    return [float(v) for v in spec]


@dataclass
class _Images:
    """Structures of a split and the microscopes drawn for them: image k of every cell and dose."""

    source: SpectraSource
    spectra: tf.Tensor
    base: list[dict[str, tf.Tensor]]
    structures: list[int]
    truths: list[np.ndarray]
    samplings: list[float]
    margins: list[float]
    radius: float

    @classmethod
    def draw(cls, source: SpectraSource, *, count: int, seeds: Sequence[tuple[int, int]],
             settings_eval: Mapping[str, Any]) -> _Images:
        """``count`` images of ``source``'s structures (image k: structure k modulo their number)."""
        structures = [k % len(source) for k in range(count)]
        extent = tf.constant(source.grid.extent, tf.float32)
        base = [draw(tf.constant(seed, tf.int64), source.settings, extent) for seed in seeds]
        spectra = tf.constant(np.stack([source.read(i)[0] for i in structures]))
        truths, samplings, margins = [], [], []
        for i, params in zip(structures, base):
            store, j = source.locations[i]
            sampling = float(params["sampling"])
            shift = np.array([float(params["shift_x"]), float(params["shift_y"])])
            truth, _ = visible_positions(read_ground_truth(source.roots[store], j).positions, shift=shift,
                                         sampling=sampling, size=source.settings.image_size,
                                         extent=source.grid.extent, margin=settings_eval["margin"] / sampling)
            truths.append(truth)
            samplings.append(sampling)
            margins.append(settings_eval["margin"] / sampling)
        return cls(source, spectra, base, structures, truths, samplings, margins, settings_eval["radius"])

    def parameters(self, *, defocus: float, cs: float, dose: float) -> dict[str, tf.Tensor]:
        """Every image's microscope with the cell's defocus [Å, abTEM's] and Cs [Å], at ``dose`` [e/Å^2]."""
        values = {"defocus": defocus, "Cs": cs, "dose": dose, "dihedral": 0}
        return stack_parameters([
            {**p, **{k: tf.constant(v, tf.int32 if k == "dihedral" else tf.float32) for k, v in values.items()}}
            for p in self.base
        ])

    def score(self, k: int, found: np.ndarray) -> Scores:
        """Scores of detections [pixels, (row, col)] in image ``k``: those inside the margin, matched in Å."""
        sampling, truth = self.samplings[k], self.truths[k]
        found = found[inside_margin(found, self.source.settings.image_size, self.margins[k])]
        return scores_of(match(truth * sampling, found * sampling, self.radius), len(truth), len(found))


def evaluate_grid(
    system: Mapping[str, Any],
    *,
    model_path: str | Path,
    test_stores: Sequence[str | Path],
    train_stores: Sequence[str | Path],
    out: str | Path,
) -> dict[str, Any]:
    """Evaluate a trained model and the classical baseline over the grid of microscope conditions.

    Parameters
    ----------
    system : mapping
        The system's validated configuration section.
    model_path : str or pathlib.Path
        The trained model: a ``.keras`` file, or an exported model's folder (its ``model.keras``).
    test_stores, train_stores : sequence of path
        Shard stores of the ``test`` split (scored) and of the ``train`` split (the
        baseline's settings are chosen on them).
    out : str or pathlib.Path
        Folder of the results.

    Returns
    -------
    dict
        The results, as written to ``grid.json`` (see :func:`evaluate_grid_predictor`).

    Raises
    ------
    ValueError
        If the model takes another number of input images than the system's focal series.
    """
    path = Path(model_path)
    model = load_model(path / "model.keras" if path.is_dir() else path)
    channels = len(system["microscope"]["defocus_offsets"])
    if model.input_shape[-1] != channels:
        raise ValueError(f"{model_path}: the model takes {model.input_shape[-1]} input images, but the system's"
                         f" microscope.defocus_offsets make {channels}")
    return evaluate_grid_predictor(system, network_predictor(model),
                                   test_stores=test_stores, train_stores=train_stores, out=out)


def evaluate_grid_predictor(
    system: Mapping[str, Any],
    predict: Predictor,
    *,
    test_stores: Sequence[str | Path],
    train_stores: Sequence[str | Path],
    out: str | Path,
) -> dict[str, Any]:
    """Evaluate any predictor of probability maps and the classical baseline over the grid; write the results.

    Parameters
    ----------
    system : mapping
        The system's validated configuration section.
    predict : Predictor
        Images (N, H, W, F) to probability maps (N, H, W, 1 + C): a trained network's
        forward pass, or a stand-in whose output is known.
    test_stores, train_stores : sequence of path
        Shard stores of the ``test`` split (scored) and of the ``train`` split (the
        baseline's settings are chosen on them).
    out : str or pathlib.Path
        Folder of ``grid.csv``, ``grid.json``, ``grid_f1.png``, ``grid_rmse.png``,
        ``grid_contrast.png`` and ``grid_dose.png``.

    Returns
    -------
    dict
        As written to ``grid.json``: the ``conventions``; the axes ``C10_A``, ``Cs_A``
        and ``doses``; ``structures`` (distinct test structures),
        ``images_per_cell``, ``fit_images``, ``radius`` [Å], ``margin`` [Å],
        ``confidence``, ``contrast_threshold``; the ``baseline`` method and its
        ``search``; ``contrast`` [C10][Cs]; ``per_cell`` per method the ``f1``,
        ``precision``, ``recall`` and ``rmse`` [Å], each [dose][C10][Cs], and the
        baseline's chosen ``settings``; and ``summary``, per dose the ``cells`` whose
        contrast reaches the threshold (of ``cells_total``) and, per method, the scores
        pooled over them with bootstrap intervals over the test structures
        (:func:`atomsight.evaluation.evaluate.scores_with_intervals`), ``min_cell_f1``
        and the ``worst_cell``; ``model_minus_baseline_f1`` and
        ``cells_model_better`` (cells where the model's F1 is higher).
    """
    settings_eval = system["evaluation"]
    grid = settings_eval["grid"]
    out = Path(out)
    test, train = SpectraSource(test_stores, system), SpectraSource(train_stores, system)
    settings: MicroscopeSettings = test.settings
    defocus = grid_values(grid["defocus"], settings.bounds("defocus"))
    cs = grid_values(grid["Cs"], settings.bounds("Cs"))
    doses = [float(d) for d in grid["doses"]]
    count, fit_count, seed = grid["images_per_cell"], grid["fit_images"], settings_eval["seed"]
    images = _Images.draw(test, count=count, seeds=[(seed, k) for k in range(count)], settings_eval=settings_eval)
    # The baseline's fitting microscopes come from seeds after the test images', so no draw is shared.
    fitting = _Images.draw(train, count=fit_count, seeds=[(seed, count + k) for k in range(fit_count)],
                           settings_eval=settings_eval)
    search = BaselineSearch.from_config(grid["baseline"], channels=settings.channels)
    microscope, fit_microscope = test.microscope(), train.microscope()
    detection = DetectionSettings.from_config(system)

    shape = (len(doses), len(defocus), len(cs))
    contrast = np.zeros(shape[1:])
    per_image = {method: np.empty(shape, dtype=object) for method in METHODS}
    chosen = np.empty(shape, dtype=object)
    for a, b in np.ndindex(*shape[1:]):
        cell = {"defocus": defocus[a], "cs": cs[b]}
        intensities = microscope.intensities(images.spectra, images.parameters(**cell, dose=0.0)).numpy()
        contrast[a, b] = float(np.mean(intensities.std(axis=(2, 3)) / intensities.mean(axis=(2, 3))))
        for d, dose in enumerate(doses):
            params = images.parameters(**cell, dose=dose)
            rendered = microscope.images(images.spectra, params).numpy()
            per_image["model"][d, a, b] = _model_scores(images, predict(rendered), detection)
            fit_rendered = fit_microscope.images(fitting.spectra, fitting.parameters(**cell, dose=dose)).numpy()
            parameters, fit_scores = fit_baseline(list(fit_rendered), fitting.samplings, fitting.score, search)
            chosen[d, a, b] = (parameters, fit_scores)
            per_image["baseline"][d, a, b] = [
                images.score(k, find_atoms(rendered[k], parameters, sampling=images.samplings[k]))
                for k in range(count)
            ]
            log.info("%s, Cs %g µm, dose %g e/Å^2, contrast %.3f: F1 model %.3f, baseline %.3f (%s)",
                     format_c10(c10_from_defocus(defocus[a])), cs[b] / 1e4, dose, contrast[a, b],
                     aggregate(per_image["model"][d, a, b]).f1, aggregate(per_image["baseline"][d, a, b]).f1,
                     _describe(parameters))

    results = _results(settings_eval, grid, defocus=defocus, cs=cs, doses=doses, contrast=contrast,
                       per_image=per_image, chosen=chosen, structures=images.structures, search=search)
    names = ("grid_f1.png", "grid_rmse.png", "grid_contrast.png", "grid_dose.png", "grid.csv", "grid.json")
    with atomic_files([out / name for name in names]) as (f1, rmse, contrast_png, dose_png, table, summary):
        plot_grid_scores(results, "f1", f1)
        plot_grid_scores(results, "rmse", rmse)
        plot_contrast(results, contrast_png)
        plot_scores_vs_dose(results, dose_png)
        write_csv_rows(table, COLUMNS, _rows(results, per_image, chosen))
        write_json(summary, results)
    return results


def _model_scores(images: _Images, maps: np.ndarray, detection: DetectionSettings) -> list[Scores]:
    """Scores of the detections in each image's probability map (as :mod:`atomsight.evaluation.evaluate` finds them)."""
    return [images.score(k, detect(probabilities, detection, sampling=sampling).positions)
            for k, (probabilities, sampling) in enumerate(zip(maps, images.samplings))]


def _describe(parameters: BaselineParameters) -> str:
    return (f"{parameters.polarity}, smoothing {parameters.smoothing:g} Å, min distance {parameters.min_distance:g}"
            f" Å, threshold {parameters.threshold:g} sd, refine radius {parameters.refine_radius:g} Å, channel"
            f" {parameters.channel}")


def _results(
    settings_eval: Mapping[str, Any], grid: Mapping[str, Any], *, defocus: list[float], cs: list[float],
    doses: list[float], contrast: np.ndarray, per_image: Mapping[str, np.ndarray], chosen: np.ndarray,
    structures: list[int], search: BaselineSearch,
) -> dict[str, Any]:
    """The contents of grid.json (see :func:`evaluate_grid_predictor`)."""
    threshold = grid["contrast_threshold"]
    pooled = {m: _map(per_image[m], aggregate) for m in METHODS}
    per_cell: dict[str, Any] = {
        m: {key: _map(pooled[m], lambda s, key=key: getattr(s, key)).tolist() for key in CELL_SCORES} for m in METHODS
    }
    per_cell["baseline"]["settings"] = _map(
        chosen, lambda c: {**asdict(c[0]), "fit_f1": c[1].f1, "fit_rmse": c[1].rmse}).tolist()
    selected = contrast >= threshold
    summary = []
    for d, dose in enumerate(doses):
        entry: dict[str, Any] = {"dose": dose, "cells": int(selected.sum()), "cells_total": int(selected.size)}
        for method in METHODS:
            entry[method] = _summary(per_image[method][d], pooled[method][d], selected, structures, settings_eval,
                                     defocus=defocus, cs=cs)
        if selected.any():
            entry["model_minus_baseline_f1"] = entry["model"]["f1"] - entry["baseline"]["f1"]
            better = [pooled["model"][d][c].f1 > pooled["baseline"][d][c].f1 for c in zip(*np.nonzero(selected))]
            entry["cells_model_better"] = int(sum(better))
        summary.append(entry)
    return {
        "conventions": CONVENTIONS,
        "C10_A": [c10_from_defocus(v) for v in defocus], "Cs_A": cs, "doses": doses,
        "structures": len(set(structures)), "images_per_cell": len(structures), "fit_images": grid["fit_images"],
        "radius": settings_eval["radius"], "margin": settings_eval["margin"],
        "confidence": settings_eval["confidence"], "contrast_threshold": threshold,
        "baseline": {
            "method": "Gaussian smoothing, skimage.feature.peak_local_max, centre of mass in a disc around each"
                      " maximum; per cell and dose, on images of training structures at that cell and dose, the"
                      " polarity, channel, smoothing, min distance and threshold of the highest F1, then the disc"
                      " radius of the lowest RMSE",
            "search": {"smoothing_A": list(search.smoothing), "min_distance_A": list(search.min_distance),
                       "threshold_sd": list(search.threshold), "refine_radius_A": list(search.refine_radius),
                       "channels": list(search.channels), "polarities": list(search.polarities)},
        },
        "contrast": contrast.tolist(),
        "per_cell": per_cell,
        "summary": summary,
    }


def _map(cells: np.ndarray, function) -> np.ndarray:
    """``function`` applied to every element of an object array, as an array of the same shape."""
    mapped = np.empty(cells.shape, dtype=object)
    for index in np.ndindex(*cells.shape):
        mapped[index] = function(cells[index])
    return mapped


def _summary(
    per_image: np.ndarray, pooled: np.ndarray, selected: np.ndarray, structures: list[int],
    settings_eval: Mapping[str, Any], *, defocus: list[float], cs: list[float],
) -> dict[str, Any] | None:
    """One method's scores at one dose, pooled over the selected cells; None when no cell is selected.

    The bootstrap's units are the test structures: a structure's scores pool its images
    in every selected cell.
    """
    cells = list(zip(*np.nonzero(selected)))
    if not cells:
        return None
    units = sorted(set(structures))
    per_structure = [aggregate([per_image[c][k] for c in cells for k, s in enumerate(structures) if s == unit])
                     for unit in units]
    worst = min(cells, key=lambda c: pooled[c].f1)  # type: ignore[attr-defined]  # an object array of Scores
    return {**scores_with_intervals(per_structure, settings_eval), "min_cell_f1": pooled[worst].f1,
            "worst_cell": {"C10_A": c10_from_defocus(defocus[worst[0]]), "Cs_A": cs[worst[1]]}}


def _rows(results: Mapping[str, Any], per_image: Mapping[str, np.ndarray], chosen: np.ndarray) -> list[list[Any]]:
    """The rows of grid.csv (see :data:`COLUMNS`): per cell (C10, then Cs), dose and method."""
    rows = []
    contrast = results["contrast"]
    for a, c10 in enumerate(results["C10_A"]):
        for b, cs in enumerate(results["Cs_A"]):
            for d, dose in enumerate(results["doses"]):
                for method in METHODS:
                    total = aggregate(per_image[method][d, a, b])
                    if method == "baseline":
                        parameters, fit = chosen[d, a, b]
                        settings = [parameters.polarity, parameters.smoothing, parameters.min_distance,
                                    parameters.threshold, parameters.refine_radius, parameters.channel,
                                    _number(fit.f1), _number(fit.rmse)]
                    else:
                        settings = [""] * 8
                    rows.append([
                        method, c10, cs, cs / 1e4, _number(contrast[a][b]), dose,
                        len(per_image[method][d, a, b]), _number(total.f1), _number(total.precision),
                        _number(total.recall), _number(total.rmse), total.true_positives, total.false_positives,
                        total.false_negatives, *settings,
                    ])
    return rows


def _number(value: float) -> str:
    """A score for the CSV: 6 significant digits, empty when undefined (nan)."""
    return "" if np.isnan(value) else f"{value:.6g}"
