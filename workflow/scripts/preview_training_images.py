"""Snakemake script: a PNG grid of training images (atomsight.microscope.preview.plot_training_images)."""

from atomsight.logs import log_to

with log_to(snakemake.log[0]):
    from atomsight.microscope.preview import plot_training_images

    plot_training_images(
        snakemake.input.stores,
        snakemake.config["systems"][snakemake.wildcards.system],
        name=snakemake.wildcards.system,
        out=snakemake.output[0],
    )
