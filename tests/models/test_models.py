"""Naming models on the command line: shipped names, folders, and clear errors."""

import json

import pytest

from atomsight import models
from atomsight.cli import main
from atomsight.models import ModelNotFoundError, resolve_model, shipped_models


def test_a_folder_path_wins_and_a_folder_without_a_card_is_named(tmp_path):
    (tmp_path / "mine").mkdir()
    with pytest.raises(ModelNotFoundError, match="no model.json"):
        resolve_model(tmp_path / "mine")
    (tmp_path / "mine" / "model.json").write_text("{}")
    assert resolve_model(tmp_path / "mine") == tmp_path / "mine"


def test_an_unknown_name_lists_the_shipped_models(monkeypatch, tmp_path):
    shipped = tmp_path / "shipped"
    (shipped / "graphene").mkdir(parents=True)
    card = json.loads((models.SHIPPED / "graphene" / "model.json").read_text())
    (shipped / "graphene" / "model.json").write_text(json.dumps(card))
    monkeypatch.setattr(models, "SHIPPED", shipped)
    monkeypatch.chdir(tmp_path)
    assert resolve_model("graphene") == shipped / "graphene"
    assert list(shipped_models()) == ["graphene"]
    with pytest.raises(ModelNotFoundError, match=r"'grafene'.*shipped: graphene"):
        resolve_model("grafene")


def test_atomsight_models_lists_every_shipped_model_with_its_card(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name, card in shipped_models().items():
        assert out.count(f"{name} (") == 1 and f"{card['energy'] / 1e3:g} kV" in out and "C10 > 0 is overfocus" in out
        low, high = card["intended_conditions"]["astigmatism_A"]
        assert f"astigmatism {low:g} to {high:g} Å" in out and f"threshold {card['detection']['threshold']:g}" in out
        low, high = card["intended_conditions"]["c10_A"]
        assert f"C10 = {low:+.0f} to {high:+.0f} Å" in out


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", r"the model card is a JSON list, expected an object"),
    ("{not json", r"the model card is not valid JSON"),
    ("CARD without sampling", r"lacks 'sampling'"),
    ("CARD sampling NaN", r"sampling is nan, expected a positive finite number"),
    ("CARD threshold Infinity", r"detection.threshold is inf, expected a finite number"),
])
def test_a_malformed_card_is_refused_naming_the_file(tmp_path, text, message):
    from atomsight.models import CardError, read_card

    card = json.loads((models.SHIPPED / "graphene" / "model.json").read_text())
    if text == "CARD without sampling":
        del card["sampling"]
    elif text == "CARD sampling NaN":
        card["sampling"] = float("nan")
    elif text == "CARD threshold Infinity":
        card["detection"]["threshold"] = float("inf")
    (tmp_path / "model.json").write_text(json.dumps(card) if text.startswith("CARD") else text)
    with pytest.raises(CardError, match=rf"{tmp_path / 'model.json'}: .*{message}"):
        read_card(tmp_path)


def test_each_material_has_one_default_model_named_after_it_and_the_others_say_what_they_are_for(capsys):
    cards = shipped_models()
    materials = {card["system"] for card in cards.values() if card["label_classes"] == "single"}
    assert materials <= set(cards), "every material whose models find atoms or columns has one named after it"
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name, card in cards.items():
        expected = f"{name} (the default for {name})" if name == card["system"] else f"{name} (specialised"
        assert expected in out
    assert "gold-counting (specialised: atoms per column from a focal series of 3 images)" in out
    assert "the default for gold-counting" not in out
