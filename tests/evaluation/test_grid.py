"""Evaluation over a grid of microscope conditions, model and classical baseline side by side."""

import copy
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import yaml
import zarr

from atomsight.cli import main
from atomsight.evaluation.grid import COLUMNS, evaluate_grid, evaluate_grid_predictor, grid_values
from atomsight.microscope import draw, stack_parameters
from atomsight.microscope.data import SpectraSource
from atomsight.network.model import build_model

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.yaml"

OUTPUTS = ("grid.csv", "grid.json", "grid_f1.png", "grid_rmse.png", "grid_contrast.png", "grid_dose.png")


def read_rows(folder):
    with open(folder / "grid.csv", newline="") as stream:
        return list(csv.DictReader(stream))


def test_grid_values_are_given_or_spread_over_the_range():
    assert grid_values(5, (-200.0, 200.0)) == [-200.0, -100.0, 0.0, 100.0, 200.0]
    assert grid_values(1, (-2e5, 0.0)) == [-1e5]
    assert grid_values([-50, 30.5], (-200.0, 200.0)) == [-50.0, 30.5]


def small_grid(system, **grid):
    """The system with a small grid (two images per cell, two doses, two fitting images, a narrow search), or
    ``grid``."""
    system["evaluation"]["grid"].update({
        "images_per_cell": 2, "fit_images": 2, "doses": [1000.0, 100000.0],
        "baseline": {"smoothing": [0.1, 0.3], "min_distance": [0.6, 1.0], "threshold": [0.0, 1.0],
                     "refine_radius": [0.0, 0.3]},
        **grid,
    })
    system["evaluation"]["bootstrap_resamples"] = 50
    return system


# An ideal microscope and exit waves sqrt(1 + Gaussians at the atoms): every image is 1 plus a map of
# the atoms, so a stand-in network that reads the atoms off the image is perfect.

ORACLE_SIGMA = 0.4
"""Width of the Gaussians [Å]: 3 pixels at 0.132 Å/pixel, and 3.5 sigma between bonded atoms."""


def atom_map(positions, extent, gpts):
    """max over atoms of exp(-d^2 / (2 sigma^2)) on the store's grid, pixel [i, j] at (i dx, j dy), periodic."""
    x, y = (np.arange(n) * length / n for n, length in zip(gpts, extent))
    atoms = np.zeros(gpts)
    for px, py in positions:
        dx = (x - px + extent[0] / 2) % extent[0] - extent[0] / 2
        dy = (y - py + extent[1] / 2) % extent[1] - extent[1] / 2
        atoms = np.maximum(atoms, np.exp(-(dx[:, None] ** 2 + dy[None, :] ** 2) / (2 * ORACLE_SIGMA**2)))
    return atoms


def image_minus_vacuum(images):
    """Stand-in network: the atom probability is the image minus its vacuum level 1."""
    atoms = np.clip(images[..., :1] - 1.0, 0.0, 1.0)
    return np.concatenate([1.0 - atoms, atoms], axis=-1)


def background_everywhere(images):
    """Stand-in network that never sees an atom."""
    return np.concatenate([np.ones_like(images[..., :1]), np.zeros_like(images[..., :1])], axis=-1)


@pytest.fixture(scope="module")
def ideal(tiny_config, tiny_stores, tmp_path_factory):
    """The tiny graphene system with an ideal, noise-free microscope, and its test and train stores of known images."""
    system = copy.deepcopy(tiny_config["systems"]["graphene"])
    flat = dict.fromkeys(("defocus", "Cs", "C5", "astigmatism", "focal_spread", "blur"), [0.0, 0.0])
    system["microscope"].update(flat, image_size=64, dose=None, mtf=None, normalization_sigma=None, augment=False)
    folder = tmp_path_factory.mktemp("ideal")
    stores = {}
    for split in ("test", "train"):
        stores[split] = []
        for store in tiny_stores["graphene"][split]:
            copied = folder / split / store.name
            shutil.copytree(store, copied)
            root = zarr.open_group(copied, mode="r+")
            attrs, offsets = root.attrs["atomsight"], root["offsets"][:]
            for j in range(root["index"].shape[0]):
                atoms = atom_map(root["positions"][offsets[j]:offsets[j + 1]], attrs["extent"], attrs["gpts"])
                root["array0"][j] = np.sqrt(1 + atoms).astype(np.complex64)
            stores[split].append(copied)
    return small_grid(system, defocus=[0.0], Cs=[0.0]), stores


def test_a_perfect_model_and_a_tuned_baseline_find_the_atoms_of_clean_images(ideal, tmp_path):
    system, stores = ideal
    evaluate_grid_predictor(system, image_minus_vacuum, test_stores=stores["test"],
                            train_stores=stores["train"], out=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(OUTPUTS)  # no temporary file left behind
    rows = read_rows(tmp_path)
    assert [(r["method"], float(r["dose"])) for r in rows] == [
        ("model", 1000.0), ("baseline", 1000.0), ("model", 100000.0), ("baseline", 100000.0)]
    for row in rows:
        assert int(row["true_positives"]) + int(row["false_negatives"]) > 10  # two images of about 10 atoms in view
        if row["method"] == "model":
            # As in test_evaluate: the centre of mass of a 3-pixel Gaussian is exact to 0.005 pixels.
            assert float(row["f1"]) == 1.0 and float(row["rmse_A"]) < 0.02
        else:
            # Atoms are the image's maxima: the fit must choose "bright", and the centre of mass over the
            # 0.3 Å disc rather than whole pixels (0.049 Å rms). That centre leans towards the brightest pixel
            # (measured: 0.011 Å rms here), so an atom a fraction of a pixel from the margin may be counted on
            # one side of it and found on the other.
            assert row["polarity"] == "bright" and float(row["refine_radius_A"]) == 0.3
            assert float(row["fit_f1"]) >= 0.95 and float(row["f1"]) >= 0.95 and float(row["rmse_A"]) < 0.02
    summary = json.loads((tmp_path / "grid.json").read_text())["summary"]
    assert [entry["cells"] for entry in summary] == [1, 1]
    assert all(entry["model"]["f1"] == 1.0 and entry["model"]["f1_ci"] == [1.0, 1.0] for entry in summary)
    assert all(entry["model_minus_baseline_f1"] == 0.0 and entry["cells_model_better"] == 0 for entry in summary)


@pytest.fixture(scope="module")
def graphene(tiny_config, tiny_stores):
    """The tiny graphene system without C5, astigmatism and blur, on a 2 x 2 grid, and its stores."""
    system = copy.deepcopy(tiny_config["systems"]["graphene"])
    system["microscope"].update(C5=[0.0, 0.0], astigmatism=[0.0, 0.0], blur=[0.0, 0.0])
    return small_grid(system, defocus=[0.0, -60.0], Cs=[0.0, -1.2e5]), tiny_stores["graphene"]


@pytest.fixture(scope="module")
def blind(graphene, tmp_path_factory):
    """A grid run of a stand-in that never finds an atom."""
    system, stores = graphene
    out = tmp_path_factory.mktemp("blind")
    results = evaluate_grid_predictor(system, background_everywhere, test_stores=stores["test"],
                                      train_stores=stores["train"], out=out)
    return results, out


def test_contrast_is_std_over_mean_of_the_noise_free_image(graphene, blind):
    system, stores = graphene
    results, out = blind
    source = SpectraSource(stores["test"], system)
    extent = tf.constant(source.grid.extent, tf.float32)
    count = system["evaluation"]["grid"]["images_per_cell"]
    seed = system["evaluation"]["seed"]
    spectra = tf.constant(np.stack([source.read(k % len(source))[0] for k in range(count)]))
    contrast = {}
    for defocus in (0.0, -60.0):
        for cs in (0.0, -1.2e5):
            params = [{**draw(tf.constant([seed, k], tf.int64), source.settings, extent),
                       "defocus": tf.constant(defocus), "Cs": tf.constant(cs)} for k in range(count)]
            image = source.microscope().intensities(spectra, stack_parameters(params)).numpy()[:, 0]
            contrast[defocus, cs] = np.mean([im.std() / im.mean() for im in image])
    for row in read_rows(out):
        # abTEM's defocus is -C10 (atomsight.core.defocus)
        assert float(row["contrast"]) == pytest.approx(contrast[-float(row["C10_A"]), float(row["Cs_A"])], rel=1e-5)
    # Graphene is a weak phase object: in focus without Cs (nor C5, astigmatism) its image is almost flat,
    # while C10 = +60 Å with Cs = -12 µm is near the negative-Cs optimum, several percent of contrast.
    assert contrast[0.0, 0.0] < 0.2 * contrast[-60.0, -1.2e5]
    assert contrast[-60.0, -1.2e5] > 0.02


def test_every_cell_dose_and_method_has_a_row_with_c10_and_cs(graphene, blind):
    system, _ = graphene
    results, out = blind
    rows = read_rows(out)
    assert list(rows[0]) == list(COLUMNS) and len(rows) == 2 * 2 * 2 * 2
    for row in rows:
        assert float(row["C10_A"]) in (0.0, 60.0)  # the grid's abTEM defocus 0 and -60 Å
        assert float(row["Cs_um"]) == pytest.approx(float(row["Cs_A"]) / 1e4)
        if row["method"] == "model":
            # Nothing found: precision 0, recall 0, no matched pair (empty RMSE), no baseline settings.
            assert float(row["f1"]) == 0.0 and row["rmse_A"] == "" and row["polarity"] == ""
        else:
            assert row["polarity"] in ("bright", "dark") and 0 <= float(row["fit_f1"]) <= 1
    assert results["C10_A"] == [0.0, 60.0] and results["Cs_A"] == [0.0, -1.2e5]
    assert np.shape(results["per_cell"]["baseline"]["f1"]) == (2, 2, 2)  # [dose][C10][Cs]


def test_the_summary_pools_the_cells_of_enough_contrast(graphene, blind, tmp_path):
    system, stores = graphene
    results, _ = blind
    contrast = np.array(results["contrast"])
    for entry in results["summary"]:
        assert entry["cells"] == int((contrast >= 0.02).sum()) and entry["cells_total"] == 4
        assert entry["model"]["f1"] == 0.0 and entry["model"]["min_cell_f1"] == 0.0
        assert entry["cells_model_better"] == 0 and entry["model_minus_baseline_f1"] <= 0
    # A threshold above every cell's contrast leaves nothing to pool: no scores, but the cells still listed.
    above = copy.deepcopy(system)
    above["evaluation"]["grid"].update(contrast_threshold=1.0, doses=[1000.0])
    results = evaluate_grid_predictor(above, background_everywhere, test_stores=stores["test"],
                                      train_stores=stores["train"], out=tmp_path)
    (entry,) = results["summary"]
    assert entry["cells"] == 0 and entry["model"] is None and entry["baseline"] is None
    assert len(read_rows(tmp_path)) == 2 * 2 * 2


def test_a_model_for_another_focal_series_is_refused(graphene, tmp_path):
    system, stores = graphene
    path = tmp_path / "series.keras"
    build_model(input_channels=3, base_filters=2, depth=2).save(path)
    with pytest.raises(ValueError, match=r"series.keras: the model takes 3 input images, but .* make 1"):
        evaluate_grid(system, model_path=path, test_stores=stores["test"], train_stores=stores["train"],
                      out=tmp_path / "grid")


def test_the_command_line_evaluates_a_model_on_a_results_folder(tiny_stores, tmp_path, capsys):
    results = tmp_path / "results"
    for split in ("train", "test"):
        (results / "exitwaves" / "graphene").mkdir(parents=True, exist_ok=True)
        (results / "exitwaves" / "graphene" / split).symlink_to(tiny_stores["graphene"][split][0].parent)
    exported = tmp_path / "exported"
    exported.mkdir()
    build_model(input_channels=1, base_filters=2, depth=2).save(exported / "model.keras")
    overlay = tmp_path / "grid.yaml"
    grid = {"defocus": 1, "Cs": 1, "doses": [1000.0], "images_per_cell": 1, "fit_images": 1,
            "baseline": {"smoothing": [0.3], "min_distance": [1.0], "threshold": [0.0], "refine_radius": [0.3]}}
    overlay.write_text(yaml.safe_dump({"systems": {"graphene": {"evaluation": {"grid": grid}}}}))
    status = main(["evaluate-grid", str(TINY), "graphene", "--configfile", str(overlay),
                   "--results", str(results), "--model", str(exported)])
    assert status == 0
    out = results / "eval" / "graphene" / "grid"
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    printed = capsys.readouterr().out
    assert "1000 e/Å²" in printed and "F1" in printed and str(out) in printed


def test_missing_stores_are_named(tmp_path, capsys):
    status = main(["evaluate-grid", str(TINY), "graphene", "--results", str(tmp_path)])
    assert status == 2
    assert "missing exit-wave stores" in capsys.readouterr().err


def test_every_image_of_a_focal_series_is_offered_to_the_baseline(tiny_config, tiny_stores, tmp_path):
    # The tiny gold system images each particle as a focal series of three (C10 = -170, -40, +90 Å).
    system = small_grid(copy.deepcopy(tiny_config["systems"]["gold"]), defocus=1, Cs=1, doses=[10000.0],
                        images_per_cell=1)
    stores = tiny_stores["gold"]
    results = evaluate_grid_predictor(system, background_everywhere, test_stores=stores["test"],
                                      train_stores=stores["train"], out=tmp_path)
    assert results["baseline"]["search"]["channels"] == [0, 1, 2]
    (settings,) = np.ravel(results["per_cell"]["baseline"]["settings"])
    assert settings["channel"] in (0, 1, 2) and settings["fit_f1"] > 0.5  # most columns found in some image
