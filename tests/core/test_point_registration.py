import numpy as np
import pytest

from atomsight.core.point_registration import register_points


def _particle(spacing=(4.08, 2.885), radius=14.0):
    """Column positions [Å] of a round particle on gold's <110> lattice (a centred rectangle)."""
    a, b = spacing
    cell = [np.array([i * a, j * b]) for i in range(-8, 9) for j in range(-8, 9)]
    points = np.array(cell + [p + [a / 2, b / 2] for p in cell])
    return points[np.hypot(*points.T) < radius]


def test_the_translation_of_a_particle_is_found_not_a_lattice_vector_off():
    rng = np.random.default_rng(0)
    reference = _particle()
    truth = np.array([1.7, -2.3])
    moving = reference + truth + rng.normal(scale=0.05, size=reference.shape)
    found = register_points(reference, moving, max_shift=10.0, radius=0.6)
    # the mean of ~70 pairs of 0.05 Å noise each: standard error 0.05 * sqrt(2 / 70) = 0.008 Å
    np.testing.assert_allclose(found.shift, truth, atol=0.03)
    assert found.fraction == 1.0 and found.rms < 0.15
    # a lattice vector off matches all but a rim of the particle
    assert 0.5 * found.matched < found.runner_up < found.matched


def test_missing_and_extra_points_leave_the_translation_unchanged():
    rng = np.random.default_rng(1)
    reference = _particle()
    truth = np.array([-3.2, 0.4])
    kept = reference[rng.random(len(reference)) > 0.15]  # 15 % of the columns missed in the moving frame
    extra = rng.uniform(-20, 20, size=(12, 2))  # false detections, in the vacuum and on the particle
    moving = np.concatenate([kept + truth, extra])
    found = register_points(reference, moving, max_shift=10.0, radius=0.6)
    # a false detection that falls within the radius (0.6 Å) of a column pulls the mean of ~60 pairs by at most 0.01 Å
    np.testing.assert_allclose(found.shift, truth, atol=0.02)
    assert found.matched >= len(kept)


@pytest.mark.parametrize(("reference", "moving", "max_shift", "radius", "message"), [
    (np.zeros((0, 2)), np.zeros((3, 2)), 1.0, 1.0, "reference points must be a non-empty"),
    (np.zeros((3, 2)), np.zeros((3, 3)), 1.0, 1.0, r"moving points .* got shape \(3, 3\)"),
    (np.zeros((3, 2)), np.zeros((3, 2)), 0.0, 1.0, "must be positive"),
])
def test_bad_point_sets_are_refused(reference, moving, max_shift, radius, message):
    with pytest.raises(ValueError, match=message):
        register_points(reference, moving, max_shift=max_shift, radius=radius)
