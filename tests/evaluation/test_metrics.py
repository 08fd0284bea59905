"""Scores, intervals and count errors on hand-made cases, checked against hand-computed numbers."""

import math

import numpy as np
import pytest

from atomsight.core.matching import match
from atomsight.evaluation.metrics import Scores, aggregate, bootstrap_intervals, count_errors, recall_by_group, score


def test_two_detections_near_one_atom_give_one_match():
    m = match(np.array([[5.0, 5.0]]), np.array([[5.3, 5.0], [5.0, 5.2]]), radius=1.0)
    assert m.detected_index.tolist() == [1]  # the closer one
    s = score(np.array([[5.0, 5.0]]), np.array([[5.3, 5.0], [5.0, 5.2]]), radius=1.0)
    assert (s.true_positives, s.false_positives, s.false_negatives) == (1, 1, 0)


# score and aggregate

TRUE = np.array([[0.0, 0.0], [0.0, 10.0], [0.0, 20.0], [0.0, 30.0]])
DETECTED = np.array([[0.3, 0.0], [0.0, 10.4], [0.0, 23.0]])  # two within radius 1, one 3 away


def test_scores_of_a_hand_computed_example():
    s = score(TRUE, DETECTED, radius=1.0)
    assert (s.true_positives, s.false_positives, s.false_negatives) == (2, 1, 2)
    assert s.precision == pytest.approx(2 / 3)
    assert s.recall == pytest.approx(1 / 2)
    assert s.f1 == pytest.approx(4 / 7)  # 2 P R / (P + R) = (2/3) / (7/6)
    assert s.rmse == pytest.approx(math.sqrt((0.3**2 + 0.4**2) / 2))


@pytest.mark.parametrize(
    ("n_true", "n_detected", "expected"),
    [(0, 0, (1.0, 1.0, 1.0)), (2, 0, (0.0, 0.0, 0.0)), (0, 2, (0.0, 0.0, 0.0))],
)
def test_scores_without_positions(n_true, n_detected, expected):
    s = score(np.zeros((n_true, 2)), np.ones((n_detected, 2)), radius=1.0)
    assert (s.precision, s.recall, s.f1) == expected
    assert math.isnan(s.rmse)


def test_aggregate_equals_the_score_of_the_concatenated_images():
    rng = np.random.default_rng(11)
    images = [(rng.random((rng.integers(0, 12), 2)) * 20, rng.random((rng.integers(0, 12), 2)) * 20) for _ in range(6)]
    combined = aggregate([score(t, d, radius=2.0) for t, d in images])
    offsets = 100.0 * np.arange(len(images))  # far apart: images cannot interact
    whole = score(
        np.concatenate([t + o for (t, _), o in zip(images, offsets, strict=True)]),
        np.concatenate([d + o for (_, d), o in zip(images, offsets, strict=True)]),
        radius=2.0,
    )
    assert (combined.true_positives, combined.false_positives, combined.false_negatives) == (
        whole.true_positives,
        whole.false_positives,
        whole.false_negatives,
    )
    for name in ("precision", "recall", "f1", "rmse"):
        assert getattr(combined, name) == pytest.approx(getattr(whole, name), rel=1e-12)


def test_aggregate_of_nothing_is_an_empty_image():
    assert aggregate([]) == Scores(0, 0, 0, 0.0)


# bootstrap_intervals


def test_bootstrap_interval_of_pooled_recall_matches_the_binomial_normal_approximation():
    # 200 structures of 40 atoms, each atom found independently with probability 0.8: the pooled
    # recall R = sum TP / 8000 has standard error sqrt(R (1 - R) / 8000), so the normal
    # approximation's 95 % interval is R +- 1.96 sqrt(R (1 - R) / 8000).
    found = np.random.default_rng(3).binomial(40, 0.8, size=200)
    scores = [Scores(int(tp), 0, 40 - int(tp), 0.0) for tp in found]
    low, high = bootstrap_intervals(scores, resamples=4000, confidence=0.95, seed=1)["recall"]
    recall = found.sum() / 8000
    half = 1.96 * math.sqrt(recall * (1 - recall) / 8000)
    # 15 % of the half width is three standard errors of the bootstrap's own: it estimates the spread
    # from 200 structures (relative standard error of a standard deviation 1 / sqrt(2 x 200) = 5 %),
    # and each quantile of 4000 resamples is off by sqrt(0.025 x 0.975 / 4000) / phi(1.96) = 0.04
    # sigma (2 % of the half width).
    assert (high - low) / 2 == pytest.approx(half, rel=0.15)
    assert (low + high) / 2 == pytest.approx(recall, abs=0.15 * half)


def test_identical_structures_give_zero_width_intervals():
    intervals = bootstrap_intervals([Scores(9, 1, 2, 0.36)] * 30, resamples=200)
    # every resample pools 30 copies: precision 9/10, recall 9/11, F1 18/21, RMSE sqrt(0.36 / 9)
    expected = {"precision": 0.9, "recall": 9 / 11, "f1": 18 / 21, "rmse": 0.2}
    for key, value in expected.items():
        assert intervals[key] == pytest.approx((value, value), rel=1e-12), key


def test_resamples_without_matches_are_left_out_of_the_rmse_interval():
    # Resamples of only the first structure have no matched pair and no RMSE; every other one has
    # RMSE sqrt(0.08 k / (2 k)) = 0.2 for k copies of the second.
    intervals = bootstrap_intervals([Scores(0, 1, 1, 0.0), Scores(2, 0, 0, 0.08)], resamples=100)
    assert intervals["rmse"] == pytest.approx((0.2, 0.2), rel=1e-12)
    assert math.isnan(bootstrap_intervals([Scores(0, 1, 1, 0.0)], resamples=10)["rmse"][0])


def test_bootstrap_is_seeded_and_rejects_no_structures():
    scores = [Scores(int(tp), 1, 3, 0.1) for tp in range(10)]
    assert bootstrap_intervals(scores, seed=4) == bootstrap_intervals(scores, seed=4)
    with pytest.raises(ValueError, match="0 units"):
        bootstrap_intervals([])


# count_errors


def test_count_errors_of_a_hand_computed_example():
    true = np.array([3, 3, 4, 5, 2, 6, 1, 2])
    detected = np.array([3, 4, 2, 5, 2, 1, 1, 3])  # errors 0 1 2 0 0 5 0 1
    assert count_errors(true, detected) == {"0": 4 / 8, "1": 2 / 8, "2": 1 / 8, ">=3": 1 / 8}


def test_count_errors_without_columns_is_nan():
    assert all(math.isnan(f) for f in count_errors(np.array([], int), np.array([], int)).values())


def test_count_errors_rejects_mismatched_or_float_heights():
    with pytest.raises(ValueError, match="same length"):
        count_errors(np.array([1, 2]), np.array([1]))
    with pytest.raises(ValueError, match="integers"):
        count_errors(np.array([1.0, 2.0]), np.array([1, 2]))


def test_recall_by_group_counts_each_group_by_hand():
    groups = np.array(["edge", "pristine", "edge", "pristine", "pristine", "disordered"])
    found = np.array([True, True, False, True, False, False])
    assert recall_by_group(groups, found) == {
        "disordered": {"atoms": 1, "found": 0, "recall": 0.0},
        "edge": {"atoms": 2, "found": 1, "recall": 0.5},
        "pristine": {"atoms": 3, "found": 2, "recall": 2 / 3},
    }
    with pytest.raises(ValueError, match="shape"):
        recall_by_group(groups, found[:-1])
