"""Training on the tiny stores: outputs, resuming after an interruption, repeatability."""

import csv
import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from atomsight.models.card import file_sha256
from atomsight.network.train import learning_rate, new_model, start_from, train


class Interrupt(keras.callbacks.Callback):
    """Stops a run after its first epoch, as if the job were killed."""

    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def epochs_of(folder):
    with open(folder / "history.csv", newline="") as stream:
        return [int(row["epoch"]) for row in csv.DictReader(stream)]


@pytest.fixture(scope="module")
def trained(tiny_config, tiny_stores, tmp_path_factory):
    system = tiny_config["systems"]["graphene"]
    folder = tmp_path_factory.mktemp("run")
    stores = tiny_stores["graphene"]
    path = train(system, train_stores=stores["train"], validation_stores=stores["validation"], out=folder,
                 progress=False)
    return system, folder, path


def test_a_run_leaves_model_curves_and_logs(trained):
    _, folder, path = trained
    assert path == folder / "model.keras" and path.exists()
    assert epochs_of(folder) == [0, 1]
    assert (folder / "curves.png").stat().st_size > 10_000
    assert any((folder / "tensorboard").rglob("events.out.tfevents.*"))
    assert not (folder / "backup").exists()
    model = keras.models.load_model(path)
    assert model.output_shape == (None, None, None, 2)


def test_an_interrupted_run_resumes_at_its_last_epoch(tiny_config, tiny_stores, tmp_path):
    system = {**tiny_config["systems"]["graphene"]}
    system["training"] = {**system["training"], "epochs": 3}
    graphene = tiny_stores["graphene"]
    stores = dict(train_stores=graphene["train"], validation_stores=graphene["validation"])
    with pytest.raises(KeyboardInterrupt):
        train(system, **stores, out=tmp_path, progress=False, callbacks=[Interrupt()])
    assert epochs_of(tmp_path) == [0] and (tmp_path / "backup").exists() and not (tmp_path / "model.keras").exists()
    resumed = train(system, **stores, out=tmp_path, progress=False)
    assert epochs_of(tmp_path) == [0, 1, 2]  # the epoch count continues; epoch 0 was not redone
    # ... and on the images an uninterrupted run would have seen: the same weights.
    whole = train(system, **stores, out=tmp_path / "whole", progress=False)
    for a, b in zip(keras.models.load_model(resumed).get_weights(), keras.models.load_model(whole).get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_an_interrupted_run_is_not_resumed_with_another_configuration(tiny_config, tiny_stores, tmp_path):
    system = {**tiny_config["systems"]["graphene"]}
    system["training"] = {**system["training"], "epochs": 3}
    graphene = tiny_stores["graphene"]
    stores = dict(train_stores=graphene["train"], validation_stores=graphene["validation"])
    with pytest.raises(KeyboardInterrupt):
        train(system, **stores, out=tmp_path, progress=False, callbacks=[Interrupt()])
    other = {**system, "training": {**system["training"], "learning_rate": 5e-4}}
    with pytest.raises(ValueError, match=r"backup: an interrupted run made with another configuration"):
        train(other, **stores, out=tmp_path, progress=False)
    assert epochs_of(tmp_path) == [0]  # nothing was trained or overwritten


def test_the_same_seed_trains_the_same_weights_on_cpu(trained, tiny_stores, tmp_path):
    system, _, path = trained
    stores = tiny_stores["graphene"]
    again = train(system, train_stores=stores["train"], validation_stores=stores["validation"], out=tmp_path,
                  progress=False)
    for a, b in zip(keras.models.load_model(path).get_weights(), keras.models.load_model(again).get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_fresh_run_starts_from_the_weights_of_an_initial_model(trained, tmp_path):
    system, _, path = trained
    digest = file_sha256(path)
    model = new_model(system)
    start_from(model, {"path": str(path), "sha256": digest})
    for a, b in zip(model.get_weights(), keras.models.load_model(path).get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"model.keras: SHA-256 .* but training.initial_model.sha256 is 0{64}"):
        start_from(model, {"path": str(path), "sha256": "0" * 64})
    wider = {**system, "training": {**system["training"], "base_filters": 2 * system["training"]["base_filters"]}}
    with pytest.raises(ValueError, match=r"model.keras: its \d+ weight arrays do not fit"):
        start_from(new_model(wider), {"path": str(path), "sha256": digest})
    with pytest.raises(FileNotFoundError, match="initial_model.path"):
        start_from(model, {"path": str(tmp_path / "missing.keras"), "sha256": digest})


def test_cosine_schedule_ends_at_the_final_rate():
    schedule = learning_rate({"schedule": "cosine", "learning_rate": 1e-3, "final_learning_rate": 1e-5,
                              "epochs": 2, "steps_per_epoch": 5})
    assert float(schedule(0)) == pytest.approx(1e-3)
    assert float(schedule(10)) == pytest.approx(1e-5)
    assert learning_rate({"schedule": "constant", "learning_rate": 2e-4}) == 2e-4


def test_the_learning_rates_scale_with_the_replicas():
    training = {"schedule": "cosine", "learning_rate": 1e-3, "final_learning_rate": 1e-5, "epochs": 2,
                "steps_per_epoch": 5}
    schedule = learning_rate(training, replicas=4)
    assert float(schedule(0)) == pytest.approx(4e-3) and float(schedule(10)) == pytest.approx(4e-5)
    assert learning_rate({"schedule": "constant", "learning_rate": 2e-4}, replicas=2) == 4e-4


def test_mixed_bfloat16_reaches_the_compiled_model(tiny_system):
    tiny_system["training"]["precision"] = "mixed_bfloat16"
    model = new_model(tiny_system)
    conv = model.get_layer("down0_1_conv")
    assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == "float32"  # Adam updates float32 weights
    assert model.get_layer("probabilities").compute_dtype == "float32" and not model.jit_compile



@pytest.mark.parametrize("flags, compute", [(["avx2", "fma"], "float32"), (["avx512f", "avx512_bf16"], "bfloat16")])
def test_auto_precision_builds_bfloat16_networks_only_where_the_cpu_computes_bfloat16(
        tiny_system, monkeypatch, flags, compute):
    from atomsight import device

    monkeypatch.setattr(device, "_tensorflow_gpus", lambda: ())
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setattr(device, "_cpu_flags", lambda: flags)
    tiny_system["training"]["precision"] = "auto"
    assert new_model(tiny_system).get_layer("down0_1_conv").compute_dtype == compute


XLA_IN_A_NEW_PROCESS = """
import sys, json
import tensorflow as tf
from atomsight.network.train import new_model
system = json.loads(sys.argv[1])
assert new_model(system).jit_compile
tf.config.experimental.enable_op_determinism()
try:
    new_model(system)
except ValueError as error:
    print(error)
"""


def test_xla_reaches_the_compiled_model_and_is_refused_under_op_determinism(tiny_system):
    # In a new process: op determinism, once on (as after a float32 training), stays on.
    tiny_system["training"]["jit_compile"] = True
    result = subprocess.run([sys.executable, "-c", XLA_IN_A_NEW_PROCESS, json.dumps(tiny_system)], check=True,
                            capture_output=True, text=True)
    assert result.stdout.startswith("training.jit_compile: true, but Keras refused XLA")


TRAIN_IN_A_NEW_PROCESS = """
import sys, json, numpy as np
from atomsight.network.train import train
from atomsight.network.model import load_model
system, stores, out = json.loads(sys.argv[1])
path = train(system, train_stores=stores["train"], validation_stores=stores["validation"], out=out, progress=False)
np.save(out + "/weights.npy", np.concatenate([np.ravel(w) for w in load_model(path).get_weights()]))
"""


def test_two_processes_with_the_same_seed_train_the_same_weights(tiny_config, tiny_stores, tmp_path):
    # 16 filters, batch 8: with TensorFlow's concurrent inter-op execution, two processes
    # drifted apart from the second step on.
    system = {**tiny_config["systems"]["graphene"]}
    system["training"] = {**system["training"], "base_filters": 16, "batch_size": 8, "epochs": 1,
                          "steps_per_epoch": 4}
    stores = {split: [str(p) for p in tiny_stores["graphene"][split]] for split in ("train", "validation")}
    weights = []
    for run in ("a", "b"):
        out = tmp_path / run
        argument = json.dumps([system, stores, str(out)])
        subprocess.run([sys.executable, "-c", TRAIN_IN_A_NEW_PROCESS, argument], check=True, capture_output=True)
        weights.append(np.load(out / "weights.npy"))
    np.testing.assert_array_equal(weights[0], weights[1])
