"""Which devices a training run uses: TensorFlow's distribution strategies, chosen by ``training.strategy``.

``single`` trains on one device (TensorFlow's default strategy); ``mirrored`` keeps one replica
of the network on each GPU of the machine (``tf.distribute.MirroredStrategy``; on a machine
without GPUs, one per logical CPU device, which the tests set up); ``multi_worker`` one replica
per device of each of several worker processes, on several machines
(``tf.distribute.MultiWorkerMirroredStrategy``), whose cluster comes from Slurm
(``SlurmClusterResolver``: the tasks of the job step, normally one per node, each with its node's
GPUs; :mod:`atomsight.network.workers` starts them) or from ``TF_CONFIG`` where it is set;
``auto`` is ``multi_worker`` in a process that is one of several (a task of a Slurm job step of
several tasks, or a worker of a ``TF_CONFIG`` cluster of several), else ``mirrored`` when there
are several GPUs and ``single`` otherwise.

The configured ``batch_size`` is each replica's: a step trains on the global batch of
``batch_size`` times the replicas, and the learning rate is scaled by the replicas (the linear
rule, :func:`atomsight.network.train.learning_rate`). Every replica renders its own part of
the stream of training images (:func:`atomsight.microscope.data.training_spectra`), each
image seeded by its place in the stream, so a run is reproducible for a given number of
replicas and sees the images that one device with the global batch would.

Only the chief (the first worker) writes the run's files; every worker reads the chief's
backup when a run resumes.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass

import tensorflow as tf

log = logging.getLogger(__name__)

STRATEGIES = ("auto", "single", "mirrored", "multi_worker")
"""The values of ``training.strategy``."""


@dataclass(frozen=True)
class Placement:
    """The devices of a run: its strategy and where this process stands in it.

    Attributes
    ----------
    strategy : tf.distribute.Strategy
        The strategy whose scope the network is built in.
    name : str
        Which strategy it is (``single``, ``mirrored`` or ``multi_worker``).
    devices : tuple of str
        The devices of this process's replicas.
    worker : int
        This process's index among the workers (0 unless ``multi_worker``).
    workers : int
        The number of worker processes.
    """

    strategy: tf.distribute.Strategy
    name: str
    devices: tuple[str, ...]
    worker: int = 0
    workers: int = 1

    @property
    def replicas(self) -> int:
        """Replicas a step trains on, over all workers."""
        return int(self.strategy.num_replicas_in_sync)

    @property
    def is_chief(self) -> bool:
        """Whether this process writes the run's files."""
        return self.worker == 0

    def describe(self) -> str:
        """One line for the log: the strategy, its replicas and devices."""
        where = f", worker {self.worker} of {self.workers}" if self.workers > 1 else ""
        return f"strategy {self.name}: {self.replicas} replica(s) on {', '.join(self.devices)}{where}"


def choose_strategy(name: str) -> Placement:
    """Create the strategy ``training.strategy`` names, for the devices this process sees.

    Parameters
    ----------
    name : {"auto", "single", "mirrored", "multi_worker"}
        The configured strategy (see the module docstring).

    Returns
    -------
    Placement
        The strategy and this process's place in it.

    Raises
    ------
    ValueError
        If ``name`` is none of :data:`STRATEGIES`, or ``multi_worker`` finds neither Slurm's
        variables nor ``TF_CONFIG`` to say which workers there are.
    """
    if name not in STRATEGIES:
        raise ValueError(f"training.strategy: {name!r}, expected one of {', '.join(STRATEGIES)}")
    if name == "auto" and _several_workers():
        name = "multi_worker"
    if name == "multi_worker":  # first: its collective ops are configured before TensorFlow's runtime starts
        return _multi_worker()
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "single"
    if name == "single":  # TensorFlow's default strategy: ops where TensorFlow places them, the first GPU if any
        device = gpus[0] if gpus else tf.config.list_logical_devices("CPU")[0].name
        return Placement(tf.distribute.get_strategy(), "single", (device,))
    devices = gpus or [d.name for d in tf.config.list_logical_devices("CPU")]  # mirrored
    return Placement(tf.distribute.MirroredStrategy(devices), "mirrored", tuple(devices))


def _several_workers() -> bool:
    """Whether this process is one of several workers: a task of a Slurm step of several, or in TF_CONFIG's cluster."""
    if os.environ.get("TF_CONFIG"):
        return sum(len(tasks) for tasks in _tf_config_cluster().values()) > 1
    return int(os.environ.get("SLURM_STEP_NUM_TASKS", "1")) > 1


def _tf_config_cluster() -> dict[str, list[str]]:
    """The cluster that ``TF_CONFIG`` names: addresses per job ("chief", "worker")."""
    return json.loads(os.environ["TF_CONFIG"]).get("cluster", {})


def _multi_worker() -> Placement:
    """The multi-worker strategy over the cluster :func:`_cluster_resolver` finds."""
    resolver = _cluster_resolver()
    strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    jobs = resolver.cluster_spec().as_dict()
    workers = len(jobs.get("chief", [])) + len(jobs.get("worker", []))
    # with a "chief" job it is worker 0 and the "worker" job's tasks follow; without, worker 0 is the chief
    worker = int(resolver.task_id) + (1 if resolver.task_type == "worker" and "chief" in jobs else 0)
    return Placement(strategy, "multi_worker", tuple(strategy.extended.worker_devices), worker=worker,
                     workers=max(workers, 1))


def _cluster_resolver() -> tf.distribute.cluster_resolver.ClusterResolver:
    """``TF_CONFIG``'s cluster where it is set, else Slurm's job (one task per node)."""
    if os.environ.get("TF_CONFIG"):
        log.info("multi_worker: the cluster of TF_CONFIG, %s", _tf_config_cluster())
        return tf.distribute.cluster_resolver.TFConfigClusterResolver()
    if os.environ.get("SLURM_JOB_ID") and os.environ.get("SLURM_PROCID") is not None:
        log.info("multi_worker: the cluster of Slurm job %s", os.environ["SLURM_JOB_ID"])
        return _SlurmCluster(len(tf.config.list_physical_devices("GPU")))
    raise ValueError("training.strategy: multi_worker needs its workers: run under Slurm (srun, one task per node)"
                     " or set TF_CONFIG (tensorflow.org/guide/distributed_training); for one machine use mirrored")


class _SlurmCluster(tf.distribute.cluster_resolver.SlurmClusterResolver):
    """TensorFlow's Slurm cluster resolver with each task's GPUs as TensorFlow sees them, none on a CPU node.

    Slurm gives the GPUs (``--gres``, ``--gpus-per-task``) and TensorFlow has listed them, so the
    resolver neither asks nvidia-smi (which a CPU node lacks) nor sets CUDA_VISIBLE_DEVICES (too
    late). It places one task per slot of ``gpus_per_task`` GPUs, so a CPU task takes one slot,
    and reports the task's real GPUs, so that the strategy's replica is its CPU.
    """

    def __init__(self, gpus: int) -> None:
        slots = max(1, gpus)
        super().__init__(gpus_per_node=slots * _most_tasks_per_node(os.environ.get("SLURM_STEP_TASKS_PER_NODE", "1")),
                         gpus_per_task=slots, auto_set_gpu=False)
        self._gpus = gpus

    def num_accelerators(self, task_type: str | None = None, task_id: int | None = None,
                         config_proto: object = None) -> dict[str, int]:
        """The task's GPUs (TensorFlow's call)."""
        return {"GPU": self._gpus} if self._gpus else {}


def _most_tasks_per_node(tasks_per_node: str) -> int:
    """The most tasks on one node, from Slurm's compressed list of tasks per node (``"2(x3),1"``: 2, 2, 2, 1)."""
    return max(int(count) for count in re.findall(r"(\d+)(?:\(x\d+\))?", tasks_per_node))
