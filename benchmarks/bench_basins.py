"""Benchmark: the regions of ``find_peaks`` by steepest ascent against a flooding watershed.

``atomsight.network.postprocess.find_peaks`` takes each maximum's position as the centre
of mass of its basin. It used to flood the basins with ``skimage.segmentation.watershed``
(about 1.5-3 s on a 2048 x 2048 map, a quarter of ``atomsight predict``'s time); it now
follows each pixel's steepest ascent (``postprocess._basins``). On one probability map
(``--map``, an ``atomsight predict`` ``*_probabilities.npy``; by default the shipped
graphene model's map of ``bench_predict.py``'s synthetic 2048 x 2048 image, made here)
this times both, alternating, and compares them: the fraction of pixels given the same
region and the shift of every detection's centre of mass.

Usage: python benchmarks/bench_basins.py [--map MAP.npy] [--threshold 0.3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from atomsight.network import postprocess

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_predict import graphene_image  # noqa: E402


def shipped_graphene_map(folder: Path) -> np.ndarray:
    """The shipped graphene model's probability map of the synthetic 2048 x 2048 graphene image."""
    from atomsight.cli import main as atomsight

    image = folder / "graphene.npy"
    np.save(image, graphene_image(2048, 0.12, seed=0))
    atomsight(["predict", str(image), "--model", "graphene", "--sampling", "0.12", "--out", str(folder)])
    return np.load(folder / "graphene_probabilities.npy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--map", type=Path, help="a probability map (H, W, K) .npy; default: made here")
    parser.add_argument("--threshold", type=float, default=0.3, help="detection threshold (the shipped models')")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        probabilities = np.load(args.map) if args.map else shipped_graphene_map(Path(scratch))
    objects = 1.0 - probabilities[..., 0].astype(np.float64)
    mask = objects > args.threshold
    markers = postprocess._maxima_markers(objects, threshold=args.threshold, min_distance=2)
    times = {"flooding (skimage watershed)": [], "steepest ascent (_basins)": []}
    for _ in range(args.rounds):
        start = time.perf_counter()
        flooded = watershed(-objects, markers, mask=mask)
        middle = time.perf_counter()
        ascended = postprocess._basins(objects, markers, mask=mask)
        times["flooding (skimage watershed)"].append(middle - start)
        times["steepest ascent (_basins)"].append(time.perf_counter() - middle)
    ids = np.arange(1, markers.max() + 1)
    weights = np.clip(objects - args.threshold, 0.0, None) ** 2
    shift = np.linalg.norm(np.array(ndimage.center_of_mass(weights, flooded, ids))
                           - np.array(ndimage.center_of_mass(weights, ascended, ids)), axis=1)
    print(f"map {objects.shape[0]} x {objects.shape[1]}, threshold {args.threshold:g}: {len(ids)} maxima,"
          f" {mask.mean():.0%} of the pixels above the threshold")
    flood = statistics.median(times["flooding (skimage watershed)"])
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values):.2f} s over {args.rounds} rounds"
              f" ({flood / statistics.median(values):.2f}x the flooding's speed)")
    print(f"same region: {(flooded == ascended)[mask].mean():.2%} of the pixels above the threshold;"
          f" centre-of-mass shift [pixels]: median {np.median(shift):.4f}, 99th percentile"
          f" {np.percentile(shift, 99):.4f}, largest {shift.max():.3f} ({np.count_nonzero(shift > 0.1)} above 0.1)")


if __name__ == "__main__":
    main()
