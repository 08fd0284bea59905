"""Benchmark: training images per second of one training step, option by option, as ratios to a reference.

All in this one run on this machine's CPU cores. The reference is the small configuration
(``workflow/configs/small.yaml``: 128 x 128 images, 16 base filters, depth 4, batch 8,
float32, no XLA); every other row changes one option (image size, base filters, depth,
batch size, ``training.precision``, ``training.jit_compile``), and a last row combines
the fastest value of each option that leaves the network as it is (batch size,
precision, XLA; a value at least 5 % faster than the reference's), when that is not a
row already. Each row is the network of :func:`atomsight.network.train.new_model` (Adam, MSE,
weight decay, accuracy metric) training on one fixed batch through its Keras training
function (what ``model.fit`` calls every step): traced and warmed up first, then timed
in rounds that visit every row in turn, so that a change in the machine's speed touches
all rows alike; rates are medians over the rounds. TensorFlow runs one op at a time as
in training, but without op determinism, under which Keras refuses XLA.

A second table times the random microscope against the step at the reference: the
microscope alone (a batch of exit-wave spectra rendered into images and labels), and
training on real images with the microscope in ``Dataset.map`` (today's pipeline,
running beside the step) or inside the training step.

Usage: python benchmarks/bench_training.py --stores 'results/exitwaves/graphene/train/*.zarr'
       [--steps 6] [--rounds 3]
"""

from __future__ import annotations

import argparse
import glob
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from atomsight.config import load_config
from atomsight.microscope import Microscope
from atomsight.microscope.data import training_dataset, training_spectra
from atomsight.network.train import new_model
from atomsight.simulation.labels import class_names

REPO = Path(__file__).resolve().parents[1]
WARM_UP_STEPS = 2
VARIATIONS = {"image_size": (96, 192), "base_filters": (8, 32), "depth": (3,), "batch_size": (4, 16),
              "precision": ("mixed_bfloat16",), "jit_compile": (True,)}
"""The values each option takes, one option at a time, besides the reference's."""
SPEED_OPTIONS = ("batch_size", "precision", "jit_compile")
"""Options that leave the network as it is: the best combination takes the fastest value of each."""
MARGIN = 1.05
"""A value replaces the reference's in the best combination only when this much faster (not by noise)."""

Timer = Callable[[int], float]
"""Trains a number of steps and returns the seconds they took."""


@dataclass(frozen=True)
class Step:
    """The options of one training step."""

    image_size: int
    base_filters: int
    depth: int
    batch_size: int
    precision: str = "float32"
    jit_compile: bool = False

    def label(self, reference: Step) -> str:
        """The options that differ from ``reference``, as ``key=value``, or "reference"."""
        changed = [f"{f.name}={getattr(self, f.name)}" for f in fields(self)
                   if getattr(self, f.name) != getattr(reference, f.name)]
        return ", ".join(changed) or "reference"


def network(system: Mapping[str, Any], step: Step) -> keras.Model:
    """Return the system's compiled network (as training builds it) with the step's options."""
    training = {**system["training"], "base_filters": step.base_filters, "depth": step.depth,
                "batch_size": step.batch_size, "precision": step.precision, "jit_compile": step.jit_compile}
    return new_model({**system, "training": training})


def timer(model: keras.Model, dataset: tf.data.Dataset) -> Timer:
    """Return a timer of the model's training function on one iterator over ``dataset``, after a warm-up.

    The training function is what ``model.fit`` calls once per step; the iterator lives
    across calls, so a pipeline keeps its buffers filled as it does in training.
    """
    model.make_train_function()
    train_step = model.train_function
    batches = iter(dataset)

    def seconds(steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            logs = train_step(batches)
        float(logs["loss"])
        return time.perf_counter() - start

    seconds(WARM_UP_STEPS)
    return seconds


def fixed_batch(step: Step, channels: int, classes: int) -> tf.data.Dataset:
    """One random batch of images and probability maps of the step's size, repeated."""
    rng = np.random.default_rng(0)
    shape = (step.batch_size, step.image_size, step.image_size)
    images = rng.normal(size=(*shape, channels)).astype(np.float32)
    labels = rng.dirichlet(np.ones(classes), size=shape).astype(np.float32)
    return tf.data.Dataset.from_tensors((images, labels)).repeat()


class RenderingStep(keras.Model):
    """A network whose training step first renders its batch of spectra through the microscope.

    Parameters
    ----------
    network : keras.Model
        The compiled network; this model trains its weights with its optimizer and loss.
    microscope : Microscope
        Renders a batch (spectra, label spectra, parameters) into (images, labels).
    """

    def __init__(self, network: keras.Model, microscope: Microscope) -> None:
        super().__init__()
        self.network = network
        self.microscope = microscope
        self.compile(optimizer=network.optimizer, loss=network.loss, metrics=["categorical_accuracy"],
                     jit_compile=network.jit_compile)

    def call(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        """The network's probabilities for a batch of images."""
        return self.network(images, training=training)

    def train_step(self, data: tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]) -> dict[str, tf.Tensor]:
        """Render the batch, then one step of forward, backward and Adam on it."""
        return super().train_step(self.microscope(*data))


def microscope_timer(stores: list[str], system: Mapping[str, Any], batch_size: int) -> Timer:
    """Return a timer of the microscope alone rendering one batch of spectra, after a warm-up."""
    batches, microscope = training_spectra(stores, system, seed=0, batch_size=batch_size)
    batch = next(iter(batches))
    render = tf.function(microscope)

    def seconds(steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            images, _ = render(*batch)
        images.numpy()
        return time.perf_counter() - start

    seconds(WARM_UP_STEPS)
    return seconds


def pipeline_timers(stores: list[str], system: Mapping[str, Any], step: Step) -> dict[str, Timer]:
    """Timers of the microscope alone, and of training with it in ``Dataset.map`` and in the step."""
    images = training_dataset(stores, system, seed=0, batch_size=step.batch_size)
    spectra, microscope = training_spectra(stores, system, seed=0, batch_size=step.batch_size)
    return {
        "microscope alone": microscope_timer(stores, system, step.batch_size),
        "step on a fixed batch": timer(network(system, step), fixed_batch(step, *_io(system))),
        "step, microscope in Dataset.map": timer(network(system, step), images),
        "step, microscope in the step": timer(RenderingStep(network(system, step), microscope),
                                              spectra.prefetch(tf.data.AUTOTUNE)),
    }


def _io(system: Mapping[str, Any]) -> tuple[int, int]:
    """Input channels and output classes (background included) of the system's network."""
    return len(system["microscope"]["defocus_offsets"]), 1 + len(class_names(system["labels"]))


def rates(timers: Mapping[str, Timer], batch_sizes: Mapping[str, int], steps: int, rounds: int
          ) -> dict[str, list[float]]:
    """Images per second of every timer in each round; the rounds visit the timers in turn."""
    measured: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(rounds):
        for name, seconds in timers.items():
            measured[name].append(steps * batch_sizes[name] / seconds(steps))
    return measured


def grid(reference: Step) -> list[Step]:
    """The reference, then every variation of one option."""
    return [reference] + [replace(reference, **{key: value}) for key, values in VARIATIONS.items() for value in values]


def best(reference: Step, measured: Mapping[Step, list[float]]) -> Step:
    """The reference with the fastest value of each option in :data:`SPEED_OPTIONS` (by :data:`MARGIN`)."""
    choices = {}
    for key in SPEED_OPTIONS:
        rate = {getattr(step, key): statistics.median(values) for step, values in measured.items()
                if step.label(reference) == f"{key}={getattr(step, key)}"}
        fastest = max(rate, key=rate.get)
        if rate[fastest] > MARGIN * statistics.median(measured[reference]):
            choices[key] = fastest
    return replace(reference, **choices)


def measure_grid(system: Mapping[str, Any], reference: Step, steps: int, rounds: int) -> dict[Step, list[float]]:
    """Images per second of every step of the grid and of the best combination, per round."""
    channels, classes = _io(system)
    timers = {step: timer(network(system, step), fixed_batch(step, channels, classes)) for step in grid(reference)}
    measured = rates(timers, {step: step.batch_size for step in timers}, steps, rounds)
    fastest = best(reference, measured)
    if fastest not in measured:
        pair = {reference: timers[reference], fastest: timer(network(system, fastest), fixed_batch(fastest, channels,
                                                                                                    classes))}
        again = rates(pair, {step: step.batch_size for step in pair}, steps, rounds)
        scale = statistics.median(measured[reference]) / statistics.median(again[reference])
        measured[fastest] = [rate * scale for rate in again[fastest]]  # on the grid's reference scale
    return measured


def print_grid(reference: Step, measured: Mapping[Step, list[float]]) -> None:
    """Print the grid as a Markdown table: images/s, Mpixel/s and their ratios to the reference."""
    base = statistics.median(measured[reference])
    print("| configuration | images/s | Mpixel/s | images/s ratio | pixels/s ratio |")
    print("| --- | --- | --- | --- | --- |")
    for step, values in measured.items():
        rate = statistics.median(values)
        pixels = rate * step.image_size**2
        print(f"| {step.label(reference)} | {rate:.2f} | {pixels / 1e6:.3f} | {rate / base:.2f} "
              f"| {pixels / (base * reference.image_size**2):.2f} |")


def print_pipeline(measured: Mapping[str, list[float]]) -> None:
    """Print the microscope and pipeline rates as a Markdown table, with ms per image."""
    base = statistics.median(measured["step on a fixed batch"])
    print("| what | images/s | ms/image | ratio to the step on a fixed batch |")
    print("| --- | --- | --- | --- |")
    for name, values in measured.items():
        rate = statistics.median(values)
        print(f"| {name} | {rate:.2f} | {1e3 / rate:.1f} | {rate / base:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", required=True, help="glob of the training split's shard stores")
    parser.add_argument("--system", default="graphene")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per row and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tf.config.threading.set_inter_op_parallelism_threads(1)  # as atomsight.network.train runs its steps
    system = load_config(REPO / "config.yaml", REPO / "workflow" / "configs" / "small.yaml")["systems"][args.system]
    training = system["training"]
    reference = Step(system["microscope"]["image_size"], training["base_filters"], training["depth"],
                     training["batch_size"])
    measured = measure_grid(system, reference, args.steps, args.rounds)
    print_grid(reference, measured)
    print(f"\nbest combination of {', '.join(SPEED_OPTIONS)}: {best(reference, measured).label(reference)}\n")
    timers = pipeline_timers(sorted(glob.glob(args.stores)), system, reference)
    print_pipeline(rates(timers, dict.fromkeys(timers, reference.batch_size), args.steps, args.rounds))


if __name__ == "__main__":
    main()
