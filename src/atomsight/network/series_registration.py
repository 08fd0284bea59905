"""Register the frames of a focal series by the columns a single-image model finds in each.

The cross-correlation of frames at very different focus can peak at a lattice vector
(:mod:`atomsight.io.series`). Here each frame's columns are found by a single-image model of
the material (``gold`` for a gold focal series) and the frames are registered by those points
(:func:`atomsight.core.point_registration.register_points`): where a model finds a frame's
columns, their positions do not depend on the focus.

A model does not find them at every focus alike (on tests/data/heldout's untilted gold series
the ``gold`` model finds all 64 columns at C10 = -40 and +90 Å within 0.3 pixel, but at -170 Å
94 detections of which 18 lie on a column). So the frames are registered to the frame whose
columns agree with the most others (the reference): a frame whose points match the reference's
(at least :data:`MIN_MATCHED` of the smaller set, unambiguously) by its columns, any other by
the envelope of its lattice contrast (:func:`atomsight.core.registration.envelope_shift`),
coarse; among frames that agree with as many others, the reference is the one whose matches
are closest (the smallest sum of rms). What was used for each frame is reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.point_registration import PointRegistration, register_points
from ..core.registration import envelope_shift
from ..io.series import MIN_OVERLAP
from .predictor import Predictor

MIN_MATCHED = 0.8
"""Smallest fraction of the smaller of two frames' detections that the translation lays onto a partner."""

MATCH_RADIUS = 0.6
"""Two detections closer than this are one column [Å]: below half the smallest distance of two columns
(1.44 Å between the nearest columns of gold seen along <110>), above a detection's error (0.05 Å)."""

LATTICE = 0.7
"""Scale [Å] below which a frame's detail counts as lattice contrast for the envelope (about half the
nearest column distance of gold along <110>)."""

ENVELOPE = 2.4
"""Smoothing of the squared lattice contrast for the envelope [Å]: a few column distances, so only the
outline remains (tests/data/heldout's gold series: 0.5 to 3 pixels off at -170 Å, delocalised)."""


@dataclass(frozen=True)
class ColumnRegistration:
    """The drift of each frame of a series and how it was measured.

    Attributes
    ----------
    shifts : numpy.ndarray
        Drift of each frame relative to the first [pixels, (row, col)], shape (C, 2).
    methods : tuple of str
        For each frame, in words: the reference, registered by how many columns (and their
        rms), or by the envelope and why.
    detections : tuple of int
        The number of columns the model found in each frame.
    """

    shifts: np.ndarray
    methods: tuple[str, ...]
    detections: tuple[int, ...]


def register_by_columns(
    detector: Predictor, frames: Sequence[np.ndarray], *, sampling: float, tile: int
) -> ColumnRegistration:
    """Measure the drift of every frame of a focal series from the columns found in each.

    Parameters
    ----------
    detector : Predictor
        A single-image model of the material (its card's ``input_channels`` is 1).
    frames : sequence of numpy.ndarray
        The series' frames (H, W), of one shape, in the order of the model's defoci.
    sampling : float
        Their pixel size [Å/pixel].
    tile : int
        Largest tile side for the detector [pixels at its sampling].

    Returns
    -------
    ColumnRegistration
        The drifts, what each was measured by, and the columns found in each frame.

    Raises
    ------
    ValueError
        If ``detector`` takes more than one image, or finds no column in a frame.
    """
    if detector.card["input_channels"] != 1:
        raise ValueError(f"the model {detector.identity.get('name', '')!r} takes {detector.card['input_channels']}"
                         " images; registering a series by columns needs a single-image model of the material")
    points = [detector.find(np.asarray(f, np.float32)[..., None], sampling=sampling, tile=tile).pixels
              for f in frames]
    for k, found in enumerate(points):
        if len(found) == 0:
            raise ValueError(f"frame {k} of the focal series: the model {detector.identity.get('name', '')!r} finds"
                             " no column in it, so it cannot be registered by columns; leave out --register-with")
    max_shift = (1 - MIN_OVERLAP) * min(np.shape(frames[0]))
    pairs = {(i, j): register_points(points[i], points[j], max_shift=max_shift, radius=MATCH_RADIUS / sampling)
             for i in range(len(frames)) for j in range(len(frames)) if i != j}
    agreeing = [sum(_agrees(pairs[i, j]) for j in range(len(frames)) if j != i) for i in range(len(frames))]
    spread = [sum(pairs[i, j].rms for j in range(len(frames)) if j != i and _agrees(pairs[i, j]))
              for i in range(len(frames))]
    reference = max(range(len(frames)), key=lambda i: (agreeing[i], -spread[i], -i))
    relative, methods = np.zeros((len(frames), 2)), []
    for k in range(len(frames)):
        if k == reference:
            methods.append(f"reference ({len(points[k])} columns)")
            continue
        pair = pairs[reference, k]
        if _agrees(pair):
            relative[k] = pair.shift
            methods.append(f"columns: {pair.matched} of {min(len(points[k]), len(points[reference]))} matched"
                           f" frame {reference}'s, rms {pair.rms:.2f} pixels")
        else:
            relative[k] = envelope_shift(frames[reference], frames[k], lattice=LATTICE / sampling,
                                         envelope=ENVELOPE / sampling)
            methods.append(f"envelope of the lattice contrast (coarse): its {len(points[k])} detections matched only"
                           f" {pair.matched} of frame {reference}'s {len(points[reference])}")
    return ColumnRegistration(shifts=relative - relative[0], methods=tuple(methods),
                              detections=tuple(len(p) for p in points))


def _agrees(pair: PointRegistration) -> bool:
    """Whether a translation lays enough points onto partners, and clearly more than a lattice vector off does."""
    return pair.fraction >= MIN_MATCHED and pair.runner_up < pair.matched
