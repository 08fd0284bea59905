"""Snakemake script: score a trained model and the classical baseline over the grid of microscope conditions
(atomsight.evaluation.grid.evaluate_grid)."""

from pathlib import Path

from atomsight.logs import log_to

with log_to(snakemake.log[0]):
    from atomsight.device import select_tensorflow_device

    select_tensorflow_device(snakemake.config["device"])
    from atomsight.evaluation.grid import evaluate_grid

    evaluate_grid(
        snakemake.config["systems"][snakemake.wildcards.system],
        model_path=snakemake.input.model,
        test_stores=snakemake.input.test,
        train_stores=snakemake.input.train,
        out=Path(snakemake.output.summary).parent,
    )
