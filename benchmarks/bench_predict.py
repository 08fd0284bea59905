"""Benchmark: ``atomsight predict`` end to end on one large image against the bare network forward pass.

A synthetic graphene image (a honeycomb of dark Gaussian atoms with 1.42 Å bonds, turned by
7°, Poisson noise), ``--size`` pixels square at the model's sampling so that nothing is
resampled, is predicted by ``atomsight predict`` in a fresh interpreter (a subprocess:
imports, loading the model, tiling, network, post-processing, writing the CSV, maps and
overlay), once per configuration of ``--configs`` (``TILE``, ``TILE:PRECISION``, and either
with ``@ISA``: oneDNN capped at that instruction set, ``ONEDNN_MAX_CPU_ISA=ISA``, which makes
a CPU with AVX-512 compute as one without, e.g. ``2048:auto@AVX2``), and by the bare network
of the same configuration: the model's forward pass as ``atomsight predict`` runs it
(``load_predictor(...).probabilities`` in that precision) called once on the whole normalised
image, after a warm-up call, in an interpreter that stays up between rounds. Rounds alternate the two, so
both see the same machine load. Printed per configuration: the median over rounds of the
end-to-end time, of the bare forward pass and of their ratio, each as wall time and as CPU
time (user + system of all threads: on a shared machine the steadier of the two), the
detections against the first configuration's (matched one to one within 0.5 Å) and the peak
memory (maximum resident set) of ``atomsight predict``. Then the import of
``atomsight.network.predict`` in a fresh interpreter against ``import tensorflow`` alone,
and, with ``--images N``, the time per image of a folder of N such images predicted in one
run (the model loaded once) as the difference between N images and one, over the bare pass.

Usage: python benchmarks/bench_predict.py [--model graphene] [--size 2048]
       [--configs 2048 1024 1536 2048:mixed_bfloat16 2048:float32@AVX2] [--rounds 3] [--images 3]
       [--out /tmp/bench_predict]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from atomsight.core.matching import match
from atomsight.models import resolve_model

MATCH_RADIUS = 0.5
"""Largest distance of two detections taken as the same atom [Å]; a third of the 1.42 Å bond."""


def graphene_image(size: int, sampling: float, *, seed: int) -> np.ndarray:
    """A (size, size) float32 image of graphene: dark Gaussian atoms (sigma 0.45 Å) on 1, Poisson noise.

    Parameters
    ----------
    size : int
        Side [pixels].
    sampling : float
        Pixel size [Å/pixel].
    seed : int
        Seed of the noise.
    """
    a = 1.42 * np.sqrt(3)  # lattice constant [Å]
    cells = np.arange(-int(size * sampling / a) - 2, int(2 * size * sampling / a) + 2)
    i, j = (grid.ravel() for grid in np.meshgrid(cells, cells, indexing="ij"))
    lattice = i[:, None] * [a, 0.0] + j[:, None] * [a / 2, a * np.sqrt(3) / 2]
    atoms = np.concatenate([lattice, lattice + [a / 2, a / (2 * np.sqrt(3))]])
    turn = np.deg2rad(7.0)
    atoms = atoms @ np.array([[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]]) / sampling
    atoms = np.floor(atoms[np.all((atoms >= 0) & (atoms < size), axis=1)]).astype(int)
    density = np.zeros((size, size))
    np.add.at(density, tuple(atoms.T), 1.0)
    density = ndimage.gaussian_filter(density, 0.45 / sampling)
    counts = 1000 * sampling**2 * 10 * (1.0 - 0.6 * density / density.max())  # 10^4 e/Å^2
    return np.random.default_rng(seed).poisson(counts).astype(np.float32)


class Clock(NamedTuple):
    """Wall time and CPU time (user + system, all threads) of one run [s], and its peak memory [GB]."""

    wall: float
    cpu: float
    memory: float


def parse_config(config: str) -> tuple[str, str, str]:
    """Split a configuration ``TILE[:PRECISION][@ISA]`` into its tile, precision and ISA ("" where not given)."""
    rest, _, isa = config.partition("@")
    tile, _, precision = rest.partition(":")
    return tile, precision, isa


def environment(isa: str) -> dict[str, str]:
    """This process's environment, with oneDNN capped at ``isa`` when one is given."""
    env = dict(os.environ)
    if isa:
        env["ONEDNN_MAX_CPU_ISA"] = isa
    return env


def timed_run(command: list[str], env: dict[str, str] | None = None) -> Clock:
    """Run ``command``; return its times and peak memory (maximum resident set). Raises if it fails, with its output."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return Clock(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 2**20)


BARE_FORWARD = """
import sys, time
import numpy as np, tensorflow as tf
from atomsight.network.predict import load_predictor
predictor = load_predictor(sys.argv[1], precision=sys.argv[3] or None)
normalized = predictor.normalize(np.load(sys.argv[2])[None, :, :, None])
predictor.probabilities(normalized)  # warm-up: the first call on a shape sets up its kernels
for _ in sys.stdin:
    cpu, start = time.process_time(), time.perf_counter()
    predictor.probabilities(normalized)
    print(time.perf_counter() - start, time.process_time() - cpu, flush=True)
"""
"""The bare network, run by :class:`BareForward`: one forward pass of the whole image per line read."""


class BareForward:
    """The bare forward pass in an interpreter of its own, warmed up, timed on request.

    Its own process keeps this one small, so that the peak memory of the ``atomsight
    predict`` runs started from here is theirs alone (a child's maximum resident set
    counts what it shared with its parent before ``exec``).
    """

    def __init__(self, model: Path, image: Path, precision: str = "", isa: str = ""):
        self.process = subprocess.Popen([sys.executable, "-c", BARE_FORWARD, str(model), str(image), precision],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True, env=environment(isa))

    def __call__(self) -> Clock:
        """Time one forward pass (memory NaN: not measured)."""
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the bare forward pass stopped with exit status {self.process.wait()}")
        wall, cpu = map(float, line.split())
        return Clock(wall, cpu, float("nan"))

    def close(self) -> None:
        """End the interpreter."""
        self.process.stdin.close()
        self.process.wait()


def medians(clocks: list[Clock]) -> Clock:
    """Median times and peak memory of runs."""
    return Clock(*(statistics.median(values) for values in zip(*clocks)))


def median_ratios(clocks: list[Clock], references: list[Clock]) -> tuple[float, float]:
    """Median over rounds of each run's wall and CPU time over the same round's reference ones."""
    return (statistics.median(c.wall / r.wall for c, r in zip(clocks, references)),
            statistics.median(c.cpu / r.cpu for c, r in zip(clocks, references)))


def predict_command(model: Path, images: Path, out: Path, *, sampling: float, config: str) -> list[str]:
    """The ``atomsight predict`` command line of a configuration ``TILE[:PRECISION][@ISA]`` (the ISA aside)."""
    tile, precision, _ = parse_config(config)
    return [sys.executable, "-m", "atomsight.cli", "predict", str(images), "--model", str(model),
            "--sampling", str(sampling), "--out", str(out), "--tile", tile,
            *(["--precision", precision] if precision else [])]


def folder_name(config: str) -> str:
    """The scratch folder of a configuration's results."""
    return config.replace(":", "_").replace("@", "_")


def positions(path: Path) -> np.ndarray:
    """Detections (x_A, y_A) [Å] of a CSV written by ``atomsight predict``."""
    with open(path, newline="") as stream:
        return np.array([[float(row["x_A"]), float(row["y_A"])] for row in csv.DictReader(stream)]).reshape(-1, 2)


def compare(reference: np.ndarray, other: np.ndarray) -> str:
    """Matched detections and their mean and largest distance, as one table cell."""
    pairs = match(reference, other, MATCH_RADIUS)
    distance = np.linalg.norm(reference[pairs.true_index] - other[pairs.detected_index], axis=1)
    return (f"{len(other)} ({len(pairs.true_index)} matched, {len(reference) - len(pairs.true_index)} lost,"
            f" {len(other) - len(pairs.true_index)} new; shift mean {distance.mean() * 1e3:.1f} mÅ,"
            f" max {distance.max() * 1e3:.0f} mÅ)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="graphene", help="shipped model name or model folder (exported or released)")
    parser.add_argument("--size", type=int, default=2048, help="image side [pixels at the model's sampling]")
    parser.add_argument("--configs", nargs="+", default=["2048"],
                        help="configurations TILE[:PRECISION][@ISA] (--tile, --precision of atomsight predict;"
                             " ONEDNN_MAX_CPU_ISA)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds, each timing every configuration and the bare pass")
    parser.add_argument("--images", type=int, default=0, help="also time a folder of this many images (0: not)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_predict"), help="scratch folder")
    args = parser.parse_args()

    args.model = resolve_model(args.model)
    card = json.loads((args.model / "model.json").read_text())
    sampling = card["sampling"]
    args.out.mkdir(parents=True, exist_ok=True)
    image_path = args.out / "graphene.npy"
    image = graphene_image(args.size, sampling, seed=0)
    np.save(image_path, image)
    print(f"image {args.size} x {args.size} px at {sampling} Å/pixel ({args.size * sampling:.0f} Å square)")

    forwards = {config: BareForward(args.model, image_path, *parse_config(config)[1:]) for config in args.configs}
    forward = forwards[args.configs[0]]
    e2e: dict[str, list[Clock]] = {config: [] for config in args.configs}
    bares: dict[str, list[Clock]] = {config: [] for config in args.configs}
    imports, tf_imports = [], []
    for _ in range(args.rounds):
        for config in args.configs:
            out = args.out / folder_name(config)
            command = predict_command(args.model, image_path, out, sampling=sampling, config=config)
            e2e[config].append(timed_run(command, environment(parse_config(config)[2])))
            bares[config].append(forwards[config]())
        imports.append(timed_run([sys.executable, "-c", "import atomsight.network.predict"]))
        tf_imports.append(timed_run([sys.executable, "-c", "import tensorflow"]))

    bare = bares[args.configs[0]]
    print(f"bare forward pass of the whole image, wall [s]: {', '.join(f'{c.wall:.2f}' for c in bare)}")
    print("| configuration (--tile[:--precision][@ISA]) | end to end, wall (CPU) [s] | bare forward, wall (CPU) [s] |"
          " end to end / bare, wall (CPU) | detections | peak memory [GB] |")
    print("| --- | --- | --- | --- | --- | --- |")
    reference = positions(args.out / folder_name(args.configs[0]) / "graphene.csv")
    for config in args.configs:
        found = positions(args.out / folder_name(config) / "graphene.csv")
        run, network = medians(e2e[config]), medians(bares[config])
        ratio = median_ratios(e2e[config], bares[config])
        print(f"| {config} | {run.wall:.1f} ({run.cpu:.1f}) | {network.wall:.1f} ({network.cpu:.1f}) |"
              f" {ratio[0]:.2f} ({ratio[1]:.2f}) |"
              f" {compare(reference, found) if config != args.configs[0] else len(found)} | {run.memory:.1f} |")
    imported, tf_alone = medians(imports), medians(tf_imports)
    print(f"import atomsight.network.predict: {imported.wall:.1f} s ({imported.cpu:.1f} s CPU); import tensorflow"
          f" alone: {tf_alone.wall:.1f} s ({tf_alone.cpu:.1f} s CPU) (fresh interpreters, medians)")

    if args.images > 1:
        folder = args.out / "folder"
        folder.mkdir(exist_ok=True)
        for k in range(args.images):
            np.save(folder / f"graphene_{k:02d}.npy", graphene_image(args.size, sampling, seed=k))
        config = args.configs[0]
        one = timed_run(predict_command(args.model, folder / "graphene_00.npy", args.out / "one", sampling=sampling,
                                        config=config))
        many = timed_run(predict_command(args.model, folder, args.out / "many", sampling=sampling, config=config))
        once = forward()
        wall, cpu = (many.wall - one.wall) / (args.images - 1), (many.cpu - one.cpu) / (args.images - 1)
        print(f"folder of {args.images} images, --tile {config}: {many.wall:.1f} s ({many.cpu:.1f} s CPU) against"
              f" {one.wall:.1f} s ({one.cpu:.1f} s CPU) for one; per further image {wall:.1f} s"
              f" ({cpu:.1f} s CPU) = {wall / once.wall:.2f} ({cpu / once.cpu:.2f}) x the"
              f" bare pass ({once.wall:.1f} s, {once.cpu:.1f} s CPU)")
    for process in forwards.values():
        process.close()


if __name__ == "__main__":
    main()
