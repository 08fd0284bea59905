import csv
import re

import imageio.v3 as iio
import numpy as np
import pytest
from rsciio import emd

from atomsight.analysis.sequence import analyze_sequence, write_sequence
from atomsight.analysis.sites import EVENT_KINDS
from atomsight.cli import main
from atomsight.core.registration import register
from atomsight.io.formats import MIN_SIDE
from atomsight.network.predict import predict_images
from atomsight.simulation.labels import gaussian_label_maps


def read_csv(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def site_at(sites, position):
    """Index of the site nearest ``position`` [Å], which must lie within 0.05 Å of it."""
    distances = np.linalg.norm(sites.positions - position, axis=1)
    # Detections from label maps are within 0.005 pixel (6e-4 Å) of the columns, whose drift is removed to 0.1
    # pixel (0.012 Å).
    assert distances.min() < 0.05
    return int(distances.argmin())


def test_the_drift_of_the_simulated_movie_is_recovered_within_a_tenth_of_a_pixel(gold_movie):
    for window in (1, 4):
        drift = register(gold_movie.frames, window=window)
        # The bound; the frames have Poisson noise at 5000 e/Å² and edges that differ by what drifted in.
        np.testing.assert_allclose(drift, gold_movie.drift, atol=0.1)


def test_the_hops_of_the_simulated_movie_are_found_at_their_frames(gold_movie):
    analysis = analyze_sequence(gold_movie.frames, gold_movie.positions, sampling=gold_movie.sampling)
    np.testing.assert_allclose(analysis.drift, gold_movie.drift, atol=0.1)  # the bound
    sites = analysis.sites
    expected = sorted([(site_at(sites, gold_movie.hop_from), 3, "vacated"),
                       (site_at(sites, gold_movie.hop_to), 3, "filled"),
                       (site_at(sites, gold_movie.removed), 6, "vacated")], key=lambda e: (e[1], e[0]))
    site, frame, kind = sites.events()
    assert list(zip(site.tolist(), frame.tolist(), [EVENT_KINDS[k] for k in kind])) == expected
    # 14 columns, plus the hop's new site; every site stays inside the field of view (drift <= 0.8 Å).
    assert len(sites.positions) == 15 and sites.observed.all()
    occupancy = np.round(sites.occupancy * 8).astype(int)  # frames in which each site is occupied, of 8
    assert occupancy[site_at(sites, gold_movie.hop_from)] == 3
    assert occupancy[site_at(sites, gold_movie.hop_to)] == 5
    assert occupancy[site_at(sites, gold_movie.removed)] == 6
    assert sorted(occupancy) == [3, 5, 6] + [8] * 12


def test_the_results_are_written_as_csv_png_and_gif(gold_movie, tmp_path):
    analysis = analyze_sequence(gold_movie.frames, gold_movie.positions, sampling=gold_movie.sampling,
                                frame_indices=range(10, 18))
    written = write_sequence(analysis, gold_movie.frames, out=tmp_path, name="movie")
    assert sorted(p.name for p in written) == sorted(
        f"movie_{suffix}" for suffix in ("drift.csv", "tracks.csv", "sites.csv", "events.csv", "occupancy.png",
                                         "events.png", "drift.png", "overlay.gif"))
    drift = read_csv(tmp_path / "movie_drift.csv")
    assert [int(row["frame"]) for row in drift] == list(range(10, 18))
    np.testing.assert_allclose([[float(row["drift_x_A"]), float(row["drift_y_A"])] for row in drift],
                               gold_movie.drift * gold_movie.sampling, atol=0.1 * gold_movie.sampling)
    events = read_csv(tmp_path / "movie_events.csv")
    assert sorted((int(row["frame"]), row["kind"]) for row in events) == [(13, "filled"), (13, "vacated"),
                                                                          (16, "vacated")]
    tracks = read_csv(tmp_path / "movie_tracks.csv")
    assert len(tracks) == sum(map(len, gold_movie.positions))
    sites = read_csv(tmp_path / "movie_sites.csv")
    assert len(sites) == 15 and {row["observed_frames"] for row in sites} == {"8"}
    gif = iio.imread(tmp_path / "movie_overlay.gif")
    assert gif.shape[:3] == (8, 160, 160)


def stub_movie_predictor(make_predictor, sampling, positions):
    """A stand-in for a trained model whose output, call after call, is the label maps of each frame's atoms.

    ``positions`` are each frame's (x, y) [Å] from its first pixel, at the model's ``sampling`` (the movie's, so
    the stub's maps lie on the frames' own grid).
    """
    frames = iter(positions)

    def probabilities(batch):
        atoms = next(frames)
        maps = gaussian_label_maps(atoms, np.zeros(len(atoms), int), n_classes=1, gpts=batch.shape[1:3],
                                   sampling=(sampling,) * 2, sigma=0.4)
        return np.moveaxis(np.concatenate([1 - maps, maps]), 0, -1)[None]

    return make_predictor(probabilities, sampling=sampling, classes=("column",), method="peaks")


def test_atomsight_track_skips_an_empty_frame_and_numbers_frames_as_in_the_movie(gold_movie, tmp_path, monkeypatch,
                                                                                   capsys, make_predictor):
    stub = stub_movie_predictor(make_predictor, gold_movie.sampling, gold_movie.positions)
    monkeypatch.setattr("atomsight.network.predictor.load_predictor", lambda folder: stub)
    frames = np.stack(gold_movie.frames)
    np.save(tmp_path / "movie.npy", np.insert(frames, 4, 0.0, axis=0))  # a dropped camera frame as frame 4
    with pytest.warns(UserWarning, match=r"movie.npy frame 4: constant"):
        status = main(["track", "--model", "gold", str(tmp_path / "movie.npy"), "--sampling", str(gold_movie.sampling),
                       "--out", str(tmp_path / "out")])
    assert status == 0
    assert capsys.readouterr().out.count("wrote") == 8
    events = read_csv(tmp_path / "out" / "movie_events.csv")
    # Analysed frames 3 and 6 are frames 3 and 7 of the movie.
    assert sorted((int(row["frame"]), row["kind"]) for row in events) == [(3, "filled"), (3, "vacated"),
                                                                          (7, "vacated")]


def test_a_missing_movie_is_reported_before_the_model_is_loaded(tmp_path, capsys):
    assert main(["track", "--model", str(tmp_path / "no-model"), str(tmp_path / "missing.npy"), "--sampling", "0.1",
                 "--out", str(tmp_path)]) == 2
    assert "image file not found" in capsys.readouterr().err


# --- movies in microscope files -------------------------------------------------------------------------------


def emd_signal(data, *, nm_per_pixel):
    """A RosettaSciIO signal dictionary of an image (H, W) or a movie (frames, H, W) with axes in nm."""
    axes = [{"name": n, "size": s, "scale": nm_per_pixel, "offset": 0.0, "units": "nm", "navigate": False}
            for n, s in zip("xy", data.shape[-2:])]
    if data.ndim == 3:
        axes.insert(0, {"name": "time", "size": data.shape[0], "scale": 1.0, "offset": 0.0, "units": "s",
                        "navigate": True})
    return {"data": data, "axes": axes, "metadata": {"General": {"title": "movie"}, "Signal": {}},
            "original_metadata": {}}


def test_atomsight_track_reads_an_emd_movie_with_its_calibration(gold_movie, tmp_path, monkeypatch, make_predictor):
    stub = stub_movie_predictor(make_predictor, gold_movie.sampling, gold_movie.positions)
    monkeypatch.setattr("atomsight.network.predictor.load_predictor", lambda folder: stub)
    path = tmp_path / "movie.emd"
    emd.file_writer(str(path), emd_signal(np.stack(gold_movie.frames), nm_per_pixel=gold_movie.sampling / 10))
    # no --sampling: the file's
    assert main(["track", "--model", "gold", str(path), "--out", str(tmp_path / "out")]) == 0
    drift = read_csv(tmp_path / "out" / "movie_drift.csv")
    # The drift in Å is the drift in pixels times the pixel size read from the file: recovered within the issue's
    # 0.1 pixel only if that pixel size is the written 0.012 nm.
    np.testing.assert_allclose([[float(row["drift_x_A"]), float(row["drift_y_A"])] for row in drift],
                               gold_movie.drift * gold_movie.sampling, atol=0.1 * gold_movie.sampling)
    events = read_csv(tmp_path / "out" / "movie_events.csv")
    assert sorted((int(row["frame"]), row["kind"]) for row in events) == [(3, "filled"), (3, "vacated"),
                                                                          (6, "vacated")]


def test_a_movie_of_one_file_a_frame_skips_odd_sized_recalibrated_and_truncated_files(gold_movie, tmp_path,
                                                                                       monkeypatch, make_predictor):
    stub = stub_movie_predictor(make_predictor, gold_movie.sampling, gold_movie.positions)
    monkeypatch.setattr("atomsight.network.predictor.load_predictor", lambda folder: stub)
    folder = tmp_path / "run42"
    folder.mkdir()
    frames = list(gold_movie.frames)
    frames.insert(4, frames[4][:-10])  # movie frame 4: 10 rows short
    frames.insert(7, frames[7])  # movie frame 7: written at 2 % more Å/pixel
    for k, frame in enumerate(frames):
        scale = gold_movie.sampling / 10 * (1.02 if k == 7 else 1.0)
        emd.file_writer(str(folder / f"frame_{k:04d}.emd"), emd_signal(frame, nm_per_pixel=scale))
    truncated = (folder / "frame_0009.emd").read_bytes()
    (folder / "frame_0010.emd").write_bytes(truncated[:len(truncated) // 2])  # movie frame 10: cut in half
    with pytest.warns(UserWarning) as caught:
        status = main(["track", "--model", "gold", str(folder / "*.emd"), "--frames-from-files",
                       "--out", str(tmp_path / "out")])
    assert status == 0
    messages = [str(w.message) for w in caught]
    assert any(re.search(r"frame_0004.emd frame 0: shape \(150, 160\) differs from the first frame's \(160, 160\);"
                         r" frame skipped", m) for m in messages)
    assert any(re.search(r"frame_0007.emd frames 0-0: pixel size 0.1224 Å differs from the first frame's", m)
               for m in messages)
    assert any(re.search(r"frame_0010.emd: could not be read by rsciio.emd .*; file skipped", m) for m in messages)
    events = read_csv(tmp_path / "out" / "run42_events.csv")
    # Analysed frames 3 and 6 are movie frames 3 and 8 (frames 4 and 7 skipped).
    assert sorted((int(row["frame"]), row["kind"]) for row in events) == [(3, "filled"), (3, "vacated"),
                                                                          (8, "vacated")]
    drift = read_csv(tmp_path / "out" / "run42_drift.csv")
    assert [int(row["frame"]) for row in drift] == [0, 1, 2, 3, 5, 6, 8, 9]


def test_a_movie_without_calibration_needs_sampling(tmp_path, monkeypatch, capsys, make_predictor):
    monkeypatch.setattr("atomsight.network.predictor.load_predictor",
                        lambda folder: stub_movie_predictor(make_predictor, 0.1, []))
    np.save(tmp_path / "movie.npy", np.random.default_rng(0).normal(size=(3, 20, 20)))
    assert main(["track", "--model", "gold", str(tmp_path / "movie.npy"), "--out", str(tmp_path)]) == 2
    assert "movie.npy: the file holds no pixel size" in capsys.readouterr().err


def test_track_skips_a_frame_smaller_than_predict_takes_by_the_same_rule(gold_movie, tmp_path, monkeypatch,
                                                                          make_predictor):
    stub = stub_movie_predictor(make_predictor, gold_movie.sampling, gold_movie.positions[:3])
    monkeypatch.setattr("atomsight.network.predictor.load_predictor", lambda folder: stub)
    folder = tmp_path / "frames"
    folder.mkdir()
    frames = [gold_movie.frames[0], gold_movie.frames[1][:MIN_SIDE - 1, :MIN_SIDE - 1], *gold_movie.frames[1:3]]
    for k, frame in enumerate(frames):
        np.save(folder / f"frame_{k:04d}.npy", frame)
    small = f"image of {MIN_SIDE - 1} x {MIN_SIDE - 1} pixels, expected at least {MIN_SIDE} along each side"
    with pytest.warns(UserWarning, match=re.escape(f"frame_0001.npy frame 0: {small}; frame skipped")):
        assert main(["track", "--model", "gold", str(folder / "*.npy"), "--frames-from-files", "--sampling",
                     str(gold_movie.sampling), "--out", str(tmp_path / "out")]) == 0
    assert [int(row["frame"]) for row in read_csv(tmp_path / "out" / "frames_drift.csv")] == [0, 2, 3]
    with pytest.raises(ValueError, match=re.escape(f"frame_0001.npy: image: {small}")):
        predict_images(stub, [folder / "frame_0001.npy"], sampling=gold_movie.sampling, out=tmp_path / "predicted")
