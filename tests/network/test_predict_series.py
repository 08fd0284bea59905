"""`atomsight predict` on a focal series: one stack or several files, registered, positions on the first frame."""

import numpy as np
import pytest

from atomsight.detections import read_table
from atomsight.network.predict import predict_images


def _columns_from_first_frame(batch: np.ndarray) -> np.ndarray:
    """A stand-in network: the column probability is the first image's contrast (0.3 at a column's centre)."""
    column = np.clip((batch[..., 0] - 1.0) / 0.3, 0.0, 1.0)
    return np.stack([1.0 - 0.6 * column, 0.4 * column, 0.2 * column], axis=-1).astype(np.float32)


@pytest.fixture
def predictor(make_predictor):
    predictor = make_predictor(_columns_from_first_frame, classes=("column-1", "column-2"), channels=3,
                               threshold=0.3)
    predictor.card["intended_conditions"] = {"c10_A": [-20.0, 20.0], "c10_offsets_A": [-170.0, -40.0, 90.0]}
    return predictor


def test_a_series_as_files_and_as_a_stack_gives_the_same_columns_on_the_first_frames_grid(
    tmp_path, predictor, focal_series
):
    series = focal_series(dose_per_pixel=1e6)
    frames, centres = series.frames, series.centres
    np.save(tmp_path / "stack.npy", frames)
    paths = [tmp_path / f"f{k}.npy" for k in range(3)]
    for path, frame in zip(paths, frames):
        np.save(path, frame)
    [from_stack] = predict_images(predictor, [tmp_path / "stack.npy"], sampling=0.12, out=tmp_path / "a")
    [from_files] = predict_images(predictor, paths, sampling=0.12, out=tmp_path / "b", series=True)
    assert from_files.name == "f0_series.csv"
    stack, files = read_table(from_stack), read_table(from_files)
    np.testing.assert_array_equal(stack.xy, files.xy)
    assert stack.classes == files.classes
    # every column whose centre lies in the registered view, found where it is on frame 0's grid
    found = stack.xy / 0.12
    inside = centres[(centres[:, 0] > 4) & (centres[:, 0] < 123) & (centres[:, 1] > 6) & (centres[:, 1] < 121)]
    distances = np.min(np.linalg.norm(found[:, None] - inside[None], axis=-1), axis=0)
    # within 0.15 pixel: each maximum is pulled by its neighbours' tails (6 pixels apart, sigma 1.5), while a
    # missing origin would put them 1-3 pixels off
    assert len(inside) > 100 and np.max(distances) < 0.15
    assert set(stack.class_probabilities) == {"column-1", "column-2"}
    series = files.metadata["image"]["series"]
    assert [frame["expected"][:26] for frame in series] == ["image 1 of 3: C10 = -170 Å", "image 2 of 3: C10 = -40 Å",
                                                            "image 3 of 3: C10 = +90 Å"]
    np.testing.assert_allclose([frame["shift_px"] for frame in series], [[0, 0], [1.3, -2.6], [-0.7, 3.4]], atol=0.05)


def test_series_is_refused_for_a_single_image_model_and_a_stack_of_the_wrong_length(
    tmp_path, make_predictor, predictor, focal_series
):
    frames = focal_series().frames
    np.save(tmp_path / "stack.npy", frames[:2])
    with pytest.raises(ValueError, match=r"stack.npy: given as a focal series, but the model 'stub' takes one image"):
        predict_images(make_predictor(_columns_from_first_frame), [tmp_path / "stack.npy"], sampling=0.12,
                       out=tmp_path, series=True)
    with pytest.raises(ValueError, match=r"stack.npy: found an array of shape \(2, 128, 128\), expected 3"):
        predict_images(predictor, [tmp_path / "stack.npy"], sampling=0.12, out=tmp_path)


def test_an_aligned_series_is_not_registered(tmp_path, predictor, focal_series):
    frames = focal_series(dose_per_pixel=1e6).frames
    np.save(tmp_path / "stack.npy", frames)
    [table] = predict_images(predictor, [tmp_path / "stack.npy"], sampling=0.12, out=tmp_path, aligned=True)
    image = read_table(table).metadata["image"]
    assert image["origin_px"] == [0, 0] and image["shape"] == [128, 128, 3]
    assert all(frame["shift_px"] == [0.0, 0.0] for frame in image["series"])
