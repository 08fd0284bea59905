"""Snakemake script: train a system's network (atomsight.network.train.train), resuming an interrupted run."""

from pathlib import Path

from atomsight.logs import log_to

with log_to(snakemake.log[0]):
    from atomsight.device import select_tensorflow_device

    select_tensorflow_device(snakemake.config["device"])
    from atomsight.network.train import train

    train(
        snakemake.config["systems"][snakemake.wildcards.system],
        train_stores=snakemake.input.train,
        validation_stores=snakemake.input.validation,
        out=Path(snakemake.output.model).parent,
        progress=False,
    )
