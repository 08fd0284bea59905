import numpy as np
import pytest

from atomsight.analysis.tracking import link


def test_detections_stay_on_their_track_and_a_long_hop_starts_a_new_one():
    frames = [
        np.array([[0.0, 0.0], [5.0, 5.0]]),
        np.array([[5.2, 4.9], [0.1, -0.2]]),  # both move less than 1 Å; listed in the other order
        np.array([[0.2, -0.1], [7.0, 5.0]]),  # the second atom hops 1.8 Å: beyond 1 Å
        np.zeros((0, 2)),                       # nothing found
        np.array([[0.0, 0.0]]),                 # after an empty frame: a new track
    ]
    tracks = link(frames, max_displacement=1.0)
    np.testing.assert_array_equal(tracks.frame, [0, 0, 1, 1, 2, 2, 4])
    np.testing.assert_array_equal(tracks.track, [0, 1, 1, 0, 0, 2, 3])
    assert tracks.n_tracks == 4
    np.testing.assert_array_equal(tracks.positions, np.concatenate(frames))


def test_the_assignment_is_optimal_not_greedy():
    # Greedy nearest-first would pair (0, 0) with (0.6, 0) and leave (1.2, 0) unmatched (1.2 > 1 Å);
    # the optimal assignment keeps both tracks.
    tracks = link([np.array([[0.0, 0.0], [1.2, 0.0]]), np.array([[-0.3, 0.0], [0.6, 0.0]])], max_displacement=1.0)
    np.testing.assert_array_equal(tracks.track, [0, 1, 0, 1])


def test_the_displacement_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        link([np.zeros((1, 2))], max_displacement=0.0)
