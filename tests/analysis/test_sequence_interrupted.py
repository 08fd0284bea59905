"""A failing or interrupted ``track`` leaves each movie's files whole and together: the previous run's or the new
one's, never a mixture, and no temporary behind."""

import errno
import time
from pathlib import Path

import numpy as np
import pytest
from atomic_checks import contents, interrupted_after, needs_timers
from test_sequence import stub_movie_predictor

from atomsight.cli import main

MOVIES = (range(8), range(6))
"""Frames of the simulated movie in each of the two movies tracked in turn: all 8, and the first 6."""


def track(tmp_path, monkeypatch, make_predictor, gold_movie, k, out, *, delay=None):
    """Write movie ``k`` (of :data:`MOVIES`, alternating) as ``movie.npy`` and run ``atomsight track`` on it.

    With ``delay`` [s], the run is interrupted that long after it starts (:func:`atomic_checks.interrupted_after`).
    """
    frames = MOVIES[k % 2]
    monkeypatch.setattr("atomsight.network.predictor.load_predictor", lambda folder: stub_movie_predictor(
        make_predictor, gold_movie.sampling, [gold_movie.positions[j] for j in frames]))
    np.save(tmp_path / "movie.npy", np.stack([gold_movie.frames[j] for j in frames]))
    argv = ["track", "--model", "gold", str(tmp_path / "movie.npy"), "--sampling", str(gold_movie.sampling),
            "--out", str(out)]
    if delay is None:
        return main(argv)
    with interrupted_after(delay):
        main(argv)
    return None


def full_disk(path, *args, **kwargs):
    """The overlay writer, the last figure, running out of space halfway: part of its file, then the error."""
    Path(path).write_bytes(b"GIF89a")
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def test_a_write_failing_halfway_leaves_the_previous_files_as_they_were(gold_movie, tmp_path, monkeypatch, capsys,
                                                                        make_predictor):
    out = tmp_path / "out"
    assert track(tmp_path, monkeypatch, make_predictor, gold_movie, 0, out) == 0
    before = contents(out)
    assert len(before) == 8
    monkeypatch.setattr("atomsight.analysis.sequence.write_overlay_gif", full_disk)
    assert track(tmp_path, monkeypatch, make_predictor, gold_movie, 1, out) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert contents(out) == before  # byte for byte, and no temporary left


def test_a_new_run_replaces_every_file_of_the_previous_one(gold_movie, tmp_path, monkeypatch, make_predictor):
    out, alone = tmp_path / "out", tmp_path / "alone"
    assert track(tmp_path, monkeypatch, make_predictor, gold_movie, 0, out) == 0
    before = contents(out)
    assert track(tmp_path, monkeypatch, make_predictor, gold_movie, 1, alone) == 0  # where there was nothing
    assert track(tmp_path, monkeypatch, make_predictor, gold_movie, 1, out) == 0
    after = contents(out)
    assert after == contents(alone)
    assert after.keys() == before.keys() and all(after[name] != before[name] for name in before)


@needs_timers
# an interrupt that lands in a garbage-collector callback is reported by Python as unraisable and the run goes on
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_interrupt_at_any_moment_leaves_the_old_or_the_new_files(gold_movie, tmp_path, monkeypatch, capsys,
                                                                    make_predictor):
    out = tmp_path / "out"
    complete, duration = [], 0.0
    for k in range(2):  # each movie's files, written without interruption
        start = time.perf_counter()
        assert track(tmp_path, monkeypatch, make_predictor, gold_movie, k, tmp_path / f"complete{k}") == 0
        duration = max(duration, time.perf_counter() - start)
        complete.append(contents(tmp_path / f"complete{k}"))
    assert track(tmp_path, monkeypatch, make_predictor, gold_movie, 1, out) == 0
    outcomes = set()
    for k, delay in enumerate(np.linspace(0.002, 1.2 * duration, 12)):
        track(tmp_path, monkeypatch, make_predictor, gold_movie, k, out, delay=delay)
        found = contents(out)
        assert found in complete  # every file of one run
        outcomes.add(found == complete[k % 2])
    assert outcomes == {True, False}  # some runs were cut short (old files kept), some completed
