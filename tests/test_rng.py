import numpy as np
import pytest

from atomsight.rng import structure_rng


def test_same_arguments_give_the_same_stream():
    assert np.array_equal(structure_rng(5, "train", 7).random(8), structure_rng(5, "train", 7).random(8))


@pytest.mark.parametrize("other", [(6, "train", 7), (5, "test", 7), (5, "train", 8)])
def test_any_changed_argument_gives_another_stream(other):
    assert not np.array_equal(structure_rng(5, "train", 7).random(8), structure_rng(*other).random(8))


def test_unknown_split_is_named():
    with pytest.raises(ValueError, match="'valid'"):
        structure_rng(1, "valid", 0)


def test_negative_index_is_rejected():
    with pytest.raises(ValueError, match="index=-1"):
        structure_rng(1, "train", -1)
