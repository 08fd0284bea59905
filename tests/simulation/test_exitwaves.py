import numpy as np
import pytest

from atomsight.io.store import open_shard, read_ground_truth, shard_attrs
from atomsight.simulation.exitwaves import build_shard
from atomsight.structures.build import generate_split, write_structures


@pytest.fixture(scope="module")
def gold_shard(tiny_config, tmp_path_factory):
    system = tiny_config["systems"]["gold"]
    folder = tmp_path_factory.mktemp("gold")
    structures = generate_split(system, "train", progress=False)
    path = write_structures(structures, folder / "train.extxyz")
    store = build_shard(system, name="gold", split="train", shard=0, structures_path=path,
                        store_path=folder / "shard-000.zarr", device="cpu", threads=2, progress=False)
    return system, structures, open_shard(store)


def test_shard_holds_every_structure_of_its_range(gold_shard):
    system, structures, root = gold_shard
    assert root["index"][:].tolist() == [0, 1]
    nx, ny = root["array0"].shape[1:]
    assert (nx, ny) == (200, 200)  # 24 Å at 0.12 Å/pixel
    assert root["labels"].shape == (2, 3, 200, 200)


def test_ground_truth_counts_every_atom_once(gold_shard):
    _, structures, root = gold_shard
    for j, atoms in enumerate(structures):
        truth = read_ground_truth(root, j)
        assert truth.heights.sum() == len(atoms)
        assert truth.classes.tolist() == (np.minimum(truth.heights, 3) - 1).tolist()


def test_label_peaks_sit_on_the_columns(gold_shard):
    _, _, root = gold_shard
    sampling = shard_attrs(root)["sampling"]
    labels = root["labels"][0]
    truth = read_ground_truth(root, 0)
    for (x, y), k in zip(truth.positions, truth.classes):
        i, j = int(round(x / sampling[0])), int(round(y / sampling[1]))
        assert labels[k, i, j] > 0.95  # within half a pixel (0.06 Å) of the centre: exp(-0.085^2/2) > 0.99


def test_attributes_describe_the_shard(gold_shard):
    system, _, root = gold_shard
    attrs = shard_attrs(root)
    assert attrs["system"] == "gold" and attrs["split"] == "train" and attrs["seed"] == system["seed"]
    assert attrs["class_names"] == ["column-1", "column-2", "column-3+"]
    assert attrs["energy"] == 300e3 and len(attrs["config_hash"]) == 16
    assert attrs["simulation"]["thermal"] == {"rms_displacement": {"C": 0.043, "Au": 0.0897}}  # the schema's default


def test_exit_waves_are_those_of_a_heavy_particle_in_vacuum(gold_shard):
    _, _, root = gold_shard
    wave = root["array0"][0]
    corner = np.abs(wave[:10, :10])
    np.testing.assert_allclose(corner, 1.0, atol=0.05)  # vacuum around the particle
    # A Au atom shifts the phase of a 300 kV wave by about 0.3 rad; columns of several atoms by more.
    assert np.abs(np.angle(wave)).max() > 0.5
