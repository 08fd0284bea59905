"""Benchmark: training images per second on one device and mirrored over two, at the same global batch.

Each row trains in a process of its own (logical devices are set when TensorFlow starts):
``single`` with batch 2B, ``mirrored`` over two logical CPU devices with batch B each (on a
GPU machine, over its GPUs), both with the random microscope in the tf.data pipeline as in
training (:func:`atomsight.network.train.training_images`). Rounds alternate the rows, so
a change of the machine's speed touches both alike; rates are medians over rounds of the
steps after a warm-up. On a CPU the two logical devices share the same cores, so this
measures what the strategy costs there, not a speed-up: that needs devices of their own.

Usage: python benchmarks/bench_distribute.py --stores 'results/exitwaves/graphene/train/*.zarr'
       [--configfile workflow/configs/small.yaml --system graphene] [--batch 4] [--steps 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import glob
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WARM_UP_STEPS = 3

ROW = """
import json, sys, time
import tensorflow as tf
stores, batch, steps, warm, name, devices, overlay, system_name = json.loads(sys.argv[1])
cpu = tf.config.list_physical_devices("CPU")[0]
if devices > 1 and not tf.config.list_physical_devices("GPU"):
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
import keras
from atomsight.config import load_config
from atomsight.network.distribute import choose_strategy
from atomsight.network.train import new_model, training_images
system = load_config("{repo}/config.yaml", overlay)["systems"][system_name]
system["training"]["batch_size"] = batch
placement = choose_strategy(name)
with placement.strategy.scope():
    model = new_model(system, replicas=placement.replicas)
times = []
class Clock(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter()
    def on_train_batch_end(self, batch, logs=None):
        times.append(time.perf_counter() - self.start)
with placement.strategy.scope():
    model.fit(training_images(system, stores, placement, start_step=0), steps_per_epoch=warm + steps, epochs=1,
              verbose=0, callbacks=[Clock()])
print(json.dumps({{"replicas": placement.replicas, "seconds": sorted(times[warm:])[len(times[warm:]) // 2]}}))
"""


def _row(stores: list[str], batch: int, steps: int, name: str, devices: int, overlay: str, system: str) -> dict:
    script = ROW.format(repo=REPO)
    argument = json.dumps([stores, batch, steps, WARM_UP_STEPS, name, devices, overlay, system])
    output = subprocess.run([sys.executable, "-c", script, argument], check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", required=True, help="glob of the training split's shard stores")
    parser.add_argument("--batch", type=int, default=4, help="images per replica of the mirrored row")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per row and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--configfile", default=str(REPO / "workflow/configs/small.yaml"),
                        help="configuration merged over config.yaml (default: the small one)")
    parser.add_argument("--system", default="graphene", help="the system whose network and microscope train")
    args = parser.parse_args()
    stores = sorted(glob.glob(args.stores))
    rows = {"single": (2 * args.batch, "single", 1), "mirrored x2": (args.batch, "mirrored", 2)}
    rates: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(args.rounds):
        for name, (batch, strategy, devices) in rows.items():
            found = _row(stores, batch, args.steps, strategy, devices, args.configfile, args.system)
            rates[name].append(batch * found["replicas"] / found["seconds"])
    reference = statistics.median(rates["single"])
    print(f"| row | global batch | images/s (median of {args.rounds}) | ratio to single |")
    print("|---|---|---|---|")
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"| {name} | {2 * args.batch} | {rate:.1f} | {rate / reference:.2f} |")


if __name__ == "__main__":
    main()
