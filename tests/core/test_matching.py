"""One-to-one matching of point sets on hand-made cases, checked against hand-computed numbers and brute force."""

import itertools

import numpy as np
import pytest

from atomsight.core.matching import match


def pairs(m):
    return list(zip(m.true_index.tolist(), m.detected_index.tolist(), strict=True))


def test_detection_between_two_atoms_goes_to_the_closer():
    m = match(np.array([[0.0, 0.0], [0.0, 2.0]]), np.array([[0.0, 1.2]]), radius=1.5)
    assert pairs(m) == [(1, 0)]
    np.testing.assert_allclose(m.distances, [0.8])


def test_beyond_radius_never_matches_and_radius_is_inclusive():
    true = np.array([[0.0, 0.0]])
    assert pairs(match(true, np.array([[3.0, 4.0]]), radius=4.99)) == []
    assert pairs(match(true, np.array([[3.0, 4.0]]), radius=5.0)) == [(0, 0)]  # distance exactly 5


def test_coincident_positions_match_at_distance_zero():
    m = match(np.array([[1.0, 2.0], [7.0, 7.0]]), np.array([[7.0, 7.0], [1.0, 2.0]]), radius=0.5)
    assert pairs(m) == [(0, 1), (1, 0)]
    np.testing.assert_array_equal(m.distances, [0.0, 0.0])


def test_optimal_matching_beats_greedy():
    # greedy nearest-first takes B-X (0.9) first, leaving A and Y without partners within 1.25
    true = np.array([[0.0, 0.0], [0.0, 2.0]])  # A, B
    detected = np.array([[0.0, 1.1], [0.0, 3.2]])  # X, Y
    m = match(true, detected, radius=1.25)
    assert pairs(m) == [(0, 0), (1, 1)]
    np.testing.assert_allclose(m.distances, [1.1, 1.2])


def brute_force(true, detected, radius):
    """Most pairs within radius, then the smallest total distance, over all one-to-one matchings."""
    distance = np.linalg.norm(true[:, None] - detected[None], axis=-1)
    best = (0, 0.0)
    slots = list(range(len(detected))) + [None] * len(true)
    for assignment in itertools.permutations(slots, len(true)):
        chosen = [(i, j) for i, j in enumerate(assignment) if j is not None]
        if all(distance[i, j] <= radius for i, j in chosen):
            best = min(best, (-len(chosen), sum(distance[i, j] for i, j in chosen)))
    return best


def test_matching_agrees_with_brute_force():
    rng = np.random.default_rng(7)
    for _ in range(150):
        true, detected = rng.random((rng.integers(0, 5), 2)) * 3, rng.random((rng.integers(0, 5), 2)) * 3
        m = match(true, detected, radius=1.0)
        assert len(set(m.true_index.tolist())) == len(set(m.detected_index.tolist())) == len(m.distances)
        assert (m.distances <= 1.0).all()
        count, total = brute_force(true, detected, 1.0)
        assert len(m.distances) == -count
        assert m.distances.sum() == pytest.approx(total, abs=1e-12)


def test_separate_groups_are_matched_independently():
    rng = np.random.default_rng(3)
    true = np.concatenate([rng.random((3, 2)) + 10 * k for k in range(40)])
    detected = np.concatenate([rng.random((3, 2)) + 10 * k for k in range(40)])
    m = match(true, detected, radius=2.0)  # within 1.5 of its group, over 12 from the others
    assert len(m.distances) == 120
    assert (m.true_index // 3 == m.detected_index // 3).all()
    assert (np.diff(m.true_index) > 0).all()


def test_invalid_positions_and_radius_are_named():
    with pytest.raises(ValueError, match="same d"):
        match(np.zeros((2, 2)), np.zeros((2, 3)), radius=1.0)
    with pytest.raises(ValueError, match="2-D"):
        match(np.zeros(2), np.zeros((2, 2)), radius=1.0)
    with pytest.raises(ValueError, match="finite"):
        match(np.array([[np.nan, 0.0]]), np.zeros((1, 2)), radius=1.0)
    with pytest.raises(ValueError, match="radius"):
        match(np.zeros((1, 2)), np.zeros((1, 2)), radius=0.0)
