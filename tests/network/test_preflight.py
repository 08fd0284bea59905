"""The checks before a model loads: an image too large once resampled is refused from its file's header."""

import subprocess
import sys

import numpy as np
import pytest

from atomsight.cli import main
from atomsight.network.preflight import check_image

CARD = {"name": "stub", "sampling": 0.1, "input_channels": 1}
"""What the checks read of a model's card."""


def sparse_npy(path, shape):
    """A ``.npy`` file of uint8 zeros of ``shape`` that takes no disk space beyond its header (a sparse file)."""
    np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape).flush()
    return path


def test_the_largest_image_passes_and_one_more_row_is_refused(tmp_path):
    largest = sparse_npy(tmp_path / "largest.npy", (10000, 10000))
    assert check_image(CARD, largest, sampling=0.1) == 0.1
    larger = sparse_npy(tmp_path / "larger.npy", (10001, 10000))
    with pytest.raises(ValueError, match=r"larger.npy: 10001 x 10000 pixels at 0.1 Å/pixel are 10001 x 10000 pixels"
                                         r" at the model's 0.1 Å/pixel, 100,010,000 pixels: more than the 100,000,000"):
        check_image(CARD, larger, sampling=0.1)
    # a finer pixel: resampled to the model's, fewer pixels (9901 x 9900), under the limit
    assert check_image(CARD, larger, sampling=0.099) == 0.099


def test_predict_refuses_it_before_tensorflow_loads(tmp_path):
    sparse_npy(tmp_path / "huge.npy", (12000, 12000))
    code = ("import sys; from atomsight.cli import main; status = main(sys.argv[1:]);"
            " print(status, 'tensorflow' in sys.modules)")
    ran = subprocess.run([sys.executable, "-c", code, "predict", str(tmp_path / "huge.npy"), "--sampling", "0.12",
                          "--model", "graphene", "--out", str(tmp_path / "o")], capture_output=True, text=True,
                         timeout=300)
    assert ran.stdout.split() == ["2", "False"]
    assert ("skipped " + str(tmp_path / "huge.npy") + ": 12000 x 12000 pixels at 0.12 Å/pixel") in ran.stderr


def test_track_refuses_a_movie_of_too_large_frames_before_the_model_loads(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("atomsight.network.predictor.load_predictor", lambda *args, **kwargs: pytest.fail("loaded"))
    sparse_npy(tmp_path / "movie.npy", (2, 12000, 12000))
    assert main(["track", "--model", "gold", str(tmp_path / "movie.npy"), "--sampling", "0.12",
                 "--out", str(tmp_path / "out")]) == 2
    assert "movie.npy: 12000 x 12000 pixels at 0.12 Å/pixel" in capsys.readouterr().err
