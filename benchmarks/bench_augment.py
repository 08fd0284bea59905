"""Benchmark: test-time augmentation over the 8 symmetries of the square against one prediction.

The trained model is evaluated twice on the same simulated held-out images with known atoms
(:func:`atomsight.evaluation.evaluate.evaluate_predictor`, the same images, noise and microscopes in
both runs): once predicting each image as it is, once averaging the maps of the 8
symmetries (:data:`atomsight.network.predict.SYMMETRIES`), each transformed back, as
``atomsight predict --augment`` does. Printed per dose: F1 and RMSE [Å] of both, and the
ratio of the prediction times (forward passes only, the same process and machine).
Then, per dose, the spread that ``--augment`` gives each detection (``sigma_x_A``,
``sigma_y_A``) against its real error: one image per test structure through
:meth:`atomsight.network.predict.Predictor.find`, detections matched to the true atoms within the
evaluation radius, and by quartile of sigma the rms sigma and the rms error per axis [Å].

Usage: python benchmarks/bench_augment.py [--model results/models/graphene]
       [--stores 'results/exitwaves/graphene/test/*.zarr'] [--images-per-structure 1]
       [--doses 1000 10000] [--out /tmp/bench_augment]
"""

from __future__ import annotations

import argparse
import glob
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from atomsight.config import load_config
from atomsight.core.matching import match
from atomsight.evaluation.evaluate import evaluate_predictor, visible_positions
from atomsight.io.store import read_ground_truth
from atomsight.microscope import draw, stack_parameters
from atomsight.microscope.data import SpectraSource
from atomsight.network.augment import SYMMETRIES, apply_symmetry, invert_symmetry
from atomsight.network.model import load_model
from atomsight.network.predictor import load_predictor


def timed(predict: Callable[[np.ndarray], np.ndarray], clock: list[float]) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap ``predict`` so that its running time [s] is added to ``clock[0]``."""

    def wrapped(images: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        maps = predict(images)
        clock[0] += time.perf_counter() - start
        return maps

    return wrapped


def augmented(predict: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Average ``predict``'s (N, H, W, K) maps of (N, H, W, C) images over the 8 symmetries, each transformed back."""

    def average(images: np.ndarray) -> np.ndarray:
        total = 0.0
        for symmetry in SYMMETRIES:
            maps = predict(np.stack([apply_symmetry(image, symmetry) for image in images]))
            total = total + np.stack([invert_symmetry(m, symmetry) for m in maps])
        return total / len(SYMMETRIES)

    return average


def spread_against_error(
    system: dict[str, Any], model: Path, stores: list[str], *, dose: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return the augmentation's sigma and the real error (x, y) [Å] of each matched detection, shapes (n, 2)."""
    settings = system["evaluation"]
    source = SpectraSource(stores, system)
    microscope, size = source.microscope(), source.settings.image_size
    waves, _ = source.read_all()
    predictor = load_predictor(model)
    sigma, error = [], []
    for i, (store, j) in enumerate(source.locations):
        drawn = draw(tf.constant([settings["seed"], i], tf.int64), source.settings,
                     tf.constant(source.grid.extent, tf.float32))
        params = stack_parameters([{**drawn, "dose": tf.constant(dose, tf.float32), "dihedral": tf.constant(0)}])
        sampling = float(params["sampling"][0])
        shift = np.array([float(params["shift_x"][0]), float(params["shift_y"][0])])
        margin = settings["margin"] / sampling
        truth, _ = visible_positions(read_ground_truth(source.roots[store], j).positions, shift=shift,
                                     sampling=sampling, size=size, extent=source.grid.extent, margin=margin)
        found = predictor.find(microscope.images(waves[i : i + 1], params).numpy()[0], sampling=sampling, tile=1024,
                               augment=True)
        inside = np.all((found.pixels >= margin) & (found.pixels <= size - 1 - margin), axis=1)
        pairs = match(truth * sampling, found.pixels[inside] * sampling, settings["radius"])
        error.append((found.pixels[inside][pairs.detected_index] - truth[pairs.true_index]) * sampling)
        sigma.append(found.spread.sigma[inside][pairs.detected_index] * sampling)
    return np.concatenate(sigma), np.concatenate(error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("results/models/graphene"))
    parser.add_argument("--stores", default="results/exitwaves/graphene/test/*.zarr")
    parser.add_argument("--images-per-structure", type=int, default=1)
    parser.add_argument("--doses", type=float, nargs="+", default=[1000.0, 10000.0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_augment"))
    args = parser.parse_args()
    system = load_config("config.yaml", "workflow/configs/small.yaml")["systems"]["graphene"]
    system["evaluation"] = {**system["evaluation"], "doses": args.doses,
                            "images_per_structure": args.images_per_structure}
    model = load_model(args.model / "model.keras")
    network = lambda images: model.predict(images, batch_size=8, verbose=0)  # noqa: E731
    network(np.zeros((1, 128, 128, 1), np.float32))  # warm-up: build the graph outside the timed runs
    stores = sorted(glob.glob(args.stores))
    clocks = {"plain": [0.0], "augmented": [0.0]}
    metrics = {
        "plain": evaluate_predictor(system, timed(network, clocks["plain"]), test_stores=stores,
                                    out=args.out / "plain"),
        "augmented": evaluate_predictor(system, timed(augmented(network), clocks["augmented"]), test_stores=stores,
                                        out=args.out / "augmented"),
    }
    print(f"{metrics['plain']['structures']} structures, {metrics['plain']['images_per_dose']} images per dose")
    print("dose [e/Å²] | F1 plain | F1 augmented | RMSE plain [Å] | RMSE augmented [Å]")
    for plain, tta in zip(metrics["plain"]["doses"], metrics["augmented"]["doses"]):
        print(f"{plain['dose']:g} | {plain['f1']:.3f} ({plain['f1_ci'][0]:.3f}-{plain['f1_ci'][1]:.3f})"
              f" | {tta['f1']:.3f} ({tta['f1_ci'][0]:.3f}-{tta['f1_ci'][1]:.3f})"
              f" | {plain['rmse']:.3f} | {tta['rmse']:.3f}")
    print(f"prediction time: plain {clocks['plain'][0]:.1f} s, augmented {clocks['augmented'][0]:.1f} s,"
          f" ratio {clocks['augmented'][0] / clocks['plain'][0]:.1f}")
    print("dose [e/Å²] | quartile of sigma | rms sigma per axis [Å] | rms error per axis [Å]")
    for dose in args.doses:
        sigma, error = spread_against_error(system, args.model, stores, dose=dose)
        known = np.isfinite(sigma).all(axis=1)
        order = np.argsort(np.hypot(*sigma[known].T))
        for q, part in enumerate(np.array_split(order, 4), start=1):
            print(f"{dose:g} | {q} | {np.sqrt(np.mean(sigma[known][part] ** 2)):.3f}"
                  f" | {np.sqrt(np.mean(error[known][part] ** 2)):.3f}")
        print(f"{dose:g} | all ({known.sum()} atoms) | {np.sqrt(np.mean(sigma[known] ** 2)):.3f}"
              f" | {np.sqrt(np.mean(error[known] ** 2)):.3f}")


if __name__ == "__main__":
    main()
