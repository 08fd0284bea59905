"""The model card says which microscope the model was trained for, with the defocus as C10."""

import json

from atomsight.network.export import model_card


def test_the_model_card_gives_the_focal_series_as_c10(repo_config):
    system = repo_config["systems"]["gold_counting"]
    card = model_card(system, name="gold_counting", evaluation={"structures": 2, "confidence": 0.95, "doses": []})
    # Section 4.3 of the paper: C10 = -170, -40, +90 Å plus a shared -20..20 Å; abTEM's defocus is -C10.
    assert card["c10_offsets"] == [-170.0, -40.0, 90.0]
    assert card["defocus_offsets"] == [170.0, 40.0, -90.0]
    assert card["c10_range"] == [-20.0, 20.0] and card["defocus_range"] == [-20.0, 20.0]
    assert card["input_channels"] == 3
    assert "-C10" in card["defocus_convention"]


def test_a_one_sided_defocus_range_is_mirrored_into_c10(repo_config):
    system = {**repo_config["systems"]["graphene"]}
    system["microscope"] = {**system["microscope"], "defocus": [-85.0, -60.0]}  # the small configuration's
    card = model_card(system, name="graphene", evaluation={"structures": 2, "confidence": 0.95, "doses": []})
    assert card["c10_range"] == [60.0, 85.0] and card["c10_offsets"] == [0.0]
    assert json.dumps(card["c10_offsets"]) == "[0.0]"  # not "-0.0"
