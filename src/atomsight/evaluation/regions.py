"""Where detections go wrong: inside the object, at its edges, or in the vacuum (issue 18).

An image's *object* is every pixel within :data:`OBJECT_REACH` of a true atom or column (the
sheet, the particle; a hole or the space around a particle wider than twice that is vacuum).
The *edge* is the band from the object's outline to :data:`EDGE_WIDTH` inside its outermost
positions: the atoms at a particle's outline or a hole's rim, and those just inside them. Every true position and
every detection is assigned the region of its pixel, so the false positives of the vacuum
(detections with nothing to find) are told apart from those at the edges and inside.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from ..core.matching import Match

REGIONS = ("inside", "edge", "vacuum")
"""The regions of an image, in the order of :func:`region_map`'s codes 0, 1, 2."""

OBJECT_REACH = 2.0
"""Å: pixels this close to a true position are the object. Above half the widest gap between
neighbouring positions (graphene's hexagon centres are 1.42 Å from their atoms; gold's columns
along <110> are 2.04 and 2.88 Å apart), so a whole sheet or particle is one region."""

EDGE_WIDTH = 1.5
"""Å: positions this far inside the outermost ones are still at the edge (less than one spacing of
gold's columns, 2.04 Å, so the second row of a particle is inside; a graphene rim's next atoms,
1.23 Å in from a zigzag edge, are edge atoms)."""


def region_map(true_pixels: np.ndarray, size: int, sampling: float) -> np.ndarray:
    """Return the region code (0 inside, 1 edge, 2 vacuum) of every pixel of an image.

    Parameters
    ----------
    true_pixels : numpy.ndarray
        (n, 2) true positions [pixels], including those near or beyond the image's edges that
        shape the object inside it.
    size : int
        Side of the square image [pixels].
    sampling : float
        Pixel size [Å].

    Returns
    -------
    numpy.ndarray
        (size, size) int8 array of codes indexing :data:`REGIONS`.
    """
    pad = int(np.ceil(OBJECT_REACH / sampling)) + 1  # positions this far outside the image shape its object
    seeds = np.ones((size + 2 * pad, size + 2 * pad), bool)  # False at the pixels holding a true position
    cells = np.rint(true_pixels).astype(int) + pad
    cells = cells[np.all((cells >= 0) & (cells < size + 2 * pad), axis=1)]
    seeds[cells[:, 0], cells[:, 1]] = False
    if seeds.all():
        return np.full((size, size), 2, np.int8)
    objects = ndimage.distance_transform_edt(seeds) * sampling <= OBJECT_REACH
    if objects.all():
        return np.zeros((size, size), np.int8)
    # the array's border is not vacuum: beyond the padded image nothing is known
    to_vacuum = ndimage.distance_transform_edt(objects) * sampling
    codes = np.where(objects, np.where(to_vacuum <= OBJECT_REACH + EDGE_WIDTH, 1, 0), 2)
    return codes[pad:pad + size, pad:pad + size].astype(np.int8)


def regions_of(pixels: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Return the region code of each position (n, 2) [pixels] from a :func:`region_map`."""
    if len(pixels) == 0:
        return np.zeros(0, np.int8)
    cells = np.clip(np.rint(pixels).astype(int), 0, codes.shape[0] - 1)
    return codes[cells[:, 0], cells[:, 1]]


def region_counts(pairs: Match, true_regions: np.ndarray, found_regions: np.ndarray) -> np.ndarray:
    """Count the matching's outcomes per region of one image.

    Parameters
    ----------
    pairs : Match
        True and detected positions matched one to one.
    true_regions, found_regions : numpy.ndarray
        Region codes of the true and of the detected positions (:func:`regions_of`).

    Returns
    -------
    numpy.ndarray
        (3, 4) int array: per region (rows, :data:`REGIONS`) the matched and the unmatched
        detections there, and the matched and the unmatched true positions there.
    """
    matched = np.zeros(len(found_regions), bool)
    matched[pairs.detected_index] = True
    missed = np.ones(len(true_regions), bool)
    missed[pairs.true_index] = False
    counts = np.zeros((len(REGIONS), 4), int)
    for code in range(len(REGIONS)):
        found, true = found_regions == code, true_regions == code
        counts[code] = (np.sum(found & matched), np.sum(found & ~matched),
                        np.sum(true & ~missed), np.sum(true & missed))
    return counts


def region_scores(counts: Sequence[np.ndarray], area_A2: Sequence[np.ndarray]) -> dict[str, dict[str, float]]:
    """Pool the per-image counts into the scores of each region.

    Parameters
    ----------
    counts : sequence of numpy.ndarray
        :func:`region_counts` of each image.
    area_A2 : sequence of numpy.ndarray
        Per image, the area of each region [Å^2].

    Returns
    -------
    dict
        Per region name: ``detections``, their ``false_positives``, ``precision`` (1.0
        where nothing was detected); ``true`` positions there, their ``false_negatives``,
        ``recall`` (1.0 where there were none); ``area_nm2`` and ``false_positives_per_nm2``.
    """
    total = np.sum(counts, axis=0)
    area = np.sum(area_A2, axis=0) / 100.0
    scores: dict[str, dict[str, float]] = {}
    for code, name in enumerate(REGIONS):
        matched, fp, found, fn = (int(v) for v in total[code])
        scores[name] = {
            "detections": matched + fp, "false_positives": fp, "precision": matched / (matched + fp) if fp else 1.0,
            "true": found + fn, "false_negatives": fn, "recall": found / (found + fn) if fn else 1.0,
            "area_nm2": float(area[code]), "false_positives_per_nm2": float(fp / area[code]) if area[code] else 0.0,
        }
    return scores


def region_areas(codes: np.ndarray, sampling: float, margin: float) -> np.ndarray:
    """Area of each region of an image inside ``margin`` pixels of its edges [Å^2]."""
    inner = codes[int(np.ceil(margin)):codes.shape[0] - int(np.ceil(margin)),
                  int(np.ceil(margin)):codes.shape[1] - int(np.ceil(margin))]
    return np.bincount(inner.ravel(), minlength=len(REGIONS)) * sampling**2
