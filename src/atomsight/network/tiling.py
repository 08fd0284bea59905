"""Run a fully convolutional network on an image of any size, in tiles when large, without seams.

A tile's output pixel equals the whole image's when everything it depends on, the
network's receptive field, lies inside the tile: then it sees the same pixels and none of
the zero padding that the network adds at the tile's borders. Tiles therefore overlap by
twice the field's radius (the margin, rounded up to the network's size multiple so that
every tile starts on the pooling grid of the whole image) and each output pixel is taken
from the tile in whose kept centre it lies. No blending is needed: the kept centres are
exact, so the tiled prediction equals the whole-image prediction up to the rounding of
the convolution arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DEFAULT_TILE = 2048
"""Default largest tile side [pixels at the model's sampling] of ``predict`` and ``track``: a 2048 x 2048
image in one piece (2.1 GB at most with 16 features at full resolution, BENCHMARKS.md "Predict")."""


def tile_margin(receptive_field: int, multiple: int) -> int:
    """Return the pixels dropped at an inner tile edge: the receptive field rounded up to ``multiple``.

    Parameters
    ----------
    receptive_field : int
        Radius of the network's receptive field [pixels]
        (:func:`atomsight.network.model.receptive_field`).
    multiple : int
        The network's input sides must be multiples of this (2 ** number of poolings).

    Returns
    -------
    int
        The margin [pixels], a multiple of ``multiple``.
    """
    if receptive_field < 0 or multiple < 1:
        raise ValueError(f"need receptive_field >= 0 and multiple >= 1, got {receptive_field} and {multiple}")
    return -(-receptive_field // multiple) * multiple


def predict_tiled(
    predict: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    *,
    receptive_field: int,
    multiple: int,
    tile: int = DEFAULT_TILE,
) -> np.ndarray:
    """Predict an (H, W, C) image with a fully convolutional network, in tiles when large.

    The image is padded by reflection at its far ends up to multiples of ``multiple``.
    If both padded sides fit in ``tile`` it is predicted in one call. Otherwise each
    side is cut into the fewest tiles of at most ``tile`` pixels that overlap by at
    least twice the margin (:func:`tile_margin`), all of one size, the smallest multiple
    of ``multiple`` that needs no more of them, and spread evenly from the start to the
    end of the side (:func:`tile_starts`): as few pixels predicted twice as the
    overlap allows. Each output pixel comes from the tile whose centre is closest, so
    at least ``margin`` pixels are dropped at every inner tile edge. Every kept pixel
    then sees what it sees in the whole padded image, and the result equals the
    prediction of the whole padded image.

    Parameters
    ----------
    predict : callable
        Maps a float32 batch (1, h, w, C), h and w multiples of ``multiple``, to
        (1, h, w, K).
    image : numpy.ndarray
        Image, shape (H, W, C).
    receptive_field : int
        Radius of ``predict``'s receptive field [pixels]: an output pixel depends on
        no input pixel farther than this along either axis.
    multiple : int
        The network's input sides must be multiples of this (2 ** number of poolings).
    tile : int, optional
        Largest side of the tiles [pixels], a multiple of ``multiple`` of at least
        ``2 * margin + multiple``; default 2048. The network's memory grows with the
        tile's area; its time with the pixels of all tiles, which larger tiles make fewer.

    Returns
    -------
    numpy.ndarray
        float32 prediction, shape (H, W, K).

    Raises
    ------
    ValueError
        If the image is not 3-D, ``tile`` is not a multiple of ``multiple`` or too small
        for the margin, or ``predict`` changes the image size.
    """
    margin = tile_margin(receptive_field, multiple)
    _check_tiling(tile, margin, multiple)
    if np.ndim(image) != 3:
        raise ValueError(f"image must have shape (H, W, C), got {np.shape(image)}")
    height, width = image.shape[:2]
    padded = np.pad(
        np.asarray(image, dtype=np.float32),
        ((0, -height % multiple), (0, -width % multiple), (0, 0)),
        mode="reflect",
    )
    if max(padded.shape[:2]) <= tile:
        return _predict_one(predict, padded)[:height, :width]
    rows = _tile_spans(padded.shape[0], tile, 2 * margin, multiple)
    cols = _tile_spans(padded.shape[1], tile, 2 * margin, multiple)
    output = None
    for window_r, keep_r, local_r in rows:
        for window_c, keep_c, local_c in cols:
            prediction = _predict_one(predict, padded[window_r, window_c])
            if output is None:
                output = np.empty(padded.shape[:2] + prediction.shape[2:], np.float32)
            output[keep_r, keep_c] = prediction[local_r, local_c]
    assert output is not None  # there is at least one tile
    return output[:height, :width]


def _check_tiling(tile: int, margin: int, multiple: int) -> None:
    """Raise ValueError unless ``tile`` is a multiple of ``multiple`` with a kept centre of at least ``multiple``."""
    if tile < 1 or tile % multiple:
        raise ValueError(f"tile must be a positive multiple of {multiple} pixels, got {tile}")
    if tile < 2 * margin + multiple:
        raise ValueError(
            f"tile of {tile} pixels is too small for the network's margin of {margin} pixels at each edge;"
            f" expected a tile of at least {2 * margin + multiple} pixels"
        )


def tile_starts(length: int, tile: int, overlap: int, multiple: int) -> tuple[int, list[int]]:
    """Return the tiles along a side: their size and where each starts [pixels].

    The fewest tiles of at most ``tile`` pixels whose neighbours overlap by at least
    ``overlap`` pixels, of the smallest size (a multiple of ``multiple``) that needs no
    more of them, the first starting at 0, the last ending at ``length`` and the others
    spread evenly between, every start a multiple of ``multiple``.

    Parameters
    ----------
    length : int
        The side [pixels], a multiple of ``multiple``.
    tile : int
        Largest tile side [pixels], a multiple of ``multiple``, larger than ``overlap``.
    overlap : int
        Least overlap of neighbouring tiles [pixels], a multiple of ``multiple``.
    multiple : int
        Tile sizes and starts are multiples of this [pixels].

    Returns
    -------
    size : int
        The tile side [pixels]: ``length`` if it fits in ``tile``.
    starts : list of int
        The first pixel of each tile, increasing.
    """
    if length <= tile:
        return length, [0]
    units, most, least = length // multiple, tile // multiple, overlap // multiple  # in multiples
    count = -(-(units - least) // (most - least))
    size = -(-(units - least) // count) + least
    return size * multiple, [round(k * (units - size) / (count - 1)) * multiple for k in range(count)]


def _tile_spans(length: int, tile: int, overlap: int, multiple: int) -> list[tuple[slice, slice, slice]]:
    """Return the tiles along an axis of ``length`` pixels as (window, kept part, kept part in the tile).

    Tiles as :func:`tile_starts` places them; two neighbouring tiles hand over half-way
    between their centres, so each keeps at least ``overlap // 2`` pixels away from the
    edges it shares with another tile.
    """
    size, starts = tile_starts(length, tile, overlap, multiple)
    bounds = [0] + [(a + b + size) // 2 for a, b in zip(starts[:-1], starts[1:])] + [length]
    return [
        (slice(start, start + size), slice(lo, hi), slice(lo - start, hi - start))
        for start, lo, hi in zip(starts, bounds[:-1], bounds[1:])
    ]


def _predict_one(predict: Callable[[np.ndarray], np.ndarray], image: np.ndarray) -> np.ndarray:
    """Predict one (h, w, C) image as a batch of one; return (h, w, K) float32."""
    prediction = np.asarray(predict(image[None]), dtype=np.float32)
    if prediction.ndim != 4 or prediction.shape[:3] != (1,) + image.shape[:2]:
        raise ValueError(f"predict must map (1, h, w, C) to (1, h, w, K), got {prediction.shape} for input"
                         f" {(1,) + image.shape}")
    return prediction[0]
