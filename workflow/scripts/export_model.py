"""Snakemake script: export SavedModel, .keras file and model card (atomsight.export.savedmodel.export)."""

from atomsight.logs import log_to

with log_to(snakemake.log[0]):
    from atomsight.export.savedmodel import export

    export(
        snakemake.config["systems"][snakemake.wildcards.system],
        name=snakemake.wildcards.system,
        model_path=snakemake.input.model,
        metrics_path=snakemake.input.metrics,
        out=snakemake.output[0],
    )
