"""The FusionNet-style fully convolutional network of Madsen et al. (2018), section 2.2.

An encoder-decoder with a residual block of five 3x3 convolutions at every resolution on the
way down and on the way up, max pooling (features doubled by the next block) in the encoder,
transposed convolutions initialised as bilinear interpolation in the decoder, additive long
skips between the two paths, and a 1x1 convolution with a softmax over the classes (eq. 4).

Upsampling design: the paper's "transpose convolutional block" halves the features and
doubles the resolution. A transposed convolution that is literally bilinear interpolation maps
channel i to channel i only, so it cannot change the number of channels. Each decoder level
therefore first halves the features with a linear 1x1 convolution (at the coarse resolution,
where it is cheapest) and then upsamples every channel with a c -> c transposed convolution
(kernel 4, stride 2, no bias) whose kernel starts as the bilinear kernel on its channel
diagonal. Both are linear, so their order does not change what the block can represent.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="atomsight")
class BilinearUpsampling(keras.initializers.Initializer):
    """Kernel of a transposed convolution that performs bilinear interpolation.

    For a kernel of shape ``(kh, kw, channels, channels)`` (Keras' transposed-convolution
    layout, output channels before input channels), ``kernel[:, :, i, i]`` is the separable
    bilinear kernel and every off-diagonal channel pair is zero. Along each axis of size ``k``
    the weights are ``1 - |t - c| / f`` with ``f = ceil(k / 2)`` the upsampling factor and
    ``c = f - 1`` (``k`` odd) or ``f - 0.5`` (``k`` even), as in Long et al.'s FCN. With
    ``k = 4`` and stride 2 this is ``[0.25, 0.75, 0.75, 0.25]``: half-pixel-centred 2x
    bilinear upsampling.
    """

    def __call__(self, shape: tuple[int, ...], dtype: str | None = None) -> keras.KerasTensor:
        """Return the bilinear kernel.

        Parameters
        ----------
        shape : tuple of int
            ``(kh, kw, out_channels, in_channels)``; the channel counts must be equal.
        dtype : str, optional
            The kernel's dtype (default: Keras' float type).

        Returns
        -------
        Tensor
            The kernel.
        """
        kh, kw, n_out, n_in = shape
        if n_out != n_in:
            raise ValueError(f"bilinear upsampling maps each channel to itself; got {n_in} -> {n_out} channels")
        kernel = np.zeros(shape, dtype="float64")
        diagonal = np.arange(n_in)
        kernel[:, :, diagonal, diagonal] = np.outer(_bilinear_weights(kh), _bilinear_weights(kw))[..., None]
        return keras.ops.convert_to_tensor(kernel, dtype=dtype or keras.backend.floatx())

    def get_config(self) -> dict:
        """Return the (empty) configuration: the kernel depends only on its shape."""
        return {}


def _bilinear_weights(size: int) -> np.ndarray:
    """Return the 1D bilinear interpolation weights of a kernel of ``size`` taps."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    return 1.0 - np.abs(np.arange(size) - center) / factor


def _conv_relu_bn(x: keras.KerasTensor, filters: int, name: str, regularizer) -> keras.KerasTensor:
    """3x3 convolution, then ReLU, then batch normalisation (the paper's order)."""
    x = keras.layers.Conv2D(filters, 3, padding="same", kernel_regularizer=regularizer, name=f"{name}_conv")(x)
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return keras.layers.BatchNormalization(name=f"{name}_bn")(x)


def residual_block(x: keras.KerasTensor, filters: int, name: str, regularizer=None) -> keras.KerasTensor:
    """Five 3x3 conv-ReLU-BN layers; an additive skip bypasses the middle three.

    ``x1 = conv1(x); x4 = conv4(conv3(conv2(x1))); out = conv5(x1 + x4)``. The first layer
    sets the number of feature maps, so it doubles them after a pooling step.

    Parameters
    ----------
    x : KerasTensor
        Input features ``(batch, H, W, C)``.
    filters : int
        Feature maps of all five convolutions.
    name : str
        Prefix of the layer names.
    regularizer : keras.regularizers.Regularizer, optional
        Applied to every convolution kernel.

    Returns
    -------
    KerasTensor
        ``(batch, H, W, filters)``.
    """
    x1 = _conv_relu_bn(x, filters, f"{name}_1", regularizer)
    x4 = x1
    for i in (2, 3, 4):
        x4 = _conv_relu_bn(x4, filters, f"{name}_{i}", regularizer)
    x = keras.layers.Add(name=f"{name}_skip")([x1, x4])
    return _conv_relu_bn(x, filters, f"{name}_5", regularizer)


def upsample_block(x: keras.KerasTensor, filters: int, name: str, regularizer=None) -> keras.KerasTensor:
    """Halve the features (linear 1x1 convolution), then 2x bilinear-initialised transposed convolution.

    Parameters
    ----------
    x : KerasTensor
        Input features ``(batch, H, W, C)``.
    filters : int
        Output feature maps (``C / 2`` in the network).
    name : str
        Prefix of the layer names.
    regularizer : keras.regularizers.Regularizer, optional
        Applied to both kernels.

    Returns
    -------
    KerasTensor
        ``(batch, 2 H, 2 W, filters)``.
    """
    x = keras.layers.Conv2D(filters, 1, kernel_regularizer=regularizer, name=f"{name}_project")(x)
    return keras.layers.Conv2DTranspose(
        filters, 4, strides=2, padding="same", use_bias=False, kernel_initializer=BilinearUpsampling(),
        kernel_regularizer=regularizer, name=f"{name}_upsample",
    )(x)


PRECISIONS = ("float32", "mixed_bfloat16")
"""Keras dtype policies the network can be built with (``training.precision``)."""


def build_model(
    *, input_channels: int = 1, n_classes: int = 2, base_filters: int = 32, depth: int = 4,
    weight_decay: float = 0.0, precision: str = "float32", name: str = "fusionnet",
) -> keras.Model:
    """Build the network of Madsen et al. (2018), fig. 2.

    Parameters
    ----------
    input_channels : int
        Channels of the input images (1 for one HRTEM image).
    n_classes : int
        Output classes, background included; the softmax runs over them.
    base_filters : int
        Feature maps at full resolution; level ``l`` has ``base_filters * 2**l``.
    depth : int
        Number of resolutions; the coarsest is ``1 / 2**(depth - 1)`` (1/8 in the paper, depth 4).
        Input height and width must be divisible by ``2**(depth - 1)``.
    weight_decay : float
        When > 0, every convolution kernel (3x3, 1x1 and transposed) gets the penalty
        ``weight_decay * sum(W**2)`` (``keras.regularizers.L2(weight_decay)``); the paper's
        eq. 6 writes it as ``lambda / 2 * sum(W**2)``, so ``lambda = 2 * weight_decay``.
    precision : {"float32", "mixed_bfloat16"}
        Keras dtype policy of every layer but the output head: with "mixed_bfloat16" the
        layers compute in bfloat16 and keep float32 weights. The head, the 1x1 scores
        convolution and the softmax, always computes in float32 (it is cheap: a few output
        channels) and returns float32 probabilities.
    name : str
        The model's name.

    Returns
    -------
    keras.Model
        Maps ``(batch, H, W, input_channels)`` to float32 class probabilities ``(batch, H, W, n_classes)``.

    Raises
    ------
    ValueError
        If an argument is out of range.
    """
    for arg, value, low in (("input_channels", input_channels, 1), ("n_classes", n_classes, 2),
                            ("base_filters", base_filters, 1), ("depth", depth, 1)):
        if int(value) != value or value < low:
            raise ValueError(f"{arg} must be an integer >= {low}, got {value!r}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    regularizer = keras.regularizers.L2(weight_decay) if weight_decay > 0 else None
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)  # the layers below take the global policy when created
    try:
        return _fusionnet(input_channels, n_classes, base_filters, depth, regularizer, name)
    finally:
        keras.config.set_dtype_policy(previous)


def _fusionnet(
    input_channels: int, n_classes: int, base_filters: int, depth: int,
    regularizer: keras.regularizers.Regularizer | None, name: str,
) -> keras.Model:
    """The layers of :func:`build_model`, in the global dtype policy but for the float32 head."""
    inputs = keras.Input(shape=(None, None, input_channels), name="image")
    x, skips = inputs, []
    for level in range(depth - 1):
        x = residual_block(x, base_filters * 2**level, f"down{level}", regularizer)
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"down{level}_pool")(x)
    x = residual_block(x, base_filters * 2 ** (depth - 1), "bottom", regularizer)
    for level in reversed(range(depth - 1)):
        x = upsample_block(x, base_filters * 2**level, f"up{level}", regularizer)
        x = keras.layers.Add(name=f"up{level}_long_skip")([x, skips[level]])
        x = residual_block(x, base_filters * 2**level, f"up{level}", regularizer)
    x = keras.layers.Conv2D(n_classes, 1, kernel_regularizer=regularizer, dtype="float32", name="scores")(x)
    outputs = keras.layers.Softmax(axis=-1, dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def load_model(path: str | Path) -> keras.Model:
    """Load a saved network (``.keras``), with atomsight's custom objects registered.

    The network is not compiled (its optimiser and loss are not restored: a third less
    loading time); training continues from its own backup, not from this.
    """
    return keras.models.load_model(path, custom_objects={"BilinearUpsampling": BilinearUpsampling}, compile=False,
                                   safe_mode=True)  # a .keras file runs no Python code (a Lambda layer is refused)


HEAD = ("scores", "probabilities")
"""Names of the output head's layers (:func:`build_model`), which compute in float32 in every policy."""


def network_precision(model: keras.Model) -> str:
    """Return the dtype policy a network of :func:`build_model` computes in (its layers but the :data:`HEAD`)."""
    policies = {layer.dtype_policy.name for layer in model.layers if layer.name not in HEAD and layer.weights}
    return "mixed_bfloat16" if "mixed_bfloat16" in policies else "float32"


def with_precision(model: keras.Model, precision: str) -> keras.Model:
    """Return a copy of a network whose layers compute in the dtype policy ``precision``, its head in float32.

    The weights are copied, so a network trained in one of :data:`PRECISIONS` can be
    applied in the other: e.g. a float32 network in bfloat16, faster on CPUs with
    AVX-512 BF16 and on GPUs.

    Parameters
    ----------
    model : keras.Model
        A network of :func:`build_model`.
    precision : {"float32", "mixed_bfloat16"}
        The dtype policy of every layer but the :data:`HEAD`.

    Returns
    -------
    keras.Model
        The copy.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")

    def in_policy(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        config["dtype"] = "float32" if layer.name in HEAD else precision
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=in_policy)
    copy.set_weights(model.get_weights())
    return copy


_POINTWISE = (keras.layers.InputLayer, keras.layers.ReLU, keras.layers.BatchNormalization, keras.layers.Activation,
              keras.layers.Softmax, keras.layers.Dropout)
"""Layers that act on each pixel alone: they keep the receptive field of their input."""

_MERGING = (keras.layers.Add, keras.layers.Concatenate)
"""Layers that combine same-sized inputs pixel by pixel: the union of their inputs' receptive fields."""

_Span = tuple[float, float, float]
"""Along one image axis: (lo, hi, jump). Pixel ``p`` of a layer's output depends on the input
pixels ``p * jump + lo`` to ``p * jump + hi``; ``jump`` is input pixels per output pixel."""


def receptive_field(model: keras.Model) -> int:
    """Return how far from an output pixel an input pixel can change it [pixels].

    Walks the layers of a functional model and tracks, per image axis, the interval of
    input pixels that each layer's output pixels depend on: a convolution or pooling of
    kernel ``k`` (dilation ``d``), stride ``s`` and padding ``pad_before`` (TensorFlow's
    "same": ``(k_eff - s) // 2``) reads ``pad_before`` pixels before and
    ``k_eff - 1 - pad_before`` after, in units of its input's jump; a transposed
    convolution's output pixel ``o`` reads the input pixels ``i`` with
    ``o = i s - pad_before + t d``; merges take the union of their inputs. The field is
    counted with the zero padding at the image borders: an output pixel at least this
    far from every border sees no padding. For :func:`build_model` the 3x3 convolutions
    on the longest path (five per residual block, each widening by its level's jump) add
    ``5 (3 * 2**(depth - 1) - 2)`` pixels on each side and the poolings and transposed
    convolutions ``2**depth - 2``: ``17 * 2**(depth - 1) - 12`` pixels, 124 at the
    paper's depth of 4 (15 Å at 0.12 Å/pixel).

    Parameters
    ----------
    model : keras.Model
        A functional model of convolutions, transposed convolutions, max or average
        pooling, pixel-wise layers and merges.

    Returns
    -------
    int
        The receptive-field radius [pixels]: the largest distance, along either axis,
        between an output pixel and an input pixel it depends on; the field spans
        ``2 * radius + 1`` pixels.

    Raises
    ------
    TypeError
        If a layer is of a kind whose receptive field is not known; the message names it.
    """
    spans: dict[int, tuple[_Span, _Span]] = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            spans[id(layer.output)] = ((0.0, 0.0, 1.0), (0.0, 0.0, 1.0))
            continue
        inputs = [spans[id(tensor)] for tensor in (layer.input if isinstance(layer.input, list) else [layer.input])]
        spans[id(layer.output)] = (_layer_span(layer, [span[0] for span in inputs], 0),
                                   _layer_span(layer, [span[1] for span in inputs], 1))
    edges = [bound for output in model.outputs for lo, hi, _ in spans[id(output)] for bound in (-lo, hi)]
    return int(np.ceil(max(edges)))


def _layer_span(layer: keras.layers.Layer, inputs: list[_Span], axis: int) -> _Span:
    """Return the span of ``layer``'s output along ``axis`` from its inputs' spans."""
    if isinstance(layer, _MERGING):
        if len({jump for _, _, jump in inputs}) != 1:
            raise TypeError(f"receptive_field: layer {layer.name!r} merges inputs of different resolutions")
        return min(lo for lo, _, _ in inputs), max(hi for _, hi, _ in inputs), inputs[0][2]
    (lo, hi, jump), = inputs
    if isinstance(layer, _POINTWISE):
        return lo, hi, jump
    if isinstance(layer, (keras.layers.Conv2DTranspose, keras.layers.Conv2D, keras.layers.MaxPooling2D,
                          keras.layers.AveragePooling2D)):
        kernel = layer.kernel_size[axis] if hasattr(layer, "kernel_size") else layer.pool_size[axis]
        dilation = layer.dilation_rate[axis] if hasattr(layer, "dilation_rate") else 1
        stride = layer.strides[axis]
        reach = (kernel - 1) * dilation
        before = max(reach + 1 - stride, 0) // 2 if layer.padding == "same" else 0
        if not isinstance(layer, keras.layers.Conv2DTranspose):
            return lo - before * jump, hi + (reach - before) * jump, jump * stride
        offsets = [((r + before - t * dilation) // stride - r / stride) * jump
                   for r in range(stride) for t in range(kernel) if (r + before - t * dilation) % stride == 0]
        return lo + min(offsets), hi + max(offsets), jump / stride
    raise TypeError(f"receptive_field: layer {layer.name!r} of type {type(layer).__name__} has no known receptive"
                    " field")
