import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from atomsight.network.model import build_model, receptive_field
from atomsight.network.tiling import predict_tiled, tile_margin, tile_starts


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
@pytest.mark.parametrize("size", [5, 63])  # 63: receptive-field radius 31, margin 32
def test_tiled_equals_untiled_away_from_the_border(shape, size):
    image = np.random.default_rng(0).normal(size=shape + (1,)).astype(np.float32)
    predict = box_filter(size)
    tiled = predict_tiled(predict, image, receptive_field=size // 2, multiple=8, tile=256)
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
    tile_in_multiples=st.integers(1, 16),
    data=st.data(),
)
def test_any_receptive_field_is_stitched_exactly(height, width, tile_in_multiples, data):
    tile = 8 * tile_in_multiples
    radius = data.draw(st.integers(0, 8 * ((tile - 8) // 16)), label="radius")  # margin <= (tile - 8) / 2
    image = np.random.default_rng(height * width).normal(size=(height, width, 1)).astype(np.float32)
    predict = box_filter(2 * radius + 1)
    tiled = predict_tiled(predict, image, receptive_field=radius, multiple=8, tile=tile)
    untiled = predict(image[None])[0]
    # The padding at the far ends reaches one radius in (all of an image smaller than the radius).
    inside = (slice(0, max(height - radius, 0)), slice(0, max(width - radius, 0)))
    np.testing.assert_allclose(tiled[inside], untiled[inside], atol=1e-5)


def test_a_small_image_is_predicted_in_one_call_padded_to_the_multiple():
    counting = Counting()
    image = np.random.default_rng(1).normal(size=(203, 150, 2))
    result = predict_tiled(counting, image, receptive_field=32, multiple=8, tile=256)
    assert counting.shapes == [(1, 208, 152, 2)]
    np.testing.assert_array_equal(result, image.astype(np.float32))


def test_a_large_image_is_predicted_in_overlapping_tiles():
    counting = Counting()
    image = np.random.default_rng(2).normal(size=(1000, 700, 1))
    result = predict_tiled(counting, image, receptive_field=32, multiple=8, tile=256)
    # Margin 32, overlap 64. Padded to 1000 x 704: 5 rows of tiles of 256 starting at 0, 184, 368, 560, 744
    # and 4 columns of 224 (the smallest that 4 cover) at 0, 160, 320, 480.
    assert len(counting.shapes) == 5 * 4
    assert set(counting.shapes) == {(1, 256, 224, 1)}
    np.testing.assert_array_equal(result, image.astype(np.float32))


def test_a_side_shorter_than_the_tile_is_not_cut():
    counting = Counting()
    predict_tiled(counting, np.ones((600, 100, 1)), receptive_field=32, multiple=8, tile=256)
    assert set(counting.shapes) == {(1, 248, 104, 1)}
    assert len(counting.shapes) == 3  # rows start at 0, 176, 352


@settings(max_examples=200, deadline=None)
@given(length=st.integers(1, 400), tile=st.integers(2, 64), overlap=st.integers(0, 30),
       multiple=st.sampled_from([1, 8]))
def test_tiles_are_the_fewest_and_smallest_that_cover_the_side_with_the_overlap(length, tile, overlap, multiple):
    length, tile, overlap = (multiple * n for n in (length, tile, min(overlap, tile - 1)))
    size, starts = tile_starts(length, tile, overlap, multiple)
    ends = [start + size for start in starts]
    assert size <= max(tile, length) and size % multiple == 0 and all(start % multiple == 0 for start in starts)
    assert starts[0] == 0 and ends[-1] == length
    assert all(end - start >= overlap for start, end in zip(starts[1:], ends[:-1]))  # neighbours overlap enough
    count = len(starts)
    if count > 1:
        assert length <= tile or (count - 1) * tile - (count - 2) * overlap < length  # one tile fewer cannot cover
        assert (size - multiple) * count - overlap * (count - 1) < length  # nor can smaller ones


def test_a_2048_image_takes_nine_tiles_of_856_for_the_papers_network():
    """Receptive field 124 px, margin 128: 3 x 3 tiles of 856 pixels instead of 1024, 30 % fewer pixels."""
    assert tile_starts(2048, 1024, 256, 8) == (856, [0, 592, 1192])


@pytest.mark.parametrize(
    ("tile", "radius", "message"),
    [(250, 32, "multiple of 8"), (0, 0, "multiple of 8"), (256, 125, "margin of 128 .* at least 264"),
     (256, -1, "receptive_field >= 0")],
)
def test_invalid_tiling_raises(tile, radius, message):
    with pytest.raises(ValueError, match=message):
        predict_tiled(box_filter(5), np.ones((64, 64, 1)), receptive_field=radius, multiple=8, tile=tile)


def test_a_predict_that_changes_the_size_raises():
    with pytest.raises(ValueError, match="predict must map"):
        predict_tiled(lambda batch: batch[:, ::2], np.ones((64, 64, 1)), receptive_field=0, multiple=8)


@pytest.mark.parametrize(("radius", "multiple", "margin"), [(0, 8, 0), (124, 8, 128), (128, 8, 128), (22, 2, 22)])
def test_the_margin_is_the_receptive_field_rounded_up_to_the_size_multiple(radius, multiple, margin):
    assert tile_margin(radius, multiple) == margin


def test_the_real_network_predicted_in_tiles_equals_the_whole_image():
    """The paper's network (depth 4, receptive field 124 px; 4 features to stay fast), random weights."""
    keras.utils.set_random_seed(0)
    model = build_model(base_filters=4, depth=4)
    # Batch-norm statistics of a random image, as training leaves them: every layer's output has unit
    # variance, so a pixel's influence reaches as far as in a trained network (with the initial
    # statistics it fades within ~100 px and a 32 px margin already agrees to 1e-5).
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    model(np.random.default_rng(1).normal(size=(2, 256, 256, 1)).astype(np.float32), training=True)
    predict = lambda batch: keras.ops.convert_to_numpy(model(batch, training=False))  # noqa: E731
    image = np.random.default_rng(0).normal(size=(650, 420, 1)).astype(np.float32)
    radius = receptive_field(model)
    whole = predict_tiled(predict, image, receptive_field=radius, multiple=8, tile=1024)
    # Tiles of 384 px with 128 px margins: 4 x 2 tiles, two of them cut on all four sides.
    tiled = predict_tiled(predict, image, receptive_field=radius, multiple=8, tile=384)
    assert whole.std() > 0.1
    # The same sums in a different order (the convolution algorithm depends on the input size): ~1e-6.
    assert np.abs(tiled - whole).max() < 1e-4
    # The 32 px margin used before this was derived from the network leaves seams of order 0.1-0.5.
    assert np.abs(predict_tiled(predict, image, receptive_field=32, multiple=8, tile=384) - whole).max() > 1e-2
