"""Make the held-out focal series of gold particles that the counting model is tested and shown on.

Test-split particles of the gold-counting configuration (config.yaml's gold_counting merged with
workflow/configs/gold-counting.yaml; never trained or tuned on), the least and the most tilted
of the first ten, imaged by the project's own microscope as one focal series of three images
at C10 = -170, -40 and +90 Å (the configuration's offsets, no shared shift), Cs = -15 µm,
focal spread 30 Å, C5 1 mm, no astigmatism, blur 0.1 Å, at 10^4 e/Å^2 per image (3x10^4 for
the series). Each series is saved as three calibrated TIFFs of electron counts (RosettaSciIO,
pixel size in nm), the second and third moved by a known drift (:data:`DRIFT`, a Fourier
shift) as a real series would be, and its true columns in a CSV: x_A, y_A on the first
image's grid and the number of atoms (height).

Usage: python tests/data/make_heldout_series.py --exitwaves RESULTS/exitwaves [--out tests/data/heldout]
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
from pathlib import Path

import numpy as np
import tensorflow as tf
from rsciio.tiff import file_writer as tiff_writer

from atomsight.config import load_config, system_config
from atomsight.core.defocus import c10_from_defocus
from atomsight.core.registration import shifted
from atomsight.evaluation.evaluate import visible_positions
from atomsight.io.store import read_ground_truth
from atomsight.microscope import fixed_parameters, stack_parameters
from atomsight.microscope.data import SpectraSource
from atomsight.structures.build import read_structures

REPO = Path(__file__).resolve().parents[2]
SYSTEM = "gold_counting"
SIZE = 360
DOSE = 1.0e4
DRIFT = ((0.0, 0.0), (0.6, -1.1), (-1.4, 0.8))
"""Drift of each image relative to the first [pixels, (row, col)]."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exitwaves", type=Path, required=True, help="folder with gold_counting/test/*.zarr")
    parser.add_argument("--structures", type=Path, required=True, help="the test split's test.extxyz")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "heldout")
    args = parser.parse_args()
    config = load_config(REPO / "config.yaml", REPO / "workflow" / "configs" / "gold-counting.yaml")
    system = system_config(config, SYSTEM)
    system["microscope"]["image_size"] = SIZE
    system["microscope"]["normalization_sigma"] = None  # raw images, as a microscope writes them
    source = SpectraSource(sorted(glob.glob(str(args.exitwaves / SYSTEM / "test" / "*.zarr"))), system)
    microscope = source.microscope()
    indices = [int(source.roots[s]["index"][j]) for s, j in source.locations[:10]]
    tilts = [atoms.info["tilt_deg"] for atoms in read_structures(args.structures, indices)]
    chosen = {"untilted": int(np.argmin(tilts)), "tilted": int(np.argmax(tilts))}
    sampling = system["microscope"]["sampling"]
    offsets = [float(c10_from_defocus(d)) for d in system["microscope"]["defocus_offsets"]]
    args.out.mkdir(parents=True, exist_ok=True)
    for label, structure in chosen.items():
        params = fixed_parameters(source.settings, defocus=0.0, Cs=-1.5e5, C5=1.0e7, focal_spread=30.0, blur=0.1,
                                  astigmatism=0.0, dose=DOSE, sampling=sampling, mtf_c1=0.05, mtf_c2=0.5, mtf_c3=2.5)
        params["noise_seed"] = tf.constant([structure, 11], tf.int64)
        wave = tf.constant(source.read(structure)[0][None])
        series = microscope.images(wave, stack_parameters([params])).numpy()[0]
        stem = f"gold-counting_{label}_s{structure}"
        axes = [{"size": SIZE, "name": axis, "scale": sampling / 10, "offset": 0.0, "units": "nm", "navigate": False}
                for axis in ("y", "x")]
        for k, (c10, drift) in enumerate(zip(offsets, DRIFT)):
            image = shifted(series[..., k], np.array(drift)) if any(drift) else series[..., k]
            counts = np.round(np.clip(image, 0, None) * DOSE * sampling**2)  # electron counts per pixel
            tiff_writer(str(args.out / f"{stem}_c10{c10:+.0f}.tif"),
                        {"data": counts.astype(np.float32), "axes": axes, "metadata": {}, "original_metadata": {}})
        s, j = source.locations[structure]
        truth = read_ground_truth(source.roots[s], j)
        pixels, owners = visible_positions(truth.positions, shift=np.zeros(2), sampling=sampling, size=SIZE,
                                           extent=source.grid.extent, margin=0.0)
        with open(args.out / f"{stem}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["x_A", "y_A", "height"])
            writer.writerows([[*np.round(p * sampling, 4).tolist(), int(h)]
                              for p, h in zip(pixels, truth.heights[owners])])
        (args.out / f"{stem}.json").write_text(json.dumps({
            "structure": structure, "tilt_deg": round(float(tilts[structure]), 3), "c10_A": offsets,
            "cs_A": -1.5e5, "dose_per_image_e_per_A2": DOSE, "drift_px": DRIFT, "sampling_A": sampling,
        }, indent=2) + "\n")
        print(stem, series.shape, len(pixels), "columns,", int(truth.heights[owners].sum()), "atoms")


if __name__ == "__main__":
    main()
