import copy
from pathlib import Path

import pytest
import yaml

from atomsight.config import ConfigError, config_hash, load_config, validate_config

REPO = Path(__file__).resolve().parents[1]


def test_repository_config_is_valid_and_gets_defaults(repo_config):
    graphene = repo_config["systems"]["graphene"]
    assert graphene["simulation"]["projection"] == "infinite"
    assert graphene["structures"]["parameters"]["thickness"] == 2.0
    gold = repo_config["systems"]["gold"]["structures"]["parameters"]
    assert gold["lattice_constant"] == 4.08 and gold["temperature"] == [0.5, 2.0]
    assert repo_config["systems"]["gold_counting"]["labels"]["max_height"] == 5


def test_the_small_configuration_overrides_only_what_it_names(repo_config):
    small = load_config(REPO / "config.yaml", REPO / "workflow" / "configs" / "small.yaml")
    assert small["targets"] == ["graphene"]
    microscope, full = small["systems"]["graphene"]["microscope"], repo_config["systems"]["graphene"]["microscope"]
    assert microscope["sampling"] == 0.16 and microscope["defocus"] == [-85.0, -60.0]
    assert microscope["blur"] == full["blur"] and microscope["mtf"] == full["mtf"]  # the rest stays Table 1's
    assert small["systems"]["gold"] == repo_config["systems"]["gold"]


def _minimal():
    return {
        "systems": {
            "x": {
                "seed": 1,
                "energy": 80e3,
                "structures": {"generator": "graphene"},
                "labels": {"classes": "single", "name": "atom"},
            }
        }
    }


def test_minimal_config_is_completed_from_the_schema():
    config = validate_config(_minimal())
    system = config["systems"]["x"]
    assert system["cell"] == [43.2, 43.2]
    assert system["splits"] == {"train": 500, "test": 50}
    assert system["structures"]["parameters"]["bond_length"] == 1.42
    assert config["device"] == "auto"


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda c: c["systems"]["x"].update(seed=-1), "systems.x.seed"),
        (lambda c: c["systems"]["x"].update(energy="80 kV"), "systems.x.energy"),
        (lambda c: c["systems"]["x"].update(colour="red"), "systems.x"),
        (lambda c: c["systems"]["x"].pop("labels"), "systems.x"),
        (lambda c: c["systems"]["x"]["structures"].update(generator="nanotube"), "systems.x.structures.generator"),
        (lambda c: c["systems"]["x"]["structures"].update(parameters={"bond_lenght": 1.4}), "systems.x.structures.parameters"),
        (lambda c: c.update(device="tpu"), "device"),
    ],
)
def test_invalid_values_name_their_key(edit, key):
    config = _minimal()
    edit(config)
    with pytest.raises(ConfigError) as error:
        validate_config(config, source="my.yaml")
    assert f"my.yaml: {key}:" in str(error.value)


def test_storage_sampling_must_stay_inside_the_antialiasing_band():
    config = _minimal()
    config["systems"]["x"]["simulation"] = {"potential_sampling": 0.05, "storage_sampling": 0.06}
    with pytest.raises(ConfigError, match=r"systems\.x\.simulation\.storage_sampling.*1\.5"):
        validate_config(config)


def test_reversed_range_is_named():
    config = _minimal()
    config["systems"]["x"]["structures"]["parameters"] = {"holes": [3, 1]}
    with pytest.raises(ConfigError, match=r"parameters\.holes: range \[3, 1\]"):
        validate_config(config)


def test_unknown_target_is_named():
    config = _minimal()
    config["targets"] = ["gold"]
    with pytest.raises(ConfigError, match="targets: 'gold' is not a system"):
        validate_config(config)


def test_unreadable_and_malformed_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="missing.yaml"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("systems: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)


def test_config_hash_tracks_every_value():
    a = validate_config(_minimal())["systems"]["x"]
    b = copy.deepcopy(a)
    assert config_hash(a) == config_hash(b)
    b["simulation"]["slice_thickness"] = 0.5
    assert config_hash(a) != config_hash(b)


def test_config_yaml_round_trips_through_yaml(repo_config):
    assert validate_config(yaml.safe_load(yaml.safe_dump(repo_config))) == repo_config


def test_overlays_merge_like_snakemake_configfiles(tmp_path):
    base, overlay = tmp_path / "base.yaml", tmp_path / "small.yaml"
    base.write_text(yaml.safe_dump(_minimal()))
    overlay.write_text("systems:\n  x:\n    splits: {train: 7}\n    microscope: {image_size: 64}\n")
    config = load_config(base, overlay)
    assert config["systems"]["x"]["splits"] == {"train": 7, "test": 50}
    assert config["systems"]["x"]["microscope"]["image_size"] == 64
    assert config["systems"]["x"]["energy"] == 80e3
    overlay.write_text("systems:\n  x:\n    microscope: {image_size: 60}\n")
    with pytest.raises(ConfigError, match=r"base\.yaml \+ .*small\.yaml: systems\.x\.microscope\.image_size: 60 is not a multiple of 8"):
        load_config(base, overlay)


def test_microscope_ranges_and_sampling_are_checked():
    config = _minimal()
    config["systems"]["x"]["microscope"] = {"defocus": [100, -100]}
    with pytest.raises(ConfigError, match=r"systems\.x\.microscope\.defocus: range \[100, -100\]"):
        validate_config(config)
    config["systems"]["x"]["microscope"] = {"sampling": 0.1}
    with pytest.raises(ConfigError, match=r"microscope\.sampling: the finest image sampling 0\.09 Å .* finer than"):
        validate_config(config)
