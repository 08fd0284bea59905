import numpy as np
import pytest

from atomsight.structures.build import generate_split, generate_structure, read_structures, write_structures


def test_structure_is_a_pure_function_of_seed_split_and_index(tiny_system):
    a = generate_structure(tiny_system, "train", 2)
    b = generate_split(tiny_system, "train", indices=[2])[0]
    np.testing.assert_array_equal(a.positions, b.positions)
    assert a.info["index"] == 2 and a.info["split"] == "train"


def test_parallel_generation_gives_the_serial_result(tiny_system):
    serial = generate_split(tiny_system, "train", processes=1, progress=False)
    parallel = generate_split(tiny_system, "train", processes=2, progress=False)
    assert len(serial) == tiny_system["splits"]["train"]
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a.positions, b.positions)


def test_splits_and_seeds_give_different_structures(tiny_system):
    train = generate_structure(tiny_system, "train", 0)
    test = generate_structure(tiny_system, "test", 0)
    tiny_system["seed"] += 1
    reseeded = generate_structure(tiny_system, "train", 0)
    for other in (test, reseeded):
        assert len(other) != len(train) or not np.allclose(other.positions, train.positions)


def test_extxyz_round_trip_keeps_positions_columns_and_info(tiny_config, tmp_path):
    gold = tiny_config["systems"]["gold"]
    structures = generate_split(gold, "train", progress=False)
    path = write_structures(structures, tmp_path / "train.extxyz")
    assert [p.name for p in tmp_path.iterdir()] == ["train.extxyz"]
    back = read_structures(path)
    for a, b in zip(structures, back):
        np.testing.assert_allclose(a.positions, b.positions, atol=1e-6)
        np.testing.assert_array_equal(a.arrays["column"], b.arrays["column"])
        assert b.info["index"] == a.info["index"]
    assert len(read_structures(path, [1])) == 1


def test_reading_missing_file_or_index_names_it(tmp_path, tiny_system):
    with pytest.raises(FileNotFoundError, match="nothing.extxyz"):
        read_structures(tmp_path / "nothing.extxyz")
    path = write_structures(generate_split(tiny_system, "test", progress=False), tmp_path / "t.extxyz")
    with pytest.raises(ValueError, match=r"t\.extxyz: holds 2 structures, cannot read indices \[5\]"):
        read_structures(path, [0, 5])


def test_graphene_relax_parameter_reaches_the_generator(tiny_system):
    """``relax: false`` (the paper's sheets) leaves atoms much closer than any bond (< 1.1 Å)."""
    relaxed = generate_structure(tiny_system, "train", 0)
    tiny_system["structures"]["parameters"] = {**tiny_system["structures"]["parameters"], "relax": False}
    paper = generate_structure(tiny_system, "train", 0)
    assert _nearest_distance(relaxed) > 1.1 > _nearest_distance(paper)


def _nearest_distance(atoms):
    """Smallest distance between two atoms of a sheet periodic along x and y [Å]."""
    d = atoms.positions[None, :, :2] - atoms.positions[:, None, :2]
    box = atoms.cell.lengths()[:2]
    d -= box * np.round(d / box)
    r = np.hypot(d[..., 0], d[..., 1])
    return r[~np.eye(len(atoms), dtype=bool)].min()
