"""Detection settings: defaults from the schema alone, the old configuration key still read, cards round-trip."""

import copy
import json

import numpy as np
import pytest

from atomsight.config import load_schema, validate_config
from atomsight.detections import KEYS, DetectionSettings, DetectionSettingsError
from atomsight.network.postprocess import detect


def test_the_defaults_are_the_schemas(repo_config):
    schema = load_schema()["$defs"]["detection"]["properties"]
    settings = DetectionSettings.from_config(repo_config["systems"]["graphene"])
    assert {key: getattr(settings, key) for key in KEYS} == {key: schema[key]["default"] for key in KEYS}
    assert settings.label_sigma == repo_config["systems"]["graphene"]["labels"]["sigma"]


def test_the_old_evaluation_keys_are_moved_to_detection_with_a_warning(repo_config):
    system = copy.deepcopy(repo_config["systems"]["gold"])
    system.pop("detection")
    system["evaluation"]["threshold"] = 0.3
    with pytest.warns(FutureWarning, match=r"systems.gold.evaluation.\{threshold\} moved to systems.gold.detection"):
        config = validate_config({"systems": {"gold": system}}, source="old.yaml")
    assert config["systems"]["gold"]["detection"]["threshold"] == 0.3
    assert "threshold" not in config["systems"]["gold"]["evaluation"]


def test_a_key_in_both_places_is_refused(repo_config):
    system = copy.deepcopy(repo_config["systems"]["gold"])
    system["evaluation"]["t"] = 0.2
    with pytest.raises(ValueError, match="t given under both evaluation"):
        validate_config({"systems": {"gold": system}}, source="both.yaml")


def test_a_card_round_trips_through_json():
    settings = DetectionSettings("watershed", 0.3, 2, 0.995, 0.1, 0.04, 0.5)
    assert DetectionSettings.from_card(json.loads(json.dumps({"detection": settings.to_card()}))) == settings


@pytest.mark.parametrize(("change", "message"), [
    ({"threshold": 1.0}, "threshold: 1.0, expected a number in"),
    ({"threshold": float("nan")}, "threshold: nan"),
    ({"min_distance": 0}, "min_distance: 0"),
    ({"t": float("inf")}, "t: inf, expected a finite number"),
    ({"label_sigma": 0.0}, "label_sigma: 0.0"),
    ({"method": "blobs"}, "method: 'blobs'"),
])
def test_settings_out_of_range_are_refused_naming_the_key(change, message):
    options = {"method": "auto", "threshold": 0.5, "min_distance": 2, "epsilon": 0.995, "t": 0.1, "h": 0.04,
               "label_sigma": 0.5, **change}
    with pytest.raises(DetectionSettingsError, match=message):
        DetectionSettings(**options)


def test_a_card_without_settings_names_its_source():
    with pytest.raises(DetectionSettingsError, match="mine/model.json: no 'detection' entry"):
        DetectionSettings.from_card({}, source="mine/model.json")


def test_the_label_width_reaches_the_watershed_in_pixels_of_the_map(monkeypatch):
    seen = {}
    monkeypatch.setattr("atomsight.network.postprocess.segment", lambda maps, **options: seen.update(options))
    detect(np.full((8, 8, 3), 1 / 3), DetectionSettings("auto", 0.5, 2, 0.995, 0.1, 0.04, 0.5), sampling=0.125)
    assert seen["sigma"] == 4.0
