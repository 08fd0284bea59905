"""Snakemake script: train a system's network (atomsight.network.train.train), resuming an interrupted run.

With the rule's ``mpi`` resource set (the launcher, e.g. ``srun``: the Slurm profile's
multi-node resource set), the training runs as one worker per task of the job
(atomsight.network.workers), else in this process.
"""

import sys
from pathlib import Path

from atomsight.logs import log_to

with log_to(snakemake.log[0]):
    system = snakemake.config["systems"][snakemake.wildcards.system]
    out = Path(snakemake.output.model).parent
    launcher = snakemake.resources.get("mpi")
    if launcher:
        from atomsight.network.workers import run_workers, write_job

        job = write_job(system, train_stores=snakemake.input.train, validation_stores=snakemake.input.validation,
                        out=out, device=snakemake.config["device"])
        run_workers(launcher, snakemake.resources.get("tasks", 1), job, log=sys.stderr)
        job.unlink()
    else:
        from atomsight.device import select_tensorflow_device

        select_tensorflow_device(snakemake.config["device"])
        from atomsight.network.train import train

        train(system, train_stores=snakemake.input.train, validation_stores=snakemake.input.validation, out=out,
              progress=False)
