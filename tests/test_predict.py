"""`atomsight predict` end to end on images made by the microscope, and its errors."""

import csv

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from atomsight.cli import main
from atomsight.evaluate import evaluate
from atomsight.export import export
from atomsight.train import train


@pytest.fixture(scope="module")
def models(tiny_config, tiny_stores, tmp_path_factory):
    folders = {}
    for name in ("graphene", "gold"):
        system = tiny_config["systems"][name]
        folder = tmp_path_factory.mktemp(f"model-{name}")
        stores = tiny_stores[name]
        model = train(system, train_stores=stores["train"], test_stores=stores["test"], out=folder / "t", progress=False)
        evaluate(system, model_path=model, test_stores=stores["test"], out=folder / "e")
        folders[name] = export(system, name=name, model_path=model, metrics_path=folder / "e" / "metrics.json",
                               out=folder / name)
    return folders


def image(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (100 + 10 * rng.normal(size=shape)).astype(np.float32)


def test_predict_writes_csv_maps_and_overlay_for_each_image(models, tmp_path, capsys):
    np.save(tmp_path / "a.npy", image((150, 110)))
    tifffile.imwrite(tmp_path / "b.tif", image((90, 700), seed=1))
    iio.imwrite(tmp_path / "c.png", np.clip(image((64, 64), seed=2), 0, 255).astype(np.uint8))
    out = tmp_path / "out"
    paths = [str(tmp_path / f) for f in ("a.npy", "b.tif", "c.png")]
    assert main(["predict", str(models["graphene"]), *paths, "--sampling", "0.1", "--out", str(out), "--tile", "256"]) == 0
    assert capsys.readouterr().out.count("wrote") == 3
    with open(out / "a.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == ["row", "col", "x_A", "y_A", "class", "probability"] if rows else True
    for row in rows:
        assert float(row["x_A"]) == pytest.approx(float(row["col"]) * 0.1, abs=1e-3)
        assert 0 <= float(row["row"]) < 150 and 0 <= float(row["col"]) < 110
    maps = np.load(out / "b_probabilities.npy")
    assert maps.shape == (round(90 * 0.1 / 0.12), round(700 * 0.1 / 0.12), 2)  # at the model's sampling
    np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-4)
    assert (out / "c_overlay.png").exists()


def test_focal_series_model_takes_stacks(models, tmp_path):
    np.save(tmp_path / "series.npy", image((3, 120, 120)))
    assert main(["predict", str(models["gold"]), str(tmp_path / "series.npy"), "--sampling", "0.14",
                 "--out", str(tmp_path / "out")]) == 0


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: np.save(p, np.full((64, 64), np.nan)), "NaN"),
        (lambda p: np.save(p, np.ones((64, 64))), "constant"),
    ],
)
def test_unusable_images_are_refused_with_their_name(models, tmp_path, capsys, make, message):
    path = tmp_path / "bad.npy"
    make(path)
    assert main(["predict", str(models["graphene"]), str(path), "--sampling", "0.1", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "bad.npy" in error and message in error


def test_a_single_image_for_a_focal_series_model_is_refused(models, tmp_path, capsys):
    np.save(tmp_path / "one.npy", image((64, 64)))
    assert main(["predict", str(models["gold"]), str(tmp_path / "one.npy"), "--sampling", "0.1", "--out", str(tmp_path)]) == 2
    assert "one.npy" in capsys.readouterr().err


def test_the_sampling_is_required_and_positive(models, tmp_path, capsys):
    np.save(tmp_path / "a.npy", image((64, 64)))
    with pytest.raises(SystemExit) as exit_:
        main(["predict", str(models["graphene"]), str(tmp_path / "a.npy"), "--out", str(tmp_path)])
    assert exit_.value.code == 2 and "--sampling" in capsys.readouterr().err
    assert main(["predict", str(models["graphene"]), str(tmp_path / "a.npy"), "--sampling", "0", "--out", str(tmp_path)]) == 2
    assert "sampling must be a positive" in capsys.readouterr().err
