import shutil

import dask.array as da
import numpy as np
import pytest

from atomsight.io.lazy import open_split, split_dataarray
from atomsight.io.store import StoreError, open_shard, shard_attrs


@pytest.fixture
def graphene_train(tiny_stores):
    stores = tiny_stores["graphene"]["train"]
    assert len(stores) == 2  # 3 structures in shards of 2
    return stores[0].parent


@pytest.mark.parametrize("array", ["array0", "labels"])
def test_a_split_is_its_shards_joined_lazily(graphene_train, array):
    joined = open_split(graphene_train, array)
    assert isinstance(joined, da.Array)
    assert joined.chunks[0] == (1, 1, 1)  # one chunk per structure, as stored
    stores = sorted(graphene_train.glob("shard-*.zarr"))
    expected = np.concatenate([open_shard(store)[array][:] for store in stores])
    np.testing.assert_array_equal(joined.compute(), expected)


def test_the_dataarray_has_coordinates_in_angstrom(graphene_train):
    attrs = shard_attrs(open_shard(graphene_train / "shard-000.zarr"))
    waves = split_dataarray(graphene_train)
    assert waves.dims == ("structure", "x", "y") and waves.name == "exit_wave"
    assert waves.chunks is not None  # still lazy
    assert waves.x.attrs["units"] == "Å"
    np.testing.assert_allclose(np.diff(waves.x), attrs["sampling"][0])
    assert waves.x[-1] + attrs["sampling"][0] == pytest.approx(attrs["extent"][0])
    np.testing.assert_array_equal(waves.sel(structure=2).values,
                                  open_shard(graphene_train / "shard-001.zarr")["array0"][0])
    labels = split_dataarray(graphene_train, "labels")
    assert labels.dims == ("structure", "class_name", "x", "y")
    assert list(labels.class_name.values) == ["atom"]
    assert labels.attrs["energy"] == 80e3


def test_a_missing_shard_is_named(graphene_train, tmp_path):
    copy = shutil.copytree(graphene_train, tmp_path / "train")
    shutil.rmtree(copy / "shard-000.zarr")
    with pytest.raises(StoreError, match="shard-001.zarr: holds structures 2-2, expected them to start at 0"):
        open_split(copy)


def test_a_folder_without_stores_or_an_unknown_array_is_an_error(graphene_train, tmp_path):
    with pytest.raises(StoreError, match="no shard stores"):
        open_split(tmp_path)
    with pytest.raises(ValueError, match="'waves'"):
        open_split(graphene_train, "waves")
