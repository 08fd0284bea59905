import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from atomsight.tiling import predict_tiled


def box_filter(size: int):
    """A local, translation-equivariant 'network': a size x size box filter, outputs [x, 2x]."""

    def predict(batch: np.ndarray) -> np.ndarray:
        smooth = ndimage.uniform_filter(batch, size=(1, size, size, 1), mode="reflect")
        return np.concatenate([smooth, 2 * smooth], axis=-1)

    return predict


class Counting:
    """Records the shape of every batch it is called with and returns it unchanged."""

    def __init__(self):
        self.shapes = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.shapes.append(batch.shape)
        return batch


@pytest.mark.parametrize("shape", [(300, 200), (1000, 700), (517, 333)])
@pytest.mark.parametrize("size", [5, 63])  # 63: receptive-field radius 31, just under overlap // 2 = 32
def test_tiled_equals_untiled_away_from_the_border(shape, size):
    image = np.random.default_rng(0).normal(size=shape + (1,)).astype(np.float32)
    predict = box_filter(size)
    tiled = predict_tiled(predict, image, tile=256, overlap=64)
    untiled = predict(image[None])[0]
    assert tiled.shape == shape + (2,)
    # Only the padding at the far ends differs from the untiled filter's own reflection,
    # and it reaches one filter radius into the image.
    r = size // 2
    np.testing.assert_allclose(tiled[: -r, : -r], untiled[: -r, : -r], atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    height=st.integers(16, 300),
    width=st.integers(16, 300),
    tile_in_multiples=st.integers(4, 16),
    overlap_fraction=st.floats(0.0, 0.9),
    data=st.data(),
)
def test_any_receptive_field_up_to_half_the_overlap_is_stitched_exactly(height, width, tile_in_multiples, overlap_fraction, data):
    tile = 8 * tile_in_multiples
    overlap = int(overlap_fraction * tile)
    radius = data.draw(st.integers(0, overlap // 2), label="radius")
    image = np.random.default_rng(height * width).normal(size=(height, width, 1)).astype(np.float32)
    predict = box_filter(2 * radius + 1)
    tiled = predict_tiled(predict, image, tile=tile, overlap=overlap)
    untiled = predict(image[None])[0]
    inside = (slice(0, height - radius), slice(0, width - radius))
    np.testing.assert_allclose(tiled[inside], untiled[inside], atol=1e-5)


def test_a_small_image_is_predicted_in_one_call_padded_to_the_multiple():
    counting = Counting()
    image = np.random.default_rng(1).normal(size=(203, 150, 2))
    result = predict_tiled(counting, image, tile=256, overlap=64, multiple=8)
    assert counting.shapes == [(1, 208, 152, 2)]
    np.testing.assert_array_equal(result, image.astype(np.float32))


def test_a_large_image_is_predicted_in_overlapping_tiles():
    counting = Counting()
    image = np.random.default_rng(2).normal(size=(1000, 700, 1))
    result = predict_tiled(counting, image, tile=256, overlap=64)
    # Padded to 1000 x 704; tiles every 192 pixels plus one aligned to the end:
    # rows start at 0, 192, 384, 576, 744 and columns at 0, 192, 384, 448.
    assert len(counting.shapes) == 5 * 4
    assert set(counting.shapes) == {(1, 256, 256, 1)}
    np.testing.assert_array_equal(result, image.astype(np.float32))


def test_a_side_shorter_than_the_tile_is_not_cut():
    counting = Counting()
    predict_tiled(counting, np.ones((600, 100, 1)), tile=256, overlap=64)
    assert set(counting.shapes) == {(1, 256, 104, 1)}
    assert len(counting.shapes) == 3  # rows start at 0, 192, 344


@pytest.mark.parametrize(("tile", "overlap"), [(250, 64), (0, 0), (256, -1), (256, 256)])
def test_invalid_tiling_raises(tile, overlap):
    with pytest.raises(ValueError, match="tile|overlap"):
        predict_tiled(box_filter(5), np.ones((64, 64, 1)), tile=tile, overlap=overlap)


def test_a_predict_that_changes_the_size_raises():
    with pytest.raises(ValueError, match="predict must map"):
        predict_tiled(lambda batch: batch[:, ::2], np.ones((64, 64, 1)))
