"""Make the held-out images that tests/network/test_shipped_models.py scores the shipped models on.

Test-split structures of config.yaml's systems (never trained or tuned on), imaged by the
project's own microscope at fixed conditions inside Table 1's ranges, saved as calibrated
TIFFs of electron counts (written by RosettaSciIO, as HyperSpy does: pixel size in nm) with
their true positions in CSVs (x_A along the image's first axis, as predict writes). The images
at 10^4 e/Å^2 go to tests/data/heldout/, those at another dose to a subfolder named after it
(tests/data/heldout/1e5/): the same structures, conditions and noise seeds, so two doses differ
by their counts alone.

Usage: python tests/data/make_heldout_images.py --exitwaves RESULTS/exitwaves --system graphene
       [--dose 1e5] [--out tests/data/heldout/1e5] [--config config.yaml workflow/configs/release.yaml]
(--config: the files the exit waves were simulated with; their labels are not used)
"""

from __future__ import annotations

import argparse
import csv
import glob
from pathlib import Path

import numpy as np
import tensorflow as tf
from rsciio.tiff import file_writer as tiff_writer

from atomsight.config import load_config
from atomsight.evaluation.evaluate import visible_positions
from atomsight.io.store import read_ground_truth
from atomsight.microscope import fixed_parameters, stack_parameters
from atomsight.microscope.data import SpectraSource

REPO = Path(__file__).resolve().parents[2]
SIZE = 256
DOSE = 1.0e4
"""e/Å^2 of the images in tests/data/heldout/ itself."""
CONDITIONS = {
    # name: (abTEM defocus = -C10 [Å], Cs [Å]); focal spread 30 Å, C5 1 mm, no astigmatism, blur 0.1 Å
    "graphene": {"c10+75_cs-12um": (-75.0, -1.2e5), "c10-60_cs+15um": (60.0, 1.5e5)},
    "gold": {"c10+80_cs-15um": (-80.0, -1.5e5), "c10-50_cs+10um": (50.0, 1.0e5)},
}
STRUCTURES = (0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exitwaves", type=Path, required=True, help="folder with <system>/test/*.zarr")
    parser.add_argument("--system", required=True, choices=sorted(CONDITIONS))
    parser.add_argument("--config", type=Path, nargs="+", default=[REPO / "config.yaml"],
                        help="configuration files the exit waves were simulated with (default: config.yaml)")
    parser.add_argument("--dose", type=float, default=DOSE, help="e/Å^2 (default: %(default)g)")
    parser.add_argument("--out", type=Path, help="default: tests/data/heldout, or its subfolder named after --dose")
    args = parser.parse_args()
    heldout = REPO / "tests" / "data" / "heldout"
    args.out = args.out or (heldout if args.dose == DOSE else heldout / f"{args.dose:.0e}".replace("+0", ""))
    system = load_config(*args.config)["systems"][args.system]
    system["microscope"]["image_size"] = SIZE
    system["microscope"]["normalization_sigma"] = None  # raw images, as a microscope writes them
    source = SpectraSource(sorted(glob.glob(str(args.exitwaves / args.system / "test" / "*.zarr"))), system)
    microscope = source.microscope()
    waves, _ = source.read_all()
    sampling = system["microscope"]["sampling"]
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (defocus, cs) in CONDITIONS[args.system].items():
        for structure in STRUCTURES:
            params = fixed_parameters(source.settings, defocus=defocus, Cs=cs, C5=1.0e7, focal_spread=30.0, blur=0.1,
                                      dose=args.dose, sampling=sampling, mtf_c1=0.05, mtf_c2=0.5, mtf_c3=2.5)
            params["noise_seed"] = tf.constant([structure, 7], tf.int64)
            image = microscope.images(tf.gather(waves, [structure]), stack_parameters([params])).numpy()[0, ..., 0]
            image = np.round(image * args.dose * sampling**2)  # electron counts per pixel
            stem = f"{args.system}_{name}_s{structure}"
            axes = [{"size": SIZE, "name": axis, "scale": sampling / 10, "offset": 0.0, "units": "nm",
                     "navigate": False}
                    for axis in ("y", "x")]
            tiff_writer(str(args.out / f"{stem}.tif"), {"data": image.astype(np.float32), "axes": axes,
                                                         "metadata": {}, "original_metadata": {}})
            s, j = source.locations[structure]
            truth = read_ground_truth(source.roots[s], j)
            pixels, _ = visible_positions(truth.positions, shift=np.zeros(2), sampling=sampling, size=SIZE,
                                          extent=source.grid.extent, margin=0.0)
            with open(args.out / f"{stem}.csv", "w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["x_A", "y_A"])
                writer.writerows(np.round(pixels * sampling, 4).tolist())
            print(stem, image.shape, len(pixels))


if __name__ == "__main__":
    main()
