"""Run a fully convolutional network on an image of any size, in overlapping tiles when large."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def predict_tiled(
    predict: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    *,
    tile: int = 512,
    overlap: int = 64,
    multiple: int = 8,
) -> np.ndarray:
    """Predict an (H, W, C) image with a fully convolutional network, tiled when large.

    The image is padded by reflection at its far ends up to multiples of
    ``multiple``. If both padded sides fit in ``tile`` it is predicted in one call;
    otherwise it is cut into tiles of ``tile`` pixels (or the padded side, if
    shorter) every ``tile - overlap`` pixels, the last tile of a row or column
    aligned to the end. Each output pixel takes the prediction of the tile whose
    centre is closest, so at least ``overlap // 2`` pixels are dropped at every
    interior tile edge. If the network's receptive field reaches at most
    ``overlap // 2`` pixels from its centre, the result equals the untiled
    prediction of the padded image.

    Parameters
    ----------
    predict : callable
        Maps a float32 batch (1, h, w, C), h and w multiples of ``multiple``, to
        (1, h, w, K).
    image : numpy.ndarray
        Image, shape (H, W, C).
    tile : int, optional
        Side of the tiles [pixels], a multiple of ``multiple``; default 512.
    overlap : int, optional
        Overlap of neighbouring tiles [pixels], 0 <= overlap < tile; default 64.
    multiple : int, optional
        The network's input sides must be multiples of this (2 ** number of
        poolings); default 8.

    Returns
    -------
    numpy.ndarray
        float32 prediction, shape (H, W, K).
    """
    _check_tiling(tile, overlap, multiple)
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
    rows = _tile_spans(padded.shape[0], tile, overlap)
    cols = _tile_spans(padded.shape[1], tile, overlap)
    output = None
    for window_r, keep_r, local_r in rows:
        for window_c, keep_c, local_c in cols:
            prediction = _predict_one(predict, padded[window_r, window_c])
            if output is None:
                output = np.empty(padded.shape[:2] + prediction.shape[2:], np.float32)
            output[keep_r, keep_c] = prediction[local_r, local_c]
    return output[:height, :width]


def _check_tiling(tile: int, overlap: int, multiple: int) -> None:
    """Raise ValueError unless ``tile`` is a positive multiple of ``multiple`` and 0 <= overlap < tile."""
    if multiple < 1 or tile < 1 or tile % multiple:
        raise ValueError(f"tile must be a positive multiple of {multiple}, got {tile}")
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must satisfy 0 <= overlap < tile = {tile}, got {overlap}")


def _tile_spans(length: int, tile: int, overlap: int) -> list[tuple[slice, slice, slice]]:
    """Return the tiles along an axis of ``length`` pixels as (window, kept part, kept part in the tile).

    Tiles start every ``tile - overlap`` pixels and the last ends at ``length``; two
    neighbouring tiles hand over half-way between their centres.
    """
    size = min(tile, length)
    starts = list(range(0, length - size, tile - overlap)) + [length - size]
    bounds = [0] + [(a + b + size) // 2 for a, b in zip(starts[:-1], starts[1:])] + [length]
    return [
        (slice(start, start + size), slice(lo, hi), slice(lo - start, hi - start))
        for start, lo, hi in zip(starts, bounds[:-1], bounds[1:])
    ]


def _predict_one(predict: Callable[[np.ndarray], np.ndarray], image: np.ndarray) -> np.ndarray:
    """Predict one (h, w, C) image as a batch of one; return (h, w, K) float32."""
    prediction = np.asarray(predict(image[None]), dtype=np.float32)
    if prediction.ndim != 4 or prediction.shape[:3] != (1,) + image.shape[:2]:
        raise ValueError(f"predict must map (1, h, w, C) to (1, h, w, K), got {prediction.shape} for input {(1,) + image.shape}")
    return prediction[0]
