"""A simulated movie of a gold particle with known drift and known atom hops, made by the project's pipeline.

The tiny gold particle of tests/data/tiny.yaml (14 columns, 24 Å cell) is simulated by
multislice (:func:`atomsight.simulation.simulate.exit_wave`) in three states: as built; with the
single atom of a surface column moved by a lattice vector to an empty site (frame 3 on);
and with another single-atom surface column removed as well (frame 6 on). Each frame's
exit wave is shifted by a known sub-pixel drift (Fourier shift, exact for the periodic
wave), imaged through abTEM's CTF with Poisson noise, and cropped to a non-periodic
field of view. Detections come from the label maps of the shifted columns (Gaussians,
:func:`atomsight.simulation.labels.gaussian_label_maps`) through :func:`atomsight.network.postprocess.detect`,
as if a perfect network had looked at the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import abtem
import numpy as np
import pytest
from ase import Atoms

from atomsight.network.postprocess import find_peaks
from atomsight.simulation.labels import gaussian_label_maps
from atomsight.simulation.simulate import exit_wave
from atomsight.structures.build import generate_structure
from atomsight.structures.columns import column_ground_truth

DRIFT = np.array([[0.0, 0.0], [0.37, -0.52], [1.21, -0.9], [2.05, -1.33], [2.6, -2.71], [3.44, -3.1],
                  [4.13, -3.95], [4.9, -4.2]])
"""True drift of each frame [pixels, (row, col)]: sub-pixel steps, 6.5 pixels in all."""

STATE = (0, 0, 0, 1, 1, 1, 2, 2)
"""Structure shown in each frame: 0 as built, 1 one atom hopped, 2 hopped and one column removed."""

CROP = 20
"""Pixels cut from each side of the 200-pixel simulated frame: the field of view is not periodic."""

DOSE = 5000.0
"""Electron dose of a frame [e/Å²]."""


@dataclass(frozen=True)
class Movie:
    """The simulated movie and what is known about it."""

    frames: list[np.ndarray]
    positions: list[np.ndarray]
    sampling: float
    drift: np.ndarray
    hop_from: np.ndarray
    hop_to: np.ndarray
    removed: np.ndarray


def _states(atoms: Atoms) -> tuple[list[Atoms], np.ndarray, np.ndarray, np.ndarray]:
    """Return the three structures and the (x, y) [Å] of the vacated, filled and removed column sites."""
    columns, heights = column_ground_truth(atoms)
    ids = atoms.arrays["column"]
    centre = columns.mean(axis=0)
    single = [c for c in np.argsort(-np.linalg.norm(columns - centre, axis=1)) if heights[c] == 1]
    for c in single:
        a = int(np.flatnonzero(ids == np.unique(ids)[c])[0])
        for b in np.argsort(np.linalg.norm(atoms.positions - atoms.positions[a], axis=1))[1:4]:
            target = 2 * atoms.positions[a] - atoms.positions[b]  # a + (a - b): a lattice site
            if np.linalg.norm(columns - target[:2], axis=1).min() > 2.0:
                break
        else:
            continue
        break
    hopped = atoms.copy()
    hopped.positions[a] = target
    hopped.arrays["column"][a] = ids.max() + 1
    other = next(d for d in single if d != c and np.linalg.norm(columns[d] - target[:2]) > 3.0)
    removed = hopped[hopped.arrays["column"] != np.unique(ids)[other]]
    return [atoms, hopped, removed], columns[c], target[:2], columns[other]


def _detections(atoms: Atoms, shift: np.ndarray, sampling: float, gpts: tuple[int, int]) -> np.ndarray:
    """(x, y) [Å] found in the cropped frame from the label map of the shifted columns."""
    columns, _ = column_ground_truth(atoms)
    maps = gaussian_label_maps(columns + shift * sampling, np.zeros(len(columns), int), n_classes=1, gpts=gpts,
                               sampling=(sampling, sampling), sigma=0.4)[0, CROP:-CROP, CROP:-CROP]
    found = find_peaks(np.stack([1 - maps, maps], axis=-1), threshold=0.5, min_distance=2)
    return found.positions * sampling


@pytest.fixture(scope="session")
def gold_movie(tiny_config) -> Movie:
    """The simulated 8-frame movie (160 x 160 pixels at 0.12 Å/pixel) with its truth."""
    system = tiny_config["systems"]["gold"]
    abtem.config.set({"diagnostics.progress_bar": False})
    states, hop_from, hop_to, removed = _states(generate_structure(system, "train", 0))
    waves = [exit_wave(s, energy=system["energy"], simulation=system["simulation"], device="cpu")
             .compute(scheduler="synchronous") for s in states]
    sampling = waves[0].sampling[0]
    ctf = abtem.CTF(energy=system["energy"], aberration_coefficients={"C10": 40.0, "C30": -10e4}, semiangle_cutoff=20)
    rng = np.random.default_rng(7)
    kx, ky = (np.fft.fftfreq(n) for n in waves[0].shape)
    frames, positions = [], []
    for state, shift in zip(STATE, DRIFT):
        wave = waves[state]
        ramp = np.exp(-2j * np.pi * (kx[:, None] * shift[0] + ky[None, :] * shift[1]))
        moved = abtem.Waves(np.fft.ifft2(np.fft.fft2(wave.array) * ramp).astype(np.complex64),
                            energy=system["energy"], sampling=wave.sampling)
        intensity = moved.apply_ctf(ctf).intensity().array[CROP:-CROP, CROP:-CROP]
        counts = DOSE * sampling**2
        frames.append((rng.poisson(intensity * counts) / counts).astype(np.float32))
        positions.append(_detections(states[state], shift, sampling, wave.shape))
    origin = CROP * sampling  # the crop's first pixel in the cell [Å]
    return Movie(frames=frames, positions=positions, sampling=sampling, drift=DRIFT, hop_from=hop_from - origin,
                 hop_to=hop_to - origin, removed=removed - origin)
