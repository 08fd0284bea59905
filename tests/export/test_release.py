"""Releasing a trained network as a shipped model: no optimiser state, the same network, a complete card."""

import csv
import json

import numpy as np
import pytest

from atomsight.export.release import release
from atomsight.models import CARD, WEIGHTS, CardError, verify_model
from atomsight.models.card import file_sha256
from atomsight.network.model import load_model
from atomsight.network.train import new_model

METRICS = {"structures": 3, "confidence": 0.95,
           "doses": [{"dose": 1e4, "precision": 1.0, "recall": 0.9, "f1": 0.947, "rmse": 0.05,
                      **{f"{s}_ci": [0.9, 1.0] for s in ("precision", "recall", "f1", "rmse")}}]}


@pytest.fixture
def trained(tiny_system, tmp_path):
    """A tiny network after one optimiser step (so it has optimiser state), its checkpoint and run files."""
    tiny_system["training"].update(base_filters=4, depth=2, epochs=4, steps_per_epoch=5)
    network = new_model(tiny_system)
    size = tiny_system["microscope"]["image_size"]
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, size, size, 1)).astype(np.float32)
    labels = np.zeros((2, size, size, 2), np.float32)
    labels[..., 0] = 1
    network.fit(images, labels, epochs=1, verbose=0)
    network.save(tmp_path / "model.keras")
    network.save_weights(tmp_path / "latest.weights.h5")
    with open(tmp_path / "history.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "loss"])
        writer.writerows([[0, 0.1], [1, 0.05]])
    (tmp_path / "metrics.json").write_text(json.dumps(METRICS))
    return tiny_system, network, images, tmp_path


@pytest.mark.parametrize("source", ["model.keras", "latest.weights.h5"])
def test_a_release_computes_what_the_trained_network_computes_without_its_optimiser(trained, source):
    system, network, images, folder = trained
    out = release(system, name="tiny", model_path=folder / source, history_path=folder / "history.csv",
                  metrics_path=folder / "metrics.json", out=folder / "release")
    released = load_model(out / WEIGHTS)
    np.testing.assert_array_equal(released.predict(images, verbose=0), network.predict(images, verbose=0))
    assert not released.compiled
    # Adam keeps two float32 moments per weight, 8 bytes each weight, all gone from the release
    # (the h5 files are uncompressed; 1.5 of the 2 leaves room for the files' own overheads).
    variables = sum(int(np.prod(w.shape)) for w in network.trainable_weights)
    assert (folder / "model.keras").stat().st_size - (out / WEIGHTS).stat().st_size > 1.5 * 4 * variables


def test_the_card_says_what_trained_how_far_for_which_conditions_and_under_which_licence(trained):
    system, _, _, folder = trained
    out = release(system, name="tiny", model_path=folder / "model.keras", history_path=folder / "history.csv",
                  metrics_path=folder / "metrics.json", out=folder / "release")
    card = json.loads((out / CARD).read_text())
    assert card["name"] == "tiny" and card["classes"] == ["background", "atom"]
    assert card["training"]["steps"] == 10 and card["training"]["planned_steps"] == 20
    assert card["status"] == "in training: 10 of 20 steps"
    assert card["training"]["configuration"]["training"]["base_filters"] == 4
    assert card["data"]["generator"] == "graphene" and card["data"]["splits"] == system["splits"]
    conditions = card["intended_conditions"]
    assert conditions["c10_A"] == sorted(-d for d in system["microscope"]["defocus"])
    assert conditions["dose_e_per_A2"] == system["microscope"]["dose"]
    assert card["evaluation"]["doses"][0]["f1"] == 0.947
    assert "MIT" in card["licence"]
    assert card["files"][WEIGHTS]["sha256"] == file_sha256(out / WEIGHTS)
    assert verify_model(out)["name"] == "tiny"


def test_a_model_named_apart_from_its_system_keeps_the_system_in_its_card(trained):
    system, _, _, folder = trained
    out = release(system, name="tiny-corrected", system_name="tiny", model_path=folder / "model.keras",
                  history_path=folder / "history.csv", metrics_path=folder / "metrics.json", out=folder / "named")
    card = json.loads((out / CARD).read_text())
    assert card["name"] == "tiny-corrected" and card["system"] == "tiny"


def test_a_network_file_that_differs_from_its_card_is_refused(trained):
    system, _, _, folder = trained
    out = release(system, name="tiny", model_path=folder / "model.keras", history_path=folder / "history.csv",
                  metrics_path=folder / "metrics.json", out=folder / "release")
    with open(out / WEIGHTS, "ab") as f:
        f.write(b"\0")
    with pytest.raises(CardError, match="SHA-256"):
        verify_model(out)
