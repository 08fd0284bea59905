
from pathlib import Path

import numpy as np
import pytest

from atomsight.cli import main
from atomsight.microscope.preview import microscope_title
from atomsight.simulation.exitwaves import build_shard
from atomsight.structures.build import generate_split, write_structures

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def results(tiny_config, tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    system = tiny_config["systems"]["graphene"]
    path = write_structures(generate_split(system, "train", progress=False), folder / "train.extxyz")
    for shard in (0, 1):
        build_shard(system, name="graphene", split="train", shard=shard, structures_path=path,
                    store_path=folder / "exitwaves" / "graphene" / "train" / f"shard-{shard:03d}.zarr",
                    device="cpu", progress=False)
    return folder


def test_preview_writes_a_grid_of_training_images(results, capsys):
    config = str(REPO / "tests" / "data" / "tiny.yaml")
    assert main(["preview", config, "graphene", "--results", str(results), "--count", "3"]) == 0
    out = results / "preview" / "graphene.png"
    assert f"wrote {out}" in capsys.readouterr().out
    assert out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 30_000


def test_preview_merges_configuration_files_like_snakemake(results, tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("systems:\n  graphene:\n    microscope: {dose: null}\n")
    out = tmp_path / "quiet.png"
    config = str(REPO / "tests" / "data" / "tiny.yaml")
    assert main(["preview", config, "graphene", "--configfile", str(overlay), "--results", str(results),
                 "--out", str(out), "--count", "2"]) == 0
    assert out.exists()


def test_preview_without_stores_says_how_to_make_them(tmp_path, capsys):
    config = str(REPO / "tests" / "data" / "tiny.yaml")
    assert main(["preview", config, "graphene", "--results", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "missing exit-wave stores" in error and "snakemake --cores 2" in error


def test_titles_give_the_defocus_of_the_channel_shown_and_its_c10():
    values = {"defocus": 12.0, "Cs": -15e4, "C5": 2e7, "astigmatism": 30.0, "focal_spread": 25.0, "blur": 0.1,
              "dose": 0.0, "sampling": 0.12, "dihedral": 3}
    params = {key: np.array([value]) for key, value in values.items()}
    # gold_counting's first channel: abTEM defocus 170 Å + the drawn 12 Å = 182 Å, i.e. C10 = -182 Å (underfocus).
    title = microscope_title(params, 0, defocus_offset=170.0)
    assert title.splitlines()[0] == "C10 = -182 Å"
    assert "Cs -15.0 µm, C5 2.0 mm, A1 30 Å" in title and "no noise" in title
    assert microscope_title(params, 0).startswith("C10 = -12 Å")
