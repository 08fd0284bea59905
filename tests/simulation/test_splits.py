import pytest

from atomsight.simulation.splits import shard_count, shard_indices, shard_name


def test_shards_cover_the_split_once_in_order():
    indices = [i for k in range(shard_count(103, 20)) for i in shard_indices(103, 20, k)]
    assert indices == list(range(103))
    assert shard_count(103, 20) == 6
    assert list(shard_indices(103, 20, 5)) == [100, 101, 102]


def test_missing_shard_is_reported():
    with pytest.raises(ValueError, match="shard 6 does not exist"):
        shard_indices(103, 20, 6)


def test_shard_name_is_zero_padded():
    assert shard_name(7) == "shard-007.zarr"
