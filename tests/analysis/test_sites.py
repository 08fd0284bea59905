import numpy as np
import pytest

from atomsight.analysis.sites import EVENT_KINDS, Sites, find_sites
from atomsight.analysis.tracking import link


def test_occupancy_event_rate_and_events_of_a_hand_made_history():
    occupied = np.array([[1, 1, 0, 0, 1], [0, 0, 0, 1, 1]], bool)
    observed = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 1, 1]], bool)  # site 1 outside the frame in frame 2
    sites = Sites(positions=np.zeros((2, 2)), occupied=occupied, observed=observed)
    np.testing.assert_allclose(sites.occupancy, [3 / 5, 2 / 4])
    # Site 0: changes at frames 2 and 4 of 4 pairs; site 1: pairs (0,1) and (3,4) observed, no change between
    # them, and the change from frame 2 to 3 is not seen because frame 2 does not observe it.
    np.testing.assert_allclose(sites.event_rate, [2 / 4, 0 / 2])
    site, frame, kind = sites.events()
    np.testing.assert_array_equal(site, [0, 0])
    np.testing.assert_array_equal(frame, [2, 4])
    assert [EVENT_KINDS[k] for k in kind] == ["vacated", "filled"]


def test_a_returning_atom_adds_a_track_to_its_site_and_sites_leave_the_field_of_view():
    # Drift-corrected detections of two sites 3 Å apart; the atom at (5, 5) is gone in frame 1 and back (0.2 Å
    # off) in frame 2. The frames are 20 x 20 pixels of 0.5 Å (x, y in [0, 9.5] Å); frame 2 drifts by 6 pixels
    # (3 Å) along y, so the site at y = 8 Å lies at y = 11 Å in it, outside: not found, and not observed.
    frames = [np.array([[5.0, 5.0], [5.0, 8.0]]), np.array([[5.0, 8.0]]), np.array([[5.2, 5.0]])]
    tracks = link(frames, max_displacement=1.0)
    assert tracks.n_tracks == 3
    drift = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 6.0]])
    sites = find_sites(tracks, n_frames=3, radius=1.0, drift=drift, sampling=0.5, shape=(20, 20))
    np.testing.assert_allclose(sites.positions, [[5.0, 8.0], [5.1, 5.0]])  # sorted by x
    np.testing.assert_array_equal(sites.occupied, [[1, 1, 0], [1, 0, 1]])
    np.testing.assert_array_equal(sites.observed, [[1, 1, 0], [1, 1, 1]])
    np.testing.assert_allclose(sites.occupancy, [1.0, 2 / 3])
    site, frame, kind = sites.events()
    np.testing.assert_array_equal(site, [1, 1])
    np.testing.assert_array_equal(frame, [1, 2])
    assert [EVENT_KINDS[k] for k in kind] == ["vacated", "filled"]


def test_a_sequence_without_detections_has_no_sites():
    tracks = link([np.zeros((0, 2))] * 3, max_displacement=1.0)
    sites = find_sites(tracks, n_frames=3, radius=1.0, drift=np.zeros((3, 2)), sampling=0.1, shape=(10, 10))
    assert sites.positions.shape == (0, 2) and sites.occupied.shape == (0, 3)
    assert all(len(part) == 0 for part in sites.events())


def test_the_radius_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        find_sites(link([np.zeros((1, 2))], max_displacement=1.0), n_frames=1, radius=-1.0, drift=np.zeros((1, 2)),
                   sampling=1.0, shape=(4, 4))
