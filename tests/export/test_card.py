"""The model card: one writer, C10 stated once with its sign, the detection settings, every file's SHA-256."""

import json

import pytest

from atomsight.detections import DetectionSettings
from atomsight.export.card import build_card, write_card
from atomsight.models.card import CardError, file_sha256, read_card, verify_files

METRICS = {"structures": 2, "confidence": 0.95, "doses": []}


def test_the_model_card_gives_the_focal_series_as_c10_once(repo_config):
    system = repo_config["systems"]["gold_counting"]
    card = build_card(system, name="gold-counting", system_name="gold_counting", metrics=METRICS, receptive_field=124)
    # Section 4.3 of the paper: C10 = -170, -40, +90 Å plus a shared -20..20 Å; abTEM's defocus is -C10.
    conditions = card["intended_conditions"]
    assert conditions["c10_offsets_A"] == [-170.0, -40.0, 90.0] and conditions["c10_A"] == [-20.0, 20.0]
    assert card["input_channels"] == 3 and card["modality"] == "hrtem"
    assert "overfocus" in conditions["conventions"] and "-C10" in conditions["conventions"]
    assert not any("defocus" in key for key in [*card, *conditions])  # C10 only, once


def test_a_one_sided_defocus_range_is_mirrored_into_c10(repo_config):
    system = {**repo_config["systems"]["graphene"]}
    system["microscope"] = {**system["microscope"], "defocus": [-85.0, -60.0]}  # the small configuration's
    card = build_card(system, name="graphene", system_name="graphene", metrics=METRICS, receptive_field=124)
    assert card["intended_conditions"]["c10_A"] == [60.0, 85.0]
    assert json.dumps(card["intended_conditions"]["c10_offsets_A"]) == "[0.0]"  # not "-0.0"


def test_the_card_carries_the_configured_detection_settings(repo_config):
    system = repo_config["systems"]["gold"]
    card = build_card(system, name="gold", system_name="gold", metrics=METRICS, receptive_field=124)
    assert DetectionSettings.from_card(card) == DetectionSettings.from_config(system)
    assert card["detection"]["label_sigma"] == system["labels"]["sigma"]


def test_a_written_card_lists_every_file_of_its_folder_and_reads_back(repo_config, tmp_path):
    (tmp_path / "model.keras").write_bytes(b"network")
    (tmp_path / "saved_model").mkdir()
    (tmp_path / "saved_model" / "saved_model.pb").write_bytes(b"graph")
    card = build_card(repo_config["systems"]["gold"], name="gold", system_name="gold", metrics=METRICS,
                      receptive_field=124)
    write_card(tmp_path, card)
    read = read_card(tmp_path)
    assert sorted(read["files"]) == ["model.keras", "saved_model/saved_model.pb"]
    assert read["files"]["model.keras"] == {"sha256": file_sha256(tmp_path / "model.keras"), "bytes": 7}
    verify_files(tmp_path, read, ["model.keras", "saved_model/saved_model.pb"])
    (tmp_path / "model.keras").write_bytes(b"another network")
    with pytest.raises(CardError, match=r"model.keras: SHA-256 .* differs"):
        verify_files(tmp_path, read, ["model.keras"])


@pytest.mark.parametrize(("text", "message"), [
    ("[1, 2]", "a JSON list, expected an object"),
    ("{", "not valid JSON"),
    ('{"classes": ["background", "atom"]}', "lacks 'sampling'"),
])
def test_a_malformed_card_is_refused_naming_it(tmp_path, text, message):
    (tmp_path / "model.json").write_text(text)
    with pytest.raises(CardError, match=message) as error:
        read_card(tmp_path)
    assert str(tmp_path / "model.json") in str(error.value)
