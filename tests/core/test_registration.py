import tracemalloc
from collections.abc import Sequence

import numpy as np
import pytest

from atomsight.core.registration import corrected, envelope_shift, register, shifted


def test_a_fourier_shift_is_measured_back_exactly_on_a_smooth_periodic_image():
    rng = np.random.default_rng(1)
    image = np.real(np.fft.ifft2(np.fft.fft2(rng.normal(size=(64, 64))) * np.exp(-np.add.outer(
        np.fft.fftfreq(64) ** 2, np.fft.fftfreq(64) ** 2) / 0.01)))
    truth = np.array([[0, 0], [0.25, -1.5], [3.1, 2.2]])
    # 1/100 pixel is the upsampled resolution; noise-free, the refinement converges to it.
    np.testing.assert_allclose(register([shifted(image, d) for d in truth]), truth, atol=0.011)


def test_corrected_positions_move_back_by_the_drift_in_angstrom():
    np.testing.assert_allclose(corrected(np.array([[5.0, 6.0]]), np.array([2.0, -4.0]), sampling=0.5), [[4.0, 8.0]])


@pytest.mark.parametrize(("frames", "window", "message"), [
    ([np.ones((8, 8))], 1, "at least 2 frames"),
    ([np.ones((8, 8)), np.ones((8, 9))], 1, "one shape"),
    ([np.ones((8, 8))] * 2, 0, "at least 1 frame"),
])
def test_bad_sequences_are_refused(frames, window, message):
    with pytest.raises(ValueError, match=message):
        register(frames, window=window)


class GeneratedFrames(Sequence):
    """A movie of ``n`` noise frames made when indexed, recording which frames are read."""

    def __init__(self, n, side):
        self.n, self.side, self.reads = n, side, []

    def __len__(self):
        return self.n

    def __getitem__(self, k):
        if not 0 <= k < self.n:
            raise IndexError(k)
        self.reads.append(k)
        return np.random.default_rng(k).normal(size=(self.side, self.side))


def peak_traced_memory(function, *args):
    """Most bytes allocated at once during ``function(*args)``, as tracemalloc counts them."""
    tracemalloc.start()
    try:
        function(*args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def test_registration_reads_each_frame_once_in_order_and_holds_only_its_window():
    side = 128
    frame_bytes = side * side * 8  # one float64 frame
    movie = GeneratedFrames(6, side)
    register(movie, window=2)
    assert movie.reads == list(range(6))
    register(GeneratedFrames(4, side))  # first call: lazy imports are allocated here, not counted
    peak = {n: peak_traced_memory(register, GeneratedFrames(n, side)) for n in (8, 40)}
    # Holding the movie would add 32 frames to the peak; the reference window and the FFTs do not grow with it.
    assert peak[40] - peak[8] < 2 * frame_bytes


def test_the_envelope_registers_frames_whose_lattice_contrast_differs():
    # a particle (a disc of radius 40 pixels, off the centre of the view) whose lattice fringes of 6 pixels
    # change phase and sign from one frame to the next, as with the focus: the images' cross-correlation
    # peaks at a lattice vector or half of one, the envelopes' near the drift
    rows, cols = np.mgrid[0:160, 0:160].astype(np.float64)
    truth = np.array([2.4, -3.1])
    frames = []
    for phase, contrast, shift in ((0.0, 0.3, (0.0, 0.0)), (np.pi / 2, -0.2, truth)):
        r, c = rows - shift[0], cols - shift[1]
        disc = 0.5 * (1 + np.tanh(40.0 - np.hypot(r - 70, c - 90)))
        fringes = np.cos(2 * np.pi * r / 6 + phase) * np.cos(2 * np.pi * c / 6)
        frames.append(1.0 + contrast * disc * fringes)
    found = envelope_shift(frames[0], frames[1], lattice=3.0, envelope=8.0)
    # the envelope's edge is 1-2 pixels wide after the smoothing: within half a pixel
    np.testing.assert_allclose(found, truth, atol=0.5)
