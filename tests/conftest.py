"""Shared fixtures: small configurations and structures that make tests fast."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import abtem
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
