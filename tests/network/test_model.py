import numpy as np
import pytest

keras = pytest.importorskip("keras")

from atomsight.device import onednn_capped_below_bfloat16  # noqa: E402
from atomsight.network.model import BilinearUpsampling, build_model, receptive_field  # noqa: E402


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)


def _bilinear_kernel_4x4() -> np.ndarray:
    """The analytic 2x bilinear kernel: outer product of [1, 3, 3, 1] / 4."""
    w = np.array([1.0, 3.0, 3.0, 1.0]) / 4.0
    return np.outer(w, w)


@pytest.mark.parametrize("input_channels", [1, 3])
@pytest.mark.parametrize("shape", [(32, 32), (48, 40), (16, 56)])
def test_output_is_a_probability_map_of_the_input_size(shape, input_channels):
    model = build_model(input_channels=input_channels, n_classes=3, base_filters=4)
    x = np.random.default_rng(0).normal(size=(2, *shape, input_channels)).astype("float32")
    p = keras.ops.convert_to_numpy(model(x, training=False))
    assert p.shape == (2, *shape, 3)
    assert p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, atol=1e-5)
    assert p.min() >= 0.0 and p.max() <= 1.0


def test_transposed_kernels_start_as_bilinear_interpolation():
    model = build_model(base_filters=4)
    transposed = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert transposed
    for layer in transposed:
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        channels = kernel.shape[-1]
        expected = np.zeros((4, 4, channels, channels))
        for i in range(channels):
            expected[:, :, i, i] = _bilinear_kernel_4x4()
        np.testing.assert_allclose(kernel, expected, atol=0)
        assert not layer.use_bias


def test_bilinear_initializer_rejects_channel_changes():
    with pytest.raises(ValueError, match="channel"):
        BilinearUpsampling()((4, 4, 2, 4))


def _upsample(image: np.ndarray) -> np.ndarray:
    layer = keras.layers.Conv2DTranspose(
        image.shape[-1], 4, strides=2, padding="same", use_bias=False, kernel_initializer=BilinearUpsampling()
    )
    return keras.ops.convert_to_numpy(layer(image[None].astype("float32")))[0]


def test_bilinear_transposed_convolution_upsamples_ramps_and_constants():
    n = 12
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    ramps = np.stack([2.0 * i - 0.5 * j + 1.0, 3.0 * j, np.full((n, n), 7.0)], axis=-1)
    out = _upsample(ramps)
    assert out.shape == (2 * n, 2 * n, 3)
    # Half-pixel-centred 2x upsampling: output pixel o samples input coordinate (o - 0.5) / 2.
    # Channels do not mix. The outermost output row/column sees the zero padding.
    oi, oj = np.meshgrid((np.arange(2 * n) - 0.5) / 2, (np.arange(2 * n) - 0.5) / 2, indexing="ij")
    expected = np.stack([2.0 * oi - 0.5 * oj + 1.0, 3.0 * oj, np.full_like(oi, 7.0)], axis=-1)
    inner = (slice(1, -1), slice(1, -1))
    np.testing.assert_allclose(out[inner], expected[inner], atol=1e-4)


def _count(model, kind, **attrs):
    return sum(isinstance(layer, kind) and all(getattr(layer, k) == v for k, v in attrs.items())
               for layer in model.layers)


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_levels(depth):
    model = build_model(base_filters=2, depth=depth)
    assert _count(model, keras.layers.MaxPooling2D) == depth - 1
    assert _count(model, keras.layers.Conv2DTranspose) == depth - 1
    convs_3x3 = [layer for layer in model.layers if type(layer) is keras.layers.Conv2D and layer.kernel_size == (3, 3)]
    assert len(convs_3x3) == 5 * (2 * (depth - 1) + 1)
    assert max(layer.filters for layer in convs_3x3) == 2 * 2 ** (depth - 1)
    size = 2 ** (depth - 1) * 3
    assert model(np.zeros((1, size, size, 1), "float32")).shape == (1, size, size, 2)


def test_weight_decay_regularises_every_kernel():
    model = build_model(base_filters=2, depth=2, weight_decay=1e-3)
    convolutions = (keras.layers.Conv2D, keras.layers.Conv2DTranspose)
    kernels = [layer for layer in model.layers if isinstance(layer, convolutions)]
    assert all(isinstance(layer.kernel_regularizer, keras.regularizers.L2) for layer in kernels)
    assert len(model.losses) == len(kernels)
    assert not build_model(base_filters=2, depth=2).losses


def test_save_and_reload_gives_identical_predictions(tmp_path):
    model = build_model(base_filters=4, n_classes=3, weight_decay=1e-4)
    x = np.random.default_rng(1).normal(size=(2, 32, 24, 1)).astype("float32")
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(reloaded(x, training=False), model(x, training=False), atol=1e-6)
    assert reloaded.name == "fusionnet"
    assert isinstance(reloaded.get_layer("up0_upsample").kernel_initializer, BilinearUpsampling)


def test_a_few_training_steps_lower_the_loss():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 32, 32, 1)).astype("float32")
    target = np.concatenate([x <= 0.5, x > 0.5], axis=-1).astype("float32")  # background, object
    model = build_model(base_filters=4)
    # Eager: 20 small steps (~0.5 s each on 2 cores) beat tracing the training graph (~12 s).
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", run_eagerly=True)
    losses = [float(model.train_on_batch(x, target)) for _ in range(20)]
    assert np.mean(losses[-3:]) < 0.8 * losses[0]


@pytest.mark.skipif(onednn_capped_below_bfloat16(), reason="oneDNN capped below bfloat16 refuses its convolutions")
def test_mixed_bfloat16_computes_in_bfloat16_and_returns_float32_probabilities():
    model = build_model(n_classes=3, base_filters=4, depth=2, precision="mixed_bfloat16")
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left as it was
    conv = model.get_layer("down0_1_conv")
    assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == "float32"
    assert model.get_layer("scores").compute_dtype == model.get_layer("probabilities").compute_dtype == "float32"
    x = np.random.default_rng(3).normal(size=(2, 16, 16, 1)).astype("float32")
    p = keras.ops.convert_to_numpy(model(x, training=False))
    assert p.dtype == np.float32
    # Softmax in float32 of bfloat16 scores: sums to 1 to float32 rounding, not bfloat16's 4e-3.
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, atol=1e-6)
    assert build_model(base_filters=4, depth=2).get_layer("down0_1_conv").compute_dtype == "float32"


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"n_classes": 1}, "n_classes"), ({"depth": 0}, "depth"), ({"base_filters": 0}, "base_filters"),
     ({"input_channels": 0}, "input_channels"), ({"weight_decay": -1.0}, "weight_decay"),
     ({"precision": "float16"}, "precision")],
)
def test_invalid_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        build_model(**kwargs)


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_receptive_field_by_hand_count(depth):
    # Longest path: 5 3x3 convolutions per residual block, each widening the field by its level's jump on
    # both sides: 5 (1 + 2 + ... + 2**(d-2)) down, 5 * 2**(d-1) at the bottom and 5 (1 + ... + 2**(d-2)) up,
    # 5 (3 * 2**(d-1) - 2) in all. Each 2x2 pooling adds its input's jump on one side only and each
    # transposed convolution (kernel 4, stride 2, "same") its input's jump on one side and half on the
    # other, so the two sides gain 2**d - 2 each: 17 * 2**(d-1) - 12 pixels; 124 at depth 4.
    assert receptive_field(build_model(base_filters=1, depth=depth)) == 17 * 2 ** (depth - 1) - 12


@pytest.fixture
def float64():
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx("float32")


@pytest.mark.parametrize("depth", [2, 4])
def test_receptive_field_is_how_far_one_input_pixel_changes_the_output(depth, float64):
    """One pixel of 1 on zeros, through the network with random positive kernels: the outputs it reaches."""
    model = build_model(base_filters=2, depth=depth)
    rng = np.random.default_rng(depth)
    # Positive kernels, zero biases and fresh batch norms (mean 0, variance 1) keep every activation >= 0
    # and > 0 wherever the pixel reaches, so no path cancels or is cut by a ReLU; float64 keeps the
    # farthest outputs, ~1e-37 at depth 4, above underflow.
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            shape = layer.kernel.shape
            layer.kernel.assign(rng.uniform(0.5, 1.5, shape) / np.prod(shape[:-1]))
    scores = keras.Model(model.input, model.get_layer("scores").output)
    multiple, radius = 2 ** (depth - 1), receptive_field(model)
    size = 2 * radius + 4 * multiple
    centre = size // 2 - multiple
    # The reach depends on where the pixel lies in the pooling grid: try every phase along both axes.
    x = np.zeros((multiple, size, size, 1))
    for phase in range(multiple):
        x[phase, centre + phase, centre + phase] = 1.0
    reached = keras.ops.convert_to_numpy(scores(x, training=False)) != 0
    reach = 0
    for phase in range(multiple):
        for axis in (0, 1):
            hit = np.flatnonzero(reached[phase].any(axis=(1 - axis, 2)))
            reach = max(reach, centre + phase - hit.min(), hit.max() - centre - phase)
    assert reach == radius


def test_receptive_field_refuses_unknown_layers():
    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, keras.layers.UpSampling2D(name="zoom")(inputs))
    with pytest.raises(TypeError, match="'zoom' of type UpSampling2D"):
        receptive_field(model)
