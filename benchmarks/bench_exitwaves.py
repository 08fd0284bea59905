"""Benchmark: the exit-wave stage against calling abTEM directly on the same structures.

The stage (`atomsight.simulation.exitwaves.build_shard`: read structures, multislice, band-limit,
label maps, ground truth, atomic Zarr write) is timed against bare abTEM doing only
the multislice of the same structures (same thermal smearing), in two ways: abTEM's default (one structure
after another, abTEM's own dask threads) and the same structures spread over the same
thread pool as the stage. Both run in this one process, after a warm-up, so the ratio
is independent of the machine's speed. A second table row times the stage with the
configuration's thermal smearing against the same stage with static atoms (all rms
displacements 0): ``--repeats`` pairs run back to back, in alternating order, and the
median of the pairs' ratios is reported, so a load that changes between runs cancels.

Usage: python benchmarks/bench_exitwaves.py [--system graphene] [--count 20] [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import abtem

from atomsight.config import load_config
from atomsight.simulation.exitwaves import build_shard
from atomsight.simulation.simulate import thermal_integrals
from atomsight.structures.build import generate_split, write_structures

REPO = Path(__file__).resolve().parents[1]


def bare_abtem(atoms, energy, simulation):
    """The exit wave as a user would compute it with abTEM alone, with the same thermal smearing."""
    potential = abtem.Potential(
        atoms, sampling=simulation["potential_sampling"], slice_thickness=simulation["slice_thickness"],
        projection=simulation["projection"], parametrization=simulation["parametrization"],
        integrator=thermal_integrals(simulation, atoms.get_chemical_symbols()),
    )
    return abtem.PlaneWave(energy=energy).multislice(potential).compute(progress_bar=False).array


def without_smearing(system: dict) -> dict:
    """The system with static atoms: every rms displacement set to 0."""
    static = copy.deepcopy(system)
    thermal = static["simulation"]["thermal"]
    thermal["rms_displacement"] = {symbol: 0.0 for symbol in thermal["rms_displacement"]}
    return static


def timed(stage: dict) -> float:
    """Seconds one run of the stage takes."""
    start = time.perf_counter()
    build_shard(**stage)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default="graphene")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
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

        ours = timed(stage)

        static = dict(stage, system=without_smearing(system))
        pairs = []
        for repeat in range(args.repeats):
            first, second = (static, stage) if repeat % 2 == 0 else (stage, static)
            times = {id(first): timed(first), id(second): timed(second)}
            pairs.append((times[id(static)], times[id(stage)]))
        unsmeared, smeared = (min(times) for times in zip(*pairs))
        ratio = statistics.median(b / a for a, b in pairs)

    n = args.count
    print("| system | structures | abTEM default [ms/structure] | abTEM pooled [ms/structure] | stage [ms/structure] "
          "| stage / default | stage / pooled |")
    print(f"| {args.system} | {n} | {sequential / n * 1e3:.0f} | {pooled / n * 1e3:.0f} | {ours / n * 1e3:.0f} "
          f"| {ours / sequential:.2f} | {ours / pooled:.2f} |")
    print("| system | structures | static stage [ms/structure] | smeared stage [ms/structure] | smeared / static |")
    print(f"| {args.system} | {n} | {unsmeared / n * 1e3:.0f} | {smeared / n * 1e3:.0f} | {ratio:.3f} |")


if __name__ == "__main__":
    main()
