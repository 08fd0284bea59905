"""Measurement: how much the thermal smearing changes noise-free image contrast.

For the first structures of a system's training split, the exit wave is simulated
with the configuration's rms displacements and with static atoms, imaged through one
fixed abTEM CTF with partial temporal coherence (no noise, no detector), and the
contrast std / mean of each image is printed, with its ratio smeared / static. As an
independent reference, the contrast of the mean image of abTEM frozen phonons (atoms
displaced at random with the same rms displacements, in x, y and z) is printed too.

Usage: python benchmarks/thermal_contrast.py --system graphene --count 4 --defocus=-75 --Cs=-1.2e5 --focal-spread 20
(abTEM's defocus = -C10: --defocus=-75 is C10 = +75 Å, overfocus.)
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import abtem
import numpy as np

from atomsight.config import load_config
from atomsight.simulation.simulate import simulate_exit_waves, storage_gpts
from atomsight.structures.build import generate_split

REPO = Path(__file__).resolve().parents[1]


def contrasts(structures: list, system: dict, ctf: abtem.CTF) -> np.ndarray:
    """Return std / mean of the noise-free image of each structure."""
    waves = simulate_exit_waves(structures, energy=system["energy"], simulation=system["simulation"], threads=2,
                                progress=False)
    images = waves.apply_ctf(ctf).intensity().array
    return images.std(axis=(-2, -1)) / images.mean(axis=(-2, -1))


def frozen_phonon_contrasts(structures: list, system: dict, ctf: abtem.CTF, configurations: int) -> np.ndarray:
    """Return std / mean of the mean frozen-phonon image of each structure."""
    simulation = system["simulation"]
    result = []
    for atoms in structures:
        phonons = abtem.FrozenPhonons(atoms, num_configs=configurations, seed=1,
                                      sigmas=simulation["thermal"]["rms_displacement"])
        potential = abtem.Potential(phonons, sampling=simulation["potential_sampling"],
                                    slice_thickness=simulation["slice_thickness"],
                                    projection=simulation["projection"], parametrization=simulation["parametrization"])
        waves = abtem.PlaneWave(energy=system["energy"]).multislice(potential)
        gpts = storage_gpts(atoms.cell.lengths(), simulation["storage_sampling"])
        image = waves.downsample(gpts=gpts).apply_ctf(ctf).intensity().compute().array.mean(axis=0)
        result.append(image.std() / image.mean())
    return np.array(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default="graphene")
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--defocus", type=float, default=-75.0, help="abTEM defocus = -C10 [Å]")
    parser.add_argument("--Cs", type=float, default=-1.2e5, help="C30 [Å]")
    parser.add_argument("--focal-spread", type=float, default=20.0, help="1/e focal spread [Å]")
    parser.add_argument("--frozen-phonons", type=int, default=16, help="configurations of the reference")
    args = parser.parse_args()
    abtem.config.set({"diagnostics.progress_bar": False})

    system = load_config(REPO / "config.yaml")["systems"][args.system]
    static = copy.deepcopy(system)
    displacements = static["simulation"]["thermal"]["rms_displacement"]
    static["simulation"]["thermal"]["rms_displacement"] = {symbol: 0.0 for symbol in displacements}
    structures = generate_split(system, "train", indices=range(args.count), progress=False)
    ctf = abtem.CTF(energy=system["energy"], defocus=args.defocus, Cs=args.Cs, focal_spread=args.focal_spread)

    smeared, unsmeared = contrasts(structures, system, ctf), contrasts(structures, static, ctf)
    frozen = frozen_phonon_contrasts(structures, system, ctf, args.frozen_phonons)
    print(f"{args.system}, rms displacements {displacements} Å, {system['energy'] / 1e3:.0f} kV,"
          f" defocus {args.defocus} Å"
          f" (C10 = {-args.defocus:+g} Å), Cs {args.Cs / 1e4:g} µm, focal spread {args.focal_spread} Å")
    print(f"| structure | atoms | contrast static | contrast smeared | smeared / static"
          f" | contrast frozen phonons ({args.frozen_phonons}) |")
    for index, (atoms, a, b, c) in enumerate(zip(structures, unsmeared, smeared, frozen, strict=True)):
        print(f"| {index} | {len(atoms)} | {a:.4f} | {b:.4f} | {b / a:.3f} | {c:.4f} |")


if __name__ == "__main__":
    main()
