import tracemalloc

import imageio.v3 as iio
import numpy as np

from atomsight.analysis.sequence_plots import GIF_SIDE, write_overlay_gif


def noise_frames(n, side):
    """``n`` float32 noise frames (side, side), made one at a time."""
    rng = np.random.default_rng(3)
    return (rng.normal(size=(side, side)).astype(np.float32) for _ in range(n))


def test_the_overlay_has_a_frame_per_input_shrunk_to_the_gif_side_with_rings_at_the_detections(tmp_path):
    found = [np.array([[100.0, 200.0]]), np.zeros((0, 2))]
    write_overlay_gif(tmp_path / "overlay.gif", noise_frames(2, 2 * GIF_SIDE), found)
    gif = iio.imread(tmp_path / "overlay.gif")
    assert gif.shape[:3] == (2, GIF_SIDE, GIF_SIDE)
    ring = np.all(gif[..., :3] == (255, 64, 160), axis=-1)
    assert ring[1].sum() == 0 and ring[0].sum() > 0
    rows, cols = np.nonzero(ring[0])
    # The ring is centred on the detection at half scale: (50, 100).
    assert abs(rows.mean() - 50) < 1 and abs(cols.mean() - 100) < 1


def peak_gif_memory(path, n, side):
    tracemalloc.start()
    try:
        write_overlay_gif(path, noise_frames(n, side), [np.zeros((0, 2))] * n)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def test_the_overlay_holds_only_shrunk_frames(tmp_path):
    side = 4 * GIF_SIDE
    frame_bytes = side * side * 4  # one float32 input frame
    peak_gif_memory(tmp_path / "warm.gif", 2, side)  # first call: lazy imports are allocated here, not counted
    peak = {n: peak_gif_memory(tmp_path / f"{n}.gif", n, side) for n in (4, 20)}
    # Each extra frame is held shrunk 16 times (float32 grey and uint8 RGB: 1/16 + 3/64 of a frame), never whole.
    assert peak[20] - peak[4] < 16 * frame_bytes / 4


def test_the_overlay_frames_say_their_number_and_carry_a_scale_bar(tmp_path):
    frames = [np.zeros((GIF_SIDE, GIF_SIDE), np.float32) + k for k in (0.0, 0.5)]  # dark, even frames
    write_overlay_gif(tmp_path / "o.gif", frames, [np.zeros((0, 2))] * 2, labels=["frame 7", "frame 9"],
                      sampling=0.1)
    gif = iio.imread(tmp_path / "o.gif")[..., :3].astype(int)
    text = np.all(np.abs(gif - (255, 230, 0)) < 40, axis=-1)  # the yellow label
    assert text[:, :16, :80].any(axis=(1, 2)).all() and not text[:, 16:, :].any()
    bar = np.all(gif[:, GIF_SIDE - 8:GIF_SIDE - 5, :] > 200, axis=-1)  # the white bar's rows
    # the frames are 0.1 * GIF_SIDE Å wide: a bar of the round length below a fifth of that
    from atomsight.core.scale_bar import scale_bar_length

    expected = round(scale_bar_length(0.1 * GIF_SIDE) / 0.1)
    assert abs(bar[0].any(axis=0).sum() - (expected + 1)) <= 1
