"""The shipped models: they load, their cards are complete and match their files, and they find atoms.

The held-out images in tests/data/heldout/ are test-split structures of config.yaml's
systems (never trained or tuned on) imaged by the project's own microscope at conditions
inside Table 1's ranges at 10^4 e/Å^2 (and the same at 10^5 in tests/data/heldout/1e5/), with
their true positions (tests/data/make_heldout_images.py made them), focal spread 30 Å, C5 1 mm,
no astigmatism:
graphene at C10 = +75 Å, Cs = -12 µm (bright atoms) and C10 = -60 Å, Cs = +15 µm (dark atoms);
gold particles at C10 = +80 Å, Cs = -15 µm (bright columns) and C10 = -50 Å, Cs = +10 µm (dark).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from atomsight.cli import main
from atomsight.detections import read_table
from atomsight.evaluation.metrics import aggregate, score
from atomsight.io.images import file_sampling, read_image
from atomsight.models import SHIPPED, WEIGHTS, shipped_models, verify_model
from atomsight.models.card import REQUIRED
from atomsight.network.model import load_model

HELDOUT = Path(__file__).resolve().parents[1] / "data" / "heldout"
CARD_KEYS = {*REQUIRED, "card_version", "name", "system", "modality", "normalization_sigma", "config_hash",
             "status", "training", "data", "evaluation", "licence", "files"}
RADIUS = 0.5  # Å, the evaluation's matching radius
MIN_F1 = {
    ("graphene", False): (0.95, 0.96), ("graphene", True): (0.95, 0.96),
    ("gold", False): (0.96, 0.96), ("gold", True): (0.96, 0.96),
}
"""Per shipped model and ``--augment`` (off, on), the F1 each held-out image and all of them pooled
must reach at 10^4 e/Å^2. Measured 2026-12-08 (README, Shipped models): graphene 0.993-0.998
per image and 0.995 pooled, the same with --augment; gold 1.000 on every image either way. The
bounds are those less about 0.04. The images and the networks are
fixed, so these are regression bounds: only floating-point differences between CPUs (bfloat16
on CPUs with and without AVX-512 BF16) move the detections."""
HIGH_DOSE = HELDOUT / "1e5"
"""The same images at 10^5 e/Å^2."""
DOSE_LOSS = 0.02
"""Issue 18: from 10^4 to 10^5 e/Å^2 no shipped model may lose more F1 than this."""
MARGIN = 1.0  # Å, atoms and detections this close to the edge are not counted (the evaluation's margin)
MODELS = sorted(shipped_models())
SINGLE_IMAGE = [name for name in MODELS if shipped_models()[name]["input_channels"] == 1]
"""The models of one image each; the focal-series counting model has its own held-out test
(tests/network/test_shipped_counting_model.py)."""


def inside(positions: np.ndarray, side: float) -> np.ndarray:
    return positions[np.all((positions >= MARGIN) & (positions <= side - MARGIN), axis=1)]


def test_some_models_ship():
    assert MODELS, f"no shipped models in {SHIPPED}"


@pytest.mark.parametrize("name", MODELS)
def test_a_shipped_model_loads_and_its_card_is_complete_and_matches_its_files(name):
    folder = SHIPPED / name
    card = verify_model(folder)  # the SHA-256 of model.keras is the card's
    assert CARD_KEYS <= set(card), sorted(CARD_KEYS - set(card))
    assert card["name"] == name and card["files"][WEIGHTS]["bytes"] == (folder / WEIGHTS).stat().st_size
    assert (folder / WEIGHTS).stat().st_size < 25 * 2**20
    network = load_model(folder / WEIGHTS)
    assert network.output_shape[-1] == len(card["classes"]) and network.input_shape[-1] == card["input_channels"]
    configuration = card["training"]["configuration"]
    assert configuration["microscope"]["sampling"] == card["sampling"] and configuration["energy"] == card["energy"]
    assert card["training"]["steps"] > 0 and card["evaluation"]["doses"]


def test_every_shipped_model_has_its_held_out_bounds():
    assert {(name, augment) for name in SINGLE_IMAGE for augment in (False, True)} == set(MIN_F1)


def heldout_scores(name: str, folder: Path, out: Path, options: list[str]) -> dict[str, Any]:
    """Predict a model's held-out images of ``folder`` through the CLI; return each one's score, by file name."""
    card = shipped_models()[name]
    images = sorted(folder.glob(f"{card['system']}_*.tif"))
    assert images, f"no held-out images of {card['system']} in {folder}"
    assert main(["predict", *map(str, images), "--model", name, "--out", str(out), *options]) == 0
    scores = {}
    for image in images:
        side = read_image(image).shape[0] * file_sampling(image)
        truth = inside(read_table(image.with_suffix(".csv")).xy, side)
        found = inside(read_table(out / f"{image.stem}.csv").xy, side)
        scores[image.name] = score(truth, found, RADIUS)
    return scores


@pytest.mark.parametrize("augment", [False, True], ids=["plain", "augment"])
@pytest.mark.parametrize("name", SINGLE_IMAGE)
def test_a_shipped_model_finds_the_atoms_of_held_out_images_through_atomsight_predict(name, augment, tmp_path):
    per_image = heldout_scores(name, HELDOUT, tmp_path, ["--augment"] if augment else [])
    for image, result in per_image.items():
        assert result.f1 >= MIN_F1[name, augment][0], (image, result)
    assert aggregate(list(per_image.values())).f1 >= MIN_F1[name, augment][1]


@pytest.mark.parametrize("name", SINGLE_IMAGE)
def test_a_shipped_model_does_not_lose_f1_from_1e4_to_1e5_electrons_per_square_angstrom(name, tmp_path):
    usual = heldout_scores(name, HELDOUT, tmp_path / "1e4", [])
    high = heldout_scores(name, HIGH_DOSE, tmp_path / "1e5", [])
    assert usual.keys() == high.keys()
    for image in usual:
        assert high[image].f1 >= usual[image].f1 - DOSE_LOSS, (image, usual[image], high[image])
    assert aggregate(list(high.values())).f1 >= aggregate(list(usual.values())).f1 - DOSE_LOSS


@pytest.mark.parametrize("name", SINGLE_IMAGE)
def test_a_shipped_model_was_evaluated_up_to_1e5_and_its_test_split_f1_does_not_fall_there(name):
    card = shipped_models()[name]
    by_dose = {entry["dose"]: entry["f1"] for entry in card["evaluation"]["doses"]}
    assert {1.0e4, 1.0e5} <= set(by_dose), sorted(by_dose)
    assert by_dose[1.0e5] >= by_dose[1.0e4] - DOSE_LOSS, by_dose
    assert max(card["intended_conditions"]["dose_e_per_A2"]) >= 1.0e5
