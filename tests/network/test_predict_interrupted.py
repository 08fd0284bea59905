"""An interrupted ``predict`` leaves each image's files complete and together: the previous run's or the new one's."""

import hashlib
import json
import time

import numpy as np
import pytest
from atomic_checks import interrupted_after, needs_timers, temporaries

from atomsight.detections import read_table
from atomsight.network.predict import predict_images


def _atoms_from_intensity(batch: np.ndarray) -> np.ndarray:
    """A stand-in network: the atom probability is the image itself (values in [0, 1])."""
    atom = np.clip(batch[..., 0], 0.0, 1.0)
    return np.stack([1.0 - atom, atom], axis=-1).astype(np.float32)


def _image(count: int) -> np.ndarray:
    """``count`` Gaussian atoms (sigma 2 pixels) on a 96 x 96 image, 16 pixels apart."""
    rows, cols = np.mgrid[0:96, 0:96].astype(np.float64)
    image = np.full((96, 96), 0.01)
    for k in range(count):
        r, c = 16 + 16 * (k // 5), 16 + 16 * (k % 5)
        image += np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * 2.0**2))
    return image


def _check_together(out):
    """Every file of the image is there, loads, and belongs to the same run as the others."""
    table = read_table(out / "image.csv")
    sidecar = json.loads((out / "image.json").read_text())
    assert sidecar["detections"] == len(table.xy)
    for name, digest in sidecar["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    assert np.load(out / "image_probabilities.npy").shape == (96, 96, 2)
    assert not temporaries(out)
    return len(table.xy)


@needs_timers
# an interrupt that lands in a garbage-collector callback is reported by Python as unraisable and the run goes on
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_interrupt_at_any_moment_leaves_the_old_or_the_new_files(tmp_path, make_predictor):
    predictor = make_predictor(_atoms_from_intensity, sampling=0.1)
    out = tmp_path / "out"
    np.save(tmp_path / "image.npy", _image(3))
    start = time.perf_counter()
    predict_images(predictor, [tmp_path / "image.npy"], sampling=0.1, out=out)
    duration = time.perf_counter() - start
    assert _check_together(out) == 3
    outcomes = set()
    for k, delay in enumerate(np.linspace(0.002, 1.2 * duration, 24)):
        count = 3 + 2 * (k % 2 == 0)  # the image alternates between 5 and 3 atoms
        np.save(tmp_path / "image.npy", _image(count))
        with interrupted_after(delay):
            predict_images(predictor, [tmp_path / "image.npy"], sampling=0.1, out=out)
        outcomes.add(_check_together(out) == count)
    assert outcomes == {True, False}  # some runs were cut short (old files kept), some completed
