import abtem
import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

from atomsight.io import store
from atomsight.io.store import GroundTruth, ShardWriter, StoreError, open_shard, read_ground_truth, shard_attrs

DESCRIPTION = "exit waves, |psi|^2 = 1 in vacuum"


def make_waves(n: int, gpts=(24, 20), seed: int = 0) -> abtem.Waves:
    rng = np.random.default_rng(seed)
    array = (rng.normal(size=(n, *gpts)) + 1j * rng.normal(size=(n, *gpts))).astype(np.complex64)
    from abtem.core.axes import OrdinalAxis

    return abtem.Waves(
        array, energy=80e3, sampling=(0.1, 0.11),
        ensemble_axes_metadata=[OrdinalAxis(label="structure", values=tuple(range(10, 10 + n)))],
    )


def make_truths(counts, seed: int = 0) -> list[GroundTruth]:
    rng = np.random.default_rng(seed)
    return [
        GroundTruth(rng.uniform(0, 2, (c, 2)), rng.integers(1, 5, c), rng.integers(0, 2, c)) for c in counts
    ]


def write_shard(path, *, waves, labels, ground_truth, indices, attrs):
    """Write a whole shard through the store's writer, structure by structure."""
    with ShardWriter(path, template=waves, n_classes=labels.shape[1], description=DESCRIPTION) as writer:
        for j, (wave, maps) in enumerate(zip(np.asarray(waves.array), labels)):
            writer.write(j, wave, maps)
        return writer.close(ground_truth=ground_truth, indices=indices, attrs=attrs)


def write_example(path, counts=(3, 0, 5)):
    n = len(counts)
    waves = make_waves(n)
    labels = np.random.default_rng(1).uniform(size=(n, 2, *waves.gpts)).astype(np.float32)
    truths = make_truths(counts)
    attrs = {"system": "toy", "split": "train", "shard": 0, "class_names": ["a", "b"]}
    write_shard(path, waves=waves, labels=labels, ground_truth=truths, indices=list(range(10, 10 + n)), attrs=attrs)
    return waves, labels, truths


def test_round_trip_of_every_array(tmp_path):
    path = tmp_path / "shard-000.zarr"
    waves, labels, truths = write_example(path)
    root = open_shard(path)
    np.testing.assert_array_equal(root["array0"][:], waves.array)
    np.testing.assert_array_equal(root["labels"][:], labels)
    assert root["index"][:].tolist() == [10, 11, 12]
    for j, truth in enumerate(truths):
        got = read_ground_truth(root, j)
        np.testing.assert_allclose(got.positions, truth.positions, rtol=1e-6)
        assert got.heights.tolist() == truth.heights.tolist()
        assert got.classes.tolist() == truth.classes.tolist()


def test_one_structure_per_chunk_with_dimension_names(tmp_path):
    path = tmp_path / "s.zarr"
    write_example(path)
    root = zarr.open_group(path, mode="r")
    assert root["array0"].chunks == (1, 24, 20)
    assert root["array0"].metadata.dimension_names == ("structure", "x", "y")
    assert root["labels"].chunks == (1, 2, 24, 20)
    assert root["labels"].metadata.dimension_names == ("structure", "class", "x", "y")


def test_abtem_reads_the_store_as_waves_with_a_structure_axis(tmp_path):
    path = tmp_path / "s.zarr"
    waves, _, _ = write_example(path)
    loaded = abtem.from_zarr(str(path))
    assert isinstance(loaded, abtem.Waves)
    assert loaded.energy == 80e3
    assert loaded.sampling == pytest.approx((0.1, 0.11))
    assert loaded.ensemble_axes_metadata[0].label == "structure"
    assert tuple(loaded.ensemble_axes_metadata[0].values) == (10, 11, 12)
    np.testing.assert_array_equal(loaded.compute().array, waves.array)


def test_attributes_record_grid_energy_and_versions(tmp_path):
    path = tmp_path / "s.zarr"
    write_example(path)
    attrs = shard_attrs(open_shard(path))
    assert attrs["sampling"] == pytest.approx([0.1, 0.11])
    assert attrs["extent"] == pytest.approx([2.4, 2.2])
    assert attrs["energy"] == 80e3
    assert attrs["class_names"] == ["a", "b"]
    assert set(attrs["versions"]) >= {"abtem", "zarr", "atomsight"}


def test_a_failed_write_leaves_no_store_and_no_temporary(tmp_path, monkeypatch):
    def explode(*args, **kwargs):
        raise KeyboardInterrupt  # as if the job were killed half-way

    monkeypatch.setattr(store, "_write_ground_truth", explode)
    with pytest.raises(KeyboardInterrupt):
        write_example(tmp_path / "s.zarr")
    assert list(tmp_path.iterdir()) == []


def test_rewriting_replaces_an_old_store(tmp_path):
    path = tmp_path / "s.zarr"
    write_example(path, counts=(1, 1, 1))
    write_example(path, counts=(2, 2))
    assert open_shard(path)["array0"].shape[0] == 2


def test_incomplete_store_is_reported_with_its_path(tmp_path):
    path = tmp_path / "s.zarr"
    write_example(path)
    import shutil

    shutil.rmtree(path / "labels")
    with pytest.raises(StoreError, match=r"s\.zarr: store lacks the arrays \['labels'\]"):
        open_shard(path)
    with pytest.raises(StoreError, match="no such store"):
        open_shard(tmp_path / "missing.zarr")


def test_mismatched_labels_are_rejected(tmp_path):
    waves = make_waves(2)
    with pytest.raises(StoreError, match=r"labels of shape \(1, 5, 5\)"):
        write_shard(tmp_path / "s.zarr", waves=waves, labels=np.zeros((2, 1, 5, 5)), ground_truth=make_truths([1, 1]),
                    indices=[0, 1], attrs={})
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=4))
def test_ragged_table_round_trips_for_any_counts(tmp_path_factory, counts):
    path = tmp_path_factory.mktemp("ragged") / "s.zarr"
    _, _, truths = write_example(path, counts=tuple(counts))
    root = open_shard(path)
    assert [len(read_ground_truth(root, j).positions) for j in range(len(counts))] == counts


def test_a_store_with_an_unwritten_structure_is_never_completed(tmp_path):
    waves = make_waves(2)
    with pytest.raises(StoreError, match=r"structures \[1\] were never written"):
        with ShardWriter(tmp_path / "s.zarr", template=waves, n_classes=1, description=DESCRIPTION) as writer:
            writer.write(0, waves.array[0], np.zeros((1, *waves.gpts), np.float32))
            writer.close(ground_truth=make_truths([1, 1]), indices=[0, 1], attrs={})
    assert list(tmp_path.iterdir()) == []


def test_writing_a_structure_of_the_wrong_shape_names_the_store(tmp_path):
    waves = make_waves(1)
    with ShardWriter(tmp_path / "s.zarr", template=waves, n_classes=1, description=DESCRIPTION) as writer:
        with pytest.raises(StoreError, match=r"s\.zarr: structure 0 has an exit wave of shape \(3, 3\)"):
            writer.write(0, np.zeros((3, 3), np.complex64), np.zeros((1, 3, 3), np.float32))
