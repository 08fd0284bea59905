"""Evaluation on held-out images and export of the model."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from atomsight.evaluate import evaluate, visible_positions
from atomsight.export import export, load_exported
from atomsight.microscope import local_normalize
from atomsight.train import train


def test_visible_positions_follow_shift_sampling_and_periodicity():
    positions = np.array([[1.0, 1.0], [9.5, 2.0], [5.0, 5.0]])
    pixels, owners = visible_positions(positions, shift=np.array([2.0, 0.0]), sampling=0.5, size=16,
                                       extent=(10.0, 10.0), margin=1.0)
    found = {tuple(p) for p in np.round(pixels, 6)}
    # (9.5, 2) is 7.5 Å past the shift -> pixel (15, 4): outside the margin; (1, 1) wraps to x = 9 -> pixel 18: outside.
    assert found == {(6.0, 10.0)} and owners.tolist() == [2]


@pytest.fixture(scope="module", params=["graphene", "gold"])
def evaluated(request, tiny_config, tiny_stores, tmp_path_factory):
    name = request.param
    system = tiny_config["systems"][name]
    folder = tmp_path_factory.mktemp(name)
    stores = tiny_stores[name]
    model = train(system, train_stores=stores["train"], test_stores=stores["test"], out=folder / "training",
                  progress=False)
    metrics = evaluate(system, model_path=model, test_stores=stores["test"], out=folder / "eval")
    exported = export(system, name=name, model_path=model, metrics_path=folder / "eval" / "metrics.json",
                      out=folder / "models" / name)
    return name, system, folder, metrics, exported


def test_metrics_cover_every_dose(evaluated):
    name, system, folder, metrics, _ = evaluated
    written = json.loads((folder / "eval" / "metrics.json").read_text())
    assert [d["dose"] for d in written["doses"]] == system["evaluation"]["doses"]
    for entry in written["doses"]:
        assert entry["true_positives"] + entry["false_negatives"] > 0  # atoms were in view
        assert {"precision", "recall", "f1", "rmse"} <= set(entry)
    assert (folder / "eval" / "f1_vs_dose.png").exists() and (folder / "eval" / "overlays.png").exists()
    if name == "gold":
        assert set(written["doses"][0]["count_errors"]) == {"0", "1", "2", ">=3"}
        assert (folder / "eval" / "count_errors.png").exists()


def test_saved_model_gives_the_keras_models_output(evaluated):
    _, system, _, _, exported = evaluated
    saved, card = load_exported(exported)
    model = keras.models.load_model(exported / "model.keras")
    channels = card["input_channels"]
    images = np.random.default_rng(0).normal(5.0, 1.0, (2, 64, 48, channels)).astype(np.float32)
    expected = model(local_normalize(images, card["normalization_sigma_pixels"]), training=False).numpy()
    np.testing.assert_allclose(saved.serve(tf.constant(images)).numpy(), expected, atol=1e-5)
    normalised = saved.normalize(tf.constant(images))
    np.testing.assert_allclose(saved.probabilities(normalised).numpy(), expected, atol=1e-5)


def test_model_card_says_how_to_use_the_model(evaluated):
    name, system, _, _, exported = evaluated
    card = json.loads((exported / "model.json").read_text())
    assert card["system"] == name and card["classes"][0] == "background"
    assert card["sampling"] == system["microscope"]["sampling"] and card["energy"] == system["energy"]
    assert card["input_channels"] == len(system["microscope"]["defocus_offsets"])
    assert card["normalization_sigma_pixels"] == pytest.approx(8.0 / system["microscope"]["sampling"])
    assert len(card["evaluation"]) == len(system["evaluation"]["doses"]) and len(card["config_hash"]) == 16


def test_a_folder_that_is_not_a_model_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an exported atomsight model"):
        load_exported(tmp_path)
