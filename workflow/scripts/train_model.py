"""Snakemake script: train a system's network (atomsight.network.train.train), resuming an interrupted run.

It writes the training's job file (atomsight.network.workers) and trains it in this process or,
with the rule's ``mpi`` resource set (the launcher, e.g. ``srun``: the Slurm profile's
multi-node resource set), as one worker per task of the job.
"""

import sys
from pathlib import Path

from atomsight.logs import log_to

with log_to(snakemake.log[0]):
    from atomsight.network.workers import run_workers, train_from_job, write_job

    job = write_job(snakemake.config["systems"][snakemake.wildcards.system], train_stores=snakemake.input.train,
                    validation_stores=snakemake.input.validation, out=Path(snakemake.output.model).parent,
                    device=snakemake.config["device"])
    launcher = snakemake.resources.get("mpi")
    if launcher:
        run_workers(launcher, snakemake.resources.get("tasks", 1), job, log=sys.stderr)
    else:
        train_from_job(job)
    job.unlink()
