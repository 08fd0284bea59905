"""A training as a job file, trained in one process or by one worker process per node through a launcher.

The Snakemake job of a training writes what the training needs to a job file in the run's
folder (:func:`write_job`) and trains it in its own process (:func:`train_from_job`) or, for a
multi-node training (the Slurm profile's ``train_model`` resources ``nodes``, ``tasks`` and
``mpi``, the launcher), runs once on the allocation's first node and starts one worker per
task through the launcher (:func:`run_workers`). Each worker reads the job file and trains
(:func:`atomsight.network.train.train`) under the multi-worker strategy, its cluster found
by TensorFlow's Slurm cluster resolver (:mod:`atomsight.network.distribute`).

Run by hand (``python -m atomsight.network.workers JOB.json``) a worker trains alone, or as one
of the workers that ``TF_CONFIG`` names."""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from ..io.atomic import write_json
from ..logs import LOG_FORMAT

JOB_FILE = "workers-job.json"
"""The job file's name in the run's folder."""

JOB_KEYS = ("system", "train_stores", "validation_stores", "out", "device")
"""The keys of a job file."""


def write_job(
    system: Mapping[str, Any],
    *,
    train_stores: Sequence[str | Path],
    validation_stores: Sequence[str | Path],
    out: str | Path,
    device: str,
) -> Path:
    """Write the job file of a training into its folder ``out``; return its path.

    Parameters
    ----------
    system : mapping
        The system's validated configuration section.
    train_stores, validation_stores : sequence of path
        The shard stores, as :func:`atomsight.network.train.train` takes them.
    out : str or pathlib.Path
        The run's folder.
    device : {"auto", "cpu", "gpu"}
        The configured ``device``, selected by every worker before TensorFlow starts.
    """
    out = Path(out)
    job = {"system": dict(system), "train_stores": [str(p) for p in train_stores],
           "validation_stores": [str(p) for p in validation_stores], "out": str(out), "device": device}
    return write_json(out / JOB_FILE, job)


def read_job(path: str | Path) -> dict[str, Any]:
    """Read a job file written by :func:`write_job`.

    Raises
    ------
    ValueError
        If the file is not JSON or lacks one of :data:`JOB_KEYS`; the message names the file and the key.
    """
    path = Path(path)
    try:
        job = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a training job file ({error})") from error
    missing = [key for key in JOB_KEYS if key not in job]
    if missing:
        raise ValueError(f"{path}: no {', '.join(missing)}; a training job file holds {', '.join(JOB_KEYS)}")
    return job


def worker_command(launcher: str, tasks: int, job: str | Path) -> list[str]:
    """The command that starts ``tasks`` workers on ``job``: ``launcher`` (e.g. ``srun``) ``-n tasks``, then a worker.

    The task count is given to the launcher, as Snakemake's ``{resources.mpi} -n {resources.tasks}``
    does: inside the job the Slurm plugin clears the task settings that a bare ``srun`` would inherit.
    """
    return [*shlex.split(launcher), "-n", str(tasks), sys.executable, "-m", __name__, str(job)]


def run_workers(launcher: str, tasks: int, job: str | Path, *, log: TextIO | None = None) -> None:
    """Start ``tasks`` workers through ``launcher`` and wait for them, their output (both streams) to ``log``.

    Raises
    ------
    RuntimeError
        If the launcher or a worker fails; the message gives the command and its exit status.
    """
    command = worker_command(launcher, tasks, job)
    result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT if log else None, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"the training workers failed (exit status {result.returncode}): {shlex.join(command)}")


def train_from_job(path: str | Path) -> Path:
    """Train in this process what the job file ``path`` describes (alone or as one of the workers); return the model."""
    job = read_job(path)
    from ..device import select_tensorflow_device

    select_tensorflow_device(job["device"])
    from .train import train

    return train(job["system"], train_stores=job["train_stores"], validation_stores=job["validation_stores"],
                 out=job["out"], progress=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Train as one worker of the job file named by the only argument; return the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) != 1:
        print(f"usage: python -m {__name__} JOB.json", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    train_from_job(arguments[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
