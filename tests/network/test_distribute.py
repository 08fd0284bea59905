"""Training under tf.distribute: mirrored over two logical CPU devices, and two workers on this machine."""

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from atomsight.models.card import file_sha256
from atomsight.network.distribute import _most_tasks_per_node, _several_workers, choose_strategy
from atomsight.network.train import new_model

TRAIN = """
import json, os, sys
import logging
import keras, numpy as np, tensorflow as tf
logging.basicConfig(level=logging.INFO)
system, stores, out, devices, interrupt = json.loads(sys.argv[1])
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
from atomsight.network.model import load_model
from atomsight.network.train import train

class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        os._exit(3)  # as if the job were killed after its first epoch (its backup written)

path = train(system, train_stores=stores["train"], validation_stores=stores["validation"], out=out, progress=False,
             callbacks=[Interrupt()] if interrupt else [])
if path.exists():
    model = load_model(path)
    np.save(out + "/weights.npy", np.concatenate([np.ravel(w) for w in model.get_weights()]))
    (path.parent / "config.json").write_text(json.dumps(model.get_config()))
"""


def _run(system, stores, out, *, devices=1, interrupt=False, env=None, name="train"):
    """Start a training process; its output goes to a file (a pipe that fills would stall the other worker)."""
    argument = json.dumps([system, stores, str(out), devices, interrupt])
    log = Path(str(out) + f"-{name}-{os.getpid()}-{len(list(Path(out).parent.glob('*.log')))}.log")
    process = subprocess.Popen([sys.executable, "-c", TRAIN, argument], env={**os.environ, **(env or {})},
                               stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)
    process.log = log
    return process


def _finished(process, timeout=600, expect=0):
    process.wait(timeout=timeout)
    output = process.log.read_text()
    assert process.returncode == expect, output[-3000:]
    return output


def _history(folder):
    with open(folder / "history.csv", newline="") as stream:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(stream)]


@pytest.fixture
def setup(tiny_config, tiny_stores):
    system = json.loads(json.dumps(tiny_config["systems"]["graphene"]))
    system["training"].update(epochs=3, steps_per_epoch=1, batch_size=2, validation_images=4, base_filters=4,
                              schedule="constant")
    stores = {split: [str(p) for p in tiny_stores["graphene"][split]] for split in ("train", "validation")}
    return system, stores


def test_mirrored_over_two_devices_trains_as_one_device_with_the_global_batch(setup, tmp_path):
    system, stores = setup
    # both start from one saved network (training.initial_model), so that only the strategy differs
    new_model(system).save(tmp_path / "initial.keras")
    system["training"]["initial_model"] = {"path": str(tmp_path / "initial.keras"),
                                           "sha256": file_sha256(tmp_path / "initial.keras")}
    single = json.loads(json.dumps(system))
    # one device, the global batch of 2 x 2 and, by the linear rule, twice the learning rates
    single["training"].update(strategy="single", batch_size=4, learning_rate=2 * system["training"]["learning_rate"],
                              final_learning_rate=2 * system["training"]["final_learning_rate"])
    mirrored = json.loads(json.dumps(system))
    mirrored["training"]["strategy"] = "mirrored"
    runs = [_run(single, stores, tmp_path / "single"), _run(mirrored, stores, tmp_path / "mirrored", devices=2)]
    outputs = [_finished(p) for p in runs]
    assert "strategy mirrored: 2 replica(s)" in outputs[1]
    a, b = _history(tmp_path / "single"), _history(tmp_path / "mirrored")
    # One step an epoch, both from the same initial network and on the same images (checked batch by batch,
    # outside this test). Measured: the first step's loss agreed to 4e-5 in one session and differed by 2.1 % in
    # others (0.1900 and 0.1860), its cause not yet found; the later losses within 2 %. A run with another seed
    # differs by 20-45 %: 5 % tells the same training from another, not yet the same numbers.
    np.testing.assert_allclose([r["loss"] for r in a], [r["loss"] for r in b], rtol=5e-2)
    np.testing.assert_allclose([r["val_loss"] for r in a], [r["val_loss"] for r in b], rtol=5e-2)
    # and the network is saved as one device saves it (batch normalisation unsynchronised again)
    assert (tmp_path / "single/config.json").read_text() == (tmp_path / "mirrored/config.json").read_text()


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_train_checkpoint_resume_and_export_the_network_one_device_would(setup, tmp_path):
    system, stores = setup
    system["training"]["strategy"] = "multi_worker"
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}

    def workers(interrupt):
        return [_run(system, stores, tmp_path / "run", interrupt=interrupt, name=f"worker{k}",
                     env={"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": k}})})
                for k in range(2)]

    outputs = [_finished(p, expect=3) for p in workers(interrupt=True)]
    assert "strategy multi_worker: 2 replica(s)" in outputs[0] and "worker 1 of 2" in outputs[1]
    assert (tmp_path / "run/backup").is_dir() and [r["epoch"] for r in _history(tmp_path / "run")] == [0]
    assert json.loads((tmp_path / "run/run.json").read_text())["replicas"] == 2
    # on one device the global batch and the learning rate would change: refused, nothing trained
    alone = json.loads(json.dumps(system))
    alone["training"]["strategy"] = "single"
    refused = _finished(_run(alone, stores, tmp_path / "run", name="alone"), expect=1)
    assert "an interrupted run on 2 replica(s)" in refused and "resumed on 1" in refused
    outputs = [_finished(p) for p in workers(interrupt=False)]
    assert "resuming after 1 finished epochs" in outputs[0] and "resuming after 1 finished epochs" in outputs[1]
    assert [r["epoch"] for r in _history(tmp_path / "run")] == [0, 1, 2]
    assert not (tmp_path / "run/backup").exists() and not (tmp_path / "run/backup-worker1").exists()
    # the chief's network is the one a single device trains: same layers and settings (unsynchronised again)
    single = json.loads(json.dumps(system))
    single["training"].update(strategy="single", batch_size=4)
    _finished(_run(single, stores, tmp_path / "single"))
    assert (tmp_path / "run/config.json").read_text() == (tmp_path / "single/config.json").read_text()


def test_an_unknown_strategy_and_a_multi_worker_run_without_workers_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="training.strategy: 'many', expected one of auto, single"):
        choose_strategy("many")
    for name in ("TF_CONFIG", "SLURM_JOB_ID", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="multi_worker needs its workers: run under Slurm"):
        choose_strategy("multi_worker")


def test_auto_is_single_without_several_gpus():
    placement = choose_strategy("auto")
    assert placement.name == "single" and placement.replicas == 1 and placement.is_chief


def test_auto_is_multi_worker_in_a_process_that_is_one_of_several(monkeypatch):
    for name in ("TF_CONFIG", "SLURM_STEP_NUM_TASKS"):
        monkeypatch.delenv(name, raising=False)
    assert not _several_workers()
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "1")
    assert not _several_workers()  # the one task of an ordinary job step
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "2")
    assert _several_workers()
    monkeypatch.delenv("SLURM_STEP_NUM_TASKS")
    one = {"cluster": {"worker": ["127.0.0.1:1234"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(one))
    assert not _several_workers()
    one["cluster"]["chief"] = ["127.0.0.1:1235"]
    monkeypatch.setenv("TF_CONFIG", json.dumps(one))
    assert _several_workers()


@pytest.mark.parametrize(("tasks_per_node", "most"), [("1", 1), ("2(x3),1", 2), ("1(x2),4", 4), ("12", 12)])
def test_the_most_tasks_on_a_node_read_from_slurms_compressed_list(tasks_per_node, most):
    assert _most_tasks_per_node(tasks_per_node) == most
