"""Training recipes for Table 1's full microscope ranges: which one leaves the "all background" minimum.

Each recipe is a set of ``training`` keys merged over one base system (a configuration's
system with its training shortened to ``--steps`` steps); every recipe trains from the
same seed on the same training split, then is scored on the validation split (tuning
data: the test split stays untouched for the final numbers) at the given doses, with
every other microscope parameter drawn over the full ranges. Writes, under ``--out``,
one folder per recipe (its run: curves, model) and ``recipes.json`` and ``recipes.png``:
validation loss per epoch and F1 per dose, recipe by recipe.

Usage: python benchmarks/training_recipes.py --config config.yaml --system graphene \\
       --exitwaves /work/runs/graphene/results/exitwaves/graphene --out /work/runs/recipes \\
       [--overlay overlay.yaml] [--steps 1000] [--recipes mse crossentropy curriculum contrast]

Measured (BENCHMARKS.md, "Training recipes"): with 1000 steps every recipe without a held
start stayed at chance; the shipped models' run (workflow/configs/release.yaml) holds the
start for 1500 steps.
"""

from __future__ import annotations

import argparse
import copy
import csv
import glob
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from atomsight.config import load_config  # noqa: E402
from atomsight.evaluation.evaluate import evaluate  # noqa: E402
from atomsight.network.train import train  # noqa: E402

SMALL_CONFIG_RANGES = {"defocus": [-85.0, -60.0], "Cs": [-1.4e5, -1.0e5], "C5": [0.0, 5.0e6],
                       "astigmatism": [0.0, 5.0], "focal_spread": [15.0, 25.0], "dose": [1.0e3, 1.0e4]}
"""Where the curriculum starts: the small configuration's imaging condition (atoms bright, 4-5 % contrast)."""


def recipes(steps: int) -> dict[str, dict[str, Any]]:
    """The ``training`` keys of every recipe, for a run of ``steps`` steps."""
    curriculum = {"hold": 0, "steps": max(1, 2 * steps // 3), "start": SMALL_CONFIG_RANGES}
    held = {"hold": steps // 3, "steps": max(1, steps // 3), "start": SMALL_CONFIG_RANGES}
    return {
        "curriculum_hold": {"loss": "mse", "curriculum": held},
        "mse": {"loss": "mse"},
        "crossentropy": {"loss": "crossentropy"},
        "curriculum": {"loss": "mse", "curriculum": curriculum},
        "contrast": {"loss": "mse", "contrast_weight": 0.02},
        "crossentropy_curriculum": {"loss": "crossentropy", "curriculum": curriculum},
        "crossentropy_curriculum_contrast": {"loss": "crossentropy", "curriculum": curriculum, "contrast_weight": 0.02},
    }


def run_recipe(system: Mapping[str, Any], keys: Mapping[str, Any], exitwaves: Path, out: Path) -> dict[str, Any]:
    """Train one recipe (resuming an interrupted run) and score it on the validation split."""
    system = copy.deepcopy(dict(system))
    system["training"].update(keys)
    stores = {split: sorted(glob.glob(str(exitwaves / split / "*.zarr"))) for split in ("train", "validation")}
    if not (out / "model.keras").exists():
        train(system, train_stores=stores["train"], validation_stores=stores["validation"], out=out, progress=False)
    metrics = evaluate(system, model_path=out / "model.keras", test_stores=stores["validation"], out=out / "validation")
    with open(out / "history.csv") as f:
        history = list(csv.DictReader(f))
    return {
        "training": dict(keys),
        "val_loss": [float(row["val_loss"]) for row in history],
        "loss": [float(row["loss"]) for row in history],
        "f1": {str(d["dose"]): d["f1"] for d in metrics["doses"]},
        "f1_ci": {str(d["dose"]): d["f1_ci"] for d in metrics["doses"]},
        "rmse": {str(d["dose"]): d["rmse"] for d in metrics["doses"]},
    }


def plot(results: Mapping[str, Any], path: Path, steps_per_epoch: int) -> None:
    """Validation loss per step and F1 per dose, one line per recipe."""
    fig, (curves, scores) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, result in results.items():
        steps = [steps_per_epoch * (k + 1) for k in range(len(result["val_loss"]))]
        curves.plot(steps, result["val_loss"], marker="o", ms=3, label=name)
        doses = sorted(result["f1"], key=float)
        scores.plot([float(d) for d in doses], [result["f1"][d] for d in doses], marker="o", label=name)
    curves.set(xlabel="training step", ylabel="validation loss (full ranges)", yscale="log")
    scores.set(xlabel="dose [e/Å²]", ylabel="F1 (validation split, full ranges)", xscale="log", ylim=(0, 1))
    scores.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--overlay", action="append", default=[], help="configuration merged over --config")
    parser.add_argument("--system", default="graphene")
    parser.add_argument("--exitwaves", type=Path, required=True, help="folder of the system's split folders")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--doses", type=float, nargs="+", default=[1.0e3, 1.0e4])
    parser.add_argument("--recipes", nargs="+", default=["mse", "crossentropy", "curriculum", "contrast"])
    args = parser.parse_args()
    system = load_config(args.config, *args.overlay)["systems"][args.system]
    system["training"].update(epochs=args.epochs, steps_per_epoch=args.steps // args.epochs)
    system["evaluation"].update(doses=args.doses, images_per_structure=1)
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "recipes.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for name in args.recipes:
        results[name] = run_recipe(system, recipes(args.steps)[name], args.exitwaves, args.out / name)
        results_path.write_text(json.dumps(results, indent=2))
        print(name, results[name]["f1"], flush=True)
    plot(results, args.out / "recipes.png", system["training"]["steps_per_epoch"])


if __name__ == "__main__":
    main()
