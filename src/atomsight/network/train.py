"""Training: the network learns probability maps from fresh random-microscope images (paper section 2.4).

A run writes into its folder (``results/training/<system>/``): ``backup/`` (Keras
BackupAndRestore, so an interrupted run resumes at its last finished epoch),
``history.csv`` (the curves), ``tensorboard/`` (TensorBoard logs), ``curves.png``
and, when done, ``model.keras``.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from ..config import config_hash
from ..io.atomic import atomic_path, write_json
from ..microscope.data import training_dataset, validation_dataset
from ..models.card import file_sha256
from ..simulation.labels import class_names
from .model import build_model, load_model
from .training_plots import plot_curves

log = logging.getLogger(__name__)


def learning_rate(training: Mapping[str, Any]) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """Return the configured learning rate or schedule over all training steps."""
    if training["schedule"] == "constant":
        return training["learning_rate"]
    steps = training["epochs"] * training["steps_per_epoch"]
    return keras.optimizers.schedules.CosineDecay(
        training["learning_rate"], decay_steps=steps, alpha=training["final_learning_rate"] / training["learning_rate"]
    )


def build_network(system: Mapping[str, Any]) -> keras.Model:
    """Return the system's untrained, uncompiled network (architecture, dtype policy and weight decay)."""
    training = system["training"]
    return build_model(
        input_channels=len(system["microscope"]["defocus_offsets"]),
        n_classes=1 + len(class_names(system["labels"])),
        base_filters=training["base_filters"],
        depth=training["depth"],
        weight_decay=training["weight_decay"],
        precision=training["precision"],
    )


def new_model(system: Mapping[str, Any]) -> keras.Model:
    """Return the system's compiled, untrained network.

    Parameters
    ----------
    system : mapping
        The system's validated configuration section.

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
    loss = keras.losses.MeanSquaredError() if training["loss"] == "mse" else keras.losses.CategoricalCrossentropy()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate(training)), loss=loss, metrics=["categorical_accuracy"],
                  jit_compile=training["jit_compile"])
    if training["jit_compile"] and not model.jit_compile:
        raise ValueError(
            "training.jit_compile: true, but Keras refused XLA: TensorFlow's op determinism is on in this process"
            " (a training with jit_compile: false turned it on, and it cannot be turned off); train in a new process"
        )
    return model


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
"""File in a run's folder recording the hash of the configuration it trains with."""


def _check_run_configuration(system: Mapping[str, Any], out: Path) -> None:
    """Record the run's configuration hash, or refuse to resume a run made with another configuration.

    Resuming continues the backed-up weights, optimiser state and image stream, which is
    only meaningful with the configuration that made them (e.g. a copied checkpoint of the
    shipped models' run is not resumed by ``make run``'s small configuration).

    Raises
    ------
    ValueError
        If ``out/backup`` exists and ``out/run.json`` records another configuration hash.
    """
    path = out / RUN_CONFIGURATION
    current = config_hash(system)
    if (out / "backup").exists() and path.exists():
        recorded = json.loads(path.read_text())["config_hash"]
        if recorded != current:
            raise ValueError(
                f"{out / 'backup'}: an interrupted run made with another configuration (hash {recorded} in {path};"
                f" this configuration's is {current}); resume it with its own configuration, or delete {out / 'backup'}"
                " to start afresh"
            )
    write_json(path, {"config_hash": current})


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
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "backup").exists():  # a fresh run: drop the curves of an earlier, finished one
        (out / "history.csv").unlink(missing_ok=True)
        shutil.rmtree(out / "tensorboard", ignore_errors=True)
    _check_run_configuration(system, out)
    _run_ops_in_order()
    keras.utils.set_random_seed(training["seed"])
    if training["jit_compile"]:
        log.info("jit_compile: TensorFlow's op determinism stays off (Keras refuses XLA under it), so this run is "
                 "repeatable only up to floating-point reordering")
    else:
        tf.config.experimental.enable_op_determinism()
    batch = training["batch_size"]
    done = finished_epochs(out / "history.csv") if (out / "backup").exists() else 0
    if done:
        log.info("resuming after %d finished epochs", done)
    # A resumed run continues the image stream where the interrupted one stopped, so it
    # trains on exactly the images an uninterrupted run would have.
    images = training_dataset(train_stores, system, seed=training["seed"], batch_size=batch,
                              start_batch=done * training["steps_per_epoch"])
    validation = validation_dataset(validation_stores, system, count=training["validation_images"], batch_size=batch)
    model = new_model(system)
    if training["initial_model"] and not done:
        start_from(model, training["initial_model"])
    log.info("training %d parameters for %d epochs of %d steps", model.count_params(), training["epochs"],
             training["steps_per_epoch"])
    own = [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(out / "tensorboard")),
    ]
    model.fit(
        images, epochs=training["epochs"], steps_per_epoch=training["steps_per_epoch"], validation_data=validation,
        callbacks=[*own, *callbacks], verbose=1 if progress else 2,
        shuffle=False,  # the stream is random already; Keras cannot shuffle a tf.data.Dataset and warns if asked
    )
    plot_curves(out / "history.csv", out / "curves.png")
    with atomic_path(out / "model.keras", suffix=".keras") as tmp:
        model.save(tmp)
    shutil.rmtree(out / "backup", ignore_errors=True)
    return out / "model.keras"
