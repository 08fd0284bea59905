"""Shared fixtures: small configurations and structures that make tests fast."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import abtem
import numpy as np
import pytest

from atomsight.config import load_config

REPO = Path(__file__).resolve().parents[1]

abtem.config.set({"diagnostics.progress_bar": False})


@pytest.fixture(scope="session")
def repo_config() -> dict:
    """The repository's validated config.yaml."""
    return load_config(REPO / "config.yaml")


@pytest.fixture(scope="session")
def tiny_config() -> dict:
    """A validated configuration with tiny cells and few structures."""
    return load_config(REPO / "tests" / "data" / "tiny.yaml")


@pytest.fixture
def tiny_system(tiny_config) -> dict:
    """A fresh copy of the tiny graphene system's section."""
    return copy.deepcopy(tiny_config["systems"]["graphene"])


def _make_stores(system: dict, name: str, folder: Path) -> dict[str, list[Path]]:
    from atomsight.simulation.exitwaves import build_shard
    from atomsight.simulation.splits import SPLITS
    from atomsight.structures.build import generate_split, write_structures

    stores = {}
    for split in SPLITS:
        path = write_structures(generate_split(system, split, progress=False), folder / f"{split}.extxyz")
        n_shards = -(-system["splits"][split] // system["shard_size"])
        stores[split] = [
            build_shard(system, name=name, split=split, shard=k, structures_path=path,
                        store_path=folder / split / f"shard-{k:03d}.zarr", device="cpu", progress=False)
            for k in range(n_shards)
        ]
    return stores


@pytest.fixture(scope="session")
def tiny_stores(tiny_config, tmp_path_factory) -> dict[str, dict[str, list[Path]]]:
    """Shard stores of every split of the tiny graphene and gold systems: ``tiny_stores[system][split]``."""
    return {
        name: _make_stores(tiny_config["systems"][name], name, tmp_path_factory.mktemp(name))
        for name in ("graphene", "gold")
    }


def _run_snakemake(workdir: Path, *args: str, snakefile: Path = REPO / "Snakefile",
                   timeout: float = 600) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--directory", str(workdir),
               "--cores", "2", *args]
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def snakemake():
    """``snakemake(workdir, *args, snakefile=..., timeout=...)``: run Snakemake (2 cores) in ``workdir``.

    The workflow is the repository's Snakefile unless ``snakefile`` is given; the result's
    ``stdout`` holds stdout and stderr together.
    """
    return _run_snakemake


@pytest.fixture(scope="session")
def tiny_workflow(tmp_path_factory) -> Path:
    """A folder in which the whole workflow ran locally on tests/data/tiny.yaml (default target)."""
    folder = tmp_path_factory.mktemp("workflow")
    shutil.copy(REPO / "tests" / "data" / "tiny.yaml", folder / "config.yaml")
    result = _run_snakemake(folder)
    assert result.returncode == 0, result.stdout[-3000:]
    return folder


@pytest.fixture
def make_predictor():
    """A factory of stand-ins for a loaded model: its forward pass is ``probabilities`` (normalisation the identity).

    ``make_predictor(probabilities, sampling=0.12, classes=("atom",), channels=1, **detection)`` gives a
    :class:`atomsight.network.predictor.Predictor` whose card holds what prediction reads, and whose detection
    settings are the paper's peak finding (threshold 0.5, 2 pixels apart) unless ``detection`` says otherwise.
    """
    from atomsight.detections import DetectionSettings
    from atomsight.network.predictor import Predictor

    def make(probabilities, *, sampling=0.12, classes=("atom",), channels=1, receptive_field=0, **detection):
        card = {"name": "stub", "sampling": sampling, "input_channels": channels, "size_multiple": 8,
                "receptive_field": receptive_field, "classes": ["background", *classes]}
        settings = DetectionSettings(**{"method": "auto", "threshold": 0.5, "min_distance": 2, "epsilon": 0.995,
                                        "t": 0.1, "h": 0.04, "label_sigma": 0.5, **detection})
        return Predictor(normalize=lambda batch: batch, probabilities=probabilities, card=card, settings=settings,
                         identity={"name": "stub", "folder": "(a test's stand-in)", "sha256": "0" * 64})

    return make


@pytest.fixture
def focal_series():
    """A factory of three-frame focal series of one round particle of Gaussian columns, 128 x 128 pixels.

    ``focal_series(dose_per_pixel=150, seed=0)`` returns a namespace of ``frames``, the (3, 128, 128)
    frames, each drifted by ``shifts`` [pixels, (row, col)], (0, 0), (1.3, -2.6) and (-0.7, 3.4), and
    with Poisson noise, the last with inverted contrast (as a frame at another defocus may show the
    columns dark); and ``centres``, the column centres [pixels, (row, col)] on the first frame's grid.
    Columns have sigma 1.5 pixels, lie 6 pixels apart on a square lattice turned by 0.3 rad, in a disk
    of radius 40 pixels.
    """
    from atomsight.core.registration import shifted

    def make(dose_per_pixel: float = 150.0, seed: int = 0, centre=(64.0, 64.0), angle=0.3):
        rows, cols = np.mgrid[0:128, 0:128].astype(np.float64)
        turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        centres = np.array([np.array(centre) + turn @ (6.0 * np.array([i, j]))
                            for i in range(-8, 9) for j in range(-8, 9)])
        centres = centres[np.sum((centres - centre) ** 2, axis=1) < 40.0**2]
        clean = sum(np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * 1.5**2)) for r, c in centres)
        rng = np.random.default_rng(seed)
        shifts = np.array([[0.0, 0.0], [1.3, -2.6], [-0.7, 3.4]])
        frames = [shifted(1.0 + contrast * clean, shift) for contrast, shift in zip((0.3, 0.15, -0.25), shifts)]
        noisy = np.stack([rng.poisson(np.clip(f, 0, None) * dose_per_pixel) / dose_per_pixel for f in frames])
        return SimpleNamespace(frames=noisy, centres=centres, shifts=shifts)

    return make
