"""Registration of images by cross-correlation: the drift of a sequence, drift-corrected positions.

The drift of frame ``k`` is where a feature at position ``p`` in frame 0 appears in frame
``k``, minus ``p``: ``d_k = p_k - p_0`` [pixels, (row, col)], so ``d_0 = 0`` and a position
found in frame ``k`` maps to frame 0's grid as ``p - d_k``.

Each frame is registered to a running reference: the mean of the previous ``window``
frames, each first moved onto frame 0's grid by its own, already measured drift. With
``window=1`` this is registration between consecutive frames, which follows a structure
that changes slowly (atoms hopping, a particle turning) but whose errors add up as a
random walk over the sequence; a mean over a few frames has a ``sqrt(window)`` higher
signal-to-noise ratio, so each step's error is smaller, while the reference still
follows the structure over ``window`` frames. Registering every frame to frame 0 alone
would fail once the structure has changed. Frames are weighted by a Hann window before
the correlation, so the edges, where the frames differ by what drifted in and out,
do not pull the result, and smoothed by a Gaussian of ``smoothing`` pixels: the image's
information ends at the microscope's band limit, usually well below the Nyquist
frequency of the pixels, while shot noise is white, so the highest frequencies carry
only noise (on the simulated gold movie of the tests, with a window of 4 frames,
smoothing by 1 pixel brings the largest error from 0.10 to 0.06 pixel at 5000 e/Å², and
from 0.27 to 0.16 pixel at 1000 e/Å²). The correlation is
scikit-image's ``phase_cross_correlation`` without its phase normalisation, which
weights every frequency alike, the noisy highest ones included, and on that movie
missed the drift by pixels.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import scipy.fft
from scipy.ndimage import fourier_shift, gaussian_filter
from skimage.filters import window as window_function
from skimage.registration import phase_cross_correlation

UPSAMPLE_FACTOR = 100
"""Default upsampling of the cross-correlation peak: shifts are resolved to 1/100 pixel."""

MAX_ITERATIONS = 5
"""Most rounds of refinement of one frame's drift (see :func:`register`)."""


def register(
    frames: Sequence[np.ndarray] | np.ndarray,
    *,
    window: int = 4,
    smoothing: float = 1.0,
    upsample_factor: int = UPSAMPLE_FACTOR,
) -> np.ndarray:
    """Measure the drift of every frame relative to the first.

    Parameters
    ----------
    frames : sequence of numpy.ndarray
        Frames of equal shape (H, W), at least 2; read once each, in order, and only the
        last ``window`` held (a lazy sequence such as :class:`atomsight.io.movies.MovieFrames`
        is never loaded whole).
    window : int
        Number of previous registered frames averaged into the reference (>= 1).
    smoothing : float
        Standard deviation of the Gaussian that smooths the frames before the correlation
        [pixels]; 0 for none.
    upsample_factor : int
        Upsampling of the cross-correlation (``skimage.registration.phase_cross_correlation``):
        shifts are resolved to ``1 / upsample_factor`` pixel.

    Returns
    -------
    numpy.ndarray
        Drift ``d_k`` [pixels, (row, col)] of each frame, float64, shape (n_frames, 2); ``d_0 = 0``.

    Raises
    ------
    ValueError
        If there are fewer than 2 frames, they differ in shape, or ``window`` is below 1.
    """
    if len(frames) < 2:
        raise ValueError(f"drift registration needs at least 2 frames, got {len(frames)}")
    if window < 1:
        raise ValueError(f"the reference window must be at least 1 frame, got {window}")
    first = np.asarray(frames[0], dtype=np.float64)
    if first.ndim != 2:
        raise ValueError(f"frames must be 2-D and of one shape, got frame 0 of shape {first.shape}")
    taper = window_function("hann", first.shape)
    drift = np.zeros((len(frames), 2))
    aligned = deque([first], maxlen=window)  # the reference's frames: only these are held
    for k in range(1, len(frames)):
        frame = np.asarray(frames[k], dtype=np.float64)
        if frame.shape != first.shape:
            raise ValueError(f"frames must be 2-D and of one shape, got frame {k} of shape {frame.shape}"
                             f" and frame 0 of shape {first.shape}")
        reference = _prepared(np.mean(aligned, axis=0), taper, smoothing)
        drift[k] = _refined(reference, frame, drift[k - 1], taper=taper, smoothing=smoothing,
                            upsample_factor=upsample_factor)
        aligned.append(shifted(frame, -drift[k]))
    return drift


def _refined(
    reference: np.ndarray, frame: np.ndarray, guess: np.ndarray, *, taper: np.ndarray, smoothing: float,
    upsample_factor: int,
) -> np.ndarray:
    """Return the drift of ``frame`` relative to the prepared ``reference``, refined from ``guess`` [pixels].

    The frame is moved back by the current estimate and the remaining shift measured,
    until it is below one upsampled pixel or after :data:`MAX_ITERATIONS` rounds. The
    taper pulls a measured shift towards zero in proportion to the shift, so measuring
    only what remains removes that bias.
    """
    estimate = np.asarray(guess, dtype=np.float64).copy()
    for _ in range(MAX_ITERATIONS):
        remaining, _, _ = phase_cross_correlation(
            reference, _prepared(shifted(frame, -estimate), taper, smoothing), upsample_factor=upsample_factor,
            normalization=None,
        )
        estimate -= remaining
        if np.abs(remaining).max() < 1 / upsample_factor:
            break
    return estimate


def shifted(image: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Return ``image`` moved by ``shift`` [pixels, (row, col)] by a Fourier shift (periodic at the edges)."""
    return scipy.fft.ifft2(fourier_shift(scipy.fft.fft2(image), shift)).real


def envelope_shift(reference: np.ndarray, frame: np.ndarray, *, lattice: float, envelope: float) -> np.ndarray:
    """Measure the drift of ``frame`` relative to ``reference`` from where each shows lattice contrast.

    For frames whose contrast is unlike (a focal series), whose cross-correlation can peak at a
    lattice vector: each frame's detail finer than ``lattice`` (the frame minus its Gaussian
    smoothing) is squared and smoothed over ``envelope``, which leaves the outline of the
    particle or sheet, whatever the sign of its contrast, and those envelopes are
    cross-correlated, without a taper (which, on a particle off the centre of the view, weights
    the two envelopes unlike each other: 13 pixels off on tests/data/heldout's untilted gold
    series, 1 without). Coarse: the envelope of a frame far from focus is spread by the
    delocalisation of the lens (0.5-1 pixel off at C10 = -170 Å on that untilted series, 3-4
    on the tilted one), and a sheet that fills the view has no outline to register by.

    Parameters
    ----------
    reference, frame : numpy.ndarray
        Frames of one shape (H, W).
    lattice : float
        Standard deviation of the smoothing subtracted, about the lattice spacing [pixels].
    envelope : float
        Standard deviation of the smoothing of the squared detail [pixels].

    Returns
    -------
    numpy.ndarray
        Drift [pixels, (row, col)] of ``frame`` relative to ``reference``, shape (2,), to 1/10 pixel.
    """
    maps = []
    for image in (reference, frame):
        image = np.asarray(image, dtype=np.float64)
        detail = image - gaussian_filter(image, lattice, mode="nearest")
        maps.append(_prepared(detail**2, np.ones(image.shape), envelope))
    shift, _, _ = phase_cross_correlation(maps[0], maps[1], upsample_factor=10, normalization=None)
    return -shift


def corrected(positions: np.ndarray, drift: np.ndarray, *, sampling: float) -> np.ndarray:
    """Map positions found in a frame onto frame 0's grid.

    Parameters
    ----------
    positions : numpy.ndarray
        Positions (x, y) in the frame [Å], shape (n, 2).
    drift : numpy.ndarray
        The frame's drift [pixels, (row, col)], shape (2,) (:func:`register`).
    sampling : float
        Pixel size [Å/pixel]; x runs along rows, y along columns.

    Returns
    -------
    numpy.ndarray
        Positions (x, y) on frame 0's grid [Å], shape (n, 2).
    """
    return np.asarray(positions, dtype=np.float64).reshape(-1, 2) - np.asarray(drift) * sampling


def _prepared(image: np.ndarray, taper: np.ndarray, smoothing: float) -> np.ndarray:
    """Return the image smoothed by a Gaussian of ``smoothing`` [pixels], minus its mean, times the taper."""
    if smoothing > 0:
        image = gaussian_filter(image, smoothing, mode="nearest")
    return (image - image.mean()) * taper
