"""Benchmark: the training step on CPUs with and without AVX-512 (BF16), in float32 and bfloat16, as ratios.

A CPU without AVX-512 is emulated on one with it by capping oneDNN's instruction set
(``ONEDNN_MAX_CPU_ISA``, read once when TensorFlow loads), so every configuration runs in a
child interpreter of its own: ``ISA:PRECISION[:FILTERS]``, where ISA is oneDNN's name (``AVX2``: a
laptop CPU with AVX2 and FMA; ``AVX512_CORE``: AVX-512 without BF16; ``DEFAULT``: no cap)
and PRECISION one of ``training.precision`` ("auto" resolves in the child, from its cap);
FILTERS replaces the configuration's base filters.
Each child builds the small configuration's network (``workflow/configs/small.yaml``:
128 x 128 images, 16 base filters, depth 4, batch 8; :func:`atomsight.network.train.new_model`
with its loss, weight decay and metric), traces and warms up its Keras training function on
one fixed batch, then times ``--steps`` steps. Rounds visit every configuration in turn, so
that a change in the machine's load touches all alike; printed are the median images per
second over the rounds and the median of each round's ratio to the first configuration.

Usage: python benchmarks/bench_isa_training.py [--configs DEFAULT:float32 DEFAULT:mixed_bfloat16
       AVX2:float32 AVX2:mixed_bfloat16 AVX2:auto] [--steps 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import sys, time
import numpy as np, keras, tensorflow as tf
from atomsight.config import load_config
from atomsight.device import resolve_precision
from atomsight.network.train import new_model
repo, precision, steps, warm_up, filters = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
system = load_config(f"{repo}/config.yaml", f"{repo}/workflow/configs/small.yaml")["systems"]["graphene"]
system["training"]["precision"] = precision
system["training"]["base_filters"] = int(filters or system["training"]["base_filters"])
chosen = resolve_precision(precision)
model = new_model(system)
training = system["training"]
size, batch = system["microscope"]["image_size"], training["batch_size"]
rng = np.random.default_rng(0)
images = tf.constant(rng.normal(size=(batch, size, size, 1)).astype(np.float32))
labels = tf.constant(keras.ops.softmax(rng.normal(size=(batch, size, size, model.output_shape[-1]))).numpy())
model.make_train_function()
step = model.train_function
data = iter(tf.data.Dataset.from_tensors((images, labels)).repeat())
for _ in range(warm_up):
    step(data)
start = time.perf_counter()
for _ in range(steps):
    logs = step(data)
float(logs["loss"])
print(chosen, steps * batch / (time.perf_counter() - start), flush=True)
"""
"""One configuration's child: the precision it computed in and its images per second."""


def run_child(config: str, steps: int, warm_up: int) -> tuple[str, float]:
    """Time one configuration ``ISA:PRECISION[:FILTERS]`` in a fresh interpreter; return its precision and images/s.

    A configuration whose child fails (oneDNN refuses bfloat16 convolutions under an AVX2 cap)
    returns TensorFlow's last error line and NaN.
    """
    isa, _, rest = config.partition(":")
    precision, _, filters = rest.partition(":")
    env = dict(os.environ)
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    if isa != "DEFAULT":
        env["ONEDNN_MAX_CPU_ISA"] = isa
    result = subprocess.run([sys.executable, "-c", CHILD, str(REPO), precision, str(steps), str(warm_up), filters],
                            capture_output=True, text=True, env=env)
    if result.returncode:
        errors = [line for line in result.stderr.splitlines() if "Error" in line or "exception" in line]
        return f"fails: {errors[-1][:160] if errors else result.stderr[-160:]}", float("nan")
    chosen, rate = result.stdout.split()[-2:]
    return chosen, float(rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["DEFAULT:float32", "DEFAULT:mixed_bfloat16", "AVX2:float32",
                                                         "AVX2:mixed_bfloat16", "AVX2:auto"],
                        help="configurations ISA:PRECISION[:FILTERS] (oneDNN's ISA name or DEFAULT;"
                             " training.precision; base filters, default small.yaml's)")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per configuration and round")
    parser.add_argument("--warm-up", type=int, default=2, help="untimed steps first (the first one traces)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each timing every configuration")
    args = parser.parse_args()
    rates: dict[str, list[float]] = {config: [] for config in args.configs}
    chosen: dict[str, str] = {}
    for k in range(args.rounds):
        for config in args.configs:
            chosen[config], rate = run_child(config, args.steps, args.warm_up)
            rates[config].append(rate)
            print(f"round {k + 1}: {config} ({chosen[config]}) {rate:.2f} images/s", flush=True)
    first = rates[args.configs[0]]
    print(f"| ISA cap : precision | computed in | images/s | s per step (batch 8) | ratio to {args.configs[0]} |")
    print("| --- | --- | --- | --- | --- |")
    for config in args.configs:
        rate = statistics.median(rates[config])
        ratio = statistics.median([r / f for r, f in zip(rates[config], first)])
        print(f"| {config} | {chosen[config]} | {rate:.2f} | {8 / rate:.2f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
