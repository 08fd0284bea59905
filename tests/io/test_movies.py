"""Movies read one frame at a time: the usable frames, their numbers and calibration, and what is refused."""

import tracemalloc
import warnings

import numpy as np
import pytest
import tifffile

from atomsight.io.movies import MovieFrames, read_movie

RNG = np.random.default_rng(0)


def test_a_multi_page_tiff_is_read_as_a_movie_and_a_page_of_another_size_is_skipped(tmp_path):
    frames = np.random.default_rng(0).normal(size=(4, 20, 24)).astype(np.float32)
    with tifffile.TiffWriter(tmp_path / "movie.tif") as tif:
        for k, frame in enumerate(frames):
            tif.write(frame[:, :20] if k == 2 else frame)
    with pytest.warns(UserWarning, match=r"movie.tif frame 2: shape \(20, 20\) differs from the first frame's"):
        movie = read_movie(tmp_path / "movie.tif")
    np.testing.assert_array_equal(movie.indices, [0, 1, 3])
    np.testing.assert_array_equal(np.stack(movie.frames), frames[[0, 1, 3]])
    assert movie.sampling is None  # a plain TIFF holds no pixel size


@pytest.mark.parametrize(("name", "array", "message"), [
    ("image.npy", RNG.normal(size=(20, 20)), r"image.npy: 1 of its 1 frames are usable, a sequence needs 2"),
    ("cube.npy", np.ones((2, 20, 20, 2)), r"cube.npy: expected an image \(H, W\) or frames \(N, H, W\)"),
    ("still.npy", np.eye(20)[None], r"still.npy: 1 of its 1 frames are usable, a sequence needs 2"),
    ("flat.npy", np.zeros((3, 20, 20)), r"flat.npy: 0 of its 3 frames are usable"),
    ("movie.jpg", None, r"movie.jpg: unsupported extension '.jpg'"),
    ("colour.tif", np.zeros((20, 20, 3), np.uint8), r"colour.tif: a colour image"),
])
def test_unusable_movies_are_refused_with_their_name(tmp_path, name, array, message):
    if name.endswith(".tif"):
        tifffile.imwrite(tmp_path / name, array, photometric="rgb")
    elif array is not None:
        np.save(tmp_path / name, array)
    with pytest.raises(ValueError, match=message), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # each of flat.npy's frames is reported as skipped
        read_movie(tmp_path / name)


def write_tiff_movie(path, frames):
    with tifffile.TiffWriter(path) as tif:
        for frame in frames:
            tif.write(frame)


def test_movie_frames_are_read_from_the_file_when_indexed(tmp_path):
    frames = np.random.default_rng(1).normal(size=(5, 16, 16)).astype(np.float32)
    np.save(tmp_path / "movie.npy", frames)
    movie = read_movie(tmp_path / "movie.npy")
    assert isinstance(movie.frames, MovieFrames) and len(movie.frames) == 5
    np.testing.assert_array_equal(movie.frames[-1], frames[4])
    np.testing.assert_array_equal(np.stack(movie.frames[1:4]), frames[1:4])


def traced_memory_after_reading(path):
    """Bytes still allocated, as tracemalloc counts them, once ``read_movie(path)`` has returned (movie alive)."""
    tracemalloc.start()
    try:
        movie = read_movie(path)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(movie.frames) > 0
    return held


def test_reading_a_movie_holds_none_of_its_frames(tmp_path):
    side = 256
    frame_bytes = side * side * 4  # one float32 frame
    rng = np.random.default_rng(2)
    for n in (8, 64):
        write_tiff_movie(tmp_path / f"movie{n}.tif", rng.normal(size=(n, side, side)).astype(np.float32))
    traced_memory_after_reading(tmp_path / "movie8.tif")  # first call: lazy imports are allocated here, not counted
    held = {n: traced_memory_after_reading(tmp_path / f"movie{n}.tif") for n in (8, 64)}
    # Holding the frames would add 56 frames; what grows is the per-frame bookkeeping (a reader and an index).
    assert held[64] - held[8] < 0.1 * 56 * frame_bytes
