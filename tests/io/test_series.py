"""A focal series read from a stack or from files, registered, and refused when it is not one series."""

import numpy as np
import pytest

from atomsight.core.registration import shifted
from atomsight.io import series as series_module
from atomsight.io.series import MIN_CORRELATION, frame_correlation, read_series


def _save_frames(folder, frames):
    paths = [folder / f"frame{k}.npy" for k in range(len(frames))]
    for path, frame in zip(paths, frames):
        np.save(path, frame)
    return paths


def test_a_stack_is_registered_to_a_tenth_of_a_pixel_and_cropped_to_the_shared_view(tmp_path, focal_series):
    frames = focal_series().frames
    np.save(tmp_path / "series.npy", frames)
    found = read_series([tmp_path / "series.npy"], channels=3)
    np.testing.assert_allclose(found.shifts, focal_series().shifts, atol=0.1)
    # frame k moved back by its shift d covers [-d, 128 - d): rows from 0.7 (frame 2) to 126.7 (frame 1),
    # columns from 2.6 (frame 1) to 124.6 (frame 2), to whole pixels inside
    assert found.origin == (1, 3)
    assert found.image.shape == (126 - 1, 124 - 3, 3)
    assert found.image.dtype == np.float32
    assert found.sources == (tmp_path / "series.npy",) * 3
    assert found.correlations[2] < -MIN_CORRELATION  # the contrast inverted, registered all the same


def test_three_files_give_the_same_series_as_one_stack(tmp_path, focal_series):
    frames = focal_series().frames
    np.save(tmp_path / "series.npy", frames)
    paths = _save_frames(tmp_path, frames)
    stack = read_series([tmp_path / "series.npy"], channels=3)
    files = read_series(paths, channels=3)
    np.testing.assert_array_equal(files.image, stack.image)
    assert files.sources == tuple(paths)


def test_the_wrong_number_of_files_or_frames_is_refused_naming_them(tmp_path, focal_series):
    frames = focal_series().frames
    paths = _save_frames(tmp_path, frames)
    np.save(tmp_path / "two.npy", frames[:2])
    with pytest.raises(ValueError, match=r"frame0.npy, .*frame1.npy: 2 files given as one focal series, the model"
                                         r" takes 3 images"):
        read_series(paths[:2], channels=3)
    with pytest.raises(ValueError, match=r"two.npy: found an array of shape \(2, 128, 128\), expected 3 channel"):
        read_series([tmp_path / "two.npy"], channels=3)


def test_pixel_sizes_more_than_5_percent_apart_are_refused_naming_the_file(tmp_path, focal_series, monkeypatch):
    frames = focal_series().frames
    paths = _save_frames(tmp_path, frames)
    sizes = {"frame0.npy": 0.120, "frame1.npy": 0.123, "frame2.npy": 0.127}  # 2.5 % and 5.8 % off
    monkeypatch.setattr(series_module, "file_sampling", lambda path: sizes[path.name])
    with pytest.raises(ValueError, match=r"frame2.npy: pixel size 0.127 Å, but .*frame0.npy has 0.12 Å"):
        read_series(paths, channels=3)
    sizes["frame2.npy"] = 0.125  # 4.2 %: accepted, with the first file's pixel size
    assert read_series(paths, channels=3).sampling == 0.120


def test_a_frame_of_another_area_is_refused_naming_its_file(tmp_path, focal_series):
    frames = focal_series().frames
    frames[2] = np.random.default_rng(1).poisson(150.0, (128, 128)) / 150.0  # the particle drifted out of view
    paths = _save_frames(tmp_path, frames)
    with pytest.raises(ValueError, match=r"frame2.npy: frame 2 of the focal series .* cannot be registered to"
                                         r" frame 1"):
        read_series(paths, channels=3)


def test_a_shift_that_leaves_less_than_three_quarters_of_the_view_shared_is_refused(tmp_path, focal_series):
    frames = focal_series().frames
    frames[1] = np.roll(frames[1], 50, axis=1)  # 78 of 128 columns shared
    paths = _save_frames(tmp_path, frames)
    with pytest.raises(ValueError, match=r"frame1.npy: frame 1 of the focal series is shifted by"):
        read_series(paths, channels=3)


def test_frames_of_one_area_correlate_far_above_the_threshold_and_noise_far_below(focal_series):
    rng = np.random.default_rng(3)
    series = focal_series()
    aligned = [shifted(f, -s) for f, s in zip(series.frames, series.shifts)]
    assert abs(frame_correlation(aligned[0], aligned[1])) > 3 * MIN_CORRELATION
    noise = [rng.poisson(150.0, (128, 128)).astype(float) for _ in range(20)]
    unrelated = [frame_correlation(a, b) for a, b in zip(noise[::2], noise[1::2])]
    assert np.max(np.abs(unrelated)) < MIN_CORRELATION / 2


def test_an_aligned_series_is_read_as_it_is(tmp_path, focal_series):
    frames = focal_series().frames
    np.save(tmp_path / "series.npy", frames)
    found = read_series([tmp_path / "series.npy"], channels=3, register_frames=False)
    assert found.origin == (0, 0) and not found.shifts.any()
    np.testing.assert_array_equal(found.image, np.moveaxis(frames, 0, -1).astype(np.float32))
