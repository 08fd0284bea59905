"""Measurement: do the training options that change the numerics (precision, XLA) keep the accuracy?

Trains the small configuration's network (``workflow/configs/small.yaml``) with
:func:`atomsight.network.train.train` for a few epochs on a system's exit waves, with the given
``training.precision``, ``training.jit_compile`` and seed, and prints one Markdown row:
the options, the validation loss after every epoch, the last validation accuracy, and the
median seconds per training step (the real pipeline beside the step, first epoch left out:
it holds the tracing). Run it once per variant, each in a process of its own (with XLA,
training leaves TensorFlow's op determinism off; without, it turns it on for the process),
and compare a variant's losses with float32's, and float32's with another seed (the spread
that the seed alone gives).

Usage: python benchmarks/training_numerics.py --exitwaves results/exitwaves/graphene
       [--epochs 3] [--steps-per-epoch 100] [--precision mixed_bfloat16] [--jit-compile] [--seed 1]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path

import keras

from atomsight.config import load_config
from atomsight.network.train import train

REPO = Path(__file__).resolve().parents[1]


class StepClock(keras.callbacks.Callback):
    """Records the time at the end of every training step, per epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[list[float]] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Start the epoch's list of step end times."""
        self.ends.append([])

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Record the step's end time [s]."""
        self.ends[-1].append(time.perf_counter())

    def seconds_per_step(self) -> float:
        """Median time between consecutive steps of an epoch, the first epoch left out [s]."""
        gaps = [b - a for epoch in self.ends[1:] for a, b in zip(epoch, epoch[1:])]
        return statistics.median(gaps)


def history(folder: Path) -> list[dict[str, float]]:
    """The rows of a run's ``history.csv``, one per epoch."""
    with open(folder / "history.csv", newline="") as stream:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(stream)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exitwaves", required=True, type=Path, help="the system's exit-wave folder")
    parser.add_argument("--system", default="graphene")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    system = load_config(REPO / "config.yaml", REPO / "workflow" / "configs" / "small.yaml")["systems"][args.system]
    system["training"].update(epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, precision=args.precision,
                              jit_compile=args.jit_compile, seed=args.seed)
    clock = StepClock()
    with tempfile.TemporaryDirectory() as folder:
        train(system, train_stores=sorted(args.exitwaves.glob("train/*.zarr")),
              validation_stores=sorted(args.exitwaves.glob("validation/*.zarr")), out=folder, progress=False,
              callbacks=[clock])
        rows = history(Path(folder))
    losses = ", ".join(f"{row['val_loss']:.4f}" for row in rows)
    print(f"| {args.precision} | {args.jit_compile} | {args.seed} | {args.epochs * args.steps_per_epoch} | {losses} "
          f"| {rows[-1]['val_categorical_accuracy']:.4f} | {clock.seconds_per_step():.3f} |")


if __name__ == "__main__":
    main()
