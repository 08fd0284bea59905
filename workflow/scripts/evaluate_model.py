"""Snakemake script: evaluate a trained model on the test split (atomsight.evaluation.evaluate.evaluate)."""

from pathlib import Path

from atomsight.logs import log_to

with log_to(snakemake.log[0]):
    from atomsight.device import select_tensorflow_device

    select_tensorflow_device(snakemake.config["device"])
    from atomsight.evaluation.evaluate import evaluate

    evaluate(
        snakemake.config["systems"][snakemake.wildcards.system],
        model_path=snakemake.input.model,
        test_stores=snakemake.input.test,
        structures=snakemake.input.structures,
        train_stores=snakemake.input.train,
        out=Path(snakemake.output.metrics).parent,
    )
