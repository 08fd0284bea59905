"""Training: the network learns probability maps from fresh random-microscope images (paper section 2.4).

A run writes into its folder (``results/training/<system>/``): ``backup/`` (Keras
BackupAndRestore, so an interrupted run resumes at its last finished epoch),
``history.csv`` (the curves), ``tensorboard/`` (TensorBoard logs), ``curves.png``
and, when done, ``model.keras``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from ..config import config_hash
from ..device import resolve_precision
from ..io.atomic import atomic_path, write_json
from ..microscope.data import training_dataset, validation_dataset
from ..models.card import file_sha256
from ..simulation.labels import class_names
from .distribute import Placement, choose_strategy
from .model import build_model, load_model
from .training_plots import plot_curves

log = logging.getLogger(__name__)


def learning_rate(
    training: Mapping[str, Any], *, replicas: int = 1
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """Return the learning rate or schedule over all training steps, for ``replicas`` replicas.

    The configured rates are those of one replica's batch; the global batch of ``replicas``
    batches trains with ``replicas`` times them (the linear scaling rule: a step of R
    batches moves the weights as far as R steps of one would).
    """
    start = training["learning_rate"] * replicas
    if training["schedule"] == "constant":
        return start
    steps = training["epochs"] * training["steps_per_epoch"]
    return keras.optimizers.schedules.CosineDecay(
        start, decay_steps=steps, alpha=training["final_learning_rate"] / training["learning_rate"])


def build_network(system: Mapping[str, Any]) -> keras.Model:
    """Return the system's untrained, uncompiled network (architecture, dtype policy and weight decay).

    ``training.precision: auto`` becomes bfloat16 where the hardware computes it, float32
    elsewhere (:func:`atomsight.device.resolve_precision`, logged).
    """
    training = system["training"]
    return build_model(
        input_channels=len(system["microscope"]["defocus_offsets"]),
        n_classes=1 + len(class_names(system["labels"])),
        base_filters=training["base_filters"],
        depth=training["depth"],
        weight_decay=training["weight_decay"],
        precision=resolve_precision(training["precision"]),
    )


def new_model(system: Mapping[str, Any], *, replicas: int = 1) -> keras.Model:
    """Return the system's compiled, untrained network.

    Parameters
    ----------
    system : mapping
        The system's validated configuration section.
    replicas : int
        Replicas it trains on (the learning rate's scale, :func:`learning_rate`; with
        several, :func:`synchronize_batch_statistics`); built in the strategy's scope by the
        caller.

    Returns
    -------
    keras.Model
        The network in the dtype policy ``training.precision``, compiled with Adam, the
        configured loss (computed in float32 on the float32 probabilities) and XLA when
        ``training.jit_compile``.

    Raises
    ------
    ValueError
        If ``training.jit_compile`` is true but Keras refuses XLA in this process (it does
        while TensorFlow's op determinism is on, which cannot be turned off again).
    """
    training = system["training"]
    model = build_network(system)
    synchronize_batch_statistics(model, replicas > 1)
    loss = keras.losses.MeanSquaredError() if training["loss"] == "mse" else keras.losses.CategoricalCrossentropy()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate(training, replicas=replicas)), loss=loss,
                  metrics=["categorical_accuracy"], jit_compile=training["jit_compile"])
    if training["jit_compile"] and not model.jit_compile:
        raise ValueError(
            "training.jit_compile: true, but Keras refused XLA: TensorFlow's op determinism is on in this process"
            " (a training with jit_compile: false turned it on, and it cannot be turned off); train in a new process"
        )
    return model


def synchronize_batch_statistics(model: keras.Model, synchronized: bool) -> None:
    """Pool the batch normalisation's statistics over all replicas' batches, or not.

    With several replicas each one's batch would be normalised by its own statistics, and
    a step would not be that of one device with the global batch; synchronised, it is.
    Only training reads the flag: a trained model is saved unsynchronised, as a
    single-device run saves it, so that both export the same network.
    """
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = synchronized


def _run_ops_in_order() -> None:
    """Run the training step's ops one after another (each still on every intra-op thread).

    With TensorFlow's default inter-op parallelism, two CPU runs with the same seed and the
    same images drift apart from the second step on (measured: weights differ by up to 5e-3
    after 10 steps of the small configuration); with one inter-op thread they are
    bit-identical. This must happen before TensorFlow starts its runtime; in a process where
    it already runs (e.g. a test session), the setting stays as it is and a warning says so.
    """
    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        if tf.config.threading.get_inter_op_parallelism_threads() != 1:
            log.warning("TensorFlow was started before training with several inter-op threads: this run is "
                        "repeatable only up to floating-point reordering")


RUN_CONFIGURATION = "run.json"
"""File in a run's folder recording the hash of the configuration it trains with and its replicas."""


def run_hash(system: Mapping[str, Any]) -> str:
    """Return the hash of what a run trains: the system's section without ``training.strategy``.

    The strategy says on which devices, not what: a run may resume under another one with
    the same number of replicas (recorded beside the hash).
    """
    return config_hash({**system, "training": {k: v for k, v in system["training"].items() if k != "strategy"}})


def _check_run_configuration(system: Mapping[str, Any], out: Path, *, replicas: int, write: bool) -> None:
    """Record the run's configuration hash and replicas, or refuse to resume a run made otherwise.

    Resuming continues the backed-up weights, optimiser state and image stream, which is
    only meaningful with the configuration that made them (e.g. a copied checkpoint of the
    shipped models' run is not resumed by ``make run``'s small configuration) and with as
    many replicas (the global batch, the learning rate and the stream depend on them).

    Raises
    ------
    ValueError
        If ``out/backup`` exists and ``out/run.json`` records another configuration hash or
        another number of replicas.
    """
    path = out / RUN_CONFIGURATION
    current = run_hash(system)
    if (out / "backup").exists() and path.exists():
        recorded = json.loads(path.read_text())
        if recorded["config_hash"] != current:
            raise ValueError(
                f"{out / 'backup'}: an interrupted run made with another configuration (hash {recorded['config_hash']}"
                f" in {path}; this configuration's is {current}); resume it with its own configuration, or delete"
                f" {out / 'backup'} to start afresh"
            )
        if recorded.get("replicas", 1) != replicas:
            raise ValueError(
                f"{out / 'backup'}: an interrupted run on {recorded.get('replicas', 1)} replica(s) ({path}), resumed"
                f" on {replicas}: its global batch and learning rate would change; resume it on as many devices"
                f" (training.strategy), or delete {out / 'backup'} to start afresh"
            )
    if write:
        write_json(path, {"config_hash": current, "replicas": replicas})


def start_from(model: keras.Model, initial: Mapping[str, str]) -> None:
    """Set a new network's weights to those of a saved network of the same architecture.

    Parameters
    ----------
    model : keras.Model
        The new network (:func:`new_model`).
    initial : mapping
        ``path`` of the saved network's ``.keras`` file and its ``sha256``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If its SHA-256 is not the configured one, or its weights do not fit the network;
        the message names the file.
    """
    path = Path(initial["path"])
    if not path.is_file():
        raise FileNotFoundError(f"training.initial_model.path: {path} does not exist")
    digest = file_sha256(path)
    if digest != initial["sha256"]:
        raise ValueError(f"{path}: SHA-256 {digest}, but training.initial_model.sha256 is {initial['sha256']}")
    weights = load_model(path).get_weights()
    shapes = [w.shape for w in model.get_weights()]
    if [w.shape for w in weights] != shapes:
        raise ValueError(f"{path}: its {len(weights)} weight arrays do not fit this configuration's network"
                         f" ({len(shapes)} arrays); base_filters, depth and classes must match")
    model.set_weights(weights)
    log.info("starting from the weights of %s (SHA-256 %s)", path, digest[:12])


def finished_epochs(history: str | Path) -> int:
    """Number of epochs a run finished: the rows of its ``history.csv`` (0 when there is none yet)."""
    history = Path(history)
    if not history.exists():
        return 0
    return max(0, len(history.read_text().strip().splitlines()) - 1)


def train(
    system: Mapping[str, Any],
    *,
    train_stores: Sequence[str | Path],
    validation_stores: Sequence[str | Path],
    out: str | Path,
    progress: bool = True,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> Path:
    """Train a system's network, resuming an interrupted run in the same folder.

    Parameters
    ----------
    system : mapping
        The system's validated configuration section.
    train_stores, validation_stores : sequence of path
        Shard stores of the ``train`` split (training images) and the ``validation``
        split (the fixed validation images); the ``test`` split is kept for the final
        evaluation.
    out : str or pathlib.Path
        The run's folder.
    progress : bool
        Keras progress bar (else one line per epoch).
    callbacks : sequence of keras.callbacks.Callback
        Further callbacks, run after the run's own (backup, CSV, TensorBoard).

    Returns
    -------
    pathlib.Path
        The trained model, ``out/model.keras``.
    """
    training = system["training"]
    out = Path(out)
    _run_ops_in_order()
    placement = choose_strategy(training["strategy"])
    log.info("%s", placement.describe())
    replicas = placement.replicas
    out.mkdir(parents=True, exist_ok=True)
    if placement.is_chief and not (out / "backup").exists():  # a fresh run: drop the curves of an earlier one
        (out / "history.csv").unlink(missing_ok=True)
        shutil.rmtree(out / "tensorboard", ignore_errors=True)
    _check_run_configuration(system, out, replicas=replicas, write=placement.is_chief)
    keras.utils.set_random_seed(training["seed"])
    if training["jit_compile"]:
        log.info("jit_compile: TensorFlow's op determinism stays off (Keras refuses XLA under it), so this run is "
                 "repeatable only up to floating-point reordering")
    else:
        tf.config.experimental.enable_op_determinism()
    done = finished_epochs(out / "history.csv") if (out / "backup").exists() else 0
    if done:
        log.info("resuming after %d finished epochs", done)
    images = training_images(system, train_stores, placement, start_step=done * training["steps_per_epoch"])
    validation = validation_dataset(validation_stores, system, count=training["validation_images"],
                                    batch_size=training["batch_size"] * replicas)
    # the initial weights as one device draws them from the seed (a strategy's scope draws others), so that a run on
    # several replicas starts where a single-device run does
    initial = new_model(system).get_weights() if replicas > 1 else None
    with placement.strategy.scope():
        model = new_model(system, replicas=replicas)
    if initial is not None:
        model.set_weights(initial)
    if training["initial_model"] and not done:
        start_from(model, training["initial_model"])
    log.info("training %d parameters for %d epochs of %d steps of %d images", model.count_params(), training["epochs"],
             training["steps_per_epoch"], training["batch_size"] * replicas)
    own: list[keras.callbacks.Callback] = [ChiefBackupAndRestore(str(out / "backup"), worker=placement.worker)]
    if placement.is_chief:
        own += [keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
                keras.callbacks.TensorBoard(str(out / "tensorboard"))]
    if placement.name == "multi_worker":
        _work_around_multi_worker_keras(model)
    with placement.strategy.scope():
        model.fit(
            images, epochs=training["epochs"], steps_per_epoch=training["steps_per_epoch"], validation_data=validation,
            callbacks=[*own, *callbacks], verbose=1 if progress else 2,
            shuffle=False,  # the stream is random already; Keras cannot shuffle a tf.data.Dataset and warns if asked
        )
    if placement.is_chief:
        plot_curves(out / "history.csv", out / "curves.png")
        synchronize_batch_statistics(model, False)
        with atomic_path(out / "model.keras", suffix=".keras") as tmp:
            model.save(tmp)
        shutil.rmtree(out / "backup", ignore_errors=True)
    return out / "model.keras"


def training_images(
    system: Mapping[str, Any], stores: Sequence[str | Path], placement: Placement, *, start_step: int
) -> tf.data.Dataset | tf.distribute.DistributedDataset:
    """Return the stream of training batches, each replica's own part of it under a strategy of several replicas.

    Parameters
    ----------
    system : mapping
        The system's validated configuration section.
    stores : sequence of path
        The training split's shard stores.
    placement : Placement
        The run's strategy (:func:`atomsight.network.distribute.choose_strategy`).
    start_step : int
        Steps already trained: a resumed run continues the stream where the interrupted one
        stopped, so it trains on exactly the images an uninterrupted run would have.

    Returns
    -------
    tf.data.Dataset or tf.distribute.DistributedDataset
        Batches of (images, labels) of ``training.batch_size`` per replica.
    """
    training = system["training"]
    if placement.replicas == 1:
        return training_dataset(stores, system, seed=training["seed"], batch_size=training["batch_size"],
                                start_batch=start_step)

    def replica_images(context: tf.distribute.InputContext) -> tf.data.Dataset:
        return training_dataset(stores, system, seed=training["seed"], batch_size=training["batch_size"],
                                start_batch=start_step, replicas=placement.replicas,
                                pipeline=(context.input_pipeline_id, context.num_input_pipelines))

    return placement.strategy.distribute_datasets_from_function(replica_images)


def _work_around_multi_worker_keras(model: keras.Model) -> None:
    """Let Keras 3 fit a model under MultiWorkerMirroredStrategy (keras-team/keras#20585, open).

    Two steps of Keras' fit fail there: it builds a model made in a strategy's scope from
    the mean of the first batch over the workers, which this strategy cannot take of a batch
    of (images, labels); and it averages each step's logs over the workers along their axis
    0, which scalars do not have. Unset, the model takes the strategy of the scope fit runs
    in and is built when the step is traced; the logs (the metrics' results, which pool
    every replica already) are returned with one axis, so their mean over the workers is
    their value.
    """
    model._distribute_strategy = None
    for name in ("train_step", "test_step"):
        step = getattr(model, name)

        def with_axis(data: Any, step: Any = step) -> dict[str, tf.Tensor]:
            return {key: tf.reshape(value, [1]) for key, value in step(data).items()}

        setattr(model, name, with_axis)


class ChiefBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' BackupAndRestore whose backup the chief writes and every worker restores from.

    The replicas' weights are identical after every step, so the chief's copy is the run's
    state. Saving takes part in the workers' collective operations (Keras makes an optimiser
    to save one, whose variables the strategy broadcasts), so every other worker saves as
    well, into a folder of its own beside the backup that is removed when training ends.
    """

    def __init__(self, backup_dir: str, *, worker: int) -> None:
        super().__init__(backup_dir)
        self.worker = worker
        self.own_dir = backup_dir if worker == 0 else f"{backup_dir}-worker{worker}"

    def _save_model(self) -> None:
        if self.worker == 0:
            super()._save_model()
            return
        state = self.__dict__  # Keras' paths of the backup, pointed at this worker's folder while it saves
        shared = {key: state[key] for key in ("backup_dir", "_weights_path", "_training_metadata_path")}
        state.update({key: os.path.join(self.own_dir, os.path.basename(path)) for key, path in shared.items()},
                     backup_dir=self.own_dir)
        try:
            super()._save_model()
        finally:
            state.update(shared)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.worker == 0:
            super().on_train_end(logs)
        else:
            shutil.rmtree(self.own_dir, ignore_errors=True)
