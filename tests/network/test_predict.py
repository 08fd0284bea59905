"""`atomsight predict` end to end, on known atoms through a stub model and with trained models, and its errors."""

import csv

import ase.io
import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from atomsight.cli import main
from atomsight.detections import DetectionSettings
from atomsight.evaluation.evaluate import evaluate
from atomsight.export.card import build_card
from atomsight.export.savedmodel import export
from atomsight.microscope import fixed_parameters, stack_parameters
from atomsight.microscope.data import SpectraSource
from atomsight.network.predict import predict_images
from atomsight.network.predictor import Predictor
from atomsight.network.train import train
from atomsight.simulation.labels import gaussian_label_maps


@pytest.fixture(scope="module")
def models(tiny_config, tiny_stores, tmp_path_factory):
    folders = {}
    for name in ("graphene", "gold"):
        system = tiny_config["systems"][name]
        folder = tmp_path_factory.mktemp(f"model-{name}")
        stores = tiny_stores[name]
        model = train(system, train_stores=stores["train"], validation_stores=stores["validation"], out=folder / "t",
                      progress=False)
        evaluate(system, model_path=model, test_stores=stores["test"], out=folder / "e")
        folders[name] = export(system, name=name, model_path=model, metrics_path=folder / "e" / "metrics.json",
                               out=folder / name)
    return folders


def image(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (100 + 10 * rng.normal(size=shape)).astype(np.float32)


def read_csv(path):
    with open(path, newline="") as stream:
        reader = csv.DictReader(stream)
        rows = list(reader)
    return reader.fieldnames, rows


def test_predict_writes_csv_maps_and_overlay_for_each_image(models, tmp_path, capsys):
    np.save(tmp_path / "a.npy", image((150, 110)))
    tifffile.imwrite(tmp_path / "b.tif", image((90, 700), seed=1))
    iio.imwrite(tmp_path / "c.png", np.clip(image((64, 64), seed=2), 0, 255).astype(np.uint8))
    out = tmp_path / "out"
    paths = [str(tmp_path / f) for f in ("a.npy", "b.tif", "c.png")]
    assert main(["predict", "--model", str(models["graphene"]), *paths, "--sampling", "0.1", "--out", str(out),
                 "--tile", "512"]) == 0
    model_line, *lines = capsys.readouterr().out.splitlines()
    assert model_line == (f"model graphene: {models['graphene'] / 'model.keras'} (its files' SHA-256 as its card"
                          " lists), computing in float32")
    assert len(lines) == 3 and lines[0].startswith(f"{paths[0]}: 150 x 110 pixels at 0.1 Å/pixel (--sampling): ")
    assert lines[0].endswith(" s") and f"-> {out / 'a.csv'} (+ .json, _probabilities.npy, _overlay.png)" in lines[0]
    assert read_csv(out / "a.csv")[0] == ["x_A", "y_A", "row", "col", "class", "probability"]
    maps = np.load(out / "b_probabilities.npy")
    assert maps.shape == (round(90 * 0.1 / 0.12), round(700 * 0.1 / 0.12), 2)  # at the model's sampling
    np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-4)
    assert (out / "c_overlay.png").exists()
    # b.tif is 583 pixels wide at the model's sampling: two tiles of 424 for --tile 512 (receptive field 124 px,
    # margin 128 px) against one call for the whole image, with the trained network.
    assert main(["predict", "--model", str(models["graphene"]), str(tmp_path / "b.tif"), "--sampling", "0.1",
                 "--out", str(tmp_path / "whole"), "--tile", "1024"]) == 0
    np.testing.assert_allclose(maps, np.load(tmp_path / "whole" / "b_probabilities.npy"), atol=1e-4)


def stub_predictor(card, positions, classes):
    """A stand-in for a trained model whose output is the label maps of known atoms.

    ``positions`` are (x, y) [Å] from the first pixel of the image at the model's
    sampling; each call renders background + class maps on the grid of its input.
    """

    def probabilities(batch):
        maps = gaussian_label_maps(positions, classes, n_classes=len(card["classes"]) - 1, gpts=batch.shape[1:3],
                                   sampling=(card["sampling"],) * 2, sigma=1.0)
        return np.moveaxis(np.concatenate([1 - maps.max(0, keepdims=True), maps]), 0, -1)[None]

    return as_predictor(card, probabilities)


def as_predictor(card, probabilities):
    """A loaded model whose forward pass is ``probabilities``, applied with ``card``'s settings."""
    return Predictor(normalize=lambda batch: batch, probabilities=probabilities, card=card,
                     settings=DetectionSettings.from_card(card))


@pytest.fixture
def graphene_card(tiny_config):
    return build_card(tiny_config["systems"]["graphene"], name="graphene", system_name="graphene",
                      metrics={"structures": 0, "confidence": 0.95, "doses": []}, receptive_field=0)


def test_the_csv_holds_the_known_atoms_at_their_x_and_y(graphene_card, tmp_path):
    # Isolated atoms (>= 4 Å apart, 4 sigma) in an image of 150 x 110 pixels at 0.1 Å/pixel, i.e. 15 Å along x
    # (axis 0) and 11 Å along y: swapped, the last two atoms would lie outside the image.
    atoms = np.array([[2.5, 3.1], [6.27, 8.4], [10.9, 2.2], [12.3, 6.65]])
    np.save(tmp_path / "known.npy", image((150, 110)))
    predict_images(stub_predictor(graphene_card, atoms, np.zeros(4, int)), [tmp_path / "known.npy"], sampling=0.1,
                   out=tmp_path)
    _, rows = read_csv(tmp_path / "known.csv")
    found = np.array([[float(row["x_A"]), float(row["y_A"])] for row in rows])
    assert len(found) == len(atoms)
    # Labels of sigma = 1 Å are 8.3 pixels wide at the model's 0.12 Å/pixel, where find_peaks' centre of mass is
    # within 0.005 pixels (6e-4 Å) of an isolated Gaussian's centre; the CSV rounds to 1e-4 Å.
    np.testing.assert_allclose(found[np.lexsort(found.T[::-1])], atoms, atol=2e-3)
    pixels = np.array([[float(row["row"]), float(row["col"])] for row in rows])
    np.testing.assert_allclose(pixels * 0.1, found, atol=2e-4)  # x along rows, y along columns
    assert {row["class"] for row in rows} == {"atom"}


def test_an_image_far_from_the_models_sampling_is_refused(graphene_card, tmp_path):
    np.save(tmp_path / "fine.npy", image((100, 100)))
    with pytest.raises(ValueError, match=r"fine.npy: pixel size 0.05 Å .* training sampling 0.12 Å by a factor 2.40"):
        predict_images(stub_predictor(graphene_card, np.zeros((0, 2)), np.zeros(0, int)), [tmp_path / "fine.npy"],
                       sampling=0.05, out=tmp_path)


def test_round_trip_from_a_held_out_structure_to_the_csv(tiny_config, tiny_stores, graphene_card, tmp_path):
    """The held-out structures imaged by the microscope at 0.1 Å/pixel, their label maps at the model's 0.12
    Å/pixel given to predict as the network's output: the CSV must hold every atom at its (x, y)."""
    system = tiny_config["systems"]["graphene"]
    source = SpectraSource(tiny_stores["graphene"]["test"], system)
    microscope, (waves, labels) = source.microscope(), source.read_all()
    structures = ase.io.read(tiny_stores["graphene"]["test"][0].parent.parent / "test.extxyz", index=":")
    extent, sampling, size = np.array(source.grid.extent), 0.1, source.settings.image_size
    shift = np.array([3.1, 7.45])  # first pixel [Å]; x != y, so a swap of x and y moves every atom
    on = {name: stack_parameters([fixed_parameters(source.settings, sampling=s, shift_x=shift[0], shift_y=shift[1],
                                                   dose=1e4)]) for name, s in (("image", sampling), ("model", 0.12))}
    for i, (store, j) in enumerate(source.locations):
        np.save(tmp_path / f"s{i}.npy", microscope.images(waves[i : i + 1], on["image"]).numpy()[0])
        maps = microscope.labels(labels[i : i + 1], on["model"]).numpy()

        def network(batch, maps=maps):
            assert batch.shape[1] <= maps.shape[1] and batch.shape[2] <= maps.shape[2]
            return maps[:, : batch.shape[1], : batch.shape[2]]

        stub = as_predictor(graphene_card, network)
        predict_images(stub, [tmp_path / f"s{i}.npy"], sampling=sampling, out=tmp_path)
        _, rows = read_csv(tmp_path / f"s{i}.csv")
        found = np.array([[float(row["x_A"]), float(row["y_A"])] for row in rows])
        # Every periodic image of every atom, from the first pixel.
        atoms = structures[int(source.roots[store]["index"][j])].positions[:, :2]
        images_of_atoms = np.concatenate([np.mod(atoms - shift, extent) + extent * np.array([a, b])
                                          for a in (-1, 0, 1) for b in (-1, 0, 1)])
        # Away from the image's edges (1.5 Å, where the label Gaussians are cut by the edge) every atom has a
        # detection within 0.05 Å and every detection an atom: F1 = 1.
        inner = lambda p: p[np.all((p >= 1.5) & (p <= (size - 1) * sampling - 1.5), axis=1)]  # noqa: E731
        distance = lambda a, b: np.linalg.norm(a[:, None] - b[None], axis=-1).min(axis=1)  # noqa: E731
        assert len(inner(images_of_atoms)) >= 10
        assert distance(inner(images_of_atoms), found).max() < 0.05
        assert distance(inner(found), images_of_atoms).max() < 0.05


def test_focal_series_model_takes_stacks(models, tmp_path, focal_series):
    np.save(tmp_path / "series.npy", focal_series().frames)
    assert main(["predict", "--model", str(models["gold"]), str(tmp_path / "series.npy"), "--sampling", "0.14",
                 "--out", str(tmp_path / "out")]) == 0


def test_a_stack_of_unrelated_frames_is_refused_naming_the_file(models, tmp_path, capsys):
    np.save(tmp_path / "noise.npy", image((3, 120, 120)))
    assert main(["predict", "--model", str(models["gold"]), str(tmp_path / "noise.npy"), "--sampling", "0.14",
                 "--out", str(tmp_path / "out")]) == 2
    assert "noise.npy: frame 1 of the focal series" in capsys.readouterr().err


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
    assert main(["predict", "--model", str(models["graphene"]), str(path), "--sampling", "0.1",
                 "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "bad.npy" in error and message in error


def test_a_single_image_for_a_focal_series_model_is_refused(models, tmp_path, capsys):
    np.save(tmp_path / "one.npy", image((64, 64)))
    assert main(["predict", "--model", str(models["gold"]), str(tmp_path / "one.npy"), "--sampling", "0.1",
                 "--out", str(tmp_path)]) == 2
    assert "one.npy" in capsys.readouterr().err


def test_the_sampling_is_required_for_a_file_without_one_and_positive(models, tmp_path, capsys):
    np.save(tmp_path / "a.npy", image((64, 64)))  # a .npy holds no calibration
    assert main(["predict", "--model", str(models["graphene"]), str(tmp_path / "a.npy"), "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "a.npy: the file holds no pixel size" in error and "--sampling" in error
    with pytest.raises(SystemExit, match="2"):
        main(["predict", "--model", str(models["graphene"]), str(tmp_path / "a.npy"), "--sampling", "0",
              "--out", str(tmp_path)])
    assert "argument --sampling: '0' is not a finite number above 0" in capsys.readouterr().err
