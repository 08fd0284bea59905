"""Benchmark: the exit-wave stage against calling abTEM directly on the same structures.

The stage (`atomsight.exitwaves.build_shard`: read structures, multislice, band-limit,
label maps, ground truth, atomic Zarr write) is timed against bare abTEM doing only
the multislice of the same structures, in two ways: abTEM's default (one structure
after another, abTEM's own dask threads) and the same structures spread over the same
thread pool as the stage. Both run in this one process, after a warm-up, so the ratio
is independent of the machine's speed.

Usage: python benchmarks/bench_exitwaves.py [--system graphene] [--count 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import abtem

from atomsight.config import load_config
from atomsight.exitwaves import build_shard
from atomsight.structures.build import generate_split, write_structures

REPO = Path(__file__).resolve().parents[1]


def bare_abtem(atoms, energy, simulation):
    """The exit wave as a user would compute it with abTEM alone."""
    potential = abtem.Potential(
        atoms, sampling=simulation["potential_sampling"], slice_thickness=simulation["slice_thickness"],
        projection=simulation["projection"], parametrization=simulation["parametrization"],
    )
    return abtem.PlaneWave(energy=energy).multislice(potential).compute(progress_bar=False).array


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default="graphene")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    abtem.config.set({"diagnostics.progress_bar": False})

    system = load_config(REPO / "config.yaml")["systems"][args.system]
    system["splits"]["train"] = args.count
    system["shard_size"] = args.count
    energy, simulation = system["energy"], system["simulation"]
    structures = generate_split(system, "train", progress=False)

    with tempfile.TemporaryDirectory() as folder:
        path = write_structures(structures, Path(folder) / "train.extxyz")
        stage = dict(system=system, name=args.system, split="train", shard=0, structures_path=path,
                     store_path=Path(folder) / "shard-000.zarr", device="cpu", threads=args.threads, progress=False)
        # Warm-up of both (numba JIT, FFTW plans), so the timings below are steady state.
        bare_abtem(structures[0], energy, simulation)
        build_shard(**stage)

        start = time.perf_counter()
        for atoms in structures:
            bare_abtem(atoms, energy, simulation)
        sequential = time.perf_counter() - start

        start = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(lambda atoms: bare_abtem(atoms, energy, simulation), structures))
        pooled = time.perf_counter() - start

        start = time.perf_counter()
        build_shard(**stage)
        ours = time.perf_counter() - start

    best = min(sequential, pooled)
    n = args.count
    print(f"| {args.system} | {n} | {sequential / n * 1e3:.0f} | {pooled / n * 1e3:.0f} | {ours / n * 1e3:.0f} "
          f"| {ours / best:.2f} |")


if __name__ == "__main__":
    main()
