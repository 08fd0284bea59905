"""Column counting scored as the paper's Fig. 12: groups by tilt, the confusion of heights, the plots."""

import numpy as np
import pytest

from atomsight.evaluation.counting import confusion_matrix, counting_scores, plot_confusion, plot_counting, tilt_group


def test_tilt_groups_split_at_whole_degrees():
    assert [tilt_group(t) for t in (0.0, 0.99, 1.0, 2.5, 3.0)] == ["0-1", "0-1", "1-2", ">=2", ">=2"]
    with pytest.raises(ValueError, match="tilt -1"):
        tilt_group(-1.0)


def test_the_confusion_matrix_of_a_hand_counted_example():
    true, found = np.array([1, 2, 2, 3, 3, 3]), np.array([1, 2, 3, 3, 3, 1])
    assert confusion_matrix(true, found, max_height=3) == [[1, 0, 0], [0, 1, 1], [1, 0, 2]]
    with pytest.raises(ValueError, match=r"heights must lie in \[1, 3\], got \[4\] true"):
        confusion_matrix(np.array([4]), np.array([1]), max_height=3)


def test_scores_by_tilt_pool_the_images_of_each_group():
    true = [np.array([1, 2]), np.array([3, 3, 3]), np.array([2])]
    found = [np.array([1, 2]), np.array([3, 2, 1]), np.array([2])]
    scores = counting_scores(true, found, [0.5, 2.5, 0.2], max_height=3)
    assert scores["columns"] == 6
    assert scores["count_errors"] == {"0": 4 / 6, "1": 1 / 6, "2": 1 / 6, ">=3": 0.0}
    assert scores["count_errors_by_tilt"]["0-1"] == {"images": 2, "columns": 3, "0": 1.0, "1": 0.0, "2": 0.0,
                                                     ">=3": 0.0}
    assert scores["count_errors_by_tilt"][">=2"]["columns"] == 3
    assert scores["count_errors_by_tilt"][">=2"]["0"] == pytest.approx(1 / 3)
    assert "count_errors_by_tilt" not in counting_scores(true, found, None, max_height=3)


def test_the_plots_are_written(tmp_path):
    true, found = [np.array([1, 2, 3])], [np.array([1, 2, 2])]
    results = {"doses": [{"dose": d, **counting_scores(true, found, [0.4], max_height=3)} for d in (100.0, 1e4)]}
    assert plot_counting(results, tmp_path / "c.png", images_per_series=3).stat().st_size > 0
    assert plot_confusion(results["doses"][1]["confusion"], tmp_path / "m.png", dose=3e4).stat().st_size > 0
