"""Benchmark: memory of a sequence analysis against the length of the movie.

A movie of ``n`` frames (``--side`` pixels square, float32 in a memory-mapped ``.npy``) of a
square lattice of Gaussian columns (sigma 1.5 pixels, 16 pixels apart) drifting by a known
0.13 pixel a frame, with Poisson noise, is read (:func:`atomsight.io.movies.read_movie`),
registered, linked and written with its plots and overlay (:func:`atomsight.analysis.sequence.analyze_sequence`,
:func:`atomsight.analysis.sequence.write_sequence`), with the lattice's true positions as the
detections (the network is not what is measured). Printed per length: the peak memory that
Python's tracemalloc counts (numpy's arrays included), in frames of float32, its ratio to
the shortest movie's, and the seconds per frame. Holding the movie would make the peak grow
in proportion to ``n``.

Usage: python benchmarks/bench_track_memory.py [--side 512] [--lengths 16 64 256]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.fft
from scipy.ndimage import fourier_shift, gaussian_filter

from atomsight.analysis.sequence import analyze_sequence, write_sequence
from atomsight.io.movies import read_movie

SPACING = 16.0  # pixels between columns
DRIFT = np.array([0.13, -0.08])  # pixels per frame


def lattice(side: int) -> np.ndarray:
    """Column positions (row, col) [pixels] of the square lattice, away from the edges."""
    ticks = np.arange(SPACING, side - SPACING, SPACING)
    return np.stack(np.meshgrid(ticks, ticks, indexing="ij"), -1).reshape(-1, 2)


def write_movie(path: Path, n: int, side: int) -> list[np.ndarray]:
    """Write the movie as a memory-mapped .npy, frame by frame; return each frame's column positions [pixels].

    Frame k is frame 0's noise-free lattice moved by k times the drift (a Fourier shift), with Poisson noise.
    """
    movie = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, side, side))
    columns = lattice(side)
    spread = np.zeros((side, side))
    spread[np.round(columns[:, 0]).astype(int), np.round(columns[:, 1]).astype(int)] = 1.0
    first = 0.5 + gaussian_filter(spread, 1.5, mode="wrap") * 2 * np.pi * 1.5**2  # columns of height 1
    spectrum = scipy.fft.fft2(first)
    rng = np.random.default_rng(0)
    positions = []
    for k in range(n):
        frame = scipy.fft.ifft2(fourier_shift(spectrum, k * DRIFT)).real
        movie[k] = rng.poisson(200 * np.clip(frame, 0, None)) / 200
        positions.append(np.round(columns) + k * DRIFT)
    movie.flush()
    return positions


def measure(folder: Path, n: int, side: int) -> tuple[float, float]:
    """Peak traced memory [bytes] and wall time [s] of reading, analysing and writing a movie of n frames."""
    positions = write_movie(folder / f"movie{n}.npy", n, side)
    tracemalloc.start()
    start = time.perf_counter()
    movie = read_movie(folder / f"movie{n}.npy")
    analysis = analyze_sequence(movie.frames, [p * 0.1 for p in positions], sampling=0.1)
    write_sequence(analysis, movie.frames, out=folder / f"out{n}", name="movie")
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    drift_error = np.abs(analysis.drift - np.arange(n)[:, None] * DRIFT).max()
    print(f"  n={n}: largest drift error {drift_error:.3f} pixel")
    return peak, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--lengths", type=int, nargs="+", default=[16, 64, 256])
    args = parser.parse_args()
    frame_bytes = args.side**2 * 4
    with tempfile.TemporaryDirectory() as tmp:
        measure(Path(tmp), 4, args.side)  # imports and caches allocate here, not in the measured runs
        results = {n: measure(Path(tmp), n, args.side) for n in args.lengths}
    first = results[args.lengths[0]][0]
    print(f"| frames | movie [float32 frames] | peak traced memory [frames] | peak / peak at {args.lengths[0]} |"
          " s per frame |")
    print("|---|---|---|---|---|")
    for n, (peak, seconds) in results.items():
        print(f"| {n} | {n} | {peak / frame_bytes:.1f} | {peak / first:.2f} | {seconds / n:.3f} |")


if __name__ == "__main__":
    main()
