"""Helpers for the microscope tests: a small exit wave and settings with every effect switchable."""

from __future__ import annotations

import abtem
import numpy as np
import pytest
from abtem import orthogonalize_cell
from ase.build import graphene

from atomsight.config import validate_config
from atomsight.microscope import Microscope, MicroscopeSettings
from atomsight.microscope.spectra import band_limited_spectra, label_band_limit
from atomsight.simulation.simulate import exit_wave

SIMULATION = {"potential_sampling": 0.05, "storage_sampling": 0.1, "slice_thickness": 1.0,
              "projection": "infinite", "parametrization": "lobato", "thermal": {"rms_displacement": {"C": 0.0}}}
QUIET = {"scale_jitter": 0.0, "blur": [0.0, 0.0], "dose": None, "mtf": None, "normalization_sigma": None,
         "augment": False}


def microscope_config(**overrides) -> dict:
    """A validated microscope section (graphene defaults), with overrides."""
    config = {"systems": {"x": {"seed": 1, "energy": 80e3, "structures": {"generator": "graphene"},
                                "labels": {"classes": "single", "name": "atom"}, "microscope": overrides}}}
    return validate_config(config)["systems"]["x"]["microscope"]


@pytest.fixture(scope="session")
def sheet_wave() -> abtem.Waves:
    """The exit wave of a graphene flake in a square 17.6 Å cell at 80 kV, on a 176 x 176 grid (0.1 Å)."""
    atoms = orthogonalize_cell(graphene(a=2.46, vacuum=1.0)) * (4, 4, 1)
    atoms.set_cell([17.6, 17.6, 2.0])
    atoms.positions[:, 2] = 1.0
    return exit_wave(atoms, energy=80e3, simulation=SIMULATION, device="cpu").compute()


def _make_microscope(wave: abtem.Waves, labels: np.ndarray | None = None, **overrides):
    """Microscope, wave spectra and label spectra for ``wave``, images on the wave's own grid by default."""
    config = microscope_config(**{**QUIET, "sampling": wave.sampling[0], "image_size": wave.gpts[0], **overrides})
    settings = MicroscopeSettings.from_config(config, wave.energy)
    spectra, frequencies = band_limited_spectra(np.asarray(wave.array)[None], wave.extent, settings.band_limit())
    if labels is None:
        labels = np.zeros((1, *wave.gpts), np.float32)
    label_spectra, label_frequencies = band_limited_spectra(labels[None], wave.extent, label_band_limit(1.0))
    microscope = Microscope(settings, wave_frequencies=frequencies, label_frequencies=label_frequencies,
                            extent=wave.extent)
    return microscope, spectra, label_spectra


@pytest.fixture(scope="session")
def make_microscope():
    """``make_microscope(wave, labels=None, **microscope_overrides) -> (microscope, spectra, label_spectra)``."""
    return _make_microscope


@pytest.fixture(scope="session")
def config_of():
    """``config_of(**overrides)``: a validated microscope section."""
    return microscope_config
