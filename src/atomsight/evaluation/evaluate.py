"""Evaluation on held-out simulations: detections matched to the true atoms or columns, per dose.

The ``test`` split, which neither training nor tuning sees, is imaged at every
configured dose with the other microscope parameters drawn from fixed seeds (the same
microscope for a structure at every dose), so the curves show the effect of the dose
alone. Each score comes with a confidence interval from a bootstrap over the test
structures, the independent units of the evaluation (the images of one structure share
its atoms). Written to ``results/eval/<system>/``:
``metrics.json``, ``f1_vs_dose.png``, ``overlays.png`` and, for column counting
(:mod:`atomsight.evaluation.counting`), ``count_errors.png`` (the paper's Fig. 12, by tilt) and
``confusion.png`` (heights at the total dose nearest :data:`CONFUSION_TOTAL_DOSE`), replacing those of
an earlier evaluation together or not at all (:func:`atomsight.io.atomic.atomic_files`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..core.matching import match
from ..detections import DetectionSettings
from ..io.atomic import atomic_files, write_json
from ..io.store import read_ground_truth
from ..microscope import draw, stack_parameters
from ..microscope.data import SpectraSource
from ..network.model import load_model
from ..network.postprocess import detect
from ..structures.build import read_structures
from ..structures.environments import atom_environments
from .counting import counting_scores, plot_confusion, plot_counting
from .counting_baseline import LinearDiscriminant, column_features, count_with_baseline, fit_discriminant
from .metrics import SCORES, Scores, aggregate, bootstrap_intervals, count_errors, recall_by_group, scores_of
from .plots import plot_f1, plot_overlays
from .regions import OBJECT_REACH, region_areas, region_counts, region_map, region_scores, regions_of

log = logging.getLogger(__name__)

BASELINE_STRUCTURES = 64
"""Training structures imaged, once per dose, to fit the classical counter."""

BASELINE_SEED = 1_000_003
"""Added to the evaluation seed for the microscopes of the baseline's training images, unlike any test image's."""

CONFUSION_TOTAL_DOSE = 3.0e4
"""Total dose of a series [e/Å^2] whose confusion matrix of heights is plotted (the paper's Fig. 12 ends there)."""

Predictor = Callable[[np.ndarray], np.ndarray]
"""A network's forward pass: images (N, H, W, F) to probability maps (N, H, W, 1 + C)."""


def network_predictor(network: keras.Model) -> Predictor:
    """Return a Keras network's forward pass as a :data:`Predictor`, in batches of 8 images."""
    return lambda images: network.predict(images, batch_size=8, verbose=0)


def visible_positions(
    positions: np.ndarray, *, shift: np.ndarray, sampling: float, size: int, extent: Sequence[float], margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return the pixel positions (i, j) of atoms inside an image, and which atom each one is.

    Pixel (i, j) lies at (shift_x + i s, shift_y + j s) of the periodic cell; every
    periodic image of an atom at least ``margin`` pixels inside the image counts.
    """
    cell = np.asarray(extent)
    pixels, owners = [], []
    for nx in (-1, 0, 1):
        for ny in (-1, 0, 1):
            offset = (np.mod(positions - shift, cell) + np.array([nx, ny]) * cell) / sampling
            inside = np.all((offset >= margin) & (offset <= size - 1 - margin), axis=1)
            pixels.append(offset[inside])
            owners.append(np.flatnonzero(inside))
    return np.concatenate(pixels), np.concatenate(owners)


def inside_margin(pixels: np.ndarray, size: int, margin: float) -> np.ndarray:
    """Whether each position (n, 2) [pixels] lies at least ``margin`` pixels inside an image of ``size`` pixels."""
    return np.all((pixels >= margin) & (pixels <= size - 1 - margin), axis=1)


def evaluate(
    system: Mapping[str, Any],
    *,
    model_path: str | Path,
    test_stores: Sequence[str | Path],
    out: str | Path,
    structures: str | Path | None = None,
    train_stores: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Evaluate a trained model on a system's test split and write metrics and plots.

    Parameters
    ----------
    system : mapping
        The system's validated configuration section.
    model_path : str or pathlib.Path
        The trained ``.keras`` model.
    test_stores : sequence of path
        Shard stores of the ``test`` split.
    out : str or pathlib.Path
        Folder of the results.

    Returns
    -------
    dict
        The metrics, as written to ``metrics.json`` (see :func:`evaluate_predictor`).
    """
    model = load_model(model_path)
    return evaluate_predictor(system, network_predictor(model), test_stores=test_stores, out=out,
                              structures=structures, train_stores=train_stores)


def evaluate_predictor(
    system: Mapping[str, Any],
    predict: Predictor,
    *,
    test_stores: Sequence[str | Path],
    out: str | Path,
    structures: str | Path | None = None,
    train_stores: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Evaluate any predictor of probability maps on a system's test split and write metrics and plots.

    Parameters
    ----------
    system : mapping
        The system's validated configuration section.
    predict : Predictor
        Images (N, H, W, F) to probability maps (N, H, W, 1 + C): a trained network's
        forward pass, or a stand-in whose output is known.
    test_stores : sequence of path
        Shard stores of the ``test`` split.
    out : str or pathlib.Path
        Folder of the results.
    structures : str or pathlib.Path, optional
        The test split's structures (``test.extxyz``). For graphene-like sheets the
        recall is then also reported per local environment of the atoms
        (:func:`atomsight.structures.environments.atom_environments`).
    train_stores : sequence of path
        Shard stores of the ``train`` split. For column counting the classical counter
        (:mod:`atomsight.evaluation.counting_baseline`) is then fitted on images of up to
        :data:`BASELINE_STRUCTURES` of them at each dose and scored on the test columns
        (``baseline_count_errors``, at the true positions).

    Returns
    -------
    dict
        The metrics, as written to ``metrics.json``: the number of test ``structures``,
        ``images_per_dose``, the matching ``radius`` [Å], the intervals' ``confidence``
        and ``bootstrap_resamples``, and per dose (``doses``) the precision, recall, F1
        and position RMSE [Å], each with its confidence interval ``<score>_ci`` = [low,
        high] (:func:`atomsight.evaluation.metrics.bootstrap_intervals` over the test structures),
        the pooled counts and, for column counting, the fractions of columns miscounted
        by 0, 1, 2 and 3 or more atoms, overall and by the particles' tilt, and the
        confusion matrix of heights (:func:`atomsight.evaluation.counting.counting_scores`),
        the scores inside the object, at its edges and in the vacuum (``by_region``,
        :func:`atomsight.evaluation.regions.region_scores`), and, with ``structures`` of a sheet, the
        ``recall_by_environment`` (atoms, found, recall per environment).
    """
    settings_eval = system["evaluation"]
    detection = DetectionSettings.from_config(system)
    out = Path(out)
    source = SpectraSource(test_stores, system)
    microscope = source.microscope()
    size = source.settings.image_size
    extent = tf.constant(source.grid.extent, tf.float32)
    heights = system["labels"]["classes"] == "heights"
    truths = [read_ground_truth(source.roots[s], j) for s, j in source.locations]
    indices = [int(source.roots[s]["index"][j]) for s, j in source.locations]
    environments = _environments(system, structures, indices)
    tilts = _tilts(structures, indices) if heights else None
    fit_baseline = _counting_baseline_fitter(system, train_stores) if heights and train_stores else None
    waves, labels = source.read_all()
    repeats = settings_eval["images_per_structure"]
    jobs = [(i, r) for i in range(len(source)) for r in range(repeats)]
    base = [draw(tf.constant([settings_eval["seed"], i * repeats + r], tf.int64), source.settings, extent)
            for i, r in jobs]
    results: dict[str, Any] = {
        "structures": len(source), "images_per_dose": len(jobs), "radius": settings_eval["radius"],
        "confidence": settings_eval["confidence"], "bootstrap_resamples": settings_eval["bootstrap_resamples"],
        "doses": [],
    }
    overlays = []
    for dose in settings_eval["doses"]:
        params = stack_parameters([{**p, "dose": tf.constant(dose, tf.float32), "dihedral": tf.constant(0)}
                                   for p in base])
        index = [i for i, _ in jobs]
        images = microscope.images(tf.gather(waves, index), params).numpy()
        probabilities = predict(images)
        per_image, in_view, found_true, columns_in_view, by_region, areas = [], [], [], [], [], []
        matched_heights: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
        image_tilts = None if tilts is None else [tilts[i] for i, _ in jobs]
        for k, (i, _) in enumerate(jobs):
            sampling = float(params["sampling"][k])
            shift = np.array([float(params["shift_x"][k]), float(params["shift_y"][k])])
            margin = settings_eval["margin"] / sampling
            true_px, owners = visible_positions(truths[i].positions, shift=shift, sampling=sampling, size=size,
                                                extent=source.grid.extent, margin=margin)
            found = detect(probabilities[k], detection, sampling=sampling)
            keep = inside_margin(found.positions, size, margin)
            found_px, found_classes = found.positions[keep], found.classes[keep]
            pairs = match(true_px * sampling, found_px * sampling, settings_eval["radius"])
            per_image.append(scores_of(pairs, len(true_px), len(found_px)))
            shaping, _ = visible_positions(truths[i].positions, shift=shift, sampling=sampling, size=size,
                                           extent=source.grid.extent, margin=-OBJECT_REACH / sampling)
            codes = region_map(shaping, size, sampling)
            by_region.append(region_counts(pairs, regions_of(true_px, codes), regions_of(found_px, codes)))
            areas.append(region_areas(codes, sampling, margin))
            if environments is not None:
                in_view.append(environments[i][owners])
                found_true.append(np.isin(np.arange(len(true_px)), pairs.true_index))
            if heights:
                columns_in_view.append((true_px, truths[i].classes[owners] + 1, sampling))
                matched_heights[0].append(truths[i].classes[owners[pairs.true_index]] + 1)
                matched_heights[1].append(found_classes[pairs.detected_index] + 1)
            if k < 4 and dose == max(settings_eval["doses"]):
                overlays.append((images[k], true_px, found_px))
        per_structure = [aggregate(per_image[i * repeats:(i + 1) * repeats]) for i in range(len(source))]
        entry = {"dose": dose, **scores_with_intervals(per_structure, settings_eval),
                 "by_region": region_scores(by_region, areas)}
        if heights:
            entry.update(counting_scores(*matched_heights, image_tilts, max_height=system["labels"]["max_height"]))
            if fit_baseline is not None:
                baseline = fit_baseline(dose)
                counted = count_with_baseline(baseline, images, [c[0] for c in columns_in_view],
                                              samplings=[c[2] for c in columns_in_view])
                entry["baseline_count_errors"] = count_errors(np.concatenate([c[1] for c in columns_in_view]),
                                                              np.concatenate(counted))
        if environments is not None:
            entry["recall_by_environment"] = recall_by_group(np.concatenate(in_view), np.concatenate(found_true))
        regions = entry["by_region"]
        log.info("dose %g e/Å^2: F1 %.3f (%.3f-%.3f), RMSE %.3f Å; precision inside %.3f, at edges %.3f; %d false"
                 " detections in the vacuum", dose, entry["f1"], *entry["f1_ci"], entry["rmse"],
                 regions["inside"]["precision"], regions["edge"]["precision"], regions["vacuum"]["false_positives"])
        results["doses"].append(entry)
    names = ["f1_vs_dose.png", "overlays.png", *(["count_errors.png", "confusion.png"] if heights else []),
             "metrics.json"]
    # the files replace those of an earlier evaluation together, metrics.json (the workflow's output) last
    with atomic_files([out / name for name in names]) as (f1_tmp, overlays_tmp, *counting_tmps, metrics_tmp):
        plot_f1(results, f1_tmp)
        plot_overlays(overlays, overlays_tmp, dose=max(settings_eval["doses"]))
        if heights:
            channels = source.settings.channels
            plot_counting(results, counting_tmps[0], images_per_series=channels)
            nearest = min(results["doses"], key=lambda d: abs(np.log(d["dose"] * channels / CONFUSION_TOTAL_DOSE)))
            plot_confusion(nearest["confusion"], counting_tmps[1], dose=nearest["dose"] * channels)
        write_json(metrics_tmp, results)
    return results


def _counting_baseline_fitter(
    system: Mapping[str, Any], train_stores: Sequence[str | Path]
) -> Callable[[float], LinearDiscriminant]:
    """Return ``fit(dose)``: the classical counter fitted on images of training structures at ``dose``.

    The structures, their microscopes and the columns in view are read and drawn once; each
    dose only renders the images again and fits.
    """
    settings_eval = system["evaluation"]
    source = SpectraSource(train_stores, system)
    microscope = source.microscope()
    extent = tf.constant(source.grid.extent, tf.float32)
    chosen = range(min(BASELINE_STRUCTURES, len(source)))
    waves = tf.constant(np.stack([source.read(i)[0] for i in chosen]))
    base = [draw(tf.constant([settings_eval["seed"] + BASELINE_SEED, i], tf.int64), source.settings, extent)
            for i in chosen]
    samplings, columns, true_heights = [], [], []
    for i, params in zip(chosen, base):
        truth = read_ground_truth(source.roots[source.locations[i][0]], source.locations[i][1])
        sampling = float(params["sampling"])
        shift = np.array([float(params["shift_x"]), float(params["shift_y"])])
        where, owners = visible_positions(truth.positions, shift=shift, sampling=sampling,
                                          size=source.settings.image_size, extent=source.grid.extent,
                                          margin=settings_eval["margin"] / sampling)
        samplings.append(sampling)
        columns.append(where)
        true_heights.append(truth.classes[owners] + 1)
    heights = np.concatenate(true_heights)

    def fit(dose: float) -> LinearDiscriminant:
        params = stack_parameters([{**p, "dose": tf.constant(dose, tf.float32), "dihedral": tf.constant(0)}
                                   for p in base])
        images = microscope.images(waves, params).numpy()
        features = [column_features(image, where, sampling=sampling)
                    for image, where, sampling in zip(images, columns, samplings)]
        return fit_discriminant(np.concatenate(features), heights)

    return fit


def _tilts(structures: str | Path | None, indices: Sequence[int]) -> list[float] | None:
    """Tilt of each structure's zone axis away from the beam [degrees], when the structures record it; else None."""
    if structures is None:
        return None
    tilts = [atoms.info.get("tilt_deg") for atoms in read_structures(structures, indices)]
    return None if any(t is None for t in tilts) else [float(t) for t in tilts]


def _environments(
    system: Mapping[str, Any], structures: str | Path | None, indices: Sequence[int]
) -> list[np.ndarray] | None:
    """Local environment of every atom of the structures at ``indices``, for graphene-like sheets; else None."""
    if structures is None or system["structures"]["generator"] != "graphene":
        return None
    bond_length = system["structures"]["parameters"]["bond_length"]
    return [atom_environments(atoms, bond_length=bond_length) for atoms in read_structures(structures, indices)]


def scores_with_intervals(per_structure: Sequence[Scores], settings_eval: Mapping[str, Any]) -> dict[str, Any]:
    """Return the pooled scores of the structures, each with its bootstrap interval, and the counts.

    Parameters
    ----------
    per_structure : sequence of Scores
        Scores of each structure (its images pooled), the bootstrap's units.
    settings_eval : mapping
        The system's validated ``evaluation`` section (``bootstrap_resamples``,
        ``confidence``, ``seed``).

    Returns
    -------
    dict
        Each of :data:`atomsight.evaluation.metrics.SCORES` and its interval
        ``<score>_ci`` = [low, high], and the pooled ``true_positives``,
        ``false_positives`` and ``false_negatives``.
    """
    total = aggregate(per_structure)
    intervals = bootstrap_intervals(per_structure, resamples=settings_eval["bootstrap_resamples"],
                                    confidence=settings_eval["confidence"], seed=settings_eval["seed"])
    entry: dict[str, Any] = {}
    for key in SCORES:
        entry[key] = getattr(total, key)
        entry[f"{key}_ci"] = list(intervals[key])
    entry.update(true_positives=total.true_positives, false_positives=total.false_positives,
                 false_negatives=total.false_negatives)
    return entry
