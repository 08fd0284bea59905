import pytest

from atomsight.cli import main
from atomsight.io.inspection import summarize_store
from atomsight.simulation.exitwaves import build_shard
from atomsight.structures.build import generate_split, write_structures


@pytest.fixture(scope="module")
def graphene_store(tiny_config, tmp_path_factory):
    system = tiny_config["systems"]["graphene"]
    folder = tmp_path_factory.mktemp("graphene")
    path = write_structures(generate_split(system, "train", progress=False), folder / "train.extxyz")
    return build_shard(system, name="graphene", split="train", shard=0, structures_path=path,
                       store_path=folder / "shard-000.zarr", device="cpu", progress=False)


def test_summary_names_the_system_grid_and_classes(graphene_store):
    text = summarize_store(graphene_store)
    assert "graphene (train split, shard 0, seed 11)" in text
    assert "120 x 120 pixels" in text
    assert "['atom']" in text


def test_inspect_command_prints_and_plots(graphene_store, tmp_path, capsys):
    out = tmp_path / "look.png"
    assert main(["inspect", str(graphene_store), "--out", str(out), "--count", "2"]) == 0
    assert "structures   2" in capsys.readouterr().out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000


def test_inspect_of_a_missing_store_is_a_clear_error(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nope.zarr")]) == 2
    assert "nope.zarr: no such store" in capsys.readouterr().err
