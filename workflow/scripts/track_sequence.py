"""Snakemake script: track one configured image sequence (atomsight.analysis.sequence.track_movie)."""

from atomsight.logs import log_to

with log_to(snakemake.log[0]):
    from atomsight.device import select_tensorflow_device

    select_tensorflow_device(snakemake.config["device"])
    from atomsight.analysis.sequence import track_movie

    settings = snakemake.config["sequences"][snakemake.wildcards.sequence]
    track_movie(
        snakemake.input.model,
        list(snakemake.input.movie),
        out=snakemake.output.tracks,
        name=snakemake.wildcards.sequence,
        sampling=settings["sampling"],
        max_displacement=settings["max_displacement"],
        site_radius=settings["site_radius"],
    )
