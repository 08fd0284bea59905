"""Snakemake script: export SavedModel, .keras file and model card (atomsight.network.export.export)."""

from atomsight.logs import log_to

with log_to(snakemake.log[0]):
    from atomsight.network.export import export

    export(
        snakemake.config["systems"][snakemake.wildcards.system],
        name=snakemake.wildcards.system,
        model_path=snakemake.input.model,
        metrics_path=snakemake.input.metrics,
        out=snakemake.output[0],
    )
