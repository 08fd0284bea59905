"""Measurement: does a model trained on relaxed sheets find atoms on the paper's unrelaxed ones, and where?

The graphene generator relaxes the Voronoi network with springs after Lloyd's algorithm
(``relax: true``), which the paper does not. This script takes a trained model and scores
it, through the project's own evaluation (same microscopes, doses and matching as
``evaluate_model``), on the test split generated twice: relaxed, as the model was trained,
and with ``relax: false``, the paper's Lloyd-only sheets (bonds of 1.46 +- 0.60 Å, a quarter
of them shorter than 1.1 Å). Besides F1 it prints the recall of the atoms in each local
environment (pristine, strained, disordered, edge), so strained and disordered regions can
be compared with pristine ones.

Usage: python benchmarks/relaxation_recall.py --model results/training/graphene/model.keras \\
    --configfile workflow/configs/small.yaml --out results/relaxation_recall
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

from atomsight.config import load_config
from atomsight.evaluation.evaluate import evaluate
from atomsight.simulation.exitwaves import build_shard
from atomsight.simulation.splits import shard_count, shard_name
from atomsight.structures.build import generate_split, write_structures

REPO = Path(__file__).resolve().parents[1]


def test_split(system: dict, folder: Path) -> tuple[Path, list[Path]]:
    """Generate and simulate a system's test split under ``folder``; return its structures file and stores."""
    structures = write_structures(generate_split(system, "test", processes=2, progress=False), folder / "test.extxyz")
    stores = [
        build_shard(system, name="graphene", split="test", shard=k, structures_path=structures,
                    store_path=folder / "test" / shard_name(k), device="cpu", threads=2, progress=False)
        for k in range(shard_count(system["splits"]["test"], system["shard_size"]))
    ]
    return structures, stores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="trained model (.keras)")
    parser.add_argument("--configfile", type=Path, action="append", default=[], help="overlays over config.yaml")
    parser.add_argument("--system", default="graphene")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    config = load_config(REPO / "config.yaml", *args.configfile)
    results = {}
    for relax in (True, False):
        system = copy.deepcopy(config["systems"][args.system])
        system["structures"]["parameters"]["relax"] = relax
        folder = args.out / ("relaxed" if relax else "lloyd_only")
        structures, stores = test_split(system, folder)
        metrics = evaluate(system, model_path=args.model, test_stores=stores, out=folder / "eval",
                           structures=structures)
        results[folder.name] = metrics
        for entry in metrics["doses"]:
            environments = ", ".join(f"{name} {e['recall']:.3f} ({e['atoms']})"
                                     for name, e in entry["recall_by_environment"].items())
            print(f"{folder.name:10s} dose {entry['dose']:7.0f}: F1 {entry['f1']:.3f} "
                  f"[{entry['f1_ci'][0]:.3f}, {entry['f1_ci'][1]:.3f}]; recall by environment (atoms): {environments}")
    (args.out / "summary.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
