"""A failing or interrupted ``analyze`` leaves each input's files whole and together: the previous analysis' or the new
one's, never a mixture, and no temporary behind."""

import errno
import time
from pathlib import Path

import numpy as np
import pytest
from atomic_checks import contents, interrupted_after, needs_timers
from test_gold_analysis import grid_110, write_csv
from test_graphene_analysis import sheet, write_positions

from atomsight.analysis.gold_files import analyze_gold_file
from atomsight.analysis.graphene_files import analyze_graphene_file
from atomsight.cli import main


def graphene_positions(path, k):
    """Write the atoms of graphene sample ``k``: a sheet of 4 x 3 cells for even ``k``, 3 x 3 for odd."""
    return write_positions(path, sheet((4, 3) if k % 2 == 0 else (3, 3)))


def gold_columns(path, k):
    """Write the columns of gold sample ``k``: 4 x 3 (even ``k``) or 3 x 3 columns along <110>, of 1-3 atoms."""
    xy = grid_110(4 if k % 2 == 0 else 3, 3)
    heights = 1 + np.arange(len(xy)) % 3
    return write_csv(path, xy, [f"column-{h}" for h in heights], np.full(len(xy), 0.9))


ANALYSES = {
    "graphene": (graphene_positions, analyze_graphene_file, "plot_rings"),
    "gold": (gold_columns, analyze_gold_file, "plot_spacings"),
}
"""Per analysis: its input writer, its function, and a figure it draws after the tables (made to fail)."""


def full_disk(path, *args, **kwargs):
    """A figure writer that runs out of space halfway: part of its file, then the error."""
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n")
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


@pytest.mark.parametrize("analysis", ANALYSES)
def test_a_write_failing_halfway_leaves_the_previous_files_as_they_were(tmp_path, monkeypatch, capsys, analysis):
    write_input, _, figure = ANALYSES[analysis]
    out = tmp_path / "out"
    source = write_input(tmp_path / "sample.csv", 0)
    assert main(["analyze", analysis, str(source), "--out", str(out)]) == 0
    before = contents(out)
    write_input(source, 1)
    monkeypatch.setattr(f"atomsight.analysis.{analysis}_files.{figure}", full_disk)
    assert main(["analyze", analysis, str(source), "--out", str(out)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert contents(out) == before  # byte for byte, and no temporary left


@pytest.mark.parametrize("analysis", ANALYSES)
def test_a_new_analysis_replaces_every_file_of_the_previous_one(tmp_path, analysis):
    write_input, analyze, _ = ANALYSES[analysis]
    out, alone = tmp_path / "out", tmp_path / "alone"
    source = write_input(tmp_path / "sample.csv", 0)
    analyze(source, out=out)
    before = contents(out)
    write_input(source, 1)
    analyze(source, out=alone)  # the new analysis written where there was nothing
    analyze(source, out=out)
    after = contents(out)
    assert after == contents(alone)
    assert after.keys() == before.keys() and all(after[name] != before[name] for name in before)


@needs_timers
# an interrupt that lands in a garbage-collector callback is reported by Python as unraisable and the run goes on
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("analysis", ANALYSES)
def test_an_interrupt_at_any_moment_leaves_the_old_or_the_new_files(tmp_path, analysis):
    write_input, analyze, _ = ANALYSES[analysis]
    source, out = tmp_path / "sample.csv", tmp_path / "out"
    complete, duration = [], 0.0
    for k in range(2):  # each sample's files, written without interruption
        write_input(source, k)
        start = time.perf_counter()
        analyze(source, out=tmp_path / f"complete{k}")
        duration = max(duration, time.perf_counter() - start)
        complete.append(contents(tmp_path / f"complete{k}"))
    analyze(source, out=out)
    outcomes = set()
    for k, delay in enumerate(np.linspace(0.002, 1.2 * duration, 12)):
        write_input(source, k)  # the samples alternate
        with interrupted_after(delay):
            analyze(source, out=out)
        found = contents(out)
        assert found in complete  # every file of one analysis
        outcomes.add(found == complete[k % 2])
    assert outcomes == {True, False}  # some runs were cut short (old files kept), some completed


def test_a_movie_summary_failing_halfway_leaves_the_previous_one(tmp_path, monkeypatch, capsys):
    frames = [tmp_path / f"particle_frame{k:04d}.csv" for k in range(2)]
    for k, path in enumerate(frames):
        gold_columns(path, k)
    out = tmp_path / "out"
    assert main(["analyze", "gold", str(frames[0]), "--out", str(out)]) == 0
    before = contents(out)
    monkeypatch.setattr("atomsight.analysis.gold_movies.plot_movie", full_disk)
    assert main(["analyze", "gold", *map(str, frames), "--out", str(out)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    after = contents(out)
    for name in ("particle_gold_frames.csv", "particle_gold_frames.png"):  # the table of frame 0 alone
        assert after[name] == before[name]
    assert "particle_frame0001_summary.json" in after  # the second frame's own analysis went through
