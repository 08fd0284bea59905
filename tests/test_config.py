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
    assert system["splits"] == {"train": 500, "validation": 50, "test": 100}
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
        (lambda c: c["systems"]["x"]["structures"].update(parameters={"bond_lenght": 1.4}),
         "systems.x.structures.parameters"),
        (lambda c: c.update(device="tpu"), "device"),
        (lambda c: c["systems"]["x"].update(training={"precision": "float16"}), "systems.x.training.precision"),
        (lambda c: c["systems"]["x"].update(training={"jit_compile": "yes"}), "systems.x.training.jit_compile"),
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


@pytest.mark.parametrize(
    ("simulation", "message"),
    [
        ({"thermal": {"rms_displacement": {"Au": 0.09}}}, r"thermal\.rms_displacement: no value for 'C'"),
        ({"projection": "finite"}, r"thermal\.rms_displacement: .* needs projection: infinite"),
    ],
)
def test_thermal_smearing_must_cover_the_element_and_use_the_infinite_projection(simulation, message):
    config = _minimal()
    config["systems"]["x"]["simulation"] = simulation
    with pytest.raises(ConfigError, match=r"systems\.x\.simulation\." + message):
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


def test_a_sequence_gets_its_defaults_and_its_unknown_system_is_named():
    config = _minimal()
    config["sequences"] = {"run42": {"system": next(iter(config["systems"])), "movie": ["frames/*.dm4"]}}
    sequence = validate_config(config)["sequences"]["run42"]
    assert (sequence["sampling"], sequence["max_displacement"], sequence["site_radius"]) == (None, 1.0, 1.0)
    config["sequences"]["run42"]["system"] = "lead"
    with pytest.raises(ConfigError, match="sequences.run42.system: 'lead' is not a system"):
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
    assert config["systems"]["x"]["splits"] == {"train": 7, "validation": 50, "test": 100}
    assert config["systems"]["x"]["microscope"]["image_size"] == 64
    assert config["systems"]["x"]["energy"] == 80e3
    overlay.write_text("systems:\n  x:\n    microscope: {image_size: 60}\n")
    with pytest.raises(ConfigError,
                       match=r"base\.yaml \+ .*small\.yaml: systems\.x\.microscope\.image_size: 60"
                             r" is not a multiple of 8"):
        load_config(base, overlay)


def test_microscope_ranges_and_sampling_are_checked():
    config = _minimal()
    config["systems"]["x"]["microscope"] = {"defocus": [100, -100]}
    with pytest.raises(ConfigError, match=r"systems\.x\.microscope\.defocus: range \[100, -100\]"):
        validate_config(config)
    config["systems"]["x"]["microscope"] = {"sampling": 0.1}
    with pytest.raises(ConfigError, match=r"microscope\.sampling: the finest image sampling 0\.09 Å .* finer than"):
        validate_config(config)


# Table 1 of Madsen et al. 2018 ("randomized parameters ... for graphene for a 80 kV microscope"),
# typed from the paper in its own units, and the conversions to the configuration's Å.
MICROMETRE, MILLIMETRE, PICOMETRE = 1e4, 1e7, 1e-2  # [Å]
TABLE_1 = {
    "defocus": [-200.0, 200.0],                          # Å (symmetric, so the same for C10 = -defocus)
    "Cs": [-20 * MICROMETRE, 20 * MICROMETRE],            # -20 to 20 µm
    "C5": [0.0, 5 * MILLIMETRE],                          # 0 to 5 mm
    "astigmatism": [0.0, 100.0],                          # Å
    "focal_spread": [20.0, 40.0],                         # Å
    "blur": [0.0, 25 * PICOMETRE],                        # "deflection" 0 to 25, read as pm (see the schema)
    "dose": [1e1, 1e4],                                   # e/Å^2, drawn log-uniformly ("exponential")
}
TABLE_1_MTF = {"c1": [0.0, 0.1], "c2": [0.4, 0.6], "c3": [2.0, 3.0]}  # eq. 5's parameters


def test_microscope_defaults_are_table_1_of_the_paper():
    microscope = validate_config(_minimal())["systems"]["x"]["microscope"]
    for key, expected in TABLE_1.items():
        assert microscope[key] == pytest.approx(expected), key
    for key, expected in TABLE_1_MTF.items():
        assert microscope["mtf"][key] == pytest.approx(expected), key
    assert microscope["sampling"] == 0.12  # section 3: "a sampling rate of 0.12 Å/pixel"


def test_gold_counting_is_the_papers_focal_series_as_c10(repo_config):
    # Section 4.3: defocus -170, -40 and +90 Å plus a shared -20..20 Å, Cs -10 to -20 µm. The paper's
    # defocus is C10 (PyQSTEM's a20); the configuration's is abTEM's, -C10.
    microscope = repo_config["systems"]["gold_counting"]["microscope"]
    assert [-offset for offset in microscope["defocus_offsets"]] == [-170.0, -40.0, 90.0]
    assert sorted(-d for d in microscope["defocus"]) == [-20.0, 20.0]
    assert microscope["Cs"] == [-20 * MICROMETRE, -10 * MICROMETRE]


def test_images_that_would_wrap_around_the_cell_are_refused():
    # The paper's 360 pixels at 0.12 Å/pixel are its 43.2 Å cell; with +10 % jitter they span
    # 360 x 0.132 = 47.52 Å and would show part of the cell twice.
    config = _minimal()
    microscope = {"image_size": 360, "sampling": 0.12, "scale_jitter": 0.1}
    config["systems"]["x"].update(cell=[43.2, 43.2], microscope=microscope)
    with pytest.raises(ConfigError) as error:
        validate_config(config, source="my.yaml")
    message = str(error.value)
    for key in ("systems.x.microscope.image_size", "systems.x.microscope.sampling", "systems.x.microscope.scale_jitter",
                "systems.x.cell", "47.52 Å", "0.132 Å/pixel", "[43.2, 43.2]", "image_size <= 320"):
        assert key in message
    config["systems"]["x"]["microscope"]["image_size"] = 320  # 320 x 0.132 = 42.24 Å fits
    validate_config(config)
    config["systems"]["x"]["microscope"].update(image_size=360, scale_jitter=0.0)  # exactly the cell: no wrap
    validate_config(config)


@pytest.mark.parametrize(
    "files", [("config.yaml",), ("config.yaml", "workflow/configs/small.yaml"), ("tests/data/tiny.yaml",),
              ("config.yaml", "workflow/configs/release.yaml"),
              ("config.yaml", "workflow/configs/release.yaml", "workflow/configs/graphene-narrow.yaml"),
              ("config.yaml", "workflow/configs/release.yaml", "workflow/configs/graphene-narrow.yaml",
               "workflow/configs/graphene-corrected.yaml"),
              ("config.yaml", "workflow/configs/release.yaml", "workflow/configs/gold-corrected.yaml")]
)
def test_the_repository_configurations_fit_their_cells(files):
    for system in load_config(*(REPO / f for f in files))["systems"].values():
        microscope = system["microscope"]
        coarsest = microscope["sampling"] * (1 + microscope["scale_jitter"])  # [Å/pixel]
        assert microscope["image_size"] * coarsest <= min(system["cell"])


@pytest.mark.parametrize("key, value, shown", [
    (("microscope", "dose"), [10.0, float("inf")], r"systems.graphene.microscope.dose\[1\]: inf"),
    (("microscope", "defocus"), [float("nan"), 10.0], r"systems.graphene.microscope.defocus\[0\]: nan"),
    (("energy",), float("nan"), r"systems.graphene.energy: nan"),
])
def test_non_finite_numbers_are_refused_naming_the_key(repo_config, key, value, shown):
    import copy

    from atomsight.config import ConfigError, validate_config

    config = copy.deepcopy(repo_config)
    section = config["systems"]["graphene"]
    for name in key[:-1]:
        section = section[name]
    section[key[-1]] = value
    with pytest.raises(ConfigError, match=rf"{shown} is not a finite number"):
        validate_config(config, source="mine.yaml")
