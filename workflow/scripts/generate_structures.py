"""Snakemake script: generate one split's structures (atomsight.structures.build)."""

from atomsight.logs import log_to

with log_to(snakemake.log[0]):
    from atomsight.structures.build import generate_split, write_structures

    system = snakemake.config["systems"][snakemake.wildcards.system]
    structures = generate_split(system, snakemake.wildcards.split, processes=snakemake.threads)
    write_structures(structures, snakemake.output[0])
