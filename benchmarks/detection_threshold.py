"""Choose a model's detection threshold on the validation split: F1 per threshold and dose.

A network trained over wide microscope ranges keeps its object probability below 0.5 on
atoms where it is unsure, so 0.5 (the paper's Fig. 6) can miss most of them. This scores a
trained network on a split (the validation split: tuning data, never the test split or the
held-out images) at each threshold of ``--thresholds`` and each dose of ``--doses``, one
image per structure with the microscope drawn over the configuration's ranges exactly as the
evaluation draws it (:func:`atomsight.evaluation.evaluate.evaluate_predictor`, the network
run once per dose), and prints precision, recall, F1 and RMSE per threshold and dose. The
chosen threshold is the highest whose F1 averaged over the doses is within ``--tolerance``
of the best: among thresholds that score alike, the one that keeps the fewest spurious
peaks. Set it as the system's ``evaluation.threshold`` (the card's ``postprocess``).

Usage: python benchmarks/detection_threshold.py config.yaml graphene --configfile workflow/configs/release.yaml
       --results /path/to/results --model results/training/graphene/model.keras
       [--split validation] [--thresholds 0.5 0.4 0.35 0.3 0.25 0.2] [--doses 1000 10000] [--tolerance 0.005]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
from pathlib import Path

import numpy as np

from atomsight.config import load_config, system_config
from atomsight.evaluation.evaluate import evaluate_predictor, network_predictor
from atomsight.network.model import load_model


def chosen_threshold(thresholds: list[float], mean_f1: list[float], tolerance: float) -> float:
    """The highest threshold whose mean F1 is within ``tolerance`` of the best mean F1."""
    best = max(mean_f1)
    return max(t for t, f in zip(thresholds, mean_f1) if f >= best - tolerance)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", type=Path, help="the configuration the model was trained with, e.g. config.yaml")
    parser.add_argument("system", help="its system, e.g. graphene")
    parser.add_argument("--configfile", type=Path, action="append", default=[], help="merged over CONFIG (repeatable)")
    parser.add_argument("--results", type=Path, required=True, help="the run's results folder (its exit-wave stores)")
    parser.add_argument("--model", type=Path, required=True, help="the trained model.keras")
    parser.add_argument("--split", default="validation", help="split to score on (default: validation)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.4, 0.35, 0.3, 0.25, 0.2])
    parser.add_argument("--doses", type=float, nargs="+", default=[1000.0, 10000.0], help="[e/Å^2]")
    parser.add_argument("--tolerance", type=float, default=0.005, help="of the mean F1, for the choice")
    args = parser.parse_args()

    system = system_config(load_config(args.config, *args.configfile), args.system)
    system["evaluation"]["doses"] = args.doses
    stores = sorted((args.results / "exitwaves" / args.system / args.split).glob("shard-*.zarr"))
    if not stores:
        raise SystemExit(f"{args.results / 'exitwaves' / args.system / args.split}: no shard-*.zarr stores")
    predictor = network_predictor(load_model(args.model))
    print("| threshold | " + " | ".join(f"{d:g} e/Å²: P / R / F1 / RMSE [Å]" for d in args.doses) + " | mean F1 |")
    print("| --- | " + " | ".join("---" for _ in args.doses) + " | --- |")
    mean_f1 = []
    with tempfile.TemporaryDirectory() as scratch:
        for threshold in args.thresholds:
            settings = copy.deepcopy(system)
            settings["detection"]["threshold"] = threshold
            result = evaluate_predictor(settings, predictor, test_stores=stores, out=Path(scratch) / str(threshold))
            mean_f1.append(float(np.mean([d["f1"] for d in result["doses"]])))
            cells = [f"{d['precision']:.3f} / {d['recall']:.3f} / {d['f1']:.3f} / {d['rmse']:.3f}"
                     for d in result["doses"]]
            print(f"| {threshold:g} | " + " | ".join(cells) + f" | {mean_f1[-1]:.4f} |", flush=True)
    print(f"chosen threshold: {chosen_threshold(args.thresholds, mean_f1, args.tolerance):g}"
          f" (the highest whose mean F1 is within {args.tolerance:g} of the best, {max(mean_f1):.4f})")


if __name__ == "__main__":
    main()
