"""Benchmark: training images per second of the tf.data pipeline vs what a training step consumes.

Both are measured in this one run on this machine's CPU cores: the pipeline producing
batches from the exit-wave stores of a system (every image a fresh random microscope),
and one training step (forward, backward, Adam update) of the default network on a
batch of the same size. The ratio pipeline / consumption must be at least 2, so the
pipeline is never what training waits for.

Usage: python benchmarks/bench_pipeline.py --stores 'results/exitwaves/graphene/train/*.zarr'
       [--system graphene] [--batch-size 8] [--batches 20] [--base-filters 32]
"""

from __future__ import annotations

import argparse
import glob
import time
from pathlib import Path

import keras
import numpy as np

from atomsight.config import load_config
from atomsight.microscope.data import training_dataset
from atomsight.network.model import build_model
from atomsight.simulation.labels import class_names

REPO = Path(__file__).resolve().parents[1]


def pipeline_rate(stores: list[str], system: dict, batch_size: int, batches: int) -> float:
    """Images per second the pipeline delivers, after a warm-up of a few batches."""
    iterator = iter(training_dataset(stores, system, seed=0, batch_size=batch_size))
    for _ in range(3):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def training_rate(system: dict, batch_size: int, base_filters: int, steps: int) -> float:
    """Images per second one training step of the default network consumes on a fixed batch."""
    size = system["microscope"]["image_size"]
    channels = len(system["microscope"]["defocus_offsets"])
    n_classes = 1 + len(class_names(system["labels"]))
    model = build_model(input_channels=channels, n_classes=n_classes, base_filters=base_filters)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=False)
    rng = np.random.default_rng(0)
    images = rng.normal(size=(batch_size, size, size, channels)).astype(np.float32)
    labels = rng.dirichlet(np.ones(n_classes), size=(batch_size, size, size)).astype(np.float32)
    for _ in range(2):
        model.train_on_batch(images, labels)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(images, labels)
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", required=True, help="glob of the training split's shard stores")
    parser.add_argument("--system", default="graphene")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--base-filters", type=int, default=32)
    args = parser.parse_args()
    system = load_config(REPO / "config.yaml")["systems"][args.system]
    stores = sorted(glob.glob(args.stores))
    produced = pipeline_rate(stores, system, args.batch_size, args.batches)
    consumed = training_rate(system, args.batch_size, args.base_filters, args.steps)
    size = system["microscope"]["image_size"]
    print(f"| {args.system} | {size}x{size} | {args.batch_size} | {args.base_filters} | {produced:.1f} "
          f"| {consumed:.2f} | {produced / consumed:.0f} |")


if __name__ == "__main__":
    main()
