"""Evaluation on held-out images and export of the model."""

import copy
import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
import zarr

from atomsight.evaluation.evaluate import evaluate, evaluate_predictor, visible_positions
from atomsight.export.savedmodel import export
from atomsight.microscope import local_normalize
from atomsight.network.exported import load_exported
from atomsight.network.train import train


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
    model = train(system, train_stores=stores["train"], validation_stores=stores["validation"],
                  out=folder / "training", progress=False)
    counting = {"structures": stores["test"][0].parent.parent / "test.extxyz", "train_stores": stores["train"]}
    metrics = evaluate(system, model_path=model, test_stores=stores["test"], out=folder / "eval",
                       **(counting if name == "gold" else {}))
    exported = export(system, name=name, model_path=model, metrics_path=folder / "eval" / "metrics.json",
                      out=folder / "models" / name)
    return name, system, folder, metrics, exported


def test_metrics_cover_every_dose(evaluated):
    name, system, folder, metrics, _ = evaluated
    written = json.loads((folder / "eval" / "metrics.json").read_text())
    assert [d["dose"] for d in written["doses"]] == system["evaluation"]["doses"]
    assert written["structures"] == system["splits"]["test"] and written["confidence"] == 0.95
    for entry in written["doses"]:
        assert entry["true_positives"] + entry["false_negatives"] > 0  # atoms were in view
        for key in ("precision", "recall", "f1"):
            low, high = entry[f"{key}_ci"]
            assert 0 <= low <= high <= 1
    assert (folder / "eval" / "f1_vs_dose.png").exists() and (folder / "eval" / "overlays.png").exists()
    if name == "gold":
        for entry in written["doses"]:
            assert set(entry["count_errors"]) == set(entry["baseline_count_errors"]) == {"0", "1", "2", ">=3"}
            assert sum(entry["baseline_count_errors"].values()) == pytest.approx(1.0)
            by_tilt = entry["count_errors_by_tilt"]
            assert sum(group["columns"] for group in by_tilt.values()) == entry["columns"]
            confusion = np.array(entry["confusion"])
            assert confusion.shape == (system["labels"]["max_height"],) * 2 and confusion.sum() == entry["columns"]
            if entry["columns"]:  # the tiny network may match none
                assert np.trace(confusion) / entry["columns"] == pytest.approx(entry["count_errors"]["0"])
        assert (folder / "eval" / "count_errors.png").exists() and (folder / "eval" / "confusion.png").exists()


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
    assert len(card["config_hash"]) == 16
    written = json.loads((exported.parent.parent / "eval" / "metrics.json").read_text())
    assert card["evaluation"]["test_structures"] == system["splits"]["test"]
    assert [d["f1"] for d in card["evaluation"]["doses"]] == [d["f1"] for d in written["doses"]]
    assert [d["f1_ci"] for d in card["evaluation"]["doses"]] == [d["f1_ci"] for d in written["doses"]]


def test_a_folder_that_is_not_a_model_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an exported atomsight model"):
        load_exported(tmp_path)


# Evaluation against known truth: a test split whose exit waves make the image 1 + a map of
# Gaussians at the true atoms, and a stand-in network that reads the atoms off the image.

ORACLE_SIGMA = 0.4
"""Width of the Gaussians [Å]: 3 pixels at 0.132 Å/pixel, and 3.5 sigma between bonded atoms."""


def _atom_map(positions, extent, gpts):
    """max over atoms of exp(-d^2 / (2 sigma^2)) on the store's grid, pixel [i, j] at (i dx, j dy), periodic."""
    x, y = (np.arange(n) * length / n for n, length in zip(gpts, extent))
    atoms = np.zeros(gpts)
    for px, py in positions:
        dx = (x - px + extent[0] / 2) % extent[0] - extent[0] / 2
        dy = (y - py + extent[1] / 2) % extent[1] - extent[1] / 2
        atoms = np.maximum(atoms, np.exp(-(dx[:, None] ** 2 + dy[None, :] ** 2) / (2 * ORACLE_SIGMA**2)))
    return atoms


@pytest.fixture(scope="module")
def known_images(tiny_config, tiny_stores, tmp_path_factory):
    """The tiny graphene test split with exit waves sqrt(1 + atom map) and an ideal, noise-free microscope.

    With every aberration, the blur, noise, MTF and normalisation off, the image is
    |psi|^2 = 1 + atom map on each image's jittered, shifted pixel grid (the band limit
    1 / (4 x 0.132 Å) cuts less than 1e-4 of the map's spectrum).
    """
    system = copy.deepcopy(tiny_config["systems"]["graphene"])
    ideal = dict.fromkeys(("defocus", "Cs", "C5", "astigmatism", "focal_spread", "blur"), [0.0, 0.0])
    system["microscope"].update(ideal, image_size=64, dose=None, mtf=None, normalization_sigma=None, augment=False)
    system["evaluation"].update(doses=[1000.0], images_per_structure=4, bootstrap_resamples=200)
    folder = tmp_path_factory.mktemp("known")
    stores = []
    for store in tiny_stores["graphene"]["test"]:
        shutil.copytree(store, folder / store.name)
        root = zarr.open_group(folder / store.name, mode="r+")
        attrs = root.attrs["atomsight"]
        offsets = root["offsets"][:]
        for j in range(root["index"].shape[0]):
            atoms = _atom_map(root["positions"][offsets[j]:offsets[j + 1]], attrs["extent"], attrs["gpts"])
            root["array0"][j] = np.sqrt(1 + atoms).astype(np.complex64)
        stores.append(folder / store.name)
    return system, stores


def image_minus_vacuum(images):
    """Stand-in network: the atom probability is the image minus its vacuum level 1."""
    atoms = np.clip(images[..., :1] - 1.0, 0.0, 1.0)
    return np.concatenate([1.0 - atoms, atoms], axis=-1)


def test_a_perfect_predictor_finds_every_atom_at_its_true_position(known_images, tmp_path):
    system, stores = known_images
    metrics = evaluate_predictor(system, image_minus_vacuum, test_stores=stores, out=tmp_path)
    (entry,) = metrics["doses"]
    assert entry["true_positives"] > 20  # about 15 atoms in view per image
    assert entry["f1"] == 1.0 and entry["f1_ci"] == [1.0, 1.0]
    # A centre of mass of a Gaussian of 3 pixels sigma is exact to 0.005 pixels (postprocess.find_peaks);
    # 0.02 Å (0.15 pixel) leaves room for float32 rendering and still fails a half-pixel offset (0.066 Å).
    assert entry["rmse"] < 0.02
    regions = entry["by_region"]  # nothing false anywhere, and every atom and detection in some region
    assert all(r["false_positives"] == 0 and r["false_negatives"] == 0 for r in regions.values())
    assert sum(r["true"] for r in regions.values()) == entry["true_positives"]
    assert sum(r["detections"] for r in regions.values()) == entry["true_positives"]
    assert regions["vacuum"]["true"] == 0 and regions["inside"]["true"] + regions["edge"]["true"] > 20


def test_recall_is_reported_per_atom_environment(known_images, tiny_stores, tmp_path):
    # The stand-in finds every atom, so each environment's recall is 1 and the environments'
    # atoms add up to the atoms in view. Maps cut to the atoms of one environment must then lose
    # exactly the others: here the atoms' environments come from the structures file alone.
    system, stores = known_images
    structures = tiny_stores["graphene"]["test"][0].parent.parent / "test.extxyz"
    metrics = evaluate_predictor(system, image_minus_vacuum, test_stores=stores, out=tmp_path, structures=structures)
    (entry,) = metrics["doses"]
    by_environment = entry["recall_by_environment"]
    assert set(by_environment) <= {"pristine", "strained", "disordered", "edge"} and len(by_environment) >= 2
    assert sum(e["atoms"] for e in by_environment.values()) == entry["true_positives"] + entry["false_negatives"]
    assert all(e["recall"] == 1.0 and e["found"] == e["atoms"] for e in by_environment.values())


def test_no_environments_without_structures_or_for_columns(known_images, tmp_path):
    system, stores = known_images
    (entry,) = evaluate_predictor(system, image_minus_vacuum, test_stores=stores, out=tmp_path)["doses"]
    assert "recall_by_environment" not in entry


def test_transposed_maps_score_at_chance_level(known_images, tmp_path):
    # An x/y swap anywhere between the images and the matching puts each detection at a mirrored,
    # unrelated spot. Graphene has 0.38 atoms/Å^2, so a random spot has an atom within 0.5 Å with
    # probability 1 - exp(-0.38 pi 0.5^2) = 0.26: F1 near 0.26, far below 1.
    system, stores = known_images
    metrics = evaluate_predictor(system, lambda images: image_minus_vacuum(images).transpose(0, 2, 1, 3),
                                 test_stores=stores, out=tmp_path)
    (entry,) = metrics["doses"]
    assert entry["f1"] < 0.5 and entry["f1_ci"][1] < 0.6

