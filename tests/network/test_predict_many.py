"""Predicting many images in one run: folders, the model loaded once, the card's receptive field, bfloat16."""

import json
import re
import shutil
from pathlib import Path

import imageio.v3 as iio
import keras
import numpy as np
import pytest
import tifffile

import atomsight.network.predict as predict_module
import atomsight.network.predictor as predictor_module
from atomsight.cli import main
from atomsight.device import onednn_capped_below_bfloat16
from atomsight.export.savedmodel import export
from atomsight.io.images import image_files
from atomsight.models.card import file_sha256
from atomsight.network.model import HEAD, build_model, load_model, receptive_field, with_precision
from atomsight.network.predictor import load_predictor
from atomsight.network.train import new_model


@pytest.fixture(scope="module")
def exported(tiny_config, tmp_path_factory):
    """The tiny graphene system's untrained network (depth 4, 4 features), exported."""
    keras.utils.set_random_seed(0)
    system = tiny_config["systems"]["graphene"]
    folder = tmp_path_factory.mktemp("exported")
    new_model(system).save(folder / "model.keras")
    (folder / "metrics.json").write_text(json.dumps({"structures": 0, "confidence": 0.95, "doses": []}))
    return export(system, name="graphene", model_path=folder / "model.keras", metrics_path=folder / "metrics.json",
                  out=folder / "graphene")


def noise(shape, seed):
    return (100 + 10 * np.random.default_rng(seed).normal(size=shape)).astype(np.float32)


def test_a_folder_stands_for_its_image_files_sorted_by_name(tmp_path):
    for name in ("b.png", "a.npy", "C.TIF", "scan.ser", "scan.emi", "notes.txt"):
        (tmp_path / name).touch()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.npy").touch()
    single = tmp_path / "sub" / "d.npy"
    assert image_files([tmp_path, single]) == [tmp_path / n for n in ("C.TIF", "a.npy", "b.png", "scan.ser")] + [single]


def test_a_folder_without_images_is_named(tmp_path):
    (tmp_path / "notes.txt").touch()
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path}: folder holds no image file")):
        image_files([tmp_path])


def test_a_folder_and_a_file_are_predicted_in_one_run_with_the_model_loaded_once(exported, tmp_path, monkeypatch,
                                                                                   capsys):
    images = tmp_path / "images"
    images.mkdir()
    np.save(images / "a.npy", noise((120, 90), 0))
    iio.imwrite(images / "b.png", np.clip(noise((64, 80), 1), 0, 255).astype(np.uint8))
    tifffile.imwrite(images / "c.tif", noise((70, 70), 2))
    (images / "README.txt").write_text("not an image")
    np.save(tmp_path / "e.npy", noise((50, 60), 3))
    loads = []
    monkeypatch.setattr(predict_module, "load_predictor",
                        lambda *args, **kwargs: loads.append(args) or load_predictor(*args, **kwargs))
    out = tmp_path / "out"
    assert main(["predict", "--model", str(exported), str(images), str(tmp_path / "e.npy"), "--sampling", "0.1",
                 "--out", str(out)]) == 0
    assert len(loads) == 1
    assert sorted(p.name for p in out.glob("*.csv")) == ["a.csv", "b.csv", "c.csv", "e.csv"]
    assert capsys.readouterr().out.count(" -> ") == 4


def test_an_exported_folder_runs_its_saved_model_only_when_trusted(exported, monkeypatch):
    card = json.loads((exported / "model.json").read_text())
    assert card["receptive_field"] == receptive_field(load_model(exported / "model.keras")) == 124
    assert load_predictor(exported).identity["file"] == "model.keras"

    def no_keras_file(path):
        raise AssertionError(f"loaded {path}")

    monkeypatch.setattr(predictor_module, "load_model", no_keras_file)
    trusted = load_predictor(exported, trust_saved_model=True)
    assert trusted.card["receptive_field"] == 124 and trusted.identity["file"] == "saved_model"


def test_a_changed_file_of_a_model_folder_is_refused_naming_it(exported, tmp_path):
    import shutil

    from atomsight.models import CardError

    copy = shutil.copytree(exported, tmp_path / "graphene")
    variables = sorted((copy / "saved_model").rglob("*.index"))[0]
    variables.write_bytes(variables.read_bytes() + b"\0")
    with pytest.raises(CardError, match=rf"{variables}: SHA-256 .* differs from"):
        load_predictor(copy, trust_saved_model=True)
    load_predictor(copy)  # its model.keras is still the one the card lists
    (copy / "model.keras").write_bytes(b"not a network")
    with pytest.raises(CardError, match=r"model.keras: SHA-256 .* differs from"):
        load_predictor(copy)


def test_a_folder_named_like_a_shipped_model_is_a_path_only_when_written_as_one(exported, tmp_path, monkeypatch):
    import shutil

    from atomsight.models import SHIPPED, resolve_model

    shutil.copytree(exported, tmp_path / "graphene")
    monkeypatch.chdir(tmp_path)
    assert resolve_model("graphene") == SHIPPED / "graphene"
    assert resolve_model("./graphene") == Path("graphene")
    from atomsight.models import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match=r"model 'gold2': no shipped model"):
        resolve_model("gold2")


@pytest.mark.skipif(onednn_capped_below_bfloat16(), reason="oneDNN capped below bfloat16 refuses its convolutions")
def test_a_float32_network_in_bfloat16_computes_its_probabilities_to_bfloat16_rounding(exported):
    halved = with_precision(load_model(exported / "model.keras"), "mixed_bfloat16")
    inner = [layer for layer in halved.layers[1:] if layer.name not in HEAD]  # after the input layer
    assert {layer.dtype_policy.name for layer in inner} == {"mixed_bfloat16"}
    assert {layer.dtype_policy.name for layer in halved.layers if layer.name in HEAD} == {"float32"}
    image = np.random.default_rng(4).normal(size=(1, 64, 48, 1)).astype(np.float32)
    float32, bfloat16 = (load_predictor(exported, precision=p).probabilities(image) for p in (None, "mixed_bfloat16"))
    assert bfloat16.dtype == np.float32
    np.testing.assert_allclose(bfloat16.sum(-1), 1.0, atol=1e-5)  # the softmax head stays float32
    # bfloat16 keeps 8 significant bits: each of the ~30 layers on the longest path rounds its output by up to
    # 2**-9 relative, and batch normalisation rescales the errors; the trained graphene network of
    # BENCHMARKS.md differs from float32 by at most 0.03 (0.001 on average) in the probabilities.
    np.testing.assert_allclose(bfloat16, float32, atol=0.03)
    assert np.abs(bfloat16 - float32).max() > 0  # it did compute in bfloat16


def test_auto_precision_runs_a_bfloat16_network_as_trained_only_where_the_cpu_computes_bfloat16(
        exported, tmp_path, monkeypatch):
    from atomsight import device

    folder = tmp_path / "halved"
    shutil.copytree(exported, folder)
    network = with_precision(load_model(folder / "model.keras"), "mixed_bfloat16")
    network.save(folder / "model.keras")
    card = json.loads((folder / "model.json").read_text())
    card["files"]["model.keras"]["sha256"] = file_sha256(folder / "model.keras")
    card["files"]["model.keras"]["bytes"] = (folder / "model.keras").stat().st_size
    (folder / "model.json").write_text(json.dumps(card))
    monkeypatch.setattr(device, "_tensorflow_gpus", lambda: ())
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setattr(device, "_cpu_flags", lambda: ["avx2", "fma"])
    assert load_predictor(folder, precision="auto").identity["precision"] == "float32"
    assert load_predictor(folder, precision=None).identity["precision"] == "mixed_bfloat16"  # as trained, any CPU
    assert load_predictor(folder).identity["precision"] == "float32"  # auto is the default
    monkeypatch.setattr(device, "_cpu_flags", lambda: ["avx2", "avx512f", "avx512_bf16"])
    assert load_predictor(folder, precision="auto").identity["precision"] == "mixed_bfloat16"
    assert load_predictor(exported, precision="auto").identity["precision"] == "float32"  # trained in float32


def test_an_unknown_precision_is_named():
    with pytest.raises(ValueError, match="precision must be one of"):
        with_precision(build_model(base_filters=1, depth=1), "float16")
